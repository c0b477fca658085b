"""The normalisation chain: steps named in parameters, dispatched by dict, feature counts logged."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from micon import schema
from micon.errors import InvalidConfigError, MiconError, UnknownNameError
from micon.evaluation._checks import checked_features
from micon.evaluation.batch_correction import harmonize_profiles, morphohelm_correct
from micon.evaluation.normalize import (
    FEATURE_SELECT_OPERATIONS,
    MIN_PLATE_CONTROL_WELLS,
    SPHERING_METHODS,
    _plate_control_rows,
    filter_variant_features,
    inverse_normal_transform,
    robust_mad_normalize,
    select_features,
    sphere_profiles,
)

logger = logging.getLogger(__name__)

STEP_LOG_COLUMNS: tuple[str, ...] = (
    "position",
    "step",
    "n_features_in",
    "n_features_out",
    "changed_feature_count",
)


@dataclass(frozen=True, kw_only=True)
class NormalizationConfig:
    """How well profiles are normalised and batch-corrected before evaluation (one block for every method).

    Attributes:
        steps: Step names applied in order, each a key of ``NORMALIZATION_STEPS``.
        epsilon: Regulariser of the MAD denominator and of the sphering singular values, >= 0.
        variant_min_mad: ``variance_filter``: drop a feature whose DMSO MAD is <= this on a plate.
        variant_min_abs_coef_var: ``variance_filter``: drop a feature whose DMSO ``|MAD / median|`` is
            <= this on a plate (the JUMP recipe's 1e-3); 0 disables the test.
        feature_select_operations: ``feature_select``: pycytominer operations, in order.
        min_variance: ``feature_select``: pycytominer's ``variance_threshold`` minimum variance.
        correlation_threshold: ``feature_select``: pycytominer's absolute correlation cut, in (0, 1].
        sphering_method: ``sphering``: ``"ZCA"`` or ``"PCA"``.
        harmony_batch_column: ``harmony``: the metadata column corrected (batch, source or plate).
        harmony_max_iter: ``harmony``: iterations, >= 1.
        harmony_n_clusters: ``harmony``: soft k-means clusters, or None for harmonypy's default.
        harmony_seed: ``harmony``: harmonypy's random state.
        morphohelm_n_components: ``morphohelm``: principal components kept (capped by the data).
    """

    steps: tuple[str, ...]
    epsilon: float
    variant_min_mad: float
    variant_min_abs_coef_var: float
    feature_select_operations: tuple[str, ...]
    min_variance: float
    correlation_threshold: float
    sphering_method: Literal["ZCA", "PCA"]
    harmony_batch_column: str
    harmony_max_iter: int
    harmony_n_clusters: int | None
    harmony_seed: int
    morphohelm_n_components: int

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
        operations = tuple(self.feature_select_operations)
        object.__setattr__(self, "feature_select_operations", operations)
        bad_operations = [op for op in operations if op not in FEATURE_SELECT_OPERATIONS]
        if bad_operations or not operations:
            raise InvalidConfigError(
                f"feature_select_operations {list(operations)} must be a non-empty list of "
                f"{list(FEATURE_SELECT_OPERATIONS)}"
            )
        if self.sphering_method not in SPHERING_METHODS:
            raise InvalidConfigError(
                f"sphering_method {self.sphering_method!r} is not one of {list(SPHERING_METHODS)}"
            )
        if not self.epsilon >= 0:
            raise InvalidConfigError(f"epsilon must be >= 0, got {self.epsilon}")
        if self.variant_min_mad < 0 or self.variant_min_abs_coef_var < 0:
            raise InvalidConfigError(
                f"variant filter thresholds must be >= 0, got {self.variant_min_mad}, "
                f"{self.variant_min_abs_coef_var}"
            )
        if not 0 < self.correlation_threshold <= 1:
            raise InvalidConfigError(
                f"correlation_threshold must be in (0, 1], got {self.correlation_threshold}"
            )
        if not str(self.harmony_batch_column).startswith("Metadata_"):
            raise InvalidConfigError(
                f"harmony_batch_column {self.harmony_batch_column!r} is not a Metadata_ column"
            )
        if self.harmony_max_iter < 1 or self.morphohelm_n_components < 1:
            raise InvalidConfigError(
                f"harmony_max_iter ({self.harmony_max_iter}) and morphohelm_n_components "
                f"({self.morphohelm_n_components}) must be >= 1"
            )


def normalize_profiles(
    profiles: pd.DataFrame, config: NormalizationConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply the configured chain of steps; every row (DMSO included) is kept, in order.

    The input is checked once (non-empty, finite features); a step's own error is re-raised with the
    step's name and position prefixed, keeping its type.

    Args:
        profiles: One row per well: ``schema.PLATE_KEY``, ``schema.IS_CONTROL``, the Harmony batch
            column if ``harmony`` is a step, and float features.
        config: The step names and their settings.

    Returns:
        ``(normalized, step_log)``: the normalised wells (unchanged if ``config.steps`` is empty) and
        one row per step with ``position``, ``step``, ``n_features_in``, ``n_features_out`` and
        ``changed_feature_count``.

    Raises:
        UnknownNameError: A step name is unknown (lists the known ones).
        NoControlsError: A plate has fewer DMSO wells than the steps need (:func:`plate_controls_needed`),
            checked before any step runs (names the plates and their counts).
        InvalidFeaturesError: A feature is NaN or inf (names the column and well).
        InvalidInputError, MissingColumnsError, InvalidConfigError: As raised by the steps.
    """
    n_features = len(checked_features(profiles, table_name="profiles to normalise"))
    needed = plate_controls_needed(config.steps)
    if needed:
        _plate_control_rows(
            profiles, table_name=f"profiles to normalise by {list(config.steps)}", min_wells=needed
        )
    normalized = profiles
    rows = []
    for position, name in enumerate(config.steps):
        try:
            step = NORMALIZATION_STEPS[name]
        except KeyError as exc:
            raise UnknownNameError(
                f"normalisation step {name!r} is unknown; known steps: {sorted(NORMALIZATION_STEPS)}"
            ) from exc
        try:
            normalized = step(normalized, config)
        except MiconError as exc:
            raise type(exc)(f"normalisation step {position} ({name!r}): {exc}") from exc
        n_out = len(schema.feature_columns(normalized.columns))
        rows.append((position, name, n_features, n_out, n_out != n_features))
        logger.info("normalisation step %d (%s): %d -> %d features", position, name, n_features, n_out)
        n_features = n_out
    step_log = pd.DataFrame(rows, columns=list(STEP_LOG_COLUMNS))
    return normalized, step_log.astype(
        {"position": "int64", "step": "str", "n_features_in": "int64", "n_features_out": "int64"}
    ).astype({"changed_feature_count": "bool"})


def plate_controls_needed(steps: tuple[str, ...] | list[str]) -> int:
    """Return the DMSO wells per plate a chain of steps needs (0 when no step is fitted per plate).

    The variance filter and robust MAD are fitted on each plate's DMSO wells and need
    ``MIN_PLATE_CONTROL_WELLS`` (2); sphering after robust MAD needs one more: with 2 DMSO wells a plate's
    MAD-normalised controls are mirror images (``x1 - m = -(x2 - m)``), so the DMSO matrix sphering is
    fitted on is rank-deficient and pycytominer refuses it.
    """
    steps = list(steps)
    needed = MIN_PLATE_CONTROL_WELLS if {"variance_filter", "mad_robustize"} & set(steps) else 0
    if "mad_robustize" in steps and "sphering" in steps[steps.index("mad_robustize") :]:
        needed = MIN_PLATE_CONTROL_WELLS + 1
    return needed


def _variance_filter(profiles: pd.DataFrame, config: NormalizationConfig) -> pd.DataFrame:
    return filter_variant_features(
        profiles, min_mad=config.variant_min_mad, min_abs_coef_var=config.variant_min_abs_coef_var
    )


def _mad_robustize(profiles: pd.DataFrame, config: NormalizationConfig) -> pd.DataFrame:
    return robust_mad_normalize(profiles, epsilon=config.epsilon)


def _inverse_normal_transform(profiles: pd.DataFrame, config: NormalizationConfig) -> pd.DataFrame:
    return inverse_normal_transform(profiles)


def _feature_select(profiles: pd.DataFrame, config: NormalizationConfig) -> pd.DataFrame:
    return select_features(
        profiles,
        operations=config.feature_select_operations,
        min_variance=config.min_variance,
        correlation_threshold=config.correlation_threshold,
    )


def _sphering(profiles: pd.DataFrame, config: NormalizationConfig) -> pd.DataFrame:
    return sphere_profiles(profiles, method=config.sphering_method, epsilon=config.epsilon)


def _harmony(profiles: pd.DataFrame, config: NormalizationConfig) -> pd.DataFrame:
    return harmonize_profiles(
        profiles,
        batch_column=config.harmony_batch_column,
        max_iter=config.harmony_max_iter,
        n_clusters=config.harmony_n_clusters,
        seed=config.harmony_seed,
    )


def _morphohelm(profiles: pd.DataFrame, config: NormalizationConfig) -> pd.DataFrame:
    return morphohelm_correct(profiles, n_components=config.morphohelm_n_components, epsilon=config.epsilon)


NORMALIZATION_STEPS: dict[str, Callable[[pd.DataFrame, NormalizationConfig], pd.DataFrame]] = {
    "variance_filter": _variance_filter,
    "mad_robustize": _mad_robustize,
    "inverse_normal_transform": _inverse_normal_transform,
    "feature_select": _feature_select,
    "sphering": _sphering,
    "harmony": _harmony,
    "morphohelm": _morphohelm,
}

__all__ = [
    "NORMALIZATION_STEPS",
    "STEP_LOG_COLUMNS",
    "NormalizationConfig",
    "normalize_profiles",
    "plate_controls_needed",
]
