"""Nodes of the bbbc021_evaluation pipeline: well profiles, NSC/NSCB MoA accuracy, replicate mAP."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pandas as pd

from micon.evaluation import aggregate_to_wells
from micon.evaluation.moa_classification import MoaEvaluationConfig, evaluate_moa_profiles

logger = logging.getLogger(__name__)


def aggregate_bbbc021_wells(crop_embeddings: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """Aggregate crop embeddings to one profile per well."""
    return aggregate_to_wells(crop_embeddings, **params)


def evaluate_bbbc021_moa(
    well_profiles: pd.DataFrame, params: dict[str, Any]
) -> tuple[dict[str, float], pd.DataFrame]:
    """Score 1-NN MoA accuracy (NSC, NSCB) of treatment profiles and cross-plate replicate mAP."""
    return evaluate_moa_profiles(well_profiles, MoaEvaluationConfig(**params))


def collect_bbbc021_metrics(
    *metrics: dict[str, float], methods: Sequence[str]
) -> dict[str, dict[str, float]]:
    """Gather every method's BBBC021 metrics (in the order of ``methods``) into ``{method: metrics}``."""
    table = dict(zip(methods, metrics, strict=True))
    for method, values in table.items():
        logger.info(
            "%s: NSC %.3f, NSCB %.3f, replicate mAP %.3f",
            method,
            values["NSC"],
            values["NSCB"],
            values["replicate_map"],
        )
    return table
