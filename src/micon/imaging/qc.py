"""Quality checks of a multi-channel field: each returns a quarantine (reason, detail) or None when fine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from micon.errors import InvalidConfigError

UINT16_MAX = int(np.iinfo(np.uint16).max)
EXPECTED_DTYPE = np.dtype(np.uint16)

DtypeConversion = Literal["rescale", "cast"]
DTYPE_CONVERSIONS: tuple[str, ...] = DtypeConversion.__args__

# Stable quarantine reason codes for defective fields.
REASON_CHANNEL_COUNT = "channel_count"
REASON_WRONG_DTYPE = "wrong_dtype"
REASON_NOT_FINITE = "not_finite"
REASON_BLANK_CHANNEL = "blank_channel"
REASON_SHAPE_MISMATCH = "shape_mismatch"
REASON_OUT_OF_RANGE = "out_of_range"
REASON_SATURATED = "saturated"


@dataclass(frozen=True, kw_only=True)
class FieldQcConfig:
    """What a channel image must be before nuclei are looked for.

    Attributes:
        dtype_conversion: How a channel image of another dtype than uint16 is converted, by dtype name
            (``uint8``, ``float32``, ...): ``"rescale"`` maps the dtype's full range onto uint16 (an
            unsigned integer's ``[0, max]``, a float's ``[0, 1]``: uint8 is multiplied by 257, a float by
            65535); ``"cast"`` keeps the values (they must be integers in ``[0, 65535]``). A dtype not
            listed is quarantined (``wrong_dtype``): casting silently would turn a float channel into
            zeros and leave a uint8 channel 257x too dim next to uint16 ones.
        max_saturated_fraction: A channel with more than this fraction of its pixels at its maximum value
            is quarantined (``saturated``), in [0, 1]: clipped pixels carry no intensity. Measured at the
            channel's own maximum, so a camera that clips below 65535 (12-bit: 4095) is caught too.
    """

    dtype_conversion: Mapping[str, DtypeConversion]
    max_saturated_fraction: float

    def __post_init__(self) -> None:
        conversion = dict(self.dtype_conversion or {})
        object.__setattr__(self, "dtype_conversion", conversion)
        for name, how in conversion.items():
            try:
                kind = np.dtype(name).kind
            except TypeError as exc:
                raise InvalidConfigError(f"FieldQcConfig.dtype_conversion: {name!r} is not a dtype") from exc
            if kind not in "uif":
                raise InvalidConfigError(
                    f"FieldQcConfig.dtype_conversion: {name!r} is not an integer or float dtype"
                )
            if how not in DTYPE_CONVERSIONS:
                raise InvalidConfigError(
                    f"FieldQcConfig.dtype_conversion[{name!r}] must be one of {DTYPE_CONVERSIONS}, "
                    f"got {how!r}"
                )
        if not 0.0 <= self.max_saturated_fraction <= 1.0:
            raise InvalidConfigError(
                f"FieldQcConfig.max_saturated_fraction must be in [0, 1], got {self.max_saturated_fraction}"
            )


def conform_channel_dtype(
    image: np.ndarray, config: FieldQcConfig, *, key: str
) -> tuple[np.ndarray, None] | tuple[None, tuple[str, str]]:
    """Return a channel image as uint16 by the dtype policy, or why it cannot be.

    A uint16 image is returned as it is. Another real dtype is converted only as
    ``config.dtype_conversion`` says (:class:`FieldQcConfig`); NaN or infinite values are ``not_finite``
    whatever the dtype.

    Args:
        image: One channel image as read.
        config: The dtype policy.
        key: Names the image in the detail (its site and channel).

    Returns:
        ``(uint16 image, None)``, or ``(None, (reason, detail))`` with reason ``wrong_dtype`` (no
        conversion given for its dtype, or not a real dtype), ``not_finite`` or ``out_of_range`` (values
        the conversion cannot map onto ``[0, 65535]``; the detail quotes the range found).
    """
    array = np.asarray(image)
    if array.dtype == EXPECTED_DTYPE:
        return array, None
    if array.dtype.kind not in "uif":
        return None, (REASON_WRONG_DTYPE, f"{key}: image has dtype {array.dtype}, expected uint16")
    if array.dtype.kind == "f" and array.size and not np.isfinite(array).all():
        n_bad = int(array.size - np.count_nonzero(np.isfinite(array)))
        return None, (REASON_NOT_FINITE, f"{key}: image holds {n_bad} NaN or infinite value(s)")
    how = config.dtype_conversion.get(array.dtype.name)
    if how is None:
        return None, (
            REASON_WRONG_DTYPE,
            f"{key}: image has dtype {array.dtype}, expected uint16; set "
            f"data_engineering.crops.qc.dtype_conversion.{array.dtype.name} to one of {DTYPE_CONVERSIONS} "
            "to convert such images",
        )
    low, high = (array.min(), array.max()) if array.size else (0, 0)
    if how == "rescale":
        top = 1.0 if array.dtype.kind == "f" else float(np.iinfo(array.dtype).max)
        if low < 0 or high > top:
            return None, (
                REASON_OUT_OF_RANGE,
                f"{key}: {array.dtype} values span [{low}, {high}], outside the [0, {top:g}] that rescale "
                "maps onto uint16",
            )
        return np.rint(array.astype(np.float64) * (UINT16_MAX / top)).astype(np.uint16), None
    if low < 0 or high > UINT16_MAX or (array.dtype.kind == "f" and not np.equal(np.mod(array, 1), 0).all()):
        return None, (
            REASON_OUT_OF_RANGE,
            f"{key}: {array.dtype} values span [{low}, {high}]; cast keeps values, so they must be integers "
            f"in [0, {UINT16_MAX}]",
        )
    return array.astype(np.uint16), None


def check_saturation(
    field: np.ndarray, *, max_fraction: float, key: str, channels: Sequence[str]
) -> tuple[str, str] | None:
    """Return ``("saturated", detail)`` when a channel has too many pixels at its maximum, else None.

    Args:
        field: The stacked field ``(C, H, W)``.
        max_fraction: The largest allowed fraction of pixels equal to the channel's maximum.
        key: Names the field in the detail.
        channels: Channel names, in the field's order.

    Returns:
        The reason and a detail naming the channels, their fractions and maximum values; or None.
    """
    planes = np.asarray(field).reshape(len(field), -1)
    if planes.shape[1] == 0:
        return None
    top = planes.max(axis=1)
    fraction = (planes == top[:, None]).mean(axis=1)
    over = np.flatnonzero(fraction > max_fraction)
    if not over.size:
        return None
    listed = ", ".join(f"{channels[i]} {fraction[i]:.1%} at {top[i]}" for i in over)
    return (
        REASON_SATURATED,
        f"{key}: channel(s) saturated, more than {max_fraction:.1%} of pixels at the maximum: {listed}",
    )


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
