"""Illumination correction with CellProfiler illumination functions (JUMP's ``Illum{ch}.npy`` files)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping

import numpy as np

from micon.errors import InvalidConfigError, InvalidImageError

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


def corrected_image_loaders(
    illum_key_of: Mapping[str, str | None],
    read_array: Callable[[str], np.ndarray],
    *,
    illum_cache_size: int = 64,
) -> dict[str, Callable[[], np.ndarray]]:
    """Return image key -> function that reads the image and divides it by its illumination function.

    Nothing is read until a function is called. Illumination functions (one per plate and channel,
    shared by every site of the plate) are read once each and kept in a small LRU cache.

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
    if illum_cache_size < 1:
        raise InvalidConfigError(f"illum_cache_size must be >= 1, got {illum_cache_size}")
    read_illum = functools.lru_cache(maxsize=illum_cache_size)(read_array)

    def loader(image_key: str, illum_key: str | None) -> Callable[[], np.ndarray]:
        if illum_key is None:
            return lambda: read_array(image_key)
        return lambda: correct_illumination(read_array(image_key), read_illum(illum_key), key=image_key)

    return {image: loader(image, illum) for image, illum in illum_key_of.items()}
