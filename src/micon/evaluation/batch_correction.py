"""Batch correction of well profiles: Harmony (JUMP recipe) and the MorphoHELM post-processing chain."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

from micon import schema
from micon.errors import InvalidConfigError, InvalidInputError
from micon.evaluation._checks import checked_features, require_metadata
from micon.evaluation.normalize import robust_mad_normalize

logger = logging.getLogger(__name__)


def harmonize_profiles(
    profiles: pd.DataFrame,
    *,
    batch_column: str = schema.BATCH,
    max_iter: int = 20,
    n_clusters: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Remove the effect of ``batch_column`` from every well's features with Harmony (harmonypy).

    ``harmonypy.run_harmony`` is run on the features themselves (not on a PCA of them), over all wells,
    as the JUMP profiling recipe does (``max_iter_harmony=20``, ``nclust=300`` there; the default here,
    ``None``, is harmonypy's ``min(N / 30, 100)`` so that small screens get a sensible cluster count).

    Args:
        profiles: One row per well: ``batch_column`` plus float features.
        batch_column: The metadata column whose levels are corrected (``Metadata_Batch``,
            ``Metadata_Source`` or ``Metadata_Plate``).
        max_iter: Harmony iterations, >= 1.
        n_clusters: Harmony's soft k-means clusters (``nclust``), >= 1, or None for harmonypy's default.
        seed: harmonypy's ``random_state``.

    Returns:
        The same rows in the same order with corrected features (float64, same column names).

    Raises:
        InvalidConfigError: ``max_iter`` or ``n_clusters`` < 1, or ``batch_column`` is not metadata.
        InvalidInputError: ``batch_column`` has a single level (nothing to correct; names it), the
            table is empty or has no features.
        MissingColumnsError: ``batch_column`` is absent.
        InvalidFeaturesError: A feature is NaN or inf.
    """
    if max_iter < 1 or (n_clusters is not None and n_clusters < 1):
        raise InvalidConfigError(
            f"harmony needs max_iter >= 1 and n_clusters >= 1, got {max_iter}, {n_clusters}"
        )
    if not str(batch_column).startswith("Metadata_"):
        raise InvalidConfigError(f"harmony batch_column {batch_column!r} is not a Metadata_ column")
    features = checked_features(profiles, table_name="profiles for harmony")
    require_metadata(profiles, [batch_column], table_name="profiles for harmony")
    levels = profiles[batch_column].astype(str)
    if levels.nunique() < 2:
        raise InvalidInputError(
            f"harmony on {batch_column}: every well has the value {levels.iloc[0]!r}; nothing to correct"
        )
    from harmonypy import run_harmony  # noqa: PLC0415 - a nanobind extension, loaded when used (micon.evaluation)

    result = run_harmony(
        profiles[features].to_numpy(dtype=np.float64),
        pd.DataFrame({batch_column: levels.to_numpy()}),
        batch_column,
        max_iter_harmony=max_iter,
        nclust=n_clusters,
        random_state=seed,
        verbose=False,
    )
    corrected = np.asarray(result.Z_corr, dtype=np.float64)
    if corrected.shape != (len(profiles), len(features)):
        corrected = corrected.T  # harmonypy < 2 returns features x wells
    harmonized = profiles.copy()
    harmonized[features] = corrected
    logger.info("harmony on %s: %d wells, %d levels", batch_column, len(profiles), levels.nunique())
    return harmonized


def morphohelm_correct(
    profiles: pd.DataFrame, *, n_components: int = 64, epsilon: float = 1e-6
) -> pd.DataFrame:
    """Apply MorphoHELM's post-processing: plate centre-scale, PCA, then plate robust MAD on DMSO.

    1. Per plate (``schema.PLATE_KEY``) each feature is centred and scaled to unit variance over all
       of the plate's wells (sklearn ``StandardScaler``; a constant feature is only centred).
    2. One PCA (sklearn, full SVD) over all wells keeps ``min(n_components, n_features, n_wells)``
       components, written as ``emb_0000 ...``.
    3. ``robust_mad_normalize`` per plate on its DMSO wells.

    Args:
        profiles: One row per well: ``schema.PLATE_KEY``, ``schema.IS_CONTROL`` and float features.
        n_components: Principal components kept (at most the feature and well counts), >= 1.
        epsilon: The MAD step's regulariser, >= 0.

    Returns:
        The same rows in the same order: the metadata, then the component columns (float64).

    Raises:
        InvalidConfigError: ``n_components`` < 1 or ``epsilon`` < 0.
        NoControlsError: A plate has no DMSO well (named).
        MissingColumnsError, InvalidFeaturesError, InvalidInputError: As ``robust_mad_normalize``.
    """
    if n_components < 1:
        raise InvalidConfigError(f"MorphoHELM n_components must be >= 1, got {n_components}")
    features = checked_features(profiles, table_name="profiles for MorphoHELM")
    require_metadata(profiles, list(schema.PLATE_KEY), table_name="profiles for MorphoHELM")
    values = profiles[features].to_numpy(dtype=np.float64)
    scaled = np.empty_like(values)
    for rows in profiles.groupby(list(schema.PLATE_KEY), sort=True).indices.values():
        scaled[rows] = StandardScaler().fit_transform(values[rows])
    n_kept = min(n_components, len(features), len(profiles))
    components = PCA(n_components=n_kept, svd_solver="full").fit_transform(scaled)
    metadata = profiles.loc[:, schema.metadata_columns(profiles.columns)]
    projected = pd.DataFrame(components, index=profiles.index, columns=schema.embedding_columns(n_kept))
    logger.info("MorphoHELM: %d features -> %d principal components", len(features), n_kept)
    return robust_mad_normalize(pd.concat([metadata, projected], axis=1), epsilon=epsilon)


__all__ = ["harmonize_profiles", "morphohelm_correct"]
