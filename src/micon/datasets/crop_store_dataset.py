"""A versioned Kedro dataset holding N single-cell crops (N, C, H, W) uint16 as a raw memory-mappable file."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Sequence
from copy import deepcopy
from pathlib import PurePosixPath
from typing import Any, NewType

import fsspec
import numpy as np
from kedro.io.core import (
    AbstractVersionedDataset,
    DatasetError,
    Version,
    get_filepath_str,
    get_protocol_and_path,
)

logger = logging.getLogger(__name__)

# kedro-viz picks a preview renderer by the return annotation's name; kedro_datasets defines the same
# NewType, redefined here because datasets/ imports only IO libraries.
JSONPreview = NewType("JSONPreview", str)

CROPS_FILE = "crops.u16"
META_FILE = "meta.json"
COMPLETE_MARKER = "_COMPLETE"
PARTIAL_SUFFIX = ".partial"
_STORE_DTYPE = np.dtype("<u2")  # little-endian uint16 on disk, whatever the machine
_CROP_NDIM = 4


class CropStoreDataset(AbstractVersionedDataset[np.ndarray | Iterable[np.ndarray], np.ndarray]):
    """Store single-cell crops ``(N, C, H, W)`` uint16 in a folder that loads as a read-only memmap.

    The folder holds ``crops.u16`` (raw little-endian uint16, C-order, shape ``(N, C, H, W)``),
    ``meta.json`` (``{"shape": [N, C, H, W], "dtype": "uint16", "channels": [...] | null}``) and a
    ``_COMPLETE`` marker written last. A save writes into ``<path>.partial`` and renames it into
    place, so a folder at the dataset path is always complete; an interrupted save removes the
    partial folder. Row ``i`` is the crop with ``Metadata_CropID == i``.

    A raw file was chosen over zarr/HDF5 because a memmap gives the training ``Dataset`` random
    access to single crops at no decoding cost and with no extra dependency; loading needs a local
    filesystem (``file`` protocol) because ``np.memmap`` maps a local file. A store of 0 crops
    loads as an empty read-only ndarray, since an empty file cannot be memory-mapped.

    Examples:
        Using the YAML API:

        ```yaml
        crop_store:
          type: micon.datasets.CropStoreDataset
          filepath: data/05_model_input/crop_store
          channels: [AGP, DNA, ER, Mito, RNA]
          versioned: true
        ```

        Using the Python API:

        >>> import numpy as np
        >>> dataset = CropStoreDataset(filepath=tmp_path / "crop_store")
        >>> dataset.save(np.zeros((3, 5, 8, 8), dtype=np.uint16))
        >>> dataset.load().shape
        (3, 5, 8, 8)
    """

    DEFAULT_SAVE_ARGS: dict[str, Any] = {"write_chunk_bytes": 64 * 2**20}

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
            channels: Channel names in stored order, written to ``meta.json``; when given, a save
                whose channel count differs is refused.
            save_args: ``write_chunk_bytes`` (int > 0): how many bytes of an ndarray are written at
                a time, bounding the extra memory a save needs.
            version: Kedro ``Version(load, save)``; ``None`` for an unversioned store.
            credentials: Credentials for the filesystem (passed to ``fsspec.filesystem``).
            fs_args: Extra arguments for the filesystem constructor.
            metadata: Arbitrary metadata, ignored by Kedro.

        Raises:
            DatasetError: ``channels`` is empty or ``save_args`` holds an unknown or invalid key.
        """
        _fs_args = deepcopy(fs_args) or {}
        _credentials = deepcopy(credentials) or {}
        protocol, path = get_protocol_and_path(filepath, version)
        if protocol == "file":
            _fs_args.setdefault("auto_mkdir", True)
        self._protocol = protocol
        self._fs = fsspec.filesystem(protocol, **_credentials, **_fs_args)
        self.metadata = metadata
        super().__init__(
            filepath=PurePosixPath(path),
            version=version,
            exists_function=self._fs.exists,
            glob_function=self._fs.glob,
        )
        self._channels = None if channels is None else [str(c) for c in channels]
        if self._channels is not None and not self._channels:
            raise DatasetError(f"CropStoreDataset '{path}': channels must be non-empty or omitted")
        self._save_args = {**self.DEFAULT_SAVE_ARGS, **(save_args or {})}
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

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": self._filepath,
            "protocol": self._protocol,
            "channels": self._channels,
            "save_args": self._save_args,
            "version": self._version,
        }

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

    def load(self) -> np.ndarray:
        """Open the store as a read-only memory map; no crop is read until indexed.

        Returns:
            ``np.memmap`` of shape ``(N, C, H, W)`` uint16, mode ``"r"`` (an empty read-only ndarray
            when N == 0).

        Raises:
            DatasetError: No version exists, the ``_COMPLETE`` marker is missing, ``meta.json``
                disagrees with the size of ``crops.u16``, or the filesystem is not local.
        """
        store_path = get_filepath_str(self._get_load_path(), self._protocol)
        meta = self._read_meta(store_path)
        shape = tuple(int(s) for s in meta["shape"])
        crops_path = f"{store_path}/{CROPS_FILE}"
        expected_bytes = int(np.prod(shape)) * _STORE_DTYPE.itemsize
        found_bytes = self._fs.size(crops_path)
        if found_bytes != expected_bytes:
            raise DatasetError(
                f"Crop store '{store_path}': {CROPS_FILE} holds {found_bytes} bytes but meta.json shape "
                f"{list(shape)} needs {expected_bytes}"
            )
        if expected_bytes == 0:
            empty = np.zeros(shape, dtype=_STORE_DTYPE)
            empty.setflags(write=False)
            return empty
        if self._protocol != "file":
            raise DatasetError(
                f"Crop store '{store_path}' is on protocol '{self._protocol}'; memory-mapped loading "
                "needs a local filesystem: copy the store locally first"
            )
        return np.memmap(crops_path, dtype=_STORE_DTYPE, mode="r", shape=shape)

    # -- save -------------------------------------------------------------------------------------

    def _check_chunk(self, chunk: Any, index: int, chw: tuple[int, ...] | None, path: str) -> np.ndarray:
        """Return ``chunk`` as a C-order little-endian uint16 array after checking its shape and dtype."""
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
        if self._channels is not None and chunk.shape[1] != len(self._channels):
            raise DatasetError(
                f"Crop store '{path}': chunk {index} has {chunk.shape[1]} channels, "
                f"expected {len(self._channels)} ({self._channels})"
            )
        return chunk

    def _write_crops(self, data: np.ndarray | Iterable[np.ndarray], crops_path: str, path: str) -> list[int]:
        """Write every crop of ``data`` to ``crops_path``; return the final shape ``[N, C, H, W]``."""
        chunks: Iterable[Any] = [data] if isinstance(data, np.ndarray) else data
        chw: tuple[int, ...] | None = None
        n_crops = 0
        with self._fs.open(crops_path, mode="wb") as fs_file:
            for index, raw in enumerate(chunks):
                chunk = self._check_chunk(raw, index, chw, path)
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

    def save(self, data: np.ndarray | Iterable[np.ndarray]) -> None:
        """Write crops into ``<path>.partial`` (crops, meta, marker last) and rename it into place.

        Args:
            data: An array ``(N, C, H, W)`` uint16, or an iterable of such chunks with equal
                ``(C, H, W)``; chunks are consumed one at a time.

        Raises:
            DatasetError: A chunk is not uint16, not 4-D, or disagrees on ``(C, H, W)`` or on the
                configured channel count; the save version already exists; an unversioned store
                already sits at the root of a versioned dataset; writing failed. Nothing
                is left at the path or its ``.partial`` sibling after a failure.
        """
        store_path = get_filepath_str(self._get_save_path(), self._protocol)
        root = get_filepath_str(self._filepath, self._protocol)
        if self._version and self._fs.exists(f"{root}/{COMPLETE_MARKER}"):
            raise DatasetError(
                f"Cannot save a versioned crop store into '{root}': an unversioned store is already there; "
                "move it into a version folder or delete it"
            )
        partial_path = store_path + PARTIAL_SUFFIX
        if self._fs.exists(partial_path):  # left by a killed process: never appended to
            self._fs.rm(partial_path, recursive=True)
        try:
            self._fs.makedirs(partial_path, exist_ok=True)
            shape = self._write_crops(data, f"{partial_path}/{CROPS_FILE}", store_path)
            meta = {"shape": shape, "dtype": "uint16", "channels": self._channels}
            with self._fs.open(f"{partial_path}/{META_FILE}", mode="w") as fs_file:
                json.dump(meta, fs_file)
            with self._fs.open(f"{partial_path}/{COMPLETE_MARKER}", mode="w") as fs_file:
                fs_file.write("")
            self._replace(partial_path, store_path)
        except BaseException as exc:
            self._remove_partial(partial_path)
            if isinstance(exc, DatasetError) or not isinstance(exc, Exception):
                raise
            raise DatasetError(
                f"Crop store '{store_path}' was not saved: {type(exc).__name__}: {exc}"
            ) from exc
        self._invalidate_cache()
        logger.info("saved %d crops of shape %s to '%s'", shape[0], tuple(shape[1:]), store_path)

    def _remove_partial(self, partial_path: str) -> None:
        """Delete a failed save's partial folder and, when versioned, its version folder if left empty."""
        if self._fs.exists(partial_path):
            self._fs.rm(partial_path, recursive=True)
        version_dir = str(PurePosixPath(partial_path).parent)
        if self._version and self._fs.exists(version_dir) and not self._fs.ls(version_dir):
            self._fs.rmdir(version_dir)
        self._invalidate_cache()

    def _replace(self, partial_path: str, store_path: str) -> None:
        """Move the finished partial folder to ``store_path``, replacing an unversioned old store."""
        if not self._fs.exists(store_path):
            self._fs.mv(partial_path, store_path, recursive=True)
            return
        # Only reachable unversioned (the base class refuses an existing versioned save path).
        old_path = store_path + ".replaced"
        if self._fs.exists(old_path):
            self._fs.rm(old_path, recursive=True)
        self._fs.mv(store_path, old_path, recursive=True)
        self._fs.mv(partial_path, store_path, recursive=True)
        self._fs.rm(old_path, recursive=True)

    # -- misc -------------------------------------------------------------------------------------

    def _exists(self) -> bool:
        try:
            store_path = get_filepath_str(self._get_load_path(), self._protocol)
        except DatasetError:
            return False
        return bool(self._fs.exists(f"{store_path}/{COMPLETE_MARKER}"))

    def _release(self) -> None:
        super()._release()
        self._invalidate_cache()

    def _invalidate_cache(self) -> None:
        """Invalidate the filesystem's listing cache for the store."""
        self._fs.invalidate_cache(get_filepath_str(self._filepath, self._protocol))

    def preview(self) -> JSONPreview:
        """Describe the stored crops without reading them (for kedro-viz).

        Returns:
            JSON text ``{"count": N, "shape": [N, C, H, W], "dtype": "uint16", "channels": [...]}``.
        """
        store_path = get_filepath_str(self._get_load_path(), self._protocol)
        meta = self._read_meta(store_path)
        return JSONPreview(
            json.dumps(
                {
                    "count": int(meta["shape"][0]),
                    "shape": meta["shape"],
                    "dtype": meta["dtype"],
                    "channels": meta.get("channels"),
                }
            )
        )
