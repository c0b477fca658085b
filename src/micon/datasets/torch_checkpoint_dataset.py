"""A versioned Kedro dataset holding a model checkpoint dict (config + state_dict) saved with torch.save."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch
from kedro.io.core import AbstractVersionedDataset, DatasetError, Version

from ._filesystem import FilesystemMixin, describe_error


class TorchCheckpointDataset(FilesystemMixin, AbstractVersionedDataset[Mapping[str, Any], dict[str, Any]]):
    """Save and load a model checkpoint: a dict of plain values and tensors, never pickled objects.

    The dict holds ``"config"`` (a plain JSON-able dict to rebuild the model), ``"state_dict"``
    (``{name: tensor}``) and optionally ``"method"``; any other keys must also be plain values
    (str, numbers, lists, dicts, tensors) so that ``torch.load(weights_only=True)`` can read them
    back without running arbitrary code. ``save`` serialises in memory, writes a temporary sibling
    and moves it into place; ``load`` maps every tensor to the CPU.

    Examples:
        Using the YAML API:

        ```yaml
        micon_checkpoint:
          type: micon.datasets.TorchCheckpointDataset
          filepath: data/06_models/micon_checkpoint.pt
          versioned: true
        ```

        Using the Python API:

        >>> import torch
        >>> dataset = TorchCheckpointDataset(filepath=tmp_path / "model.pt")
        >>> dataset.save({"config": {"dim": 2}, "state_dict": {"w": torch.zeros(2)}})
        >>> dataset.load()["config"]
        {'dim': 2}
    """

    def __init__(  # noqa: PLR0913
        self,
        *,
        filepath: str | os.PathLike,
        load_args: dict[str, Any] | None = None,
        save_args: dict[str, Any] | None = None,
        version: Version | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create a checkpoint dataset.

        Args:
            filepath: Path of the checkpoint file, optionally prefixed with an fsspec protocol.
            load_args: Extra keyword arguments for ``torch.load`` (``weights_only`` and
                ``map_location`` are fixed to ``True`` and ``"cpu"``).
            save_args: Extra keyword arguments for ``torch.save``.
            version: Kedro ``Version(load, save)``; ``None`` for an unversioned file.
            credentials: Credentials for ``fsspec.filesystem``.
            fs_args: Its other arguments.
            metadata: Arbitrary metadata, ignored by Kedro.

        Raises:
            DatasetError: ``load_args`` tries to set ``weights_only`` or ``map_location``.
        """
        path = self._init_filesystem(
            filepath,
            version=version,
            credentials=credentials,
            fs_args=fs_args,
            metadata=metadata,
            load_args=load_args,
            save_args=save_args,
        )
        fixed = sorted({"weights_only", "map_location"} & set(self._load_args))
        if fixed:
            raise DatasetError(
                f"TorchCheckpointDataset '{path}': load_args {fixed} are fixed "
                "(weights_only=True, map_location='cpu'); remove them"
            )

    def load(self) -> dict[str, Any]:
        """Read the checkpoint with ``torch.load(weights_only=True, map_location="cpu")``.

        Returns:
            The saved dict, every tensor on the CPU.

        Raises:
            DatasetError: No version exists, or the file is missing, corrupt or holds objects that
                ``weights_only`` refuses (names the path).
        """
        load_path = self._load_path_str()
        try:
            with self._fs.open(load_path, mode="rb") as fs_file:
                data = torch.load(fs_file, weights_only=True, map_location="cpu", **self._load_args)
        except Exception as exc:  # IO boundary: re-raised with the path
            raise DatasetError(f"Cannot load checkpoint '{load_path}': {describe_error(exc)}") from exc
        if not isinstance(data, dict):
            raise DatasetError(f"Checkpoint '{load_path}' holds a {type(data).__name__}, expected a dict")
        return data

    def save(self, data: Mapping[str, Any]) -> None:
        """Write ``data`` with ``torch.save`` to a temporary sibling, then move it into place.

        Args:
            data: The checkpoint dict (``"config"``, ``"state_dict"``, optional ``"method"``).

        Raises:
            DatasetError: ``data`` is not a mapping, the save version exists, or writing failed.
        """
        save_path = self._save_path_str()
        if not isinstance(data, Mapping):
            raise DatasetError(
                f"TorchCheckpointDataset '{save_path}' saves a dict, got {type(data).__name__}"
            )
        self._write_bytes_atomically(
            save_path, lambda buffer: torch.save(dict(data), buffer, **self._save_args), what="checkpoint"
        )
