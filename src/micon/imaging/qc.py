"""Quality checks of a multi-channel field: each returns a quarantine (reason, detail) or None when fine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

UINT16_MAX = int(np.iinfo(np.uint16).max)

# Stable quarantine reason codes for defective fields.
REASON_CHANNEL_COUNT = "channel_count"
REASON_WRONG_DTYPE = "wrong_dtype"
REASON_NOT_FINITE = "not_finite"
REASON_BLANK_CHANNEL = "blank_channel"
REASON_SHAPE_MISMATCH = "shape_mismatch"


def check_channel_shapes(images: Mapping[str, np.ndarray], *, key: str) -> tuple[str, str] | None:
    """Check that single-channel images can be stacked into one field.

    Args:
        images: Channel name -> image, in stacking order.
        key: Names the field in the detail (e.g. ``"source_1/plate_1/A01/1"``).

    Returns:
        ``("channel_count", detail)`` when an image is not 2-D, ``("shape_mismatch", detail)`` when
        the 2-D shapes differ (the detail lists every channel's shape), else ``None``.
    """
    for channel, image in images.items():
        if np.ndim(image) != 2:  # noqa: PLR2004
            return (
                REASON_CHANNEL_COUNT,
                f"{key}: channel {channel} image has shape {np.shape(image)}, expected a 2-D (H, W) image",
            )
    shapes = {channel: tuple(np.shape(image)) for channel, image in images.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{channel}={shape}" for channel, shape in shapes.items())
        return REASON_SHAPE_MISMATCH, f"{key}: channel images differ in shape: {listed}"
    return None


def check_field(
    field: np.ndarray,
    *,
    expected_channels: int,
    key: str,
    channels: Sequence[str] | None = None,
) -> tuple[str, str] | None:
    """Return why a stacked field ``(C, H, W)`` is unusable, or ``None`` when it is fine.

    Checks run in order and the first failure is returned: the channel count (a 3-D array whose
    first dimension is ``expected_channels``), the dtype (unsigned/signed integer or float), finite
    values, values inside the uint16 range ``[0, 65535]`` that crops are stored in (reported as
    ``wrong_dtype``), and no constant (blank) channel. Channel shapes that differ are caught where
    channels are stacked (:func:`check_channel_shapes`).

    Args:
        field: The stacked field, ``(C, H, W)``.
        expected_channels: The number of channels the field must have.
        key: Names the field in the detail (e.g. ``"source_1/plate_1/A01/1"``).
        channels: Channel names, used to name a blank channel; indices are used when omitted.

    Returns:
        ``(reason, detail)`` with reason one of ``channel_count``, ``wrong_dtype``, ``not_finite``,
        ``blank_channel``, the detail naming ``key`` and the value found; or ``None``.
    """
    array = np.asarray(field)
    if array.ndim != 3 or array.shape[0] != expected_channels:  # noqa: PLR2004
        return (
            REASON_CHANNEL_COUNT,
            f"{key}: field has shape {array.shape}, expected ({expected_channels}, H, W)",
        )
    if array.dtype.kind not in "uif":
        return REASON_WRONG_DTYPE, f"{key}: field has dtype {array.dtype}, expected an integer or float dtype"
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        n_bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        return REASON_NOT_FINITE, f"{key}: field holds {n_bad} NaN or infinite value(s)"
    low, high = array.min(axis=(1, 2)), array.max(axis=(1, 2))
    if low.min() < 0 or high.max() > UINT16_MAX:
        return (
            REASON_WRONG_DTYPE,
            f"{key}: field values span [{low.min()}, {high.max()}] ({array.dtype}), "
            f"outside the uint16 range [0, {UINT16_MAX}]",
        )
    blank = np.flatnonzero(low == high)
    if blank.size:
        names = [channels[i] if channels is not None else str(i) for i in blank]
        return REASON_BLANK_CHANNEL, f"{key}: channel(s) {names} are constant (value {low[blank[0]]})"
    return None
