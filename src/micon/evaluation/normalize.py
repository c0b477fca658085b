"""Well-profile normalisation steps: variant filter, DMSO centring, MAD scaling, INT, selection, sphering."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
import pycytominer
from pycytominer.operations import RobustMAD, Spherize
from scipy.stats import median_abs_deviation, norm, rankdata
from sklearn.preprocessing import RobustScaler

from micon import schema
from micon.errors import InvalidConfigError, InvalidInputError, NoControlsError
from micon.evaluation._checks import checked_features, control_mask, require_metadata

logger = logging.getLogger(__name__)

SPHERING_METHODS: tuple[str, ...] = ("ZCA", "PCA")
FEATURE_SELECT_OPERATIONS: tuple[str, ...] = (
    "variance_threshold",
    "correlation_threshold",
    "drop_na_columns",
    "blocklist",
    "drop_outliers",
)
# DMSO wells a plate needs for a per-plate fit: one well has MAD 0 (every feature looks invariant).
MIN_PLATE_CONTROL_WELLS = 2
# Where a robust scale is fitted: the metadata columns whose levels group the DMSO wells ("screen": all).
SCALE_SCOPES: dict[str, tuple[str, ...]] = {
    "screen": (),
    "source": (schema.SOURCE,),
    "batch": (schema.SOURCE, schema.BATCH),
    "plate": schema.PLATE_KEY,
}
# Blom's constant of the rank-based inverse normal transform (as the JUMP profiling recipe).
_BLOM_C = 3.0 / 8.0


def filter_variant_features(
    profiles: pd.DataFrame, *, min_mad: float = 0.0, min_abs_coef_var: float = 1e-3
) -> pd.DataFrame:
    """Drop features that (nearly) do not vary over the DMSO wells of any plate.

    Per plate (``schema.PLATE_KEY``) and feature the DMSO wells give the median and the unscaled
    median absolute deviation (``scipy.stats.median_abs_deviation``). A feature is kept only if on
    every plate ``MAD > min_mad`` and ``|MAD / median| > min_abs_coef_var``, where a zero median
    counts as a coefficient of variation of 0 (the JUMP profiling recipe's variant-feature filter,
    ``mad != 0 and abs_coef_var > 1e-3``). ``min_abs_coef_var = 0`` switches the second test off.
    No pycytominer operation filters on per-plate control statistics, hence numpy.

    Args:
        profiles: One row per well: ``schema.PLATE_KEY``, ``schema.IS_CONTROL`` and float features.
        min_mad: A feature whose DMSO MAD is <= this on some plate is dropped, >= 0.
        min_abs_coef_var: A feature whose ``|MAD / median|`` is <= this on some plate is dropped, >= 0;
            0 disables the test.

    Returns:
        The same rows in the same order with the invariant feature columns removed.

    Raises:
        InvalidConfigError: A threshold is negative.
        InvalidInputError: Every feature would be dropped, or the table is empty or has no features.
        NoControlsError: One or more plates have no DMSO well (all of them are named).
        MissingColumnsError, InvalidFeaturesError: As the other steps.
    """
    if min_mad < 0 or min_abs_coef_var < 0:
        raise InvalidConfigError(
            f"variant filter thresholds must be >= 0, got min_mad={min_mad}, "
            f"min_abs_coef_var={min_abs_coef_var}"
        )
    features = checked_features(profiles, table_name="profiles for the variant filter")
    values = profiles[features].to_numpy(dtype=np.float64)
    is_variant = np.ones(len(features), dtype=bool)
    for rows in _plate_control_rows(
        profiles, table_name="profiles for the variant filter", min_wells=MIN_PLATE_CONTROL_WELLS
    ).values():
        controls = values[rows]
        median = np.median(controls, axis=0)
        mad = median_abs_deviation(controls, axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            coef_var = np.where(median != 0, np.abs(mad / median), 0.0)
        is_variant &= mad > min_mad
        if min_abs_coef_var > 0:
            is_variant &= coef_var > min_abs_coef_var
    dropped = [f for f, keep in zip(features, is_variant, strict=True) if not keep]
    if len(dropped) == len(features):
        raise InvalidInputError(
            f"the variant filter (min_mad={min_mad}, min_abs_coef_var={min_abs_coef_var}) drops all "
            f"{len(features)} features; the DMSO wells do not vary"
        )
    if dropped:
        logger.info("variant filter dropped %d of %d features: %s", len(dropped), len(features), dropped[:10])
    return profiles.drop(columns=dropped)


def inverse_normal_transform(profiles: pd.DataFrame) -> pd.DataFrame:
    """Replace each feature by the normal quantile of its rank over all wells (rank-based INT).

    ``x -> Phi^-1((rank - c) / (n - 2c + 1))`` with Blom's ``c = 3/8`` and tied values sharing their
    average rank (the JUMP recipe breaks ties at random instead; continuous features rarely tie).
    Hand-written with ``scipy.stats.rankdata`` and ``norm.ppf``: sklearn's ``QuantileTransformer``
    interpolates between quantiles and clips the tails, which is not the recipe's transform.

    Args:
        profiles: One row per well with float features.

    Returns:
        The same rows in the same order; each feature is standard-normal in distribution (float64).

    Raises:
        InvalidInputError: ``profiles`` is empty or has no feature column.
        InvalidFeaturesError: A feature is NaN or inf.
    """
    features = checked_features(profiles, table_name="profiles for the inverse normal transform")
    ranks = rankdata(profiles[features].to_numpy(dtype=np.float64), method="average", axis=0)
    transformed = profiles.copy()
    transformed[features] = norm.ppf((ranks - _BLOM_C) / (len(profiles) - 2 * _BLOM_C + 1))
    return transformed


def select_features(
    profiles: pd.DataFrame,
    *,
    operations: Sequence[str] = ("variance_threshold", "correlation_threshold"),
    min_variance: float = 1e-6,
    correlation_threshold: float = 0.9,
) -> pd.DataFrame:
    """Drop near-constant and redundant features with ``pycytominer.feature_select`` over all wells.

    Args:
        profiles: One row per well with float features.
        operations: pycytominer operations, in order, each one of ``FEATURE_SELECT_OPERATIONS``.
        min_variance: ``variance_threshold``: drop a feature whose variance over all wells is below
            this, >= 0 (this pycytominer's criterion; the JUMP recipe's copy uses frequency cuts).
        correlation_threshold: ``correlation_threshold``: of two features with an absolute Pearson
            correlation above this, one is dropped, in (0, 1].

    Returns:
        The same rows in the same order with the selected feature columns (and all metadata).

    Raises:
        InvalidConfigError: An operation is unknown (lists the accepted ones) or a cut is out of range.
        InvalidInputError: Every feature would be dropped, or the table is empty or has no features.
        InvalidFeaturesError: A feature is NaN or inf.
    """
    unknown = [op for op in operations if op not in FEATURE_SELECT_OPERATIONS]
    if unknown or not operations:
        raise InvalidConfigError(
            f"feature selection operations {list(operations)} must be a non-empty list of "
            f"{list(FEATURE_SELECT_OPERATIONS)}"
        )
    if not 0 < correlation_threshold <= 1 or not min_variance >= 0:
        raise InvalidConfigError(
            f"feature selection cuts out of range: correlation_threshold={correlation_threshold} "
            f"(expected (0, 1]), min_variance={min_variance} (expected >= 0)"
        )
    features = checked_features(profiles, table_name="profiles for feature selection")
    try:
        selected = pycytominer.feature_select(
            profiles.loc[:, features].astype(np.float64),
            features=features,
            operation=list(operations),
            corr_threshold=correlation_threshold,
            min_variance=float(min_variance),
            output_file=None,
        )
    except ValueError as exc:  # sklearn's VarianceThreshold refuses when no feature passes
        raise InvalidInputError(
            f"feature selection {list(operations)} drops all {len(features)} features: {exc}"
        ) from exc
    kept = set(selected.columns)
    dropped = [f for f in features if f not in kept]
    if len(dropped) == len(features):
        raise InvalidInputError(f"feature selection {list(operations)} drops all {len(features)} features")
    if dropped:
        logger.info("feature selection dropped %d of %d features", len(dropped), len(features))
    return profiles.drop(columns=dropped)


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
    features = checked_features(profiles, table_name="profiles for robust MAD")
    plates = profiles.groupby(list(schema.PLATE_KEY), sort=True).indices  # plate key -> row positions
    fit_rows = _plate_control_rows(
        profiles, table_name="profiles for robust MAD", min_wells=MIN_PLATE_CONTROL_WELLS
    )

    values = profiles[features].to_numpy(dtype=np.float64)
    scaled = np.empty_like(values)
    for key, rows in plates.items():
        plate = pd.DataFrame(values[rows], columns=features)
        scaler = RobustMAD(epsilon=epsilon).fit(pd.DataFrame(values[fit_rows[key]], columns=features))
        scaled[rows] = scaler.transform(plate).to_numpy(dtype=np.float64)
    normalized = profiles.copy()
    normalized[features] = scaled
    logger.info("robust-MAD normalised %d wells on %d plates", len(profiles), len(plates))
    return normalized


def center_on_plate_controls(profiles: pd.DataFrame) -> pd.DataFrame:
    """Subtract from each plate's wells the per-feature median of that plate's DMSO wells.

    Location only: a median of a plate's DMSO wells is stable with a handful of wells, where a scale
    is not (a MAD of 8 wells varies by tens of per cent from plate to plate and multiplies every well of the
    plate). Fitted with sklearn's ``RobustScaler(with_scaling=False)`` on the plate's DMSO wells and
    applied to all of them.

    Args:
        profiles: One row per well: ``schema.PLATE_KEY``, ``schema.IS_CONTROL`` and float features.

    Returns:
        The same rows in the same order with every feature centred (float64); metadata unchanged.

    Raises:
        NoControlsError: One or more plates have no DMSO well (all of them are named).
        MissingColumnsError, InvalidInputError, InvalidFeaturesError: As ``robust_mad_normalize``.
    """
    table_name = "profiles for DMSO centring"
    features = checked_features(profiles, table_name=table_name)
    control_rows = _plate_control_rows(profiles, table_name=table_name)
    plates = profiles.groupby(list(schema.PLATE_KEY), sort=True).indices
    values = profiles[features].to_numpy(dtype=np.float64)
    centred = np.empty_like(values)
    for key, rows in plates.items():
        scaler = RobustScaler(with_centering=True, with_scaling=False).fit(values[control_rows[key]])
        centred[rows] = scaler.transform(values[rows])
    normalized = profiles.copy()
    normalized[features] = centred
    logger.info("centred %d wells on the DMSO median of their plate (%d plates)", len(profiles), len(plates))
    return normalized


def scale_by_control_mad(
    profiles: pd.DataFrame, *, scope: Literal["screen", "source", "batch", "plate"], epsilon: float
) -> pd.DataFrame:
    """Divide each feature by ``1.4826 * MAD + epsilon`` of the DMSO wells of the well's scope group.

    Scale only, no re-centring (run ``center_on_plate_controls`` first): the scale is fitted where
    controls are plentiful, over the whole screen (``"screen"``) or per source / batch, so that a
    noisy scale from a few wells of one plate does not multiply that plate's profiles. The scale is
    ``scipy.stats.median_abs_deviation(scale="normal")`` (1.4826 x MAD, the standard deviation of a
    normal sample). Hand-written because pycytominer's ``RobustMAD`` always subtracts the fitted median
    and fits one group per call; sklearn's ``RobustScaler`` scales by the interquartile range.

    Args:
        profiles: One row per well: the scope columns of ``SCALE_SCOPES[scope]``, ``schema.IS_CONTROL``
            and float features.
        scope: ``"screen"`` (one pooled scale), ``"source"``, ``"batch"`` or ``"plate"``.
        epsilon: Added to the scale, >= 0 (a feature constant over a group's DMSO wells is divided by it).

    Returns:
        The same rows in the same order with every feature scaled (float64); metadata unchanged.

    Raises:
        InvalidConfigError: ``scope`` is unknown (lists the accepted ones) or ``epsilon`` < 0.
        NoControlsError: A scope group has no DMSO well (all such groups are named).
        MissingColumnsError, InvalidInputError, InvalidFeaturesError: As ``robust_mad_normalize``.
    """
    if scope not in SCALE_SCOPES:
        raise InvalidConfigError(f"MAD scale scope {scope!r} is not one of {list(SCALE_SCOPES)}")
    if not epsilon >= 0:
        raise InvalidConfigError(f"MAD scale epsilon must be >= 0, got {epsilon}")
    table_name = f"profiles for DMSO MAD scaling (scope {scope})"
    features = checked_features(profiles, table_name=table_name)
    is_control = control_mask(profiles, table_name=table_name)
    columns = list(SCALE_SCOPES[scope])
    require_metadata(profiles, columns, table_name=table_name)
    groups = profiles.groupby(columns, sort=True).indices if columns else {(): np.arange(len(profiles))}
    lacking = [
        "/".join(map(str, np.atleast_1d(key))) for key, rows in groups.items() if not is_control[rows].any()
    ]
    if lacking:
        raise NoControlsError(
            f"{table_name}: {len(lacking)} group(s) of {columns} have no DMSO well to fit on: {lacking}"
        )
    values = profiles[features].to_numpy(dtype=np.float64)
    scaled = np.empty_like(values)
    for rows in groups.values():
        scale = median_abs_deviation(values[rows[is_control[rows]]], axis=0, scale="normal")
        scaled[rows] = values[rows] / (scale + epsilon)
    normalized = profiles.copy()
    normalized[features] = scaled
    logger.info(
        "scaled %d wells by the DMSO MAD of %d %s group(s) (min %d DMSO wells per group)",
        len(profiles),
        len(groups),
        scope,
        min(int(is_control[rows].sum()) for rows in groups.values()),
    )
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
    if method not in SPHERING_METHODS:
        raise InvalidConfigError(f"sphering method {method!r} is not one of {list(SPHERING_METHODS)}")
    if epsilon < 0:
        raise InvalidConfigError(f"sphering epsilon must be >= 0, got {epsilon}")
    features = checked_features(profiles, table_name="profiles for sphering")
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


def _plate_control_rows(
    profiles: pd.DataFrame, *, table_name: str, min_wells: int = 1
) -> dict[tuple, np.ndarray]:
    """Return plate key -> positions of the DMSO wells it is fitted on, refusing plates with too few.

    A plate's DMSO wells are its own, or its batch's where ``Metadata_ControlGroup`` names its batch
    (data_engineering kept it on its batch's controls). Every plate below ``min_wells`` is named with its
    count, up front, instead of failing later (a single well has MAD 0: the variance filter would drop
    every feature of the screen).
    """
    require_metadata(profiles, list(schema.PLATE_KEY), table_name=table_name)
    is_control = control_mask(profiles, table_name=table_name)
    plates = profiles.groupby(list(schema.PLATE_KEY), sort=True).indices
    on_batch: set[tuple] = set()
    if schema.CONTROL_GROUP in profiles.columns:
        batch_groups = profiles[schema.SOURCE].astype(str) + "/" + profiles[schema.BATCH].astype(str)
        on_batch = {
            key
            for key, rows in plates.items()
            if (profiles[schema.CONTROL_GROUP].iloc[rows] == batch_groups.iloc[rows]).any()
        }
    batches = profiles.groupby([schema.SOURCE, schema.BATCH], sort=False).indices
    fit_rows = {
        key: (batches[key[:2]] if key in on_batch else rows)[
            is_control[batches[key[:2]] if key in on_batch else rows]
        ]
        for key, rows in plates.items()
    }
    lacking = [
        f"{'/'.join(map(str, key))}: {rows.size}"
        for key, rows in fit_rows.items()
        if rows.size < max(min_wells, 1)
    ]
    if lacking:
        raise NoControlsError(
            f"{table_name}: {len(lacking)} plate(s) have fewer than {max(min_wells, 1)} DMSO wells "
            f"({schema.IS_CONTROL} True) to fit on: {lacking} (as Source/Batch/Plate: count); remove them "
            "before normalising (data_engineering.controls does so after image QC)"
        )
    return fit_rows


__all__ = [
    "FEATURE_SELECT_OPERATIONS",
    "MIN_PLATE_CONTROL_WELLS",
    "SCALE_SCOPES",
    "SPHERING_METHODS",
    "center_on_plate_controls",
    "filter_variant_features",
    "inverse_normal_transform",
    "robust_mad_normalize",
    "scale_by_control_mad",
    "select_features",
    "sphere_profiles",
]
