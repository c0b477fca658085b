"""What every file-backed dataset of micon shares: its fsspec filesystem and an atomic write.

Kedro gives the versioning (``AbstractVersionedDataset``: load and save paths, the refusal to overwrite
a version) and the path helpers (``get_protocol_and_path``, ``get_filepath_str``); kedro-datasets has no
shared piece for the rest, which every dataset of ``kedro_datasets`` writes inline
(``pickle/pickle_dataset.py``). This module writes it once for the datasets of this package.
"""

from __future__ import annotations

import io
import os
import posixpath
import re
import uuid
from collections.abc import Callable
from copy import deepcopy
from pathlib import PurePosixPath
from typing import Any

import fsspec
from kedro.io.core import (
    AbstractVersionedDataset,
    DatasetError,
    Version,
    get_filepath_str,
    get_protocol_and_path,
)

PARTIAL_SUFFIX = ".partial"
_REPLACED_SUFFIX = ".replaced"
#: The quarantine reason of a read refused because its path leaves the root it must stay under.
PATH_OUTSIDE_ROOT = "path_outside_root"
_BYTES_LITERAL = re.compile(r"""(?<![\w])b(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")
_MAX_MESSAGE = 200


class PathOutsideRootError(DatasetError):
    """A key resolves outside the root a dataset reads under (``..``, an absolute path, or a link leaving it).

    ``quarantine_reason`` (:data:`PATH_OUTSIDE_ROOT`) lets a stage that reads images through a dataset's
    loaders quarantine the item with that reason without importing this package.
    """

    quarantine_reason = PATH_OUTSIDE_ROOT


def confined_path(root: str, key: str, *, resolve_links: bool, root_url: str | None = None) -> str:
    """Return the path of ``key`` under ``root``, refusing any key that would leave it.

    The key is normalised (``a/./b``, ``a//b`` and ``a/x/../b`` become ``a/b``); a key that is empty,
    absolute, holds a protocol (``://``) or a NUL, or climbs above the root (``..``) is refused. With
    ``resolve_links`` (a local filesystem) the path is also resolved through symbolic links, and one
    whose target lies outside the (resolved) root is refused, before anything is read.

    Args:
        root: The root, as the filesystem takes it (no protocol).
        key: A path relative to the root.
        resolve_links: Resolve symbolic links (local filesystems only).
        root_url: How messages name the root (default ``root``).

    Returns:
        ``<root>/<normalised key>``.

    Raises:
        PathOutsideRootError: The key leaves the root (names the key and the root, never file contents).
    """
    where = root_url or root
    if not isinstance(key, str) or not key or key.startswith("/") or "://" in key or "\x00" in key:
        raise PathOutsideRootError(f"key {key!r} is not a relative path under {where}: refused")
    normal = posixpath.normpath(key)
    if normal in (".", "..") or normal.startswith("../"):
        raise PathOutsideRootError(f"key {key!r} leaves {where} ('..'): refused")
    path = f"{root.rstrip('/')}/{normal}"
    if resolve_links:
        real_root = os.path.realpath(root)
        real_path = os.path.realpath(path)
        if os.path.commonpath([real_root, real_path]) != real_root:
            raise PathOutsideRootError(f"key {key!r} under {where} is a link that leaves it: refused")
    return path


def describe_error(exc: BaseException) -> str:
    """Return ``"<Type>: <message>"`` for a reader's error without quoting file contents.

    Readers quote the bytes they could not parse (tifffile: ``not a TIFF file: header=b'...'``); a file
    that is not what it claims (a link to another file) would leak its first bytes into logs and
    quarantine tables, so byte literals are replaced by ``<bytes>`` and the message is shortened.
    """
    message = _BYTES_LITERAL.sub("<bytes>", str(exc)).replace("\n", " ")
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 3] + "..."
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


class FilesystemMixin:
    """The filesystem part of a dataset stored at one fsspec path (a file or a folder).

    Put it before the Kedro base class (``class D(FilesystemMixin, AbstractVersionedDataset[...])``)
    and call :meth:`_init_filesystem` first in ``__init__`` with the catalog arguments every dataset
    takes: ``credentials`` and ``fs_args`` (for ``fsspec.filesystem``), ``metadata`` (ignored by Kedro),
    ``version`` (Kedro ``Version(load, save)``, versioned datasets only), ``load_args``, ``save_args``.
    It provides ``_describe`` (path, protocol,
    the dataset's :meth:`_describe_args`, and the version when versioned), ``_exists`` (the load path,
    or ``<load path>/<EXISTS_MARKER>`` when set, exists; no version: False), ``_release`` (base, then
    the listing cache) and :meth:`_write_atomically`.
    """

    #: A file inside the stored folder whose presence means the dataset exists (``None``: the path itself).
    EXISTS_MARKER: str | None = None
    #: Defaults under the catalog's ``load_args`` / ``save_args``.
    DEFAULT_LOAD_ARGS: dict[str, Any] = {}
    DEFAULT_SAVE_ARGS: dict[str, Any] = {}

    _protocol: str
    _fs: fsspec.AbstractFileSystem
    _filepath: PurePosixPath

    def _init_filesystem(  # noqa: PLR0913
        self,
        filepath: str | Any,
        *,
        version: Version | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        load_args: dict[str, Any] | None = None,
        save_args: dict[str, Any] | None = None,
    ) -> PurePosixPath:
        """Set up the dataset's filesystem, path, version and arguments; return the path (no protocol).

        ``filepath`` is split into protocol and path; ``credentials`` and ``fs_args`` are copied, never
        mutated, and passed to ``fsspec.filesystem`` (a local filesystem creates missing parent folders
        on write, ``auto_mkdir``, unless told not to). A versioned dataset's
        ``AbstractVersionedDataset.__init__`` is called here with the filesystem's ``exists`` and
        ``glob``. ``load_args`` and ``save_args`` are merged over the class defaults into fresh dicts
        (``_load_args``, ``_save_args``).
        """
        _fs_args = deepcopy(fs_args) or {}
        _credentials = deepcopy(credentials) or {}
        protocol, raw_path = get_protocol_and_path(filepath, version)
        path = PurePosixPath(raw_path)
        if protocol == "file":
            _fs_args.setdefault("auto_mkdir", True)
        self._protocol = protocol
        self._fs = fsspec.filesystem(protocol, **_credentials, **_fs_args)
        if isinstance(self, AbstractVersionedDataset):
            AbstractVersionedDataset.__init__(
                self,
                filepath=path,
                version=version,
                exists_function=self._fs.exists,
                glob_function=self._fs.glob,
            )
        else:
            self._filepath = path
        self.metadata = metadata
        self._load_args = {**self.DEFAULT_LOAD_ARGS, **(load_args or {})}
        self._save_args = {**self.DEFAULT_SAVE_ARGS, **(save_args or {})}
        return path

    # -- paths ------------------------------------------------------------------------------------

    @property
    def _versioned(self) -> bool:
        return bool(getattr(self, "_version", None))

    def _path_str(self, path: PurePosixPath) -> str:
        """Return ``path`` as the string the filesystem takes."""
        return get_filepath_str(path, self._protocol)

    def _load_path_str(self) -> str:
        """Return the path to load from (the resolved version when versioned)."""
        if isinstance(self, AbstractVersionedDataset):
            return self._path_str(self._get_load_path())
        return self._path_str(self._filepath)

    def _save_path_str(self) -> str:
        """Return the path to save to (a new version when versioned; the base refuses an existing one)."""
        if isinstance(self, AbstractVersionedDataset):
            return self._path_str(self._get_save_path())
        return self._path_str(self._filepath)

    # -- Kedro hooks ------------------------------------------------------------------------------

    def _describe_args(self) -> dict[str, Any]:
        """Return the dataset's own arguments to show in logs and kedro-viz."""
        return {"load_args": self._load_args, "save_args": self._save_args}

    def _describe(self) -> dict[str, Any]:
        described = {"filepath": self._filepath, "protocol": self._protocol, **self._describe_args()}
        if isinstance(self, AbstractVersionedDataset):
            described["version"] = self._version
        return described

    def _exists(self) -> bool:
        try:
            path = self._load_path_str()
        except DatasetError:  # no version yet
            return False
        if self.EXISTS_MARKER is not None:
            path = f"{path}/{self.EXISTS_MARKER}"
        return bool(self._fs.exists(path))

    def _release(self) -> None:
        super()._release()  # type: ignore[misc]
        self._invalidate_cache()

    def _invalidate_cache(self) -> None:
        """Invalidate the filesystem's listing cache for the dataset's path."""
        self._fs.invalidate_cache(self._path_str(self._filepath))

    # -- writing ----------------------------------------------------------------------------------

    def _write_atomically(
        self, target: str, write: Callable[[str], None], *, what: str, folder: bool = False
    ) -> None:
        """Write ``target`` with :func:`write_atomically`; the listing cache is invalidated either way.

        A failed versioned save also removes its version folder when the failure left it empty, so
        no empty version shadows the earlier ones.
        """
        try:
            write_atomically(self._fs, target, write, what=what, folder=folder, prune_parent=self._versioned)
        finally:
            self._invalidate_cache()

    def _write_bytes_atomically(
        self, target: str, serialise: Callable[[io.BytesIO], None], *, what: str
    ) -> None:
        """Serialise into memory with ``serialise(buffer)``, then write the bytes to ``target`` atomically.

        Serialising inside the atomic write means an object that cannot be serialised fails like a
        failed write: a ``DatasetError`` naming ``target``, and nothing left behind.
        """

        def write(tmp_path: str) -> None:
            buffer = io.BytesIO()
            serialise(buffer)
            with self._fs.open(tmp_path, mode="wb") as fs_file:
                fs_file.write(buffer.getbuffer())

        self._write_atomically(target, write, what=what)


def temporary_path(target: str, *, folder: bool) -> str:
    """Return where :func:`write_atomically` writes before moving into ``target``.

    A file goes to a hidden sibling with a random part (``.<name>.<hex>.partial``), so two writers never
    share it and a listing of the folder skips it; a folder goes to ``<target>.partial``, a fixed name so
    that a partial folder left by a killed process is found and replaced by the next save.
    """
    if folder:
        return target + PARTIAL_SUFFIX
    path = PurePosixPath(target)
    return (path.parent / f".{path.name}.{uuid.uuid4().hex}{PARTIAL_SUFFIX}").as_posix()


def write_atomically(  # noqa: PLR0913
    fs: fsspec.AbstractFileSystem,
    target: str,
    write: Callable[[str], None],
    *,
    what: str,
    folder: bool = False,
    prune_parent: bool = False,
) -> None:
    """Write a file or folder at ``target`` so that a reader sees the old content or the new, never a part.

    ``write(tmp_path)`` writes the whole content at the temporary path of :func:`temporary_path` (for a
    folder, the folder is created first and ``write`` fills it); the result is then moved onto
    ``target``, replacing what was there (a replaced folder is moved aside first and deleted last).

    Args:
        fs: The filesystem of ``target``.
        target: Path of the file or folder (as the filesystem takes it).
        write: Writes the complete content at the path it is given.
        what: What is written, for messages (``"checkpoint"``, ``"TIFF image"``).
        folder: ``target`` is a folder.
        prune_parent: After a failure, also remove ``target``'s parent folder if it was left empty
            (the version folder of a versioned dataset).

    Raises:
        DatasetError: ``write`` or the move failed: ``"Cannot write <what> '<target>': <Type>: <message>"``,
            chained to the cause; a ``DatasetError`` raised by ``write`` passes unchanged. Nothing is
            left at the temporary path, and ``target`` holds what it held before. ``KeyboardInterrupt``
            and other non-``Exception`` errors are re-raised as they are, after the same clean-up.
    """
    tmp_path = temporary_path(target, folder=folder)
    try:
        if folder:
            if fs.exists(tmp_path):  # left by a killed process: never appended to
                fs.rm(tmp_path, recursive=True)
            fs.makedirs(tmp_path, exist_ok=True)
        write(tmp_path)
        _move_into_place(fs, tmp_path, target, folder=folder)
    except BaseException as exc:
        _remove(fs, tmp_path, prune_parent=prune_parent)
        if isinstance(exc, DatasetError) or not isinstance(exc, Exception):
            raise
        raise DatasetError(f"Cannot write {what} '{target}': {type(exc).__name__}: {exc}") from exc


def _move_into_place(fs: fsspec.AbstractFileSystem, tmp_path: str, target: str, *, folder: bool) -> None:
    """Move the finished ``tmp_path`` onto ``target``; a folder already there is replaced as a whole."""
    if not folder or not fs.exists(target):
        fs.mv(tmp_path, target, recursive=folder)
        return
    old_path = target + _REPLACED_SUFFIX
    if fs.exists(old_path):
        fs.rm(old_path, recursive=True)
    fs.mv(target, old_path, recursive=True)
    fs.mv(tmp_path, target, recursive=True)
    fs.rm(old_path, recursive=True)


def _remove(fs: fsspec.AbstractFileSystem, tmp_path: str, *, prune_parent: bool) -> None:
    """Delete a failed write's temporary file or folder (and its parent when asked and left empty)."""
    if fs.exists(tmp_path):
        fs.rm(tmp_path, recursive=True)
    parent = str(PurePosixPath(tmp_path).parent)
    if prune_parent and fs.exists(parent) and not fs.ls(parent):
        fs.rmdir(parent)
    fs.invalidate_cache(parent)
