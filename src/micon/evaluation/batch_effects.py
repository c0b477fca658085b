"""How much batch remains in profiles: kNN accuracy of predicting the batch or source, and silhouette."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import silhouette_score
from sklearn.neighbors import NearestNeighbors

from micon.errors import InvalidConfigError, InvalidInputError
from micon.evaluation._checks import require_features, require_metadata

logger = logging.getLogger(__name__)


def knn_label_accuracy(features: np.ndarray, labels: Sequence[str], *, k: int) -> float:
    """Return the leave-one-out accuracy of predicting each row's label from its k cosine neighbours.

    Each row's k nearest other rows (sklearn ``NearestNeighbors``, cosine distance, brute force,
    the row itself excluded) vote; the most common label wins, a tie going to the label seen first
    in ``labels``. High accuracy means the label (batch, source) is still readable from the profile.

    Args:
        features: ``(n, d)`` float matrix, finite.
        labels: ``n`` labels.
        k: Neighbours per row, 1 <= k < n.

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
    neighbours = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(features)
    indices = neighbours.kneighbors(return_distance=False)  # without X: a row is not its own neighbour
    votes = np.zeros((n, codes.max() + 1), dtype=np.int64)
    np.add.at(votes, (np.repeat(np.arange(n), k), codes[indices].ravel()), 1)
    return float((votes.argmax(axis=1) == codes).mean())


def label_silhouette(features: np.ndarray, labels: Sequence[str]) -> float:
    """Return the mean cosine silhouette of rows grouped by label (sklearn), NaN when undefined.

    Near 0 or below: the labels are mixed (little batch left); near 1: well separated.

    Args:
        features: ``(n, d)`` float matrix, finite.
        labels: ``n`` labels.

    Returns:
        ``sklearn.metrics.silhouette_score(features, labels, metric="cosine")``, or NaN (logged) when
        there are fewer than 2 labels or as many labels as rows.
    """
    n_labels = pd.Series(labels, dtype=str).nunique()
    if not 2 <= n_labels <= features.shape[0] - 1:
        logger.warning("silhouette undefined for %d labels over %d rows; NaN", n_labels, features.shape[0])
        return float("nan")
    return float(silhouette_score(features, np.asarray(labels, dtype=str), metric="cosine"))


def measure_batch_effects(
    profiles: pd.DataFrame, feature_columns: Sequence[str], *, columns: Sequence[str], k: int
) -> dict[str, float]:
    """Measure, for each metadata column, how well wells are grouped by it in feature space.

    Args:
        profiles: One row per well with ``columns`` and ``feature_columns``.
        feature_columns: Feature columns; every value finite.
        columns: Metadata columns to predict (``Metadata_Source``, ``Metadata_Batch``).
        k: Neighbours of the kNN vote, >= 1 (capped at the number of wells - 1).

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
        scores[f"{name}_knn_accuracy"] = knn_label_accuracy(values, labels, k=min(k, len(values) - 1))
        scores[f"{name}_silhouette"] = label_silhouette(values, labels)
    logger.info("batch effects over %d wells: %s", len(profiles), scores)
    return scores
