"""Annotation consistency (copairs): do wells of one MoA or target retrieve other compounds of it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from micon import schema
from micon.errors import InvalidConfigError, InvalidInputError
from micon.evaluation._checks import control_mask, require_features, require_metadata

logger = logging.getLogger(__name__)


def annotation_map(
    profiles: pd.DataFrame,
    feature_columns: Sequence[str],
    *,
    annotation_column: str,
    exclude_same: Sequence[str] = (),
    null_size: int = 10000,
    threshold: float = 0.05,
    seed: int = 0,
    cache_dir: str | Path | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score how well treated wells retrieve wells of other compounds with the same annotation.

    Only treated wells with a non-missing ``annotation_column`` take part. For each, copairs ranks by
    cosine similarity its positives (wells with the same annotation and a different
    ``schema.JCP2022``) among its negatives (wells with a different annotation) and computes average
    precision; per annotation value copairs averages the APs, draws a permutation p-value
    (``null_size``, ``seed``) and corrects by Benjamini-Hochberg. An annotation such as
    ``"a|b"`` (several MoAs) is one label. With ``exclude_same`` (e.g. ``[Metadata_Source]`` for NSS)
    positives and negatives must also differ from the query on every such column, so the ranked list
    is the candidate list of ``retrieve_mechanism``.

    copairs arguments: ``pos_sameby=[annotation]``, ``pos_diffby=[JCP2022, *exclude_same]``,
    ``neg_sameby=[]``, ``neg_diffby=[annotation, *exclude_same]``, ``distance="cosine"``;
    ``mean_average_precision(sameby=[annotation])``.

    Args:
        profiles: One row per well: ``schema.JCP2022``, ``schema.IS_CONTROL``, ``annotation_column``
            and ``feature_columns``.
        feature_columns: Feature columns; every value finite.
        annotation_column: The annotation, e.g. ``Metadata_moa`` or ``Metadata_target``.
        exclude_same: Metadata columns positives and negatives must differ on from the query.
        null_size: Permutations per null distribution, >= 1.
        threshold: Significance level, in (0, 1).
        seed: Seed of the null distributions.
        cache_dir: Where copairs caches null distributions.

    Returns:
        ``(ap_table, map_table)``: one row per annotated treated well (its metadata,
        ``average_precision``, ``n_pos_pairs``, ``n_total_pairs``) and one row per annotation value
        with a scored well (``annotation_column``, ``mean_average_precision``, ``p_value``,
        ``corrected_p_value``, ``below_corrected_p``).

    Raises:
        InvalidConfigError: ``null_size`` < 1 or ``threshold`` outside (0, 1).
        InvalidInputError: No annotation value is shared by two compounds (no positive pair).
        MissingColumnsError: A needed column is absent.
        InvalidFeaturesError: A feature is NaN or inf.
    """
    if null_size < 1 or not 0 < threshold < 1:
        raise InvalidConfigError(f"need null_size >= 1 and 0 < threshold < 1, got {null_size}, {threshold}")
    table_name = f"profiles for {annotation_column} consistency"
    exclude_same = list(exclude_same)
    require_metadata(profiles, [schema.JCP2022, *exclude_same], table_name=table_name)
    if annotation_column not in profiles.columns:
        require_metadata(profiles, [annotation_column], table_name=table_name)
    is_control = control_mask(profiles, table_name=table_name)
    annotated = profiles.loc[~is_control & profiles[annotation_column].notna().to_numpy()]
    annotated = annotated.loc[annotated[annotation_column].astype(str).str.len() > 0].reset_index(drop=True)
    require_features(annotated, list(feature_columns), table_name=table_name)
    from copairs.map import average_precision, mean_average_precision  # noqa: PLC0415 - a nanobind extension, loaded when used (micon.evaluation)
    from copairs.matching import UnpairedException  # noqa: PLC0415 - a nanobind extension, loaded when used (micon.evaluation)

    meta = annotated[list(dict.fromkeys([schema.JCP2022, annotation_column, *exclude_same]))].astype(str)
    try:
        ap = average_precision(
            meta,
            annotated[list(feature_columns)].to_numpy(dtype=np.float64),
            pos_sameby=[annotation_column],
            pos_diffby=[schema.JCP2022, *exclude_same],
            neg_sameby=[],
            neg_diffby=[annotation_column, *exclude_same],
            distance="cosine",
            progress_bar=False,
        )
    except UnpairedException as exc:
        raise InvalidInputError(
            f"{table_name}: no {annotation_column} value is shared by two compounds (differing on "
            f"{exclude_same}) among {len(annotated)} annotated treated wells; consistency is undefined"
        ) from exc
    ap_table = annotated[schema.metadata_columns(annotated.columns)].copy()
    for column in ("average_precision", "n_pos_pairs", "n_total_pairs"):
        ap_table[column] = ap[column].to_numpy()
    scored = ap.loc[ap["n_pos_pairs"] > 0].reset_index(drop=True)
    map_table = mean_average_precision(
        scored,
        sameby=[annotation_column],
        null_size=null_size,
        threshold=threshold,
        seed=seed,
        progress_bar=False,
        cache_dir=cache_dir,
    )
    map_table = map_table[
        [annotation_column, "mean_average_precision", "p_value", "corrected_p_value", "below_corrected_p"]
    ].reset_index(drop=True)
    logger.info(
        "%s consistency: %d wells scored, %d groups, %d below corrected p",
        annotation_column,
        len(scored),
        len(map_table),
        int(map_table["below_corrected_p"].sum()),
    )
    return ap_table, map_table
