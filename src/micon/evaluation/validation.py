"""Score a representation on validation wells exactly as the report scores the test wells (for tuning)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from micon.errors import InvalidInputError
from micon.evaluation.aggregate import aggregate_to_wells
from micon.evaluation.chain import NormalizationConfig, normalize_profiles
from micon.evaluation.metrics import RetrievalConfig, evaluate_profiles

__all__ = ["VALIDATION_METRICS", "score_split"]

VALIDATION_METRICS: tuple[str, ...] = ("top1", "top5", "map", "map_above_chance")


def score_split(
    embeddings: pd.DataFrame,
    *,
    split: str,
    level: str,
    chain: str,
    aggregation: Mapping[str, Any],
    normalization: NormalizationConfig,
    retrieval: RetrievalConfig,
) -> dict[str, float]:
    """Return replicate retrieval among the wells of one split, as the report computes it on the test wells.

    Crops -> well means (``aggregation``) -> ``chain`` of ``normalization`` (fitted on the wells given, so
    pass only the split's plates) -> replicate retrieval of ``retrieval`` restricted to ``split``.

    Returns:
        ``{"<split>_<level>_<metric>"}`` for every level scored and metric of :data:`VALIDATION_METRICS`.

    Raises:
        InvalidInputError: ``level`` was not scored on these wells (names the scored levels).
    """
    profiles = aggregate_to_wells(embeddings, **aggregation)
    normalized, _ = normalize_profiles(profiles, normalization, chain=chain)
    summary, _, _ = evaluate_profiles(normalized, replace(retrieval, splits=(split,)))
    if level not in summary:
        raise InvalidInputError(
            f"level {level!r} was not scored on the {split!r} wells; scored: {sorted(summary)}"
        )
    return {
        f"{split}_{name}_{metric}": float(scores.get(metric, np.nan))
        for name, scores in summary.items()
        for metric in VALIDATION_METRICS
    }
