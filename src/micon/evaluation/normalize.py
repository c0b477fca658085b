"""Normalise well profiles against DMSO: per-plate robust MAD and global sphering, chained by name."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from pycytominer.operations import RobustMAD, Spherize

from micon import schema
from micon.errors import InvalidConfigError, InvalidInputError, NoControlsError, UnknownNameError
from micon.evaluation._checks import control_mask, require_features, require_metadata

logger = logging.getLogger(__name__)

_SPHERING_METHODS: tuple[str, ...] = ("ZCA", "PCA")


def robust_mad_normalize(profiles: pd.DataFrame, *, epsilon: float = 1e-6) -> pd.DataFrame:
    """Scale each plate's wells by the median and MAD of that plate's DMSO wells.

    Per plate (``schema.PLATE_KEY``) and feature: ``(x - median_DMSO) / (1.4826 * MAD_DMSO + epsilon)``,
    fitted on the plate's DMSO wells (``schema.IS_CONTROL``) and applied to all of its wells, with
    pycytominer's ``RobustMAD`` (the estimator behind ``pycytominer.normalize(method="mad_robustize")``,
    used directly because ``normalize`` selects its fit rows by a query string and would be called
    once per plate anyway). A feature constant over a plate's DMSO wells is divided by ``epsilon``
    alone: drop such features first (the JUMP recipe's variant-feature filter).

    Args:
        profiles: One row per well: ``schema.PLATE_KEY``, ``schema.IS_CONTROL`` and float features.
        epsilon: Added to the scaled MAD, >= 0.

    Returns:
        The same rows in the same order with every feature normalised (float64); metadata unchanged.

    Raises:
        InvalidConfigError: ``epsilon`` < 0.
        InvalidInputError: ``profiles`` is empty or has no feature column.
        MissingColumnsError: A plate key column or ``schema.IS_CONTROL`` is absent.
        InvalidFeaturesError: A feature is NaN or inf.
        NoControlsError: One or more plates have no DMSO well (all of them are named).
    """
    if epsilon < 0:
        raise InvalidConfigError(f"MAD epsilon must be >= 0, got {epsilon}")
    features = _check_profiles(profiles, table_name="profiles for robust MAD")
    plate_key = list(schema.PLATE_KEY)
    require_metadata(profiles, plate_key, table_name="profiles for robust MAD")
    is_control = control_mask(profiles, table_name="profiles for robust MAD")
    plates = profiles.groupby(plate_key, sort=True).indices  # plate key -> row positions

    lacking = ["/".join(map(str, key)) for key, rows in plates.items() if not is_control[rows].any()]
    if lacking:
        raise NoControlsError(
            f"{len(lacking)} plate(s) have no DMSO well ({schema.IS_CONTROL} True) to fit robust MAD on: "
            f"{lacking} (as Source/Batch/Plate); remove them before normalising"
        )

    values = profiles[features].to_numpy(dtype=np.float64)
    scaled = np.empty_like(values)
    for rows in plates.values():
        plate = pd.DataFrame(values[rows], columns=features)
        scaler = RobustMAD(epsilon=epsilon).fit(plate.loc[is_control[rows]])
        scaled[rows] = scaler.transform(plate).to_numpy(dtype=np.float64)
    normalized = profiles.copy()
    normalized[features] = scaled
    logger.info("robust-MAD normalised %d wells on %d plates", len(profiles), len(plates))
    return normalized


def sphere_profiles(
    profiles: pd.DataFrame, *, method: Literal["ZCA", "PCA"] = "ZCA", epsilon: float = 1e-6
) -> pd.DataFrame:
    """Whiten all wells with one sphering transform fitted on every DMSO well.

    Uses pycytominer's ``Spherize`` (centred; ``epsilon`` is added to the singular values of the
    centred DMSO matrix before inversion). After it, the DMSO wells have mean 0 and covariance ~I.
    With ``"PCA"`` the i-th feature column holds the i-th whitened principal component; column names
    are kept so that profiles of every method share the ``emb_*`` contract.

    Args:
        profiles: One row per well: ``schema.IS_CONTROL`` plus float features.
        method: ``"ZCA"`` (the MICON reference code) or ``"PCA"``.
        epsilon: Regulariser added to the singular values, >= 0.

    Returns:
        The same rows in the same order with the features sphered (float64); metadata unchanged.

    Raises:
        InvalidConfigError: ``method`` is unknown or ``epsilon`` < 0.
        InvalidInputError: ``profiles`` is empty or has no feature column, or pycytominer refuses the
            DMSO matrix (e.g. linearly dependent features).
        MissingColumnsError: ``schema.IS_CONTROL`` is absent.
        InvalidFeaturesError: A feature is NaN or inf.
        NoControlsError: Fewer than 2 DMSO wells.
    """
    if method not in _SPHERING_METHODS:
        raise InvalidConfigError(f"sphering method {method!r} is not one of {list(_SPHERING_METHODS)}")
    if epsilon < 0:
        raise InvalidConfigError(f"sphering epsilon must be >= 0, got {epsilon}")
    features = _check_profiles(profiles, table_name="profiles for sphering")
    is_control = control_mask(profiles, table_name="profiles for sphering")
    if is_control.sum() < 2:
        raise NoControlsError(
            f"sphering needs >= 2 DMSO wells ({schema.IS_CONTROL} True) to fit on; "
            f"found {int(is_control.sum())}"
        )
    values = profiles[features].astype(np.float64)
    spherize = Spherize(epsilon=epsilon, center=True, method=method, return_numpy=True)
    try:
        spherize.fit(values.loc[is_control])
    except ValueError as exc:
        raise InvalidInputError(
            f"sphering could not be fitted on {int(is_control.sum())} DMSO wells x {len(features)} "
            f"features: {exc}"
        ) from exc
    sphered = profiles.copy()
    sphered[features] = np.asarray(spherize.transform(values), dtype=np.float64)
    logger.info("sphered %d wells (%s, fitted on %d DMSO wells)", len(profiles), method, is_control.sum())
    return sphered


@dataclass(frozen=True, kw_only=True)
class NormalizationConfig:
    """How well profiles are normalised before retrieval.

    Attributes:
        steps: Step names applied in order, each one of ``NORMALIZATION_STEPS``.
        sphering_method: ``"ZCA"`` or ``"PCA"``, used by the ``"sphering"`` step.
        epsilon: Regulariser of both steps (MAD denominator, sphering singular values), >= 0.
    """

    steps: tuple[str, ...] = ("mad_robustize", "sphering")
    sphering_method: Literal["ZCA", "PCA"] = "ZCA"
    epsilon: float = 1e-6

    def __post_init__(self) -> None:
        steps = (self.steps,) if isinstance(self.steps, str) else tuple(self.steps)
        object.__setattr__(self, "steps", steps)
        unknown = [s for s in steps if s not in NORMALIZATION_STEPS]
        if unknown:
            raise UnknownNameError(
                f"normalisation step(s) {unknown} are unknown; known steps: {sorted(NORMALIZATION_STEPS)}"
            )
        if len(set(steps)) != len(steps):
            raise InvalidConfigError(f"normalisation steps repeat a step: {list(steps)}")
        if self.sphering_method not in _SPHERING_METHODS:
            raise InvalidConfigError(
                f"sphering_method {self.sphering_method!r} is not one of {list(_SPHERING_METHODS)}"
            )
        if not self.epsilon >= 0:
            raise InvalidConfigError(f"epsilon must be >= 0, got {self.epsilon}")


def normalize_profiles(profiles: pd.DataFrame, config: NormalizationConfig) -> pd.DataFrame:
    """Apply the configured chain of normalisation steps; every row (DMSO included) is kept.

    Args:
        profiles: One row per well, as ``robust_mad_normalize`` and ``sphere_profiles`` need.
        config: The step names and their settings.

    Returns:
        The same rows in the same order with normalised features; unchanged if ``config.steps`` is empty.

    Raises:
        UnknownNameError: A step name is unknown (lists the known ones).
        NoControlsError, InvalidInputError, InvalidFeaturesError: As raised by the steps.
    """
    normalized = profiles
    for name in config.steps:
        try:
            step = NORMALIZATION_STEPS[name]
        except KeyError as exc:
            raise UnknownNameError(
                f"normalisation step {name!r} is unknown; known steps: {sorted(NORMALIZATION_STEPS)}"
            ) from exc
        normalized = step(normalized, config)
        logger.info("normalisation step %r done", name)
    return normalized


def _check_profiles(profiles: pd.DataFrame, *, table_name: str) -> list[str]:
    """Return the feature columns after refusing an empty table or non-finite features."""
    if profiles.empty:
        raise InvalidInputError(f"{table_name}: the table is empty")
    features = schema.feature_columns(profiles.columns)
    require_features(profiles, features, table_name=table_name)
    return features


def _mad_step(profiles: pd.DataFrame, config: NormalizationConfig) -> pd.DataFrame:
    return robust_mad_normalize(profiles, epsilon=config.epsilon)


def _sphering_step(profiles: pd.DataFrame, config: NormalizationConfig) -> pd.DataFrame:
    return sphere_profiles(profiles, method=config.sphering_method, epsilon=config.epsilon)


NORMALIZATION_STEPS: dict[str, Callable[[pd.DataFrame, NormalizationConfig], pd.DataFrame]] = {
    "mad_robustize": _mad_step,
    "sphering": _sphering_step,
}

__all__ = [
    "NORMALIZATION_STEPS",
    "NormalizationConfig",
    "normalize_profiles",
    "robust_mad_normalize",
    "sphere_profiles",
]
