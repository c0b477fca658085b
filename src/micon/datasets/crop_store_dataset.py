"""A versioned Kedro dataset of single-cell crops (N, C, H, W) and their channel names, in zarr parts."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from typing import Any, NewType, Protocol, runtime_checkable

import numpy as np
from kedro.io.core import AbstractVersionedDataset, DatasetError, Version

from ._crop_parts import (
    COMPLETE_MARKER,
    DEFAULT_CHUNK_CROPS,
    META_FILE,
    CropPart,
    CropStoreWriter,
    ShardedCrops,
    read_meta,
    storage_options,
)
from ._filesystem import FilesystemMixin

logger = logging.getLogger(__name__)

# kedro-viz picks a preview renderer by the return annotation's name; kedro_datasets defines the same
# NewType, redefined here because datasets/ imports only IO libraries.
JSONPreview = NewType("JSONPreview", str)

_CROP_NDIM = 4
_PART_NAME = "rows-{:08d}"  # parts of a store saved from an array, in row order


@runtime_checkable
class ChannelledCrops(Protocol):
    """What :meth:`CropStoreDataset.save` takes: crops and the names of their channels, in order."""

    @property
    def crops(self) -> np.ndarray | Iterable[np.ndarray]:
        """``(N, C, H, W)`` uint16, or an iterable of such chunks."""

    @property
    def channels(self) -> Sequence[str]:
        """The C channel names."""


@runtime_checkable
class StoredParts(Protocol):
    """What :meth:`CropStoreDataset.save` commits: parts workers wrote, their channel names and write id."""

    @property
    def parts(self) -> Sequence[CropPart]:
        """The parts in row order, as :meth:`CropStoreWriter.write_part` returned them."""

    @property
    def channels(self) -> Sequence[str]:
        """The C channel names."""


class CropArray:
    """Read-only crops ``(N, C, H, W)`` (uint16 crops, bool masks) with their channel names, as a store loads.

    It behaves like a read-only ndarray for reading: ``shape``, ``ndim``, ``dtype``, ``size``, ``len()``,
    ``np.asarray(...)``, and indexing (ints, slices, index arrays, tuples of them), which returns plain
    ndarrays, never the whole store unless asked. Over a stored crop store nothing is read until indexed,
    and a pickle holds the store's path and part list, not its crops, so a DataLoader worker receives it
    cheaply and opens the store again in its own process.

    :meth:`read` is the cheap random access for data loaders: ``read(rows)`` returns the crops of the
    given crop rows (``Metadata_CropID`` values), in that order, with one read per stored part touched;
    it is safe to call from DataLoader worker processes (each opens its own handles, local or object
    storage).

    Attributes:
        channels: The channel names, one per plane of axis 1.
        crops: The wrapped read-only array: a lazy :class:`ShardedCrops` for a loaded store, else an ndarray.
        write_id: The id of the write the crops belong to, as the store's ``meta.json`` records it
            (None: none recorded); tables written with the crops record the same id.
    """

    __slots__ = ("channels", "crops", "write_id")

    def __init__(
        self, crops: np.ndarray | ShardedCrops, channels: Sequence[str], write_id: str | None = None
    ) -> None:
        """Wrap ``crops`` (not copied; a writeable ndarray is viewed read-only).

        Raises:
            ValueError: ``crops`` is not 4-D, or ``channels`` does not name its C planes.
        """
        if crops.ndim != _CROP_NDIM:
            raise ValueError(f"crops must be (N, C, H, W), got shape {crops.shape}")
        names = tuple(str(c) for c in channels)
        if isinstance(channels, str) or len(names) != crops.shape[1]:
            raise ValueError(f"crops {crops.shape} have {crops.shape[1]} channels; channels are {channels!r}")
        if isinstance(crops, np.ndarray) and crops.flags.writeable:
            crops = crops.view()
            crops.setflags(write=False)
        self.crops = crops
        self.channels = names
        self.write_id = None if write_id is None else str(write_id)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle a loaded store as its path and parts (a :class:`ShardedCrops`); an ndarray as itself."""
        crops = self.crops if isinstance(self.crops, ShardedCrops) else np.asarray(self.crops)
        return (CropArray, (crops, self.channels, self.write_id))

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape ``(N, C, H, W)``."""
        return tuple(self.crops.shape)

    @property
    def ndim(self) -> int:
        """4."""
        return self.crops.ndim

    @property
    def dtype(self) -> np.dtype:
        """uint16 (crops) or bool (masks)."""
        return self.crops.dtype

    @property
    def size(self) -> int:
        """N * C * H * W."""
        return self.crops.size

    def __len__(self) -> int:
        return len(self.crops)

    def read(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """Return the crops of ``rows`` ``(len(rows), C, H, W)``, in that order (repeats allowed).

        Raises:
            IndexError: A row is out of range (names it).
        """
        if isinstance(self.crops, ShardedCrops):
            return self.crops.read(rows)
        return np.array(self.crops[np.asarray(rows, dtype=np.int64)])

    def __getitem__(self, key: Any) -> Any:
        item = self.crops[key]
        return np.asarray(item) if isinstance(item, np.ndarray) else item

    def __setitem__(self, key: Any, value: Any) -> None:
        raise ValueError("assignment destination is read-only: a crop store is never written in place")

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if copy:
            return np.array(self.crops, dtype=dtype, copy=True)
        array = np.asarray(self.crops, dtype=dtype)
        if array.flags.writeable and isinstance(self.crops, ShardedCrops):
            array.setflags(write=False)
        return array

    def __repr__(self) -> str:
        return f"CropArray(shape={self.shape}, dtype={self.dtype}, channels={list(self.channels)})"


class CropStoreDataset(
    FilesystemMixin,
    AbstractVersionedDataset[ChannelledCrops | StoredParts | np.ndarray | Iterable[np.ndarray], CropArray],
):
    """Store single-cell crops ``(N, C, H, W)`` (uint16 crops, bool masks) and their channel names.

    The folder is a crop store v2 (``micon.datasets._crop_parts``): the crops in parts, each a zarr v3
    array chunked by ``chunk_crops`` crops and held in one shard, ``meta.json`` listing the parts in row
    order with the channels and the write id, and a ``_COMPLETE`` marker. It lives on any fsspec
    filesystem (local disk, ``s3://`` through s3fs, ...): ``credentials`` and ``fs_args`` go to fsspec
    and zarr alike. Row ``i`` is the crop with ``Metadata_CropID == i``.

    ``save`` takes either

    - crops with their channel names (an object with ``crops`` and ``channels``, such as a loaded
      :class:`CropArray`), or a bare array / iterable of chunks when the catalog entry gives ``channels``:
      written here, into ``<path>.partial`` renamed into place (parts of at most ``part_crops`` crops); or
    - parts already written by workers (an object with ``parts``, ``channels`` and ``write_id``, the
      parts as :meth:`CropStoreWriter.write_part` returned them): the save is then only the commit
      (``meta.json`` in one atomic write, the marker last). The workers got their writer from a
      :class:`CropStoreWriterDataset` on the same path (same version in one Kedro run).

    ``write_id`` (the saved object's attribute, when it has one) is recorded and returned by ``load``
    (:class:`CropArray` ``.write_id``), so that the crop index written with the crops can be checked
    against the store it is read with (``micon.metadata.provenance.require_crops_of_index``).

    Examples:
        Using the YAML API:

        ```yaml
        crop_store:
          type: micon.datasets.CropStoreDataset
          filepath: s3://bucket/run/05_model_input/crop_store
          versioned: true
          credentials: s3_credentials
        ```

        Using the Python API:

        >>> import numpy as np
        >>> dataset = CropStoreDataset(filepath=tmp_path / "crop_store")
        >>> dataset.save(CropArray(np.zeros((3, 2, 8, 8), dtype=np.uint16), ["DNA", "RNA"]))
        >>> crops = dataset.load()
        >>> crops.shape, crops.channels
        ((3, 2, 8, 8), ('DNA', 'RNA'))
    """

    DEFAULT_SAVE_ARGS: dict[str, Any] = {"chunk_crops": DEFAULT_CHUNK_CROPS, "part_crops": 65536}
    EXISTS_MARKER = COMPLETE_MARKER

    def __init__(  # noqa: PLR0913
        self,
        *,
        filepath: str | os.PathLike,
        channels: Sequence[str] | None = None,
        save_args: dict[str, Any] | None = None,
        version: Version | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create a crop store dataset.

        Args:
            filepath: Folder of the store, optionally prefixed with an fsspec protocol.
            channels: Channel names in stored order, for saving bare arrays (kept for catalogs that
                list them); when given, data saved with other channel names is refused, and a store
                loaded with other names in its ``meta.json`` too.
            save_args: ``chunk_crops`` (int > 0): crops per zarr chunk, the unit a random read
                decodes; ``part_crops`` (int > 0): most crops per part when an array is saved here.
            version: Kedro ``Version(load, save)``; ``None`` for an unversioned store.
            credentials: Credentials for ``fsspec.filesystem`` (and zarr's fsspec store).
            fs_args: Its other arguments.
            metadata: Arbitrary metadata, ignored by Kedro.

        Raises:
            DatasetError: ``channels`` is empty or repeats a name, or ``save_args`` holds an unknown or
                invalid key.
        """
        path = self._init_filesystem(
            filepath,
            version=version,
            credentials=credentials,
            fs_args=fs_args,
            metadata=metadata,
            save_args=save_args,
        )
        self._options = storage_options(self._protocol, credentials or {}, fs_args or {})
        self._channels = None if channels is None else _channel_names(channels, f"CropStoreDataset '{path}'")
        unknown = sorted(set(self._save_args) - set(self.DEFAULT_SAVE_ARGS))
        if unknown:
            raise DatasetError(
                f"CropStoreDataset '{path}': unknown save_args {unknown}; "
                f"known: {sorted(self.DEFAULT_SAVE_ARGS)}"
            )
        for key in self.DEFAULT_SAVE_ARGS:
            value = self._save_args[key]
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise DatasetError(
                    f"CropStoreDataset '{path}': save_args.{key} must be a positive int, got {value!r}"
                )

    def _describe_args(self) -> dict[str, Any]:
        return {"channels": self._channels, "save_args": self._save_args}

    def _writer(self, path: str) -> CropStoreWriter:
        return CropStoreWriter(
            protocol=self._protocol,
            path=path,
            options=self._options,
            chunk_crops=self._save_args["chunk_crops"],
        )

    # -- load -------------------------------------------------------------------------------------

    def _stored_channels(self, meta: dict[str, Any], store_path: str) -> tuple[str, ...]:
        """Return the store's channel names (its ``meta.json``'s, else the catalog's), checked."""
        where = f"Crop store '{store_path}'"
        recorded = meta.get("channels")
        if recorded is None and self._channels is None:
            raise DatasetError(
                f"{where} records no channel names and the catalog entry gives none; "
                "save it again with its channels, or give `channels` in the catalog"
            )
        channels = self._channels if recorded is None else _channel_names(recorded, where)
        self._check_same_channels(channels, where, source=f"its {META_FILE}")
        if len(channels) != meta["shape"][1]:
            raise DatasetError(f"{where}: {META_FILE} names {list(channels)} for shape {meta['shape']}")
        return tuple(channels)

    def _get_versions(self) -> list[str]:
        """Return the committed versions, newest first (Kedro's, less those without the marker).

        A run killed while its workers wrote parts leaves a version folder with no ``_COMPLETE``; it must
        not shadow the earlier, complete versions when the latest is loaded.
        """
        versions = super()._get_versions()  # type: ignore[misc]
        return [path for path in versions if self._fs.exists(f"{path}/{COMPLETE_MARKER}")]

    def load(self) -> CropArray:
        """Open the store read-only; no crop is read until indexed.

        Returns:
            A :class:`CropArray` ``(N, C, H, W)`` over the store's parts (:class:`ShardedCrops`), with
            the stored ``channels`` and ``write_id``.

        Raises:
            DatasetError: No version exists, the ``_COMPLETE`` marker is missing, ``meta.json`` is not a
                v2 store's or disagrees with the catalog's ``channels``.
        """
        store_path = self._load_path_str()
        meta = read_meta(self._fs, store_path)
        channels = self._stored_channels(meta, store_path)
        crops = ShardedCrops(
            self._protocol, store_path, self._options, meta["parts"], meta["shape"], meta["dtype"]
        )
        return CropArray(crops, channels, meta.get("write_id"))

    # -- save -------------------------------------------------------------------------------------

    def _check_same_channels(self, channels: Sequence[str], where: str, *, source: str) -> None:
        """Refuse ``channels`` (from ``source``) when the catalog entry names other channels."""
        if self._channels is not None and list(channels) != list(self._channels):
            raise DatasetError(
                f"{where}: {source} names channels {list(channels)}, but the catalog entry gives "
                f"{list(self._channels)}; drop `channels` from the catalog or make them agree"
            )

    def _crops_and_channels(
        self, data: ChannelledCrops | np.ndarray | Iterable[np.ndarray], path: str
    ) -> tuple[np.ndarray | Iterable[np.ndarray], list[str]]:
        """Split ``data`` into its crops and channel names, checking them against the catalog's."""
        where = f"Crop store '{path}'"
        if isinstance(data, ChannelledCrops):
            channels = _channel_names(data.channels, where)
            self._check_same_channels(channels, where, source="the saved data")
            return data.crops, channels
        if self._channels is None:
            raise DatasetError(
                f"{where}: got {type(data).__name__} without channel names; save an object with "
                "`crops` and `channels` (e.g. a CropArray), or give `channels` in the catalog entry"
            )
        return data, list(self._channels)

    def _check_chunk(
        self, chunk: Any, index: int, chw: tuple[int, ...] | None, channels: Sequence[str], path: str
    ) -> np.ndarray:
        """Return ``chunk`` as an array after checking its shape and dtype (uint16 or bool)."""
        if isinstance(chunk, CropArray):
            chunk = np.asarray(chunk)
        if not isinstance(chunk, np.ndarray):
            raise DatasetError(
                f"Crop store '{path}': chunk {index} is a {type(chunk).__name__}, expected a numpy array"
            )
        if chunk.dtype not in (np.uint16, np.bool_):
            raise DatasetError(
                f"Crop store '{path}': chunk {index} has dtype {chunk.dtype}, expected uint16 (bool masks); "
                "convert crops to uint16 before saving"
            )
        if chunk.ndim != _CROP_NDIM:
            raise DatasetError(
                f"Crop store '{path}': chunk {index} has shape {chunk.shape}, expected (N, C, H, W)"
            )
        if chw is not None and tuple(chunk.shape[1:]) != chw:
            raise DatasetError(
                f"Crop store '{path}': chunk {index} has (C, H, W) {tuple(chunk.shape[1:])}, "
                f"but earlier chunks have {chw}"
            )
        if chunk.shape[1] != len(channels):
            raise DatasetError(
                f"Crop store '{path}': chunk {index} has {chunk.shape[1]} channels, "
                f"expected {len(channels)} ({list(channels)})"
            )
        return chunk

    def _write_crops(
        self,
        crops: np.ndarray | Iterable[np.ndarray],
        channels: Sequence[str],
        writer: CropStoreWriter,
        path: str,
    ) -> tuple[list[CropPart], tuple[int, ...], str]:
        """Write ``crops`` as parts of ``writer``'s store; return the parts, (C, H, W) and dtype."""
        if isinstance(crops, CropArray | ShardedCrops):  # a loaded store: copied block by block
            step = self._save_args["part_crops"]
            chunks: Iterable[Any] = (
                crops[start : start + step] for start in range(0, max(1, len(crops)), step)
            )
        else:
            chunks = [crops] if isinstance(crops, np.ndarray) else crops
        chw: tuple[int, ...] | None = None
        dtype = "uint16"
        parts: list[CropPart] = []
        step = self._save_args["part_crops"]
        for index, raw in enumerate(chunks):
            chunk = self._check_chunk(raw, index, chw, channels, path)
            chw, dtype = tuple(chunk.shape[1:]), chunk.dtype.name
            for start in range(0, chunk.shape[0], step):
                parts.append(writer.write_part(_PART_NAME.format(len(parts)), chunk[start : start + step]))
        if chw is None:
            raise DatasetError(
                f"Crop store '{path}': the iterable held no chunk, so (C, H, W) is unknown; "
                "save an ndarray of shape (0, C, H, W) for an empty store"
            )
        return parts, chw, dtype

    def _commit_path(self) -> str:
        """Return where a commit of parts goes: the save version's folder, which the workers filled."""
        if not self._versioned:
            return self._path_str(self._filepath)
        path = self._path_str(self._get_versioned_path(self.resolve_save_version()))
        if self._fs.exists(f"{path}/{META_FILE}"):
            raise DatasetError(f"Crop store '{path}' is already committed; a version is written once")
        return path

    def save(self, data: ChannelledCrops | StoredParts | np.ndarray | Iterable[np.ndarray]) -> None:
        """Write crops into ``<path>.partial`` and rename it into place, or commit parts written by workers.

        Args:
            data: An object with ``parts`` (written by a :class:`CropStoreWriter` of this store),
                ``channels`` and ``write_id``; or an object with ``crops`` (an array ``(N, C, H, W)``
                uint16 or bool, or an iterable of such chunks with equal ``(C, H, W)``, consumed one at a
                time) and ``channels`` (the C names), such as a :class:`CropArray`; or, when the catalog
                entry gives ``channels``, the crops alone. Its ``write_id`` attribute, when present, is
                recorded in ``meta.json``.

        Raises:
            DatasetError: No channel names are known, or they disagree with the catalog's; a chunk is
                not uint16/bool, not 4-D, or disagrees on ``(C, H, W)`` or on the channel count; a part
                has no commit record; the save version already exists; an unversioned store already sits
                at the root of a versioned dataset; writing failed. Nothing is left at the path or its
                ``.partial`` sibling after a failed write of crops.
        """
        root = self._path_str(self._filepath)
        if self._versioned and self._fs.exists(f"{root}/{COMPLETE_MARKER}"):
            raise DatasetError(
                f"Cannot save a versioned crop store into '{root}': an unversioned store is already there; "
                "move it into a version folder or delete it"
            )
        write_id = getattr(data, "write_id", None)
        if isinstance(data, StoredParts):
            store_path = self._commit_path()
            channels = _channel_names(data.channels, f"Crop store '{store_path}'")
            self._check_same_channels(channels, f"Crop store '{store_path}'", source="the saved parts")
            shape = self._writer(store_path).commit(list(data.parts), channels=channels, write_id=write_id)
            self._invalidate_cache()
            logger.info(
                "committed %d crops %s in %d parts to '%s'",
                shape[0],
                tuple(shape[1:]),
                len(data.parts),
                store_path,
            )
            return
        store_path = self._save_path_str()
        crops, channels = self._crops_and_channels(data, store_path)
        shape: list[int] = []

        def write(partial_path: str) -> None:
            writer = self._writer(partial_path)
            parts, chw, dtype = self._write_crops(crops, channels, writer, store_path)
            shape.extend(
                writer.commit(parts, channels=channels, write_id=write_id, empty_chw=chw, empty_dtype=dtype)
            )

        self._write_atomically(store_path, write, what="crop store", folder=True)
        logger.info("saved %d crops %s of %s to '%s'", shape[0], tuple(shape[1:]), channels, store_path)

    # -- misc -------------------------------------------------------------------------------------

    def preview(self) -> JSONPreview:
        """Describe the stored crops without reading them (for kedro-viz).

        Returns:
            JSON text ``{"count": N, "shape": [N, C, H, W], "dtype": ..., "channels": [...], "parts": P}``.
        """
        meta = read_meta(self._fs, self._load_path_str())
        return JSONPreview(
            json.dumps(
                {
                    "count": int(meta["shape"][0]),
                    "shape": meta["shape"],
                    "dtype": meta["dtype"],
                    "channels": meta["channels"],
                    "parts": len(meta["parts"]),
                }
            )
        )


class CropStoreWriterDataset(FilesystemMixin, AbstractVersionedDataset[None, CropStoreWriter]):
    """Load a :class:`CropStoreWriter` for a crop store's save path, so that workers write its parts in place.

    Give it the same ``filepath``, ``versioned``, ``credentials`` and ``fs_args`` as the
    :class:`CropStoreDataset` the parts are committed to: in one Kedro run every dataset saves under the
    run's version, so the writer writes into the version folder the store's ``save`` then commits. The
    writer is picklable (a path and options), so it travels to Dask workers; nothing is visible in the
    store until the commit. It is never saved to.

    Examples:
        ```yaml
        _crop_store: ${globals:run_root}/05_model_input/crop_store
        crop_store_writer:
          type: micon.datasets.CropStoreWriterDataset
          filepath: ${_crop_store}
          versioned: true
        ```
    """

    DEFAULT_SAVE_ARGS: dict[str, Any] = {"chunk_crops": DEFAULT_CHUNK_CROPS}

    def __init__(  # noqa: PLR0913
        self,
        *,
        filepath: str | os.PathLike,
        save_args: dict[str, Any] | None = None,
        version: Version | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the writer dataset (arguments as :class:`CropStoreDataset`'s; ``save_args.chunk_crops``)."""
        self._init_filesystem(
            filepath,
            version=version,
            credentials=credentials,
            fs_args=fs_args,
            metadata=metadata,
            save_args=save_args,
        )
        self._options = storage_options(self._protocol, credentials or {}, fs_args or {})

    def load(self) -> CropStoreWriter:
        """Return a writer of the store's save path (the run's version folder when versioned).

        Raises:
            DatasetError: That version is already committed.
        """
        if self._versioned:
            path = self._path_str(self._get_versioned_path(self.resolve_save_version()))
        else:
            path = self._path_str(self._filepath)
        if self._versioned and self._fs.exists(f"{path}/{META_FILE}"):
            raise DatasetError(f"Crop store '{path}' is already committed; a version is written once")
        return CropStoreWriter(
            protocol=self._protocol,
            path=path,
            options=self._options,
            chunk_crops=self._save_args["chunk_crops"],
        )

    def save(self, data: None) -> None:
        """Refuse: the writer is only loaded.

        Raises:
            DatasetError: Always.
        """
        raise DatasetError(
            "CropStoreWriterDataset is only loaded (a writer for workers); save the CropStoreDataset"
        )

    def _exists(self) -> bool:
        return True


def _channel_names(channels: Any, where: str) -> list[str]:
    """Return ``channels`` as a list of names, refusing a bare string, an empty list or a repeated name."""
    if isinstance(channels, str) or not isinstance(channels, Iterable):
        raise DatasetError(f"{where}: channels must be a list of names, got {channels!r}")
    names = [str(c) for c in channels]
    if not names or len(set(names)) != len(names):
        raise DatasetError(f"{where}: channels must be non-empty and distinct, got {names}")
    return names
