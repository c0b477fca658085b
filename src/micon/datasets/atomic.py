"""kedro-datasets' file datasets, saved atomically: a reader sees the old version or the new, never a part.

kedro-datasets writes each file in place (``fs.open(save_path, "wb")``), so a run killed mid-save leaves a
partial file under the final name; for a versioned dataset that partial is the newest version and the next
run loads it. The datasets here are those classes with one change, :class:`AtomicSaveMixin`: the save
writes a hidden temporary sibling (``.<name>.<hex>.partial``) and moves it onto the final name when, and
only when, the write finished (``_filesystem.write_atomically``). Kedro finds versions by globbing
``<path>/*/<name>``, which never matches the temporary name, so an interrupted save leaves the previous
complete version as the latest one, and a failed versioned save removes its version folder.

Why subclasses and not a hook: a hook (``before_dataset_saved``) can neither redirect where a dataset
writes nor act when the process is killed mid-write; the subclass changes one method
(``_get_save_path``) of each upstream class for the duration of its own save, and everything else
(arguments, loading, previews, versioning) stays kedro-datasets' own. The catalog names these classes
for every output a run writes (``conf/base/catalog.yml``).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from kedro.io.core import AbstractVersionedDataset, get_filepath_str
from kedro_datasets.json import JSONDataset
from kedro_datasets.matplotlib import MatplotlibDataset
from kedro_datasets.pandas import CSVDataset, ParquetDataset
from kedro_datasets.text import TextDataset

from ._filesystem import write_atomically

__all__ = [
    "AtomicCSVDataset",
    "AtomicJSONDataset",
    "AtomicMatplotlibDataset",
    "AtomicParquetDataset",
    "AtomicSaveMixin",
    "AtomicTextDataset",
]


class AtomicSaveMixin:
    """Make a kedro-datasets file dataset's ``save`` atomic (put it first among the bases).

    During :meth:`save`, ``_get_save_path`` returns a temporary sibling of the real save path, the
    upstream ``save`` writes there, and the finished file is moved onto the real path. On any failure
    (an exception, ``KeyboardInterrupt``) the temporary file is deleted and, for a versioned dataset, the
    version folder too when it is left empty; a killed process leaves at most the hidden temporary file,
    which no load or version lookup ever matches.
    """

    _atomic_save_path: PurePosixPath | None = None

    def _get_save_path(self) -> PurePosixPath:
        if self._atomic_save_path is not None:
            return self._atomic_save_path
        return super()._get_save_path()  # type: ignore[misc]

    def save(self, data: Any) -> None:
        """Save ``data`` with the upstream dataset into a temporary sibling, then move it into place.

        Raises:
            DatasetError: The upstream save or the move failed (names the path); the previous version
                (or file) is left as it was.
        """
        target_path = self._get_save_path()  # the version folder is resolved (and checked) here
        target = get_filepath_str(target_path, self._protocol)  # type: ignore[attr-defined]
        upstream = super().save  # type: ignore[misc]
        # Kedro wraps every save (versioning, logging); the upstream body is called without its wrapper,
        # since this save already runs inside the same wrapper and a second one would pick a new version.
        write_body = getattr(upstream, "__wrapped__", None)

        def write(tmp_path: str) -> None:
            self._atomic_save_path = PurePosixPath(tmp_path.split("://", 1)[-1])
            try:
                if write_body is None:
                    upstream(data)
                else:
                    write_body(self, data)
            finally:
                self._atomic_save_path = None

        write_atomically(
            self._fs,  # type: ignore[attr-defined]
            target,
            write,
            what=type(self).__name__,
            prune_parent=isinstance(self, AbstractVersionedDataset) and bool(self._version),
        )
        self._invalidate_cache()  # type: ignore[attr-defined]


class AtomicParquetDataset(AtomicSaveMixin, ParquetDataset):
    """``pandas.ParquetDataset``, saved atomically (:class:`AtomicSaveMixin`)."""


class AtomicCSVDataset(AtomicSaveMixin, CSVDataset):
    """``pandas.CSVDataset``, saved atomically (:class:`AtomicSaveMixin`)."""


class AtomicJSONDataset(AtomicSaveMixin, JSONDataset):
    """``json.JSONDataset``, saved atomically (:class:`AtomicSaveMixin`)."""


class AtomicTextDataset(AtomicSaveMixin, TextDataset):
    """``text.TextDataset``, saved atomically (:class:`AtomicSaveMixin`)."""


class AtomicMatplotlibDataset(AtomicSaveMixin, MatplotlibDataset):
    """``matplotlib.MatplotlibDataset`` (one figure), saved atomically (:class:`AtomicSaveMixin`)."""
