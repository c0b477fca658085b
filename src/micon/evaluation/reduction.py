"""Dimension reduction and well-posed sphering of well profiles: PCA to k, Ledoit-Wolf whitening."""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.covariance import LedoitWolf
from sklearn.decomposition import PCA

from micon import schema
from micon.errors import InvalidConfigError, InvalidInputError, NoControlsError
from micon.evaluation._checks import checked_features, control_mask
from micon.evaluation.normalize import SPHERING_METHODS

logger = logging.getLogger(__name__)

PCA_FIT_ROWS: tuple[str, ...] = ("all", "controls")


def reduce_dimension(
    profiles: pd.DataFrame,
    *,
    n_components: int,
    fit_on: Literal["all", "controls"],
    whiten: bool,
) -> pd.DataFrame:
    """Project every well onto the first ``k`` principal components, so all methods share one dimension.

    ``k = min(n_components, n_features, n_fit_wells)``: a representation with fewer features than
    ``n_components`` (a low-dimensional known truth, intensity statistics) keeps all of its
    dimensions, rotated. sklearn's ``PCA`` (full SVD) is fitted on all wells or on the DMSO wells and
    applied to all; with ``whiten`` each component is divided by its standard deviation over the fit
    rows (PCA whitening, well-posed because only the leading ``k`` components are kept).

    Args:
        profiles: One row per well: ``schema.IS_CONTROL`` and float features.
        n_components: Components kept, >= 1 (capped as above).
        fit_on: ``"all"`` wells or the DMSO wells (``"controls"``).
        whiten: Scale each component to unit variance over the fit rows.

    Returns:
        The same rows in the same order: the metadata, then ``k`` columns ``emb_0000 ...`` (float64).

    Raises:
        InvalidConfigError: ``n_components`` < 1 or ``fit_on`` unknown (lists the accepted values).
        NoControlsError: ``fit_on="controls"`` with fewer than 2 DMSO wells.
        MissingColumnsError, InvalidInputError, InvalidFeaturesError: A needed column is absent, the
            table is empty or a feature is not finite.
    """
    if isinstance(n_components, bool) or not isinstance(n_components, int) or n_components < 1:
        raise InvalidConfigError(f"PCA n_components must be an integer >= 1, got {n_components!r}")
    if fit_on not in PCA_FIT_ROWS:
        raise InvalidConfigError(f"PCA fit_on {fit_on!r} is not one of {list(PCA_FIT_ROWS)}")
    table_name = "profiles for PCA"
    features = checked_features(profiles, table_name=table_name)
    is_control = control_mask(profiles, table_name=table_name)
    fit_rows = is_control if fit_on == "controls" else np.ones(len(profiles), dtype=bool)
    if fit_rows.sum() < 2:
        raise NoControlsError(f"{table_name}: PCA on {fit_on} needs >= 2 wells, found {fit_rows.sum()}")
    values = profiles[features].to_numpy(dtype=np.float64)
    n_kept = min(n_components, len(features), int(fit_rows.sum()))
    pca = PCA(n_components=n_kept, whiten=whiten, svd_solver="full").fit(values[fit_rows])
    projected = pd.DataFrame(
        pca.transform(values), index=profiles.index, columns=schema.embedding_columns(n_kept)
    )
    metadata = profiles.loc[:, schema.metadata_columns(profiles.columns)]
    logger.info(
        "PCA (fitted on %s, %d wells%s): %d features -> %d components, %.1f %% of the variance",
        fit_on,
        int(fit_rows.sum()),
        ", whitened" if whiten else "",
        len(features),
        n_kept,
        100 * float(pca.explained_variance_ratio_.sum()),
    )
    return pd.concat([metadata, projected], axis=1)


