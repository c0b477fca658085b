"""Crop store v2: parts of crops as sharded zarr v3 arrays, written by many workers, read lazily.

A store is a folder on any fsspec filesystem (local disk, ``s3://``, ...)::

    <store>/parts/<part>/<token>/        one zarr v3 array (n, C, H, W): chunks of ``chunk_crops`` crops,
                                         one shard holding the whole part (one file or object per part)
    <store>/parts/<part>/<token>.json    the part's commit record, written last (a part without one is a
                                         write that did not finish: never listed, never read)
    <store>/meta.json                    parts in row order, their counts, dtype, channels, write id
    <store>/_COMPLETE                    written once the first meta.json is in place

Each worker writes its own parts (:meth:`CropStoreWriter.write_part`); nothing is shared between writers
but the final commit (:meth:`CropStoreWriter.commit`), which writes ``meta.json`` in one atomic step (a
renamed temporary file on a local disk, one PUT on object storage). A part is written under a fresh
random token, so an interrupted or repeated write never touches a committed part, and a store is
appended to by committing a longer list of parts (:meth:`CropStoreWriter.append`).

zarr does the chunking, sharding, compression and fsspec IO; what is written here by hand is only what zarr
has no notion of: a store made of independently written arrays committed together, and a read-only
array-like over their concatenation that reads index arrays part by part (:class:`ShardedCrops`).
"""

from __future__ import annotations

import json
import os
import uuid
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import fsspec
import numpy as np
import zarr
from kedro.io.core import DatasetError
from zarr.codecs import BloscCodec

from ._filesystem import write_atomically

STORE_FORMAT = "micon-crop-store/2"
META_FILE = "meta.json"
COMPLETE_MARKER = "_COMPLETE"
PARTS_FOLDER = "parts"
#: The dtypes a crop store holds: crops (uint16) and cell masks (bool).
STORE_DTYPES = ("uint16", "bool")
DEFAULT_CHUNK_CROPS = 16
#: The compressor of uint16 crops: blosc lz4 on byte-shuffled pixels, the kind OME-Zarr stores use. On
#: nucleus-centred crops of a real Phenix field it stores about a quarter fewer bytes than the raw pixels
#: (what object storage bills and what a read over the network moves) for some microseconds more decoding
#: per crop, less than zarr's default zstd costs (``benchmarks/bench_crop_codecs.py``, table in
#: docs/performance.md). Masks (bool) keep zarr's default, which compresses them to almost nothing.
CROP_COMPRESSORS = BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")
_CROP_NDIM = 4


@dataclass(frozen=True)
class CropPart:
    """One committed part of a crop store, as :meth:`CropStoreWriter.write_part` returns it.

    Attributes:
        name: The part's name, unique in the store (``<plate>-<k>`` for an extraction).
        token: The random token of the write that made it (its folder under ``parts/<name>/``).
        count: How many crops it holds.
        chw: ``(C, H, W)`` of its crops.
        dtype: ``uint16`` (crops) or ``bool`` (masks).
    """

    name: str
    token: str
    count: int
    chw: tuple[int, ...]
    dtype: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "chw", tuple(int(s) for s in self.chw))


def storage_options(
    protocol: str, credentials: Mapping[str, Any], fs_args: Mapping[str, Any]
) -> dict[str, Any]:
    """Return the fsspec options of a store from a dataset's ``credentials`` and ``fs_args``."""
    options = {**credentials, **fs_args}
    if protocol == "file":
        options.pop("auto_mkdir", None)
    return options


def _zarr_store(protocol: str, path: str, options: Mapping[str, Any], *, read_only: bool) -> Any:
    """Return the zarr store of ``path``: a ``LocalStore`` on local disk, else an fsspec store."""
    if protocol == "file":
        return zarr.storage.LocalStore(path, read_only=read_only)
    return zarr.storage.FsspecStore.from_url(
        f"{protocol}://{path}", storage_options=dict(options), read_only=read_only
    )


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name or "/" in name or name.startswith(".") or name.endswith(".json"):
        raise DatasetError(f"crop store part name {name!r} must be a non-empty name without '/'")


