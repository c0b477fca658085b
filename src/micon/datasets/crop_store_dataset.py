"""A versioned Kedro dataset holding N single-cell crops (N, C, H, W) uint16 and their channel names."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from typing import Any, NewType, Protocol, runtime_checkable

import numpy as np
from kedro.io.core import AbstractVersionedDataset, DatasetError, Version

from ._filesystem import FilesystemMixin

logger = logging.getLogger(__name__)

# kedro-viz picks a preview renderer by the return annotation's name; kedro_datasets defines the same
# NewType, redefined here because datasets/ imports only IO libraries.
JSONPreview = NewType("JSONPreview", str)

CROPS_FILE = "crops.u16"
META_FILE = "meta.json"
COMPLETE_MARKER = "_COMPLETE"
_STORE_DTYPE = np.dtype("<u2")  # little-endian uint16 on disk, whatever the machine
_CROP_NDIM = 4


@runtime_checkable
class ChannelledCrops(Protocol):
    """What :meth:`CropStoreDataset.save` takes: crops and the names of their channels, in order."""

    @property
    def crops(self) -> np.ndarray | Iterable[np.ndarray]:
        """``(N, C, H, W)`` uint16, or an iterable of such chunks."""

    @property
    def channels(self) -> Sequence[str]:
        """The C channel names."""


class CropArray:
    """Read-only crops ``(N, C, H, W)`` uint16 with their channel names: what a crop store loads as.

    It behaves like the read-only ndarray it wraps for reading: ``shape``, ``ndim``, ``dtype``, ``size``,
    ``len()``, ``np.asarray(...)``, and indexing (ints, slices, index arrays, tuples of them), which
    returns plain ndarrays (a view for basic indexing, a copy for index arrays), never the whole store
    unless asked. Over a memory map nothing is read until indexed, and a pickle holds the file's path,
    not its crops, so a DataLoader worker receives it cheaply and maps the file again.

    Attributes:
        channels: The channel names, one per plane of axis 1.
        crops: The wrapped read-only array (an ``np.memmap`` for a stored, non-empty store).
        write_id: The id of the write the crops belong to, as the store's ``meta.json`` records it
            (None: none recorded); tables written with the crops record the same id.
    """

    __slots__ = ("channels", "crops", "write_id")

    def __init__(self, crops: np.ndarray, channels: Sequence[str], write_id: str | None = None) -> None:
        """Wrap ``crops`` (not copied; an array that is not a read-only memmap is viewed read-only).

        Raises:
            ValueError: ``crops`` is not 4-D, or ``channels`` does not name its C planes.
        """
        if crops.ndim != _CROP_NDIM:
            raise ValueError(f"crops must be (N, C, H, W), got shape {crops.shape}")
        names = tuple(str(c) for c in channels)
        if isinstance(channels, str) or len(names) != crops.shape[1]:
            raise ValueError(f"crops {crops.shape} have {crops.shape[1]} channels; channels are {channels!r}")
        if crops.flags.writeable:
            crops = crops.view()
            crops.setflags(write=False)
        self.crops = crops
        self.channels = names
        self.write_id = None if write_id is None else str(write_id)

    @classmethod
    def open(
        cls, path: str, shape: Sequence[int], channels: Sequence[str], write_id: str | None = None
    ) -> CropArray:
        """Map the raw little-endian uint16 file ``path`` of ``shape`` read-only; nothing is read yet."""
        return cls(np.memmap(path, dtype=_STORE_DTYPE, mode="r", shape=tuple(shape)), channels, write_id)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle a memory map as its path, shape and channels; an in-memory array as itself."""
        crops = self.crops
        whole_file = isinstance(crops, np.memmap) and crops.filename and crops.offset == 0
        if whole_file and crops.dtype == _STORE_DTYPE and crops.flags.c_contiguous:
            return (CropArray.open, (crops.filename, crops.shape, self.channels, self.write_id))
        return (CropArray, (np.asarray(crops), self.channels, self.write_id))

    @property
    def shape(self) -> tuple[int, ...]:
        """The shape ``(N, C, H, W)``."""
        return self.crops.shape

    @property
    def ndim(self) -> int:
        """4."""
        return self.crops.ndim

    @property
    def dtype(self) -> np.dtype:
        """uint16."""
        return self.crops.dtype

    @property
    def size(self) -> int:
        """N * C * H * W."""
        return self.crops.size

    def __len__(self) -> int:
        return len(self.crops)

    def __getitem__(self, key: Any) -> Any:
        item = self.crops[key]
        return np.asarray(item) if isinstance(item, np.ndarray) else item

    def __setitem__(self, key: Any, value: Any) -> None:
        raise ValueError("assignment destination is read-only: a crop store is never written in place")

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if copy:
            return np.array(self.crops, dtype=dtype, copy=True)
        return np.asarray(self.crops, dtype=dtype)

    def __repr__(self) -> str:
        return f"CropArray(shape={self.shape}, dtype={self.dtype}, channels={list(self.channels)})"


