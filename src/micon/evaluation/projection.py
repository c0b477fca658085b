"""Two-dimensional maps of well profiles (PCA, UMAP) before and after normalisation, for plots."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from micon import schema
from micon.errors import InvalidConfigError, InvalidInputError
from micon.evaluation._checks import checked_features

logger = logging.getLogger(__name__)

PROJECTIONS: tuple[str, ...] = ("PCA", "UMAP")
# Metadata kept beside the coordinates: what the maps are coloured by.
_KEPT_METADATA: tuple[str, ...] = (
    *schema.PLATE_KEY,
    schema.WELL,
    schema.JCP2022,
    schema.MOA,
    schema.IS_CONTROL,
    schema.SPLIT,
)


PROJECTIONS: tuple[str, ...] = ("PCA", "UMAP")


def project_profiles(
    stages: Mapping[str, pd.DataFrame],
    *,
    seed: int,
    umap_neighbors: int,
    projections: Sequence[str] = PROJECTIONS,
) -> pd.DataFrame:
    """Project each stage's wells to 2-D with PCA (sklearn) and UMAP (umap-learn, cosine, seeded).

    Args:
        stages: Stage name (``"before"``, ``"after"``) -> one row per well with float features.
        seed: UMAP's ``random_state`` (a seeded UMAP runs single-threaded and is reproducible).
        umap_neighbors: UMAP's ``n_neighbors``, >= 2, capped at the number of wells - 1 so that tiny
            screens work.
        projections: Which of :data:`PROJECTIONS` to draw (UMAP costs seconds per map; PCA alone skips
            importing it).

    Returns:
        One row per stage, projection and well: ``stage``, ``projection`` (``PCA``/``UMAP``), the wells'
        Source/Batch/Plate/Well/JCP2022/MoA/IsControl/Split metadata (those present), ``x``, ``y``.

    Raises:
        InvalidConfigError: ``umap_neighbors`` < 2, or ``projections`` is empty or names another.
        InvalidInputError: ``stages`` is empty or a stage has fewer than 3 wells.
        InvalidFeaturesError: A feature is NaN or inf.
    """
    projections = tuple(projections)
    if not projections or any(p not in PROJECTIONS for p in projections):
        raise InvalidConfigError(
            f"projections must be a non-empty subset of {PROJECTIONS}, got {projections}"
        )
    if umap_neighbors < 2:
        raise InvalidConfigError(f"umap_neighbors must be >= 2, got {umap_neighbors}")
    if not stages:
        raise InvalidInputError("no profiles to project")
    frames = []
    for stage, profiles in stages.items():
        features = checked_features(profiles, table_name=f"{stage} profiles to project")
        if len(profiles) < 3:
            raise InvalidInputError(f"{stage} profiles: {len(profiles)} wells; a 2-D map needs >= 3")
        values = profiles[features].to_numpy(dtype=np.float64)
        metadata = profiles[[c for c in _KEPT_METADATA if c in profiles.columns]].reset_index(drop=True)
        n_components = min(2, values.shape[1])
        pca = PCA(n_components=n_components, svd_solver="full").fit_transform(values)
        if n_components == 1:
            pca = np.column_stack([pca[:, 0], np.zeros(len(pca))])
        drawn = {"PCA": pca}
        if "UMAP" in projections:
            import umap  # imported here: umap-learn compiles with numba on import, seconds others skip

            reducer = umap.UMAP(
                n_neighbors=min(umap_neighbors, len(values) - 1),
                metric="cosine",
                random_state=seed,
                n_jobs=1,
            )
            drawn["UMAP"] = reducer.fit_transform(values)
        for projection, xy in ((p, drawn[p]) for p in projections):
            frame = metadata.copy()
            frame.insert(0, "projection", projection)
            frame.insert(0, "stage", stage)
            frame["x"], frame["y"] = xy[:, 0].astype(np.float64), xy[:, 1].astype(np.float64)
            frames.append(frame)
        logger.info(
            "projected %d %s wells (%d features) with %s", len(values), stage, len(features), projections
        )
    return pd.concat(frames, ignore_index=True)
