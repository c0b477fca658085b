"""Illumination correction with CellProfiler illumination functions (JUMP's ``Illum{ch}.npy`` files)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping

import numpy as np
import pandas as pd

from micon import schema
from micon.errors import InvalidConfigError, InvalidImageError, InvalidInputError

_UINT16_MAX = float(np.iinfo(np.uint16).max)


def correct_illumination(image: np.ndarray, illum: np.ndarray, *, key: str = "image") -> np.ndarray:
    """Divide a field by its illumination function and return it as uint16, as CellProfiler does.

    JUMP computes one illumination function per plate and channel (CellProfiler
    ``CorrectIlluminationCalculate``, rescaled so that its values are >= 1) and applies it with
    ``CorrectIlluminationApply`` in "Divide" mode; this is that division, rounded and clipped back to
    the uint16 range the crop store holds. Hand-written because CellProfiler is not a dependency and
    the operation is one line of numpy.

    Args:
        image: One 2-D channel image (any real dtype; JUMP stores uint16).
        illum: The illumination function of the same channel and plate, same shape, finite and > 0.
        key: Name of the image, quoted in error messages.

    Returns:
        ``round(image / illum)`` clipped to ``[0, 65535]``, as uint16; for an image of another dtype the
        float64 quotient, left for the field QC's dtype policy to convert or quarantine (``wrong_dtype``)
        rather than cast here.

    Raises:
        InvalidImageError: The shapes differ, or the function has a non-finite or non-positive value.
    """
    image = np.asarray(image)
    illum = np.asarray(illum)
    if image.shape != illum.shape:
        raise InvalidImageError(
            f"{key}: image shape {image.shape} differs from its illumination function's {illum.shape}"
        )
    if not np.isfinite(illum).all() or not (illum > 0).all():
        raise InvalidImageError(
            f"{key}: the illumination function must be finite and > 0 everywhere; its minimum is "
            f"{np.nanmin(illum)!r} and it has {int((~np.isfinite(illum)).sum())} non-finite value(s)"
        )
    quotient = image.astype(np.float64) / illum.astype(np.float64)
    if image.dtype != np.uint16:
        # Not cast: the field QC's dtype policy (imaging/qc.py) decides what a non-uint16 image becomes.
        return quotient
    return np.clip(np.rint(quotient), 0.0, _UINT16_MAX).astype(np.uint16)


class CorrectedFields(Mapping[str, Callable[[], np.ndarray]]):
    """Image key -> loader of that channel image, read where it lies and illumination-corrected on the fly.

    A lazy mapping over an image index's channel images: nothing is read until a loader is called, and
    each call reads the image (``read_array``, e.g. ``FileStore.read_array`` on the Cell Painting Gallery,
    a mirror or a local folder) and divides it by its plate's illumination function
    (:func:`correct_illumination`). Illumination functions (one per plate and channel, shared by every
    site of the plate) are read once each and kept in a small LRU cache. No corrected copy is written
    anywhere: this is how extraction reads JUMP fields in place.

    The mapping pickles (the cache is left out and rebuilt), so it can be shipped to worker processes
    (Dask) when ``read_array`` pickles (a bound ``FileStore.read_array`` does).
    """

    def __init__(
        self,
        illum_key_of: Mapping[str, str | None],
        read_array: Callable[[str], np.ndarray],
        *,
        illum_cache_size: int = 64,
    ) -> None:
        """Wrap the image keys of an index.

        Args:
            illum_key_of: Image key -> key of its illumination function, or None to leave it uncorrected
                (returned as read).
            read_array: Reads an image or an illumination function by key.
            illum_cache_size: How many illumination functions to keep in memory (5 channels x plates).

        Raises:
            InvalidConfigError: ``illum_cache_size`` < 1.
        """
        if illum_cache_size < 1:
            raise InvalidConfigError(f"illum_cache_size must be >= 1, got {illum_cache_size}")
        self._illum_key_of = dict(illum_key_of)
        self._read_array = read_array
        self._illum_cache_size = illum_cache_size
        self._read_illum = functools.lru_cache(maxsize=illum_cache_size)(read_array)

    def read(self, image_key: str) -> np.ndarray:
        """Read image ``image_key`` and return it corrected (uint16), or as read when it has no function.

        Raises:
            KeyError: ``image_key`` is not an image of the index.
            InvalidImageError: The image and its function differ in shape, or the function is not > 0.
        """
        illum_key = self._illum_key_of[image_key]
        if illum_key is None:
            return self._read_array(image_key)
        return correct_illumination(self._read_array(image_key), self._read_illum(illum_key), key=image_key)

    def illumination_key(self, image_key: str) -> str | None:
        """Return the key of the illumination function ``image_key`` is divided by (None: uncorrected)."""
        return self._illum_key_of[image_key]

    def __getitem__(self, image_key: str) -> Callable[[], np.ndarray]:
        """Return the loader of ``image_key`` (nothing is read until it is called)."""
        if image_key not in self._illum_key_of:
            raise KeyError(image_key)
        return functools.partial(self.read, image_key)

    def __contains__(self, image_key: object) -> bool:
        """Return whether ``image_key`` is an image of the index (no request to the store)."""
        return image_key in self._illum_key_of

    def __iter__(self) -> Iterator[str]:
        """Iterate over the image keys."""
        return iter(self._illum_key_of)

    def __len__(self) -> int:
        """Return the number of images."""
        return len(self._illum_key_of)

    def __getstate__(self) -> dict[str, object]:
        """Pickle without the cache (an ``lru_cache`` wrapper does not pickle)."""
        state = dict(self.__dict__)
        del state["_read_illum"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        """Restore, with an empty cache."""
        self.__dict__.update(state)
        self._read_illum = functools.lru_cache(maxsize=self._illum_cache_size)(self._read_array)


def corrected_image_loaders(
    illum_key_of: Mapping[str, str | None],
    read_array: Callable[[str], np.ndarray],
    *,
    illum_cache_size: int = 64,
) -> CorrectedFields:
    """Return image key -> function that reads the image and divides it by its illumination function.

    Nothing is read until a function is called (:class:`CorrectedFields`).

    Args:
        illum_key_of: Image key -> key of its illumination function, or None to leave it uncorrected
            (returned as read).
        read_array: Reads an image or an illumination function by key (e.g. ``FileStore.read_array``).
        illum_cache_size: How many illumination functions to keep in memory (5 channels x plates).

    Returns:
        Image key -> loader of the corrected uint16 image (or of the raw image when its key maps to None).

    Raises:
        InvalidConfigError: ``illum_cache_size`` < 1.
    """
    return CorrectedFields(illum_key_of, read_array, illum_cache_size=illum_cache_size)


def illumination_keys_of(image_index: pd.DataFrame) -> dict[str, str | None]:
    """Return each channel image's key -> its illumination function's key, from an image index.

    The channels are those with ``FileName_Orig{ch}``/``PathName_Orig{ch}`` columns; a channel is
    corrected when the index also has its ``FileName_Illum{ch}``/``PathName_Illum{ch}`` columns (an
    ingestion that does not correct leaves them out), otherwise its images map to None. Keys are
    :func:`micon.schema.image_key` of the folder and file columns.

    Args:
        image_index: One row per site, load_data columns.

    Returns:
        One entry per channel image of every site.

    Raises:
        InvalidInputError: The index has no channel image column, or a row's illumination folder or file
            of a corrected channel is missing (names the image).
    """
    named = [c.removeprefix(schema.file_name_column("")) for c in image_index.columns]
    channels = [
        ch
        for ch, column in zip(named, image_index.columns, strict=True)
        if column == schema.file_name_column(ch) and ch and schema.path_name_column(ch) in image_index.columns
    ]
    if not channels:
        raise InvalidInputError(
            f"the image index has no FileName_Orig<channel>/PathName_Orig<channel> columns: "
            f"{list(image_index.columns)}"
        )
    pairs: dict[str, str | None] = {}
    for ch in channels:
        images = [
            schema.image_key(p, f)
            for p, f in zip(
                image_index[schema.path_name_column(ch)],
                image_index[schema.file_name_column(ch)],
                strict=True,
            )
        ]
        illum_columns = (schema.illum_path_name_column(ch), schema.illum_file_name_column(ch))
        if not all(c in image_index.columns for c in illum_columns):
            pairs.update(dict.fromkeys(images, None))
            continue
        folders, files = (image_index[c] for c in illum_columns)
        blank = (folders.isna() | files.isna()).to_numpy()
        if blank.any():
            first = images[int(np.flatnonzero(blank)[0])]
            raise InvalidInputError(
                f"image '{first}' has no illumination function ({illum_columns[0]}/{illum_columns[1]} "
                f"missing) while its channel {ch} is corrected; {int(blank.sum())} such image(s)"
            )
        pairs.update(zip(images, map(schema.image_key, folders, files), strict=True))
    return pairs