class CropStoreWriter:
    """Write parts of one crop store from any process, then commit them; picklable (paths, no handles).

    Args:
        protocol: fsspec protocol of the store (``file``, ``s3``, ...).
        path: The store's folder (no protocol).
        options: fsspec storage options (credentials, ``client_kwargs``, ...).
        chunk_crops: Crops per zarr chunk (the unit a random read decodes); a part is one shard.
    """

    def __init__(
        self, *, protocol: str, path: str, options: Mapping[str, Any], chunk_crops: int = DEFAULT_CHUNK_CROPS
    ) -> None:
        """Describe the store; nothing is written until a part is."""
        if not isinstance(chunk_crops, int) or chunk_crops < 1:
            raise DatasetError(f"crop store '{path}': chunk_crops must be an int >= 1, got {chunk_crops!r}")
        self.protocol = protocol
        self.path = path.rstrip("/")
        self.options = dict(options)
        self.chunk_crops = chunk_crops

    def __repr__(self) -> str:
        return f"CropStoreWriter('{self.protocol}://{self.path}')"

    @property
    def fs(self) -> fsspec.AbstractFileSystem:
        """The store's filesystem (made on first use in each process)."""
        if getattr(self, "_fs", None) is None or getattr(self, "_pid", None) != os.getpid():
            self._fs = fsspec.filesystem(self.protocol, **self.options)
            self._pid = os.getpid()
        return self._fs

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("_fs", "_pid")}

    def write_part(self, name: str, crops: np.ndarray) -> CropPart:
        """Write ``crops`` ``(n, C, H, W)`` (uint16 crops or bool masks) as part ``name``, its record last.

        The part goes to a fresh random token's folder, so a repeated or concurrent write of the same
        name never touches another; only :meth:`commit` makes it part of the store.

        Returns:
            The :class:`CropPart` to pass to :meth:`commit`.

        Raises:
            DatasetError: ``crops`` is not 4-D uint16 or bool, or writing failed (the part's folder is
                removed and no commit record is written).
        """
        _check_name(name)
        crops = np.asarray(crops)
        if crops.ndim != _CROP_NDIM or crops.dtype.name not in STORE_DTYPES:
            raise DatasetError(
                f"crop store '{self.path}' part {name!r}: got {crops.dtype} of shape {crops.shape}, expected "
                f"(n, C, H, W) of {' or '.join(STORE_DTYPES)}; convert crops to uint16 (masks to bool) first"
            )
        token = uuid.uuid4().hex
        folder = f"{self.path}/{PARTS_FOLDER}/{name}/{token}"
        count = int(crops.shape[0])
        chw = tuple(int(s) for s in crops.shape[1:])
        try:
            array = zarr.create_array(
                store=_zarr_store(self.protocol, folder, self.options, read_only=False),
                shape=crops.shape,
                dtype=crops.dtype,
                chunks=(self.chunk_crops, *chw),
                shards=(max(1, -(-count // self.chunk_crops)) * self.chunk_crops, *chw),
                # masks are booleans, which zarr's default compresses to almost nothing
                compressors="auto" if crops.dtype == np.bool_ else CROP_COMPRESSORS,
                zarr_format=3,
                overwrite=True,
            )
            if count:
                array[...] = crops
        except Exception as exc:  # IO boundary: clean up, then re-raise with the part named
            if self.fs.exists(folder):
                self.fs.rm(folder, recursive=True)
            raise DatasetError(f"crop store '{self.path}': cannot write part {name!r}: {exc}") from exc
        part = CropPart(name=name, token=token, count=count, chw=chw, dtype=crops.dtype.name)
        self._write_file(f"{folder}.json", json.dumps(asdict(part)).encode(), what=f"record of part {name!r}")
        return part

    def _write_file(self, target: str, content: bytes, *, what: str) -> None:
        """Write ``content`` at ``target`` in one atomic step."""

        def write(tmp_path: str) -> None:
            with self.fs.open(tmp_path, mode="wb") as handle:
                handle.write(content)

        if self.protocol == "file":
            write_atomically(self.fs, target, write, what=what)
        else:  # one PUT: an object store shows the whole object or none
            self.fs.pipe_file(target, content)

    def commit(
        self,
        parts: Sequence[CropPart],
        *,
        channels: Sequence[str],
        write_id: str | None = None,
        empty_chw: Sequence[int] | None = None,
        empty_dtype: str = "uint16",
    ) -> list[int]:
        """Make ``parts`` the store's content, in this order (``meta.json`` replaced atomically, marker last).

        Args:
            parts: The parts, in row order, as :meth:`write_part` returned them.
            channels: The C plane names.
            write_id: The id of the write the crops belong to (recorded; the crop index records it too).
            empty_chw: ``(C, H, W)`` of a store of no parts.
            empty_dtype: dtype of a store of no parts.

        Returns:
            The store's shape ``[N, C, H, W]``.

        Raises:
            DatasetError: A part name repeats; parts differ in (C, H, W) or dtype, or disagree with
                ``channels``; a part has no commit record (it never finished).
        """
        names = [p.name for p in parts]
        if len(set(names)) != len(names):
            raise DatasetError(f"crop store '{self.path}': part names repeat in {names}")
        kinds = {(p.chw, p.dtype) for p in parts} or {(tuple(empty_chw or ()), empty_dtype)}
        if len(kinds) != 1:
            raise DatasetError(
                f"crop store '{self.path}': parts hold different (C, H, W) and dtypes {sorted(kinds)}"
            )
        ((chw, dtype),) = kinds
        if len(chw) != _CROP_NDIM - 1 or chw[0] != len(channels):
            raise DatasetError(
                f"crop store '{self.path}': crops of (C, H, W) {chw} cannot carry channels {list(channels)}"
            )
        for part in parts:
            if not self.fs.exists(f"{self.path}/{PARTS_FOLDER}/{part.name}/{part.token}.json"):
                raise DatasetError(
                    f"crop store '{self.path}': part {part.name!r} (write {part.token}) has no commit "
                    "record: it was not fully written"
                )
        shape = [sum(p.count for p in parts), *chw]
        meta: dict[str, Any] = {
            "format": STORE_FORMAT,
            "shape": shape,
            "dtype": dtype,
            "channels": [str(c) for c in channels],
            "parts": [asdict(p) for p in parts],
        }
        if write_id is not None:
            meta["write_id"] = str(write_id)
        self._write_file(f"{self.path}/{META_FILE}", json.dumps(meta).encode(), what="crop store meta.json")
        if not self.fs.exists(f"{self.path}/{COMPLETE_MARKER}"):
            self._write_file(f"{self.path}/{COMPLETE_MARKER}", b"", what="crop store marker")
        self.fs.invalidate_cache(self.path)
        return shape

    def open(self, parts: Sequence[CropPart], *, chw: Sequence[int], dtype: str = "uint16") -> ShardedCrops:
        """Return a read-only array over ``parts`` in this order, committed or not (for the run writing them).

        Args:
            parts: Parts as :meth:`write_part` returned them.
            chw: ``(C, H, W)`` (the shape of a store of no parts).
            dtype: The dtype of a store of no parts.
        """
        shape = [sum(p.count for p in parts), *(parts[0].chw if parts else chw)]
        kind = parts[0].dtype if parts else dtype
        return ShardedCrops(self.protocol, self.path, self.options, [asdict(p) for p in parts], shape, kind)

    def committed_parts(self) -> list[CropPart]:
        """Return the parts the store's ``meta.json`` lists (none before the first commit)."""
        if not self.fs.exists(f"{self.path}/{COMPLETE_MARKER}"):
            return []
        return [CropPart(**p) for p in read_meta(self.fs, self.path)["parts"]]

    def append(
        self, parts: Sequence[CropPart], *, channels: Sequence[str], write_id: str | None = None
    ) -> list[int]:
        """Commit the store's parts followed by ``parts`` (a plate appended to a store); see :meth:`commit`.

        Raises:
            DatasetError: The store records other channels than ``channels``, or as :meth:`commit`.
        """
        if self.fs.exists(f"{self.path}/{COMPLETE_MARKER}"):
            recorded = read_meta(self.fs, self.path)["channels"]
            if list(recorded) != [str(c) for c in channels]:
                raise DatasetError(
                    f"crop store '{self.path}' holds channels {recorded}, not {list(channels)}"
                )
        return self.commit([*self.committed_parts(), *parts], channels=channels, write_id=write_id)


def read_meta(fs: fsspec.AbstractFileSystem, path: str) -> dict[str, Any]:
    """Return the checked ``meta.json`` of the complete store at ``path``.

    Raises:
        DatasetError: The marker is missing, or ``meta.json`` is not a v2 store's (names the path).
    """
    if not fs.exists(f"{path}/{COMPLETE_MARKER}"):
        raise DatasetError(
            f"Crop store '{path}' is incomplete or missing (no {COMPLETE_MARKER} marker); "
            "it was not fully written: save it again"
        )
    with fs.open(f"{path}/{META_FILE}", mode="r") as handle:
        meta = json.load(handle)
    shape = meta.get("shape")
    parts = meta.get("parts")
    if (
        meta.get("format") != STORE_FORMAT
        or meta.get("dtype") not in STORE_DTYPES
        or not isinstance(shape, list)
        or len(shape) != _CROP_NDIM
        or not isinstance(parts, list)
        or sum(int(p["count"]) for p in parts) != shape[0]
    ):
        raise DatasetError(
            f"Crop store '{path}' has an invalid {META_FILE} (format {meta.get('format')!r}, shape {shape}, "
            f"dtype {meta.get('dtype')!r}); expected a {STORE_FORMAT} store whose parts add up to its shape: "
            "a store of the old single-file layout must be written again"
        )
    return meta


class ShardedCrops:
    """A read-only array ``(N, C, H, W)`` over a store's parts, read part by part on demand.

    A part that fits :attr:`CACHE_BYTES` is decoded whole on first use and kept (least recently used parts
    leave first), so random batches over a store that fits read at memory speed after one pass; a larger
    part is read by the runs of chunks a request touches.

    Indexing takes what an ndarray takes on axis 0 (an int, a slice, an index or boolean array, a list)
    optionally followed by keys of the other axes, and returns a plain ndarray; nothing is read until
    indexed. :meth:`read` reads rows by index (any order, repeats allowed) with one zarr read per part
    touched. It pickles as the store's path and part list (no data, no open handle, no cache), and reopens
    its arrays in each process that uses it, so DataLoader workers (forked or spawned) read independently.
    """

    #: Decoded parts kept per process, in bytes.
    CACHE_BYTES = 256 * 2**20

    def __init__(  # noqa: PLR0913
        self,
        protocol: str,
        path: str,
        options: Mapping[str, Any],
        parts: Sequence[Mapping[str, Any]],
        shape: Sequence[int],
        dtype: str,
    ) -> None:
        """Describe the store's arrays; nothing is opened yet."""
        self._protocol, self._path, self._options = protocol, path, dict(options)
        self._parts = [dict(p) for p in parts]
        self.shape = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self._offsets = np.concatenate([[0], np.cumsum([int(p["count"]) for p in parts], dtype=np.int64)])
        self._arrays: dict[int, Any] = {}
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._pid = os.getpid()
        self._row_bytes = int(np.prod(self.shape[1:], dtype=np.int64)) * self.dtype.itemsize

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (
            ShardedCrops,
            (self._protocol, self._path, self._options, self._parts, self.shape, self.dtype.str),
        )

    @property
    def ndim(self) -> int:
        """4."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """N * C * H * W."""
        return int(np.prod(self.shape))

    @property
    def n_parts(self) -> int:
        """How many parts (shards) the store has."""
        return len(self._parts)

    def __len__(self) -> int:
        return self.shape[0]

    def _array(self, index: int) -> Any:
        if self._pid != os.getpid():  # a forked worker: never reuse the parent's handles or cache
            self._arrays, self._cache, self._pid = {}, OrderedDict(), os.getpid()
        if index not in self._arrays:
            part = self._parts[index]
            folder = f"{self._path}/{PARTS_FOLDER}/{part['name']}/{part['token']}"
            store = _zarr_store(self._protocol, folder, self._options, read_only=True)
            self._arrays[index] = zarr.open_array(store=store, mode="r")
        return self._arrays[index]

    def read(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """Return the crops of ``rows`` ``(len(rows), C, H, W)`` in that order (negative: from the end).

        Raises:
            IndexError: A row is outside ``[-N, N)`` (names it).
        """
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        n = self.shape[0]
        bad = (rows < -n) | (rows >= n)
        if bad.any():
            raise IndexError(f"crop row {int(rows[bad][0])} is out of range for a store of {n} crops")
        rows = np.where(rows < 0, rows + n, rows)
        out = np.empty((len(rows), *self.shape[1:]), dtype=self.dtype)
        if not len(rows):
            return out
        part_of = np.searchsorted(self._offsets, rows, side="right") - 1
        for part in np.unique(part_of):
            where = np.flatnonzero(part_of == part)
            out[where] = self._part_rows(int(part), rows[where] - self._offsets[part])
        return out

    def _part_rows(self, index: int, local: np.ndarray) -> np.ndarray:
        """Return rows ``local`` of part ``index`` (from the cached part, or the runs of chunks they touch).

        The whole part is decoded once and kept while it fits :attr:`CACHE_BYTES` (least recently used parts
        leave first); a larger part is read by the runs of consecutive chunks the rows touch.
        """
        array = self._array(index)
        cached = self._cache.get(index)
        if cached is not None:
            self._cache.move_to_end(index)
            if len(local) and local[-1] - local[0] + 1 == len(local) and (np.diff(local) == 1).all():
                return cached[int(local[0]) : int(local[-1]) + 1]
            return cached[local]
        count = int(self._parts[index]["count"])
        if count * self._row_bytes <= self.CACHE_BYTES:
            whole = array[:]
            self._cache[index] = whole
            held = sum(block.nbytes for block in self._cache.values())
            while held > self.CACHE_BYTES and len(self._cache) > 1:
                held -= self._cache.popitem(last=False)[1].nbytes
            return whole[local]
        chunk = int(array.chunks[0])
        wanted, inverse = np.unique(local, return_inverse=True)
        chunk_ids = np.unique(wanted // chunk)
        runs = np.split(chunk_ids, np.flatnonzero(np.diff(chunk_ids) != 1) + 1)
        blocks, starts = [], []
        for run in runs:  # one read per run of consecutive chunks
            start, stop = int(run[0]) * chunk, min((int(run[-1]) + 1) * chunk, count)
            blocks.append(array[start:stop])
            starts.append(np.arange(start, stop))
        rows_read = np.concatenate(starts)
        read = np.concatenate(blocks)
        return read[np.searchsorted(rows_read, wanted)][inverse]

    def _read_slice(self, key: slice) -> np.ndarray:
        start, stop, step = key.indices(self.shape[0])
        if step != 1 or stop <= start:
            return self.read(np.arange(start, stop, step))
        return self.read(np.arange(start, stop))

    def __getitem__(self, key: Any) -> Any:
        """Return the crops ``key`` selects as a read-only ndarray (a scalar for a full index)."""
        item = self._select(key)
        if isinstance(item, np.ndarray):
            item.setflags(write=False)
        return item

    def _select(self, key: Any) -> Any:
        first, rest = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
        if isinstance(first, int | np.integer):
            block = self.read([int(first)])[0]
            return block[rest] if rest else block
        if isinstance(first, slice):
            block = self._read_slice(first)
        else:
            selector = np.asarray(first)
            if selector.dtype == bool:
                if selector.shape != (self.shape[0],):
                    raise IndexError(f"boolean index of shape {selector.shape} for {self.shape[0]} crops")
                selector = np.flatnonzero(selector)
            block = self.read(selector)
        return block[(slice(None), *rest)] if rest else block

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        whole = self._read_slice(slice(None))
        return whole if dtype is None else whole.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return (
            f"ShardedCrops('{self._protocol}://{self._path}', shape={self.shape}, parts={len(self._parts)})"
        )
