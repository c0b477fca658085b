"""The normalisation chain: steps named in parameters, dispatched by dict, feature counts logged."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
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
    SCALE_SCOPES,
    SPHERING_METHODS,
    _plate_control_rows,
    center_on_plate_controls,
    filter_variant_features,
    inverse_normal_transform,
    robust_mad_normalize,
    scale_by_control_mad,
    select_features,
    sphere_profiles,
)
from micon.evaluation.reduction import PCA_FIT_ROWS, reduce_dimension, sphere_with_shrinkage

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
    """How well profiles are normalised before evaluation: named chains of steps and the steps' settings.

    Every method is evaluated under every chain; a step's settings are shared by all chains using it.

    Attributes:
        chains: Chain name -> step names applied in order, each a key of ``NORMALIZATION_STEPS``;
            ``[]`` evaluates the raw well means.
        epsilon: Regulariser of the MAD denominators and of the sphering singular values, >= 0.
        scale_scope: ``robust_scale``: where the DMSO MAD is fitted, a key of ``SCALE_SCOPES``
            (``screen`` pools every DMSO well; ``source`` / ``batch`` / ``plate`` one scale per group).
        pca_n_components: ``pca``: components kept, >= 1 (capped at the feature and fit-well counts).
        pca_fit_on: ``pca``: ``"all"`` wells or the DMSO wells (``"controls"``).
        pca_whiten: ``pca``: scale each kept component to unit variance over the fit wells.
        shrunk_sphering_min_controls_per_feature: ``shrunk_sphering``: DMSO wells needed per feature,
            else the step leaves the wells unsphered and logs a warning, >= 0.
        variant_min_mad: ``variance_filter``: drop a feature whose DMSO MAD is <= this on a plate.
        variant_min_abs_coef_var: ``variance_filter``: drop a feature whose DMSO ``|MAD / median|`` is
            <= this on a plate (the JUMP recipe's 1e-3); 0 disables the test.
        feature_select_operations: ``feature_select``: pycytominer operations, in order.
        min_variance: ``feature_select``: pycytominer's ``variance_threshold`` minimum variance.
        correlation_threshold: ``feature_select``: pycytominer's absolute correlation cut, in (0, 1].
        sphering_method: ``sphering`` and ``shrunk_sphering``: ``"ZCA"`` or ``"PCA"``.
        harmony_batch_column: ``harmony``: the metadata column corrected (batch, source or plate).
        harmony_max_iter: ``harmony``: iterations, >= 1.
        harmony_n_clusters: ``harmony``: soft k-means clusters, or None for harmonypy's default.
        harmony_seed: ``harmony``: harmonypy's random state.
        morphohelm_n_components: ``morphohelm``: principal components kept (capped by the data).
    """

    chains: Mapping[str, tuple[str, ...]]
    epsilon: float
    scale_scope: Literal["screen", "source", "batch", "plate"]
    pca_n_components: int
    pca_fit_on: Literal["all", "controls"]
    pca_whiten: bool
    shrunk_sphering_min_controls_per_feature: float
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
        if not isinstance(self.chains, Mapping) or not self.chains:
            raise InvalidConfigError(f"chains must be a non-empty mapping name -> steps, got {self.chains!r}")
        chains = {}
        for chain, steps in self.chains.items():
            steps = (steps,) if isinstance(steps, str) else tuple(steps or ())
            unknown = [s for s in steps if s not in NORMALIZATION_STEPS]
            if unknown:
                raise UnknownNameError(
                    f"chain {chain!r}: normalisation step(s) {unknown} are unknown; "
                    f"known steps: {sorted(NORMALIZATION_STEPS)}"
                )
            if len(set(steps)) != len(steps):
                raise InvalidConfigError(f"chain {chain!r} repeats a step: {list(steps)}")
            chains[str(chain)] = steps
        object.__setattr__(self, "chains", chains)
        if self.scale_scope not in SCALE_SCOPES:
            raise InvalidConfigError(f"scale_scope {self.scale_scope!r} is not one of {list(SCALE_SCOPES)}")
        if self.pca_fit_on not in PCA_FIT_ROWS:
            raise InvalidConfigError(f"pca_fit_on {self.pca_fit_on!r} is not one of {list(PCA_FIT_ROWS)}")
        if (
            isinstance(self.pca_n_components, bool)
            or not isinstance(self.pca_n_components, int)
            or self.pca_n_components < 1
        ):
            raise InvalidConfigError(f"pca_n_components must be an int >= 1, got {self.pca_n_components!r}")
        if not self.shrunk_sphering_min_controls_per_feature >= 0:
            raise InvalidConfigError(
                "shrunk_sphering_min_controls_per_feature must be >= 0, got "
                f"{self.shrunk_sphering_min_controls_per_feature}"
            )
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
    profiles: pd.DataFrame, config: NormalizationConfig, *, chain: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply the steps of one named chain; every row (DMSO included) is kept, in order.

    The input is checked once (non-empty, finite features); a step's own error is re-raised with the
    step's name and position prefixed, keeping its type.

    Args:
        profiles: One row per well: ``schema.PLATE_KEY``, ``schema.IS_CONTROL``, the Harmony batch
            column if ``harmony`` is a step, and float features.
        config: The chains and the steps' settings.
        chain: The chain applied, a key of ``config.chains``.

    Returns:
        ``(normalized, step_log)``: the normalised wells (unchanged if the chain is empty) and
        one row per step with ``position``, ``step``, ``n_features_in``, ``n_features_out`` and
        ``changed_feature_count``.

    Raises:
        UnknownNameError: ``chain`` or a step name is unknown (lists the known ones).
        NoControlsError: A plate has fewer DMSO wells than the chain's steps need
            (:func:`plate_controls_needed`), checked before any step runs (names the plates and their
            counts).
        InvalidFeaturesError: A feature is NaN or inf (names the column and well).
        InvalidInputError, MissingColumnsError, InvalidConfigError: As raised by the steps.
    """
    if chain not in config.chains:
        raise UnknownNameError(f"normalisation chain {chain!r} is unknown; chains: {sorted(config.chains)}")
    n_features = len(checked_features(profiles, table_name="profiles to normalise"))
    needed = plate_controls_needed(config.chains[chain])
    if needed:
        _plate_control_rows(
            profiles,
            table_name=f"profiles to normalise by chain {chain!r} {list(config.chains[chain])}",
            min_wells=needed,
        )
    normalized = profiles
    rows = []
    for position, name in enumerate(config.chains[chain]):
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
        logger.info("chain %s, step %d (%s): %d -> %d features", chain, position, name, n_features, n_out)
        n_features = n_out
    step_log = pd.DataFrame(rows, columns=list(STEP_LOG_COLUMNS))
    return normalized, step_log.astype(
        {"position": "int64", "step": "str", "n_features_in": "int64", "n_features_out": "int64"}
    ).astype({"changed_feature_count": "bool"})


def plate_controls_needed(steps: tuple[str, ...] | list[str]) -> int:
    """Return the DMSO wells per plate a chain of steps needs (0 when no step is fitted per plate).

    The variance filter and robust MAD are fitted on each plate's DMSO wells and need
    ``MIN_PLATE_CONTROL_WELLS`` (2); centring on a plate's DMSO median needs 1. Sphering after robust MAD
    or DMSO centring needs 3: with 2 DMSO wells a plate's centred controls are mirror images
    (``x1 - m = -(x2 - m)``), so the DMSO matrix sphering is fitted on is rank-deficient and pycytominer
    refuses it. (``shrunk_sphering`` copes with a rank-deficient matrix; ``robust_scale`` names its own
    scope groups without DMSO.)
    """
    steps = list(steps)
    needed = 1 if "center_on_controls" in steps else 0
    if {"variance_filter", "mad_robustize"} & set(steps):
        needed = MIN_PLATE_CONTROL_WELLS
    centring = [steps.index(s) for s in ("mad_robustize", "center_on_controls") if s in steps]
    if centring and "sphering" in steps[min(centring) :]:
        needed = MIN_PLATE_CONTROL_WELLS + 1
    return needed


def _variance_filter(profiles: pd.DataFrame, config: NormalizationConfig) -> pd.DataFrame:
    return filter_variant_features(
        profiles, min_mad=config.variant_min_mad, min_abs_coef_var=config.variant_min_abs_coef_var
    )


def _mad_robustize(profiles: pd.DataFrame, config: NormalizationConfig) -> pd.DataFrame:
    return robust_mad_normalize(profiles, epsilon=config.epsilon)


def _center_on_controls(profiles: pd.DataFrame, config: NormalizationConfig) -> pd.DataFrame:
    return center_on_plate_controls(profiles)


def _robust_scale(profiles: pd.DataFrame, config: NormalizationConfig) -> pd.DataFrame:
    return scale_by_control_mad(profiles, scope=config.scale_scope, epsilon=config.epsilon)


def _pca(profiles: pd.DataFrame, config: NormalizationConfig) -> pd.DataFrame:
    return reduce_dimension(
        profiles, n_components=config.pca_n_components, fit_on=config.pca_fit_on, whiten=config.pca_whiten
    )


def _shrunk_sphering(profiles: pd.DataFrame, config: NormalizationConfig) -> pd.DataFrame:
    return sphere_with_shrinkage(
        profiles,
        method=config.sphering_method,
        epsilon=config.epsilon,
        min_controls_per_feature=config.shrunk_sphering_min_controls_per_feature,
    )


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
    "center_on_controls": _center_on_controls,
    "robust_scale": _robust_scale,
    "pca": _pca,
    "shrunk_sphering": _shrunk_sphering,
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