def sphere_with_shrinkage(
    profiles: pd.DataFrame,
    *,
    method: Literal["ZCA", "PCA"],
    epsilon: float,
    min_controls_per_feature: float,
) -> pd.DataFrame:
    """Whiten all wells with a Ledoit-Wolf shrunk DMSO covariance, or leave them be if DMSO is too scarce.

    The DMSO mean and covariance come from sklearn's ``LedoitWolf`` (the covariance shrunk towards a
    scaled identity by the analytically optimal amount), so the inverse square root is bounded even
    when the empirical DMSO covariance is near singular; ``W = V diag(1 / sqrt(lambda + epsilon)) V^T``
    (ZCA) or its rotation ``diag(...) V^T`` (PCA). When the DMSO wells do not far outnumber the
    features (``n_DMSO < min_controls_per_feature * n_features``) the step refuses: the wells are
    returned unchanged and a warning says so, because a covariance estimated from too few wells
    whitens the directions that happen to be quiet on DMSO into noise. Hand-written because
    pycytominer's ``Spherize`` uses the empirical covariance, and sklearn has no whitening transformer
    over a given covariance estimator.

    Args:
        profiles: One row per well: ``schema.IS_CONTROL`` and float features.
        method: ``"ZCA"`` or ``"PCA"``.
        epsilon: Added to the shrunk covariance's eigenvalues before the inverse square root, >= 0.
        min_controls_per_feature: DMSO wells needed per feature to sphere, >= 0.

    Returns:
        The same rows in the same order with the features sphered (or unchanged, see above), float64.

    Raises:
        InvalidConfigError: ``method`` unknown, ``epsilon`` < 0 or ``min_controls_per_feature`` < 0.
        NoControlsError: Fewer than 2 DMSO wells.
        InvalidInputError: The shrunk covariance has a non-positive eigenvalue and ``epsilon`` is 0.
        MissingColumnsError, InvalidFeaturesError: A needed column is absent or a feature not finite.
    """
    if method not in SPHERING_METHODS:
        raise InvalidConfigError(f"sphering method {method!r} is not one of {list(SPHERING_METHODS)}")
    if not epsilon >= 0 or not min_controls_per_feature >= 0:
        raise InvalidConfigError(
            f"need epsilon >= 0 and min_controls_per_feature >= 0, got {epsilon}, {min_controls_per_feature}"
        )
    table_name = "profiles for shrinkage sphering"
    features = checked_features(profiles, table_name=table_name)
    is_control = control_mask(profiles, table_name=table_name)
    n_controls = int(is_control.sum())
    if n_controls < 2:
        raise NoControlsError(f"{table_name}: sphering needs >= 2 DMSO wells to fit on; found {n_controls}")
    if n_controls < min_controls_per_feature * len(features):
        logger.warning(
            "shrinkage sphering refused: %d DMSO wells for %d features (< %g per feature); "
            "the wells are left unsphered (reduce the dimension first, e.g. the pca step)",
            n_controls,
            len(features),
            min_controls_per_feature,
        )
        return profiles
    values = profiles[features].to_numpy(dtype=np.float64)
    estimator = LedoitWolf().fit(values[is_control])
    eigenvalues, eigenvectors = np.linalg.eigh(estimator.covariance_)
    # descending, so that with "PCA" the i-th column is the i-th leading component
    eigenvalues, eigenvectors = eigenvalues[::-1] + epsilon, eigenvectors[:, ::-1]
    if eigenvalues.min() <= 0:
        raise InvalidInputError(
            f"{table_name}: shrunk DMSO covariance eigenvalue {eigenvalues.min():.3g}; need epsilon > 0"
        )
    whitening = np.diag(1.0 / np.sqrt(eigenvalues)) @ eigenvectors.T
    if method == "ZCA":
        whitening = eigenvectors @ whitening
    sphered = profiles.copy()
    sphered[features] = (values - estimator.location_) @ whitening.T
    logger.info(
        "shrinkage-sphered %d wells (%s; %d DMSO wells, %d features, Ledoit-Wolf shrinkage %.3f)",
        len(profiles),
        method,
        n_controls,
        len(features),
        estimator.shrinkage_,
    )
    return sphered


__all__ = ["PCA_FIT_ROWS", "reduce_dimension", "sphere_with_shrinkage"]
