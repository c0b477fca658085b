"""kedro-datasets' PartitionedDataset whose partitions are confined to its folder, links included."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kedro_datasets.partitions import PartitionedDataset

from ._filesystem import PathOutsideRootError, confined_path, write_atomically

__all__ = ["ConfinedPartitionedDataset"]


class ConfinedPartitionedDataset(PartitionedDataset):
    """A ``partitions.PartitionedDataset`` that never reads or writes outside its folder.

    kedro-datasets refuses partition ids with ``..`` on save, but on load it lists the folder with
    ``fs.find``, which follows symbolic links, so a link inside the folder makes its target a partition,
    read like any image. Here, on a local filesystem, each listed partition is resolved through its
    links first; one that leads out of the folder keeps its id but its loader raises
    :class:`~micon.datasets._filesystem.PathOutsideRootError` (``quarantine_reason``
    ``"path_outside_root"``) without opening the file, so the stage reading it can quarantine that
    item and go on. Saving refuses an id that is absolute or climbs out with ``..`` before anything is
    written. Arguments are ``PartitionedDataset``'s.

    With ``overwrite: true`` a save replaces the folder as a whole: the partitions are written into
    ``<path>.partial`` and that folder is moved into place when every partition is written
    (``_filesystem.write_atomically``), so a run killed mid-save leaves the previous folder, never a
    mix or a subset of partitions. Without ``overwrite`` partitions are added to the folder, each
    written atomically by its own dataset.

    Examples:
        Using the YAML API:

        ```yaml
        field_images:
          type: micon.datasets.ConfinedPartitionedDataset
          path: data/01_raw/images
          dataset: micon.datasets.TiffImageDataset
        ```
    """

    def _check_partition_id(self, partition_id: str) -> str:
        """Return the partition's path after checking it stays under the folder (links resolved if local)."""
        root = self._filesystem._strip_protocol(self._normalized_path).rstrip(self._sep)
        key = partition_id + self._filename_suffix
        return confined_path(root, key, resolve_links=self._protocol == "file", root_url=self._path)

    def load(self) -> dict[str, Callable[[], Any]]:
        """Return ``{partition id: loader}``; the loader of a partition leaving the folder raises.

        Raises:
            DatasetError: No partition was found.
        """
        partitions = super().load()
        for partition_id in list(partitions):
            try:
                self._check_partition_id(partition_id)
            except PathOutsideRootError as exc:
                partitions[partition_id] = _refuse(exc)
        return partitions

    def save(self, data: dict[str, Any]) -> None:
        """Save every partition, refusing first any id that leaves the folder.

        Raises:
            PathOutsideRootError: A partition id is absolute or climbs out of the folder; nothing is saved.
        """
        for partition_id in data:
            key = str(partition_id) + self._filename_suffix
            confined_path("root", key, resolve_links=False, root_url=self._path)
        if not self._overwrite:
            super().save(data)
            return
        path = self._path
        target = self._filesystem._strip_protocol(self._normalized_path).rstrip(self._sep)
        save_partitions = super().save

        def write(tmp_path: str) -> None:
            self._path = self._join_protocol(tmp_path)
            try:
                save_partitions(data)
            finally:
                self._path = path
            self._filesystem.makedirs(tmp_path, exist_ok=True)  # no partition: an empty folder

        try:
            write_atomically(self._filesystem, target, write, what="partitioned dataset", folder=True)
        finally:
            self._invalidate_caches()


def _refuse(exc: PathOutsideRootError) -> Callable[[], Any]:
    """Return a loader that raises ``exc`` (a fresh copy per call) instead of reading."""

    def load() -> Any:
        raise PathOutsideRootError(str(exc))

    return load
