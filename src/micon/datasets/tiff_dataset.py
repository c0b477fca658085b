"""A Kedro dataset holding one image (2-D or N-D array) in a TIFF file, read and written with tifffile."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import tifffile
from kedro.io.core import AbstractDataset, DatasetError

from ._filesystem import FilesystemMixin, describe_error


class TiffImageDataset(FilesystemMixin, AbstractDataset[np.ndarray, np.ndarray]):
    """Load and save one image as a TIFF file on any fsspec filesystem.

    ``load`` returns the array as stored (a single-channel Cell Painting field is 2-D ``(H, W)``
    uint16). ``save`` encodes the array in memory, writes it to a hidden temporary sibling and
    moves that onto the target, so a reader never sees a half-written TIFF.

    The dataset is meant as the inner dataset of a ``PartitionedDataset`` whose partition ids are
    image keys (``"<path>/<file>.tiff"``), which is why it sets no ``filename_suffix`` of its own.

    Examples:
        Using the YAML API:

        ```yaml
        field_images:
          type: partitions.PartitionedDataset
          path: data/01_raw/images
          dataset:
            type: micon.datasets.TiffImageDataset
            save_args:
              compression: zlib
        ```

        Using the Python API:

        >>> import numpy as np
        >>> dataset = TiffImageDataset(filepath=tmp_path / "a.tiff")
        >>> dataset.save(np.zeros((4, 4), dtype=np.uint16))
        >>> dataset.load().shape
        (4, 4)
    """

    def __init__(  # noqa: PLR0913
        self,
        *,
        filepath: str | os.PathLike,
        load_args: dict[str, Any] | None = None,
        save_args: dict[str, Any] | None = None,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create a dataset for one TIFF file.

        Args:
            filepath: Path of the TIFF file, optionally prefixed with an fsspec protocol (``s3://``).
            load_args: Keyword arguments for ``tifffile.imread`` (e.g. ``key`` for a page).
            save_args: Keyword arguments for ``tifffile.imwrite`` (e.g. ``compression``).
            credentials: Credentials for ``fsspec.filesystem``.
            fs_args: Its other arguments.
            metadata: Arbitrary metadata, ignored by Kedro.
        """
        self._init_filesystem(
            filepath,
            credentials=credentials,
            fs_args=fs_args,
            metadata=metadata,
            load_args=load_args,
            save_args=save_args,
        )

    def load(self) -> np.ndarray:
        """Read the TIFF file.

        Returns:
            The stored array, in its stored dtype and shape.

        Raises:
            DatasetError: The file is missing or is not a readable TIFF (names the path and the reader's
                error, never the file's bytes).
        """
        load_path = self._load_path_str()
        try:
            with self._fs.open(load_path, mode="rb") as fs_file:
                return np.asarray(tifffile.imread(fs_file, **self._load_args))
        except Exception as exc:  # IO boundary: any reader failure becomes a DatasetError naming the file
            raise DatasetError(f"Cannot read TIFF image '{load_path}': {describe_error(exc)}") from exc

    def save(self, data: np.ndarray) -> None:
        """Write ``data`` as a TIFF file atomically (temporary sibling, then move).

        Args:
            data: The image, at least 2-D.

        Raises:
            DatasetError: ``data`` is not an array of at least 2 dimensions, or writing failed.
        """
        save_path = self._save_path_str()
        if not isinstance(data, np.ndarray) or data.ndim < 2:  # noqa: PLR2004
            raise DatasetError(
                f"TiffImageDataset '{save_path}' saves a numpy array of >= 2 dimensions; "
                f"got {type(data).__name__} with shape {getattr(data, 'shape', None)}"
            )
        self._write_bytes_atomically(
            save_path, lambda buffer: tifffile.imwrite(buffer, data, **self._save_args), what="TIFF image"
        )
