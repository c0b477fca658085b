"""How much batch remains in profiles: kNN accuracy of predicting the batch or source, and silhouette."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import silhouette_score

from micon.errors import InvalidConfigError, InvalidInputError
from micon.evaluation._checks import require_features, require_metadata
from micon.evaluation.neighbours import EXACT, NeighbourSearchConfig, nearest_neighbours

logger = logging.getLogger(__name__)


def knn_label_accuracy(
    features: np.ndarray,
    labels: Sequence[str],
    *,
    k: int,
    search: NeighbourSearchConfig = EXACT,
    neighbours: np.ndarray | None = None,
) -> float:
    """Return the leave-one-out accuracy of predicting each row's label from its k cosine neighbours.

    Each row's k nearest other rows (``neighbours.nearest_neighbours``: exact blocked search, or the
    approximate index, the row itself excluded) vote; the most common label wins, a tie going to the label
    seen first in ``labels``. High accuracy means the label (batch, source) is still readable from
    the profile.

    Args:
        features: ``(n, d)`` float matrix, finite.
        labels: ``n`` labels.
        k: Neighbours per row, 1 <= k < n.
        search: Exact (the default) or approximate nearest-neighbour search.
        neighbours: ``(n, >= k)`` neighbour rows already found (most similar first), to share one
            search between several label columns; None to search here.

    Returns:
        The share of rows whose vote equals their own label.

    Raises:
        InvalidConfigError: ``k`` < 1 or >= the number of rows.
        InvalidInputError: ``features`` and ``labels`` differ in length.
    """
    codes = pd.factorize(pd.Series(labels, dtype=str))[0]
    n = features.shape[0]
    if len(codes) != n:
        raise InvalidInputError(f"{n} feature rows but {len(codes)} labels")
    if not 1 <= k < n:
        raise InvalidConfigError(f"kNN needs 1 <= k < number of rows ({n}), got k={k}")
    if neighbours is None:
        neighbours, _ = nearest_neighbours(features, k, config=search)
    indices = neighbours[:, :k]
    votes = np.zeros((n, codes.max() + 1), dtype=np.int64)
    np.add.at(votes, (np.repeat(np.arange(n), k), codes[indices].ravel()), 1)
    return float((votes.argmax(axis=1) == codes).mean())


def label_silhouette(
    features: np.ndarray, labels: Sequence[str], *, sample_size: int | None = None, seed: int = 0
) -> float:
    """Return the mean cosine silhouette of rows grouped by label (sklearn), NaN when undefined.

    Near 0 or below: the labels are mixed (little batch left); near 1: well separated. With
    ``sample_size`` below the number of rows, the silhouette is that of a seeded uniform sample of
    rows drawn here (so that the label count is checked on the sample): an estimate, in
    O(sample_size^2) time and memory instead of O(n^2).

    Args:
        features: ``(n, d)`` float matrix, finite.
        labels: ``n`` labels.
        sample_size: Rows drawn for an approximate silhouette (>= 2); None or >= n for the exact one.
        seed: Seed of the draw.

    Returns:
        ``sklearn.metrics.silhouette_score(features, labels, metric="cosine")``, or NaN (logged) when
        there are fewer than 2 labels or as many labels as rows (in the sample, when sampled).

    Raises:
        InvalidConfigError: ``sample_size`` < 2.
    """
    if sample_size is not None and sample_size < 2:
        raise InvalidConfigError(f"silhouette sample_size must be >= 2 or None, got {sample_size}")
    labels = np.asarray(labels, dtype=str)
    n = features.shape[0]
    if sample_size is not None and sample_size < n:
        rows = np.random.default_rng(seed).choice(n, size=sample_size, replace=False)
        features, labels = features[rows], labels[rows]
        logger.info("silhouette estimated on %d of %d rows (seed %d)", sample_size, n, seed)
    n_labels = len(set(labels.tolist()))
    if not 2 <= n_labels <= features.shape[0] - 1:
        logger.warning("silhouette undefined for %d labels over %d rows; NaN", n_labels, features.shape[0])
        return float("nan")
    return float(silhouette_score(features, labels, metric="cosine"))


def measure_batch_effects(
    profiles: pd.DataFrame,
    feature_columns: Sequence[str],
    *,
    columns: Sequence[str],
    k: int,
    search: NeighbourSearchConfig = EXACT,
    silhouette_sample_size: int | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Measure, for each metadata column, how well wells are grouped by it in feature space.

    One nearest-neighbour search serves every column's kNN vote.

    Args:
        profiles: One row per well with ``columns`` and ``feature_columns``.
        feature_columns: Feature columns; every value finite.
        columns: Metadata columns to predict (``Metadata_Source``, ``Metadata_Batch``).
        k: Neighbours of the kNN vote, >= 1 (capped at the number of wells - 1).
        search: Exact (the default) or approximate nearest-neighbour search.
        silhouette_sample_size: Wells drawn for the (then approximate) silhouette; None for all.
        seed: Seed of the silhouette's draw.

    Returns:
        ``{"<name>_knn_accuracy", "<name>_silhouette", "<name>_levels"}`` per column, ``<name>`` being
        the column without its ``Metadata_`` prefix, lower-cased (``source``, ``batch``). A column with a
        single level gets NaN scores (logged).

    Raises:
        MissingColumnsError: A column is absent.
        InvalidFeaturesError: A feature is NaN or inf.
        InvalidConfigError: ``k`` < 1.
        InvalidInputError: Fewer than 2 wells.
    """
    if k < 1:
        raise InvalidConfigError(f"batch kNN k must be >= 1, got {k}")
    if len(profiles) < 2:
        raise InvalidInputError(f"batch effects need >= 2 wells, got {len(profiles)}")
    require_metadata(profiles, list(columns), table_name="profiles for batch effects")
    require_features(profiles, list(feature_columns), table_name="profiles for batch effects")
    values = profiles[list(feature_columns)].to_numpy(dtype=np.float64)
    k = min(k, len(values) - 1)
    neighbours: np.ndarray | None = None
    scores: dict[str, float] = {}
    for column in columns:
        name = column.removeprefix("Metadata_").lower()
        labels = profiles[column].astype(str).to_numpy()
        n_levels = len(set(labels))
        scores[f"{name}_levels"] = n_levels
        if n_levels < 2:
            logger.warning("%s has a single level; its batch scores are NaN", column)
            scores[f"{name}_knn_accuracy"] = scores[f"{name}_silhouette"] = float("nan")
            continue
        if neighbours is None:
            neighbours, _ = nearest_neighbours(values, k, config=search)
        scores[f"{name}_knn_accuracy"] = knn_label_accuracy(values, labels, k=k, neighbours=neighbours)
        scores[f"{name}_silhouette"] = label_silhouette(
            values, labels, sample_size=silhouette_sample_size, seed=seed
        )
    logger.info("batch effects over %d wells: %s", len(profiles), scores)
    return scores
