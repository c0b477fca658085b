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
from micon.evaluation.neighbours import similarity_blocks, unit_rows

logger = logging.getLogger(__name__)

# Similarities held at once while ranking (about 6 arrays of this many cells are alive per block).
_BLOCK_CELLS = 2**22


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

    The APs are those of copairs ``average_precision`` with ``pos_sameby=[annotation]``,
    ``pos_diffby=[JCP2022, *exclude_same]``, ``neg_sameby=[]``, ``neg_diffby=[annotation,
    *exclude_same]``, ``distance="cosine"``, computed by ``annotation_average_precision`` without
    listing every pair; then ``copairs.map.mean_average_precision(sameby=[annotation])``.

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
    from copairs.map import mean_average_precision  # noqa: PLC0415 - nanobind via duckdb: loaded when used (micon.evaluation)

    meta = annotated[list(dict.fromkeys([schema.JCP2022, annotation_column, *exclude_same]))].astype(str)
    ap = annotation_average_precision(
        annotated[list(feature_columns)].to_numpy(dtype=np.float64),
        compounds=pd.factorize(meta[schema.JCP2022])[0],
        annotations=pd.factorize(meta[annotation_column])[0],
        exclusions=[pd.factorize(meta[c])[0] for c in exclude_same],
    )
    if not (ap["n_pos_pairs"] > 0).any() or not (ap["n_total_pairs"] > ap["n_pos_pairs"]).any():
        raise InvalidInputError(
            f"{table_name}: no {annotation_column} value is shared by two compounds (differing on "
            f"{exclude_same}) among {len(annotated)} annotated treated wells; consistency is undefined"
        )
    ap = pd.concat([meta, ap], axis=1)
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


def annotation_average_precision(
    values: np.ndarray,
    *,
    compounds: np.ndarray,
    annotations: np.ndarray,
    exclusions: Sequence[np.ndarray] = (),
) -> pd.DataFrame:
    """Return copairs' average precision of each row ranking its same-annotation rows among the others.

    For row i, the ranked candidates are the rows of another compound that differ from it in every
    ``exclusions`` code; positives are those with its annotation, negatives the rest. Candidates are
    ranked by cosine similarity, positives before negatives of equal ``1 - similarity`` (as copairs'
    stable sort). The i-th positive's precision is ``i / (i + negatives ranked before it)``.

    Hand-written because copairs lists every (query, negative) pair: with no ``neg_sameby`` that is
    all N^2 pairs in memory. Here the similarities come one block of queries at a time (memory
    O(block x N), time O(N^2 d), the same arithmetic as a full ranking), and the AP per row is read off
    the sorted negative similarities with one ``searchsorted``.

    Args:
        values: ``(n, d)`` finite features.
        compounds: ``(n,)`` compound codes.
        annotations: ``(n,)`` annotation codes.
        exclusions: Code arrays a candidate must differ on from its query.

    Returns:
        One row per input row: ``average_precision`` (NaN without a positive),
        ``normalized_average_precision`` (copairs' ``normalize_ap``), ``n_pos_pairs`` and
        ``n_total_pairs`` (positives plus negatives), as copairs ``average_precision``.
    """
    from copairs.map.normalization import normalize_ap  # noqa: PLC0415 - nanobind via duckdb: loaded when used (micon.evaluation)

    n = len(values)
    average_precision = np.full(n, np.nan)
    n_pos = np.zeros(n, dtype=np.int64)
    n_total = np.zeros(n, dtype=np.int64)
    sentinel = 2.5  # above every 1 - cosine; row r's keys are shifted by 3 r to sort all rows at once
    for rows, block in similarity_blocks(unit_rows(values), block_cells=_BLOCK_CELLS):
        key = 1.0 - block
        candidate = compounds[None, :] != compounds[rows][:, None]
        for codes in exclusions:
            candidate &= codes[None, :] != codes[rows][:, None]
        positive = candidate & (annotations[None, :] == annotations[rows][:, None])
        negative = candidate & ~positive
        n_pos[rows] = positive.sum(axis=1)
        n_total[rows] = candidate.sum(axis=1)
        shift = 3.0 * np.arange(len(rows))[:, None]
        negatives = np.sort(np.where(negative, key, sentinel), axis=1) + shift
        positives = np.sort(np.where(positive, key, sentinel), axis=1) + shift
        m = int(n_pos[rows].max(initial=0))
        if m == 0:
            continue
        positives = positives[:, :m]
        before = np.searchsorted(negatives.ravel(), positives.ravel(), side="left").reshape(positives.shape)
        before -= (np.arange(len(rows)) * n)[:, None]
        i = np.arange(1, m + 1)[None, :]
        is_positive = i <= n_pos[rows][:, None]
        precision = np.where(is_positive, i / (i + before), 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            average_precision[rows] = precision.sum(axis=1) / n_pos[rows]
    with np.errstate(invalid="ignore", divide="ignore"):
        normalized = np.where(n_total > 0, normalize_ap(average_precision, n_pos, n_total - n_pos), np.nan)
    return pd.DataFrame(
        {
            "average_precision": average_precision,
            "normalized_average_precision": normalized,
            "n_pos_pairs": n_pos,
            "n_total_pairs": n_total,
        }
    )
