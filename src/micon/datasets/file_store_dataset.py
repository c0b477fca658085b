"""A read-only Kedro dataset for a large file tree (s3:// bucket or local mirror) addressed by key, lazily."""

from __future__ import annotations

import io
import os
import posixpath
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import fsspec
import numpy as np
import pandas as pd
import tifffile
from kedro.io.core import AbstractDataset, DatasetError

from ._filesystem import FilesystemMixin, PathOutsideRootError, confined_path, describe_error

_IMAGE_SUFFIXES = (".tif", ".tiff")
_ARRAY_SUFFIX = ".npy"


class FileStore:
    """Files under one root of an fsspec filesystem, addressed by key (a path relative to the root).

    Nothing is listed or read until asked: the Cell Painting Gallery holds millions of files, so the
    store is never enumerated; :meth:`existing` lists only the folders of the keys it is given.

    Every key is confined to the root (``_filesystem.confined_path``): a key that is absolute or climbs
    out with ``..`` is refused, and on a local mirror so is a key whose path is a symbolic link leading
    out of the root; nothing outside the root is listed or read. The store only ever reads.
    """

    def __init__(
        self, fs: fsspec.AbstractFileSystem, root: str, *, root_url: str, local: bool = False
    ) -> None:
        """Wrap ``fs`` at ``root`` (a path without protocol); ``root_url`` is how messages name the root.

        ``local``: the filesystem is local, so symbolic links are resolved when confining keys.
        """
        self._fs = fs
        self._root = root.rstrip("/") or "/"
        self.root_url = root_url
        self._local = local

    def path(self, key: str) -> str:
        """Return the filesystem path of ``key``.

        Raises:
            PathOutsideRootError: ``key`` leaves the root (``..``, absolute, or a link out of a local root).
        """
        return confined_path(self._root, key, resolve_links=self._local, root_url=self.root_url)

    def is_outside_root(self, key: str) -> bool:
        """Return whether reading ``key`` is refused because it leaves the root."""
        try:
            self.path(key)
        except PathOutsideRootError:
            return True
        return False

    def __contains__(self, key: object) -> bool:
        """Return whether the file ``key`` exists under the root (one request on object storage)."""
        return (
            isinstance(key, str) and not self.is_outside_root(key) and bool(self._fs.exists(self.path(key)))
        )

    def existing(self, keys: Iterable[str]) -> set[str]:
        """Return the subset of ``keys`` that exist under the root, listing each distinct folder once.

        Args:
            keys: File keys.

        Returns:
            The keys whose file exists; keys that leave the root (:meth:`is_outside_root`) never do.
        """
        by_folder: dict[str, list[str]] = defaultdict(list)
        for key in set(keys):
            if not self.is_outside_root(key):
                by_folder[posixpath.dirname(self.path(key))].append(key)
        found: set[str] = set()
        for folder, folder_keys in by_folder.items():
            try:
                names = {posixpath.basename(p.rstrip("/")) for p in self._fs.ls(folder, detail=False)}
            except FileNotFoundError:
                continue
            found |= {k for k in folder_keys if posixpath.basename(k) in names}
        return found

    def read_bytes(self, key: str) -> bytes:
        """Return the whole content of file ``key`` (one GET on object storage).

        Raises:
            PathOutsideRootError: ``key`` leaves the root; nothing is read.
            DatasetError: The file is missing or cannot be read (names its URL).
        """
        path = self.path(key)
        try:
            return self._fs.cat_file(path)
        except Exception as exc:  # IO boundary: any reader failure becomes a DatasetError naming the file
            raise DatasetError(f"Cannot read '{key}' under {self.root_url}: {describe_error(exc)}") from exc

    def read_array(self, key: str) -> np.ndarray:
        """Read an image (``.tif``/``.tiff``, with tifffile) or an array (``.npy``, no pickles).

        Raises:
            DatasetError: The file is missing, unreadable, or of another type (names it).
        """
        content = self.read_bytes(key)
        lowered = key.lower()
        try:
            if lowered.endswith(_IMAGE_SUFFIXES):
                return np.asarray(tifffile.imread(io.BytesIO(content)))
            if lowered.endswith(_ARRAY_SUFFIX):
                return np.load(io.BytesIO(content), allow_pickle=False)
        except Exception as exc:  # IO boundary: a corrupt file becomes a DatasetError naming it
            raise DatasetError(f"Cannot decode '{key}' under {self.root_url}: {describe_error(exc)}") from exc
        raise DatasetError(
            f"'{key}' under {self.root_url} is neither an image {_IMAGE_SUFFIXES} nor an array "
            f"({_ARRAY_SUFFIX})"
        )

    def loader(self, key: str) -> Callable[[], np.ndarray]:
        """Return a function that reads the image or array ``key`` when called."""
        return lambda: self.read_array(key)

    def read_parquet(self, key: str) -> pd.DataFrame:
        """Read the parquet table ``key``.

        Raises:
            DatasetError: The file is missing or not a parquet table (names it).
        """
        content = self.read_bytes(key)
        try:
            return pd.read_parquet(io.BytesIO(content))
        except Exception as exc:  # IO boundary
            raise DatasetError(
                f"Cannot read parquet '{key}' under {self.root_url}: {describe_error(exc)}"
            ) from exc


class FileStoreDataset(FilesystemMixin, AbstractDataset[FileStore, FileStore]):
    """Load a :class:`FileStore`: lazy, read-only access by key to files under a root.

    The root is an fsspec URL: the public Cell Painting Gallery (``s3://cellpainting-gallery`` with
    ``fs_args: {anon: true}``, no AWS account needed), an S3-compatible endpoint
    (``fs_args: {client_kwargs: {endpoint_url: ...}}``) or a local mirror folder holding the same keys.

    Examples:
        Using the YAML API:

        ```yaml
        jump_gallery:
          type: micon.datasets.FileStoreDataset
          root: s3://cellpainting-gallery
          fs_args:
            anon: true
        ```

        Using the Python API:

        >>> import numpy as np
        >>> np.save(tmp_path / "a.npy", np.ones((2, 2)))
        >>> store = FileStoreDataset(root=str(tmp_path)).load()
        >>> store.read_array("a.npy").shape
        (2, 2)
    """

    def __init__(
        self,
        *,
        root: str | os.PathLike,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create a dataset for the files under ``root``.

        Args:
            root: Root URL or local folder (``s3://bucket``, ``s3://bucket/prefix``, ``/mnt/mirror``).
            credentials: Credentials for ``fsspec.filesystem``.
            fs_args: Its other arguments (``anon``, ``client_kwargs``).
            metadata: Arbitrary metadata, ignored by Kedro.
        """
        self._root = self._init_filesystem(
            str(root), credentials=credentials, fs_args=fs_args, metadata=metadata
        ).as_posix()
        self._root_url = str(root)

    def _describe(self) -> dict[str, Any]:  # the root, as the catalog names it
        return {"root": self._root_url, "protocol": self._protocol}

    def load(self) -> FileStore:
        """Return the store; nothing is read yet."""
        return FileStore(self._fs, self._root, root_url=self._root_url, local=self._protocol == "file")

    def save(self, data: FileStore) -> None:
        """Refuse: the store is read-only.

        Raises:
            DatasetError: Always.
        """
        raise DatasetError(f"FileStoreDataset '{self._root_url}' is read-only")