class CropStoreDataset(
    FilesystemMixin, AbstractVersionedDataset[ChannelledCrops | np.ndarray | Iterable[np.ndarray], CropArray]
):
    """Store single-cell crops ``(N, C, H, W)`` uint16 with their channel names; load them lazily, read-only.

    The folder holds ``crops.u16`` (raw little-endian uint16, C-order, shape ``(N, C, H, W)``),
    ``meta.json`` (``{"shape": [N, C, H, W], "dtype": "uint16", "channels": [...], "write_id": ...}``)
    and a ``_COMPLETE`` marker written last. ``write_id`` is the id of the write the crops belong to,
    taken from the saved object's ``write_id`` attribute when it has one and returned by ``load``
    (:class:`CropArray` ``.write_id``), so that tables written with the crops (the crop index) can be
    checked against the store they are read with. A save writes into ``<path>.partial`` and renames it into
    place, so a folder at the dataset path is always complete; an interrupted save removes the
    partial folder. Row ``i`` is the crop with ``Metadata_CropID == i``.

    ``save`` takes the channel names with the crops (an object with ``crops`` and ``channels``, such as
    a loaded :class:`CropArray`), so the store records them and ``load`` returns them
    (:class:`CropArray` ``.channels``): the list is written once, by whoever made the crops. A bare
    array or iterable of chunks is accepted only when the catalog entry gives ``channels``.

    A raw file was chosen over zarr/HDF5 because a memmap gives the training ``Dataset`` random
    access to single crops at no decoding cost and with no extra dependency; loading needs a local
    filesystem (``file`` protocol) because ``np.memmap`` maps a local file. A store of 0 crops
    loads over an empty in-memory array, since an empty file cannot be memory-mapped.

    Examples:
        Using the YAML API:

        ```yaml
        crop_store:
          type: micon.datasets.CropStoreDataset
          filepath: data/05_model_input/crop_store
          versioned: true
        ```

        Using the Python API:

        >>> import numpy as np
        >>> dataset = CropStoreDataset(filepath=tmp_path / "crop_store")
        >>> dataset.save(CropArray(np.zeros((3, 2, 8, 8), dtype=np.uint16), ["DNA", "RNA"]))
        >>> crops = dataset.load()
        >>> crops.shape, crops.channels
        ((3, 2, 8, 8), ('DNA', 'RNA'))
    """

    DEFAULT_SAVE_ARGS: dict[str, Any] = {"write_chunk_bytes": 64 * 2**20}
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
            save_args: ``write_chunk_bytes`` (int > 0): how many bytes of an ndarray are written at
                a time, bounding the extra memory a save needs.
            version: Kedro ``Version(load, save)``; ``None`` for an unversioned store.
            credentials: Credentials for ``fsspec.filesystem``.
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
        self._channels = None if channels is None else _channel_names(channels, f"CropStoreDataset '{path}'")
        unknown = sorted(set(self._save_args) - set(self.DEFAULT_SAVE_ARGS))
        if unknown:
            raise DatasetError(
                f"CropStoreDataset '{path}': unknown save_args {unknown}; "
                f"known: {sorted(self.DEFAULT_SAVE_ARGS)}"
            )
        chunk_bytes = self._save_args["write_chunk_bytes"]
        if not isinstance(chunk_bytes, int) or chunk_bytes <= 0:
            raise DatasetError(
                f"CropStoreDataset '{path}': save_args.write_chunk_bytes must be a positive int, "
                f"got {chunk_bytes!r}"
            )

    def _describe_args(self) -> dict[str, Any]:
        return {"channels": self._channels, "save_args": self._save_args}

    # -- load -------------------------------------------------------------------------------------

    def _read_meta(self, store_path: str) -> dict[str, Any]:
        """Return the validated ``meta.json`` of a complete store at ``store_path``."""
        if not self._fs.exists(f"{store_path}/{COMPLETE_MARKER}"):
            raise DatasetError(
                f"Crop store '{store_path}' is incomplete or missing (no {COMPLETE_MARKER} marker); "
                "it was not fully written: save it again"
            )
        with self._fs.open(f"{store_path}/{META_FILE}", mode="r") as fs_file:
            meta = json.load(fs_file)
        shape = meta.get("shape")
        if meta.get("dtype") != "uint16" or not isinstance(shape, list) or len(shape) != _CROP_NDIM:
            raise DatasetError(
                f"Crop store '{store_path}' has invalid {META_FILE}: {meta!r}; "
                "expected a 4-D 'shape' and dtype 'uint16'"
            )
        return meta

    def _stored_channels(self, meta: dict[str, Any], store_path: str) -> tuple[str, ...]:
        """Return the store's channel names: its ``meta.json``'s, else (an older store) the catalog's."""
        recorded = meta.get("channels")
        if recorded is None and self._channels is None:
            raise DatasetError(
                f"Crop store '{store_path}' records no channel names and the catalog entry gives none; "
                "save it again with its channels, or give `channels` in the catalog"
            )
        where = f"Crop store '{store_path}'"
        channels = self._channels if recorded is None else _channel_names(recorded, where)
        self._check_same_channels(channels, where, source=f"its {META_FILE}")
        if len(channels) != meta["shape"][1]:
            raise DatasetError(f"{where}: {META_FILE} names {list(channels)} for shape {meta['shape']}")
        return tuple(channels)

    def load(self) -> CropArray:
        """Open the store read-only; no crop is read until indexed.

        Returns:
            A :class:`CropArray` ``(N, C, H, W)`` uint16 over a read-only ``np.memmap`` (an empty
            in-memory array when N == 0), with the stored ``channels``.

        Raises:
            DatasetError: No version exists, the ``_COMPLETE`` marker is missing, ``meta.json``
                disagrees with the size of ``crops.u16`` or with the catalog's ``channels``, or the
                filesystem is not local.
        """
        store_path = self._load_path_str()
        meta = self._read_meta(store_path)
        shape = tuple(int(s) for s in meta["shape"])
        channels = self._stored_channels(meta, store_path)
        crops_path = f"{store_path}/{CROPS_FILE}"
        expected_bytes = int(np.prod(shape)) * _STORE_DTYPE.itemsize
        found_bytes = self._fs.size(crops_path)
        if found_bytes != expected_bytes:
            raise DatasetError(
                f"Crop store '{store_path}': {CROPS_FILE} holds {found_bytes} bytes but meta.json shape "
                f"{list(shape)} needs {expected_bytes}"
            )
        write_id = meta.get("write_id")
        if expected_bytes == 0:
            return CropArray(np.zeros(shape, dtype=_STORE_DTYPE), channels, write_id)
        if self._protocol != "file":
            raise DatasetError(
                f"Crop store '{store_path}' is on protocol '{self._protocol}'; memory-mapped loading "
                "needs a local filesystem: copy the store locally first"
            )
        return CropArray.open(crops_path, shape, channels, write_id)

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
        """Return ``chunk`` as a C-order little-endian uint16 array after checking its shape and dtype."""
        if isinstance(chunk, CropArray):
            chunk = chunk.crops
        if not isinstance(chunk, np.ndarray):
            raise DatasetError(
                f"Crop store '{path}': chunk {index} is a {type(chunk).__name__}, expected a numpy array"
            )
        if chunk.dtype != np.uint16:
            raise DatasetError(
                f"Crop store '{path}': chunk {index} has dtype {chunk.dtype}, expected uint16; "
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
        self, crops: np.ndarray | Iterable[np.ndarray], channels: Sequence[str], crops_path: str, path: str
    ) -> list[int]:
        """Write every crop of ``crops`` to ``crops_path``; return the final shape ``[N, C, H, W]``."""
        chunks: Iterable[Any] = [crops] if isinstance(crops, np.ndarray | CropArray) else crops
        chw: tuple[int, ...] | None = None
        n_crops = 0
        with self._fs.open(crops_path, mode="wb") as fs_file:
            for index, raw in enumerate(chunks):
                chunk = self._check_chunk(raw, index, chw, channels, path)
                chw = tuple(chunk.shape[1:])
                crop_bytes = max(1, int(np.prod(chw)) * _STORE_DTYPE.itemsize)
                step = max(1, self._save_args["write_chunk_bytes"] // crop_bytes)
                for start in range(0, chunk.shape[0], step):
                    block = np.ascontiguousarray(chunk[start : start + step], dtype=_STORE_DTYPE)
                    fs_file.write(memoryview(block).cast("B"))
                n_crops += chunk.shape[0]
        if chw is None:
            raise DatasetError(
                f"Crop store '{path}': the iterable held no chunk, so (C, H, W) is unknown; "
                "save an ndarray of shape (0, C, H, W) for an empty store"
            )
        return [n_crops, *chw]

    def save(self, data: ChannelledCrops | np.ndarray | Iterable[np.ndarray]) -> None:
        """Write crops into ``<path>.partial`` (crops, meta, marker last) and rename it into place.

        Args:
            data: An object with ``crops`` (an array ``(N, C, H, W)`` uint16, or an iterable of such
                chunks with equal ``(C, H, W)``, consumed one at a time) and ``channels`` (the C
                names), such as a :class:`CropArray`; or, when the catalog entry gives ``channels``,
                the crops alone. Its ``write_id`` attribute, when present, is recorded in ``meta.json``.

        Raises:
            DatasetError: No channel names are known, or they disagree with the catalog's; a chunk is
                not uint16, not 4-D, or disagrees on ``(C, H, W)`` or on the channel count; the save
                version already exists; an unversioned store already sits at the root of a
                versioned dataset; writing failed. Nothing is left at the path or its ``.partial``
                sibling after a failure.
        """
        store_path = self._save_path_str()
        root = self._path_str(self._filepath)
        if self._versioned and self._fs.exists(f"{root}/{COMPLETE_MARKER}"):
            raise DatasetError(
                f"Cannot save a versioned crop store into '{root}': an unversioned store is already there; "
                "move it into a version folder or delete it"
            )
        crops, channels = self._crops_and_channels(data, store_path)
        write_id = getattr(data, "write_id", None)
        shape: list[int] = []

        def write(partial_path: str) -> None:
            shape.extend(self._write_crops(crops, channels, f"{partial_path}/{CROPS_FILE}", store_path))
            meta: dict[str, Any] = {"shape": shape, "dtype": "uint16", "channels": channels}
            if write_id is not None:
                meta["write_id"] = str(write_id)
            with self._fs.open(f"{partial_path}/{META_FILE}", mode="w") as fs_file:
                json.dump(meta, fs_file)
            with self._fs.open(f"{partial_path}/{COMPLETE_MARKER}", mode="w") as fs_file:
                fs_file.write("")

        self._write_atomically(store_path, write, what="crop store", folder=True)
        logger.info("saved %d crops %s of %s to '%s'", shape[0], tuple(shape[1:]), channels, store_path)

    # -- misc -------------------------------------------------------------------------------------

    def preview(self) -> JSONPreview:
        """Describe the stored crops without reading them (for kedro-viz).

        Returns:
            JSON text ``{"count": N, "shape": [N, C, H, W], "dtype": "uint16", "channels": [...]}``.
        """
        meta = self._read_meta(self._load_path_str())
        return JSONPreview(
            json.dumps(
                {
                    "count": int(meta["shape"][0]),
                    "shape": meta["shape"],
                    "dtype": meta["dtype"],
                    "channels": meta.get("channels") or self._channels,
                }
            )
        )


def _channel_names(channels: Any, where: str) -> list[str]:
    """Return ``channels`` as a list of names, refusing a bare string, an empty list or a repeated name."""
    if isinstance(channels, str) or not isinstance(channels, Iterable):
        raise DatasetError(f"{where}: channels must be a list of names, got {channels!r}")
    names = [str(c) for c in channels]
    if not names or len(set(names)) != len(names):
        raise DatasetError(f"{where}: channels must be non-empty and distinct, got {names}")
    return names
