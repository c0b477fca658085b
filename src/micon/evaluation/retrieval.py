"""Replicate and mechanism retrieval: is a replicate (or a same-MoA compound) among the k nearest wells."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from micon import schema
from micon.errors import InvalidInputError, MissingColumnsError
from micon.evaluation._checks import control_mask, require_features, require_metadata

logger = logging.getLogger(__name__)

# Eligible positives of a query: replicates (replicate retrieval) or same-annotation wells of other compounds.
N_ELIGIBLE = "n_eligible_replicates"
# Similarity rows are computed in blocks of queries so memory stays near this many matrix cells.
_BLOCK_CELLS = 2**24


def hit_column(k: int) -> str:
    """Return the name of the boolean column that marks a hit within the top ``k``."""
    return f"hit_at_{k}"


def retrieve_replicates(
    profiles: pd.DataFrame,
    feature_columns: Sequence[str],
    *,
    exclude_same: Sequence[str],
    ks: Sequence[int],
) -> pd.DataFrame:
    """Mark, for each treated well, whether a replicate is among its k most similar wells.

    Wells are ranked by cosine similarity. A candidate is dropped from a query's list when it equals
    the query on any ``exclude_same`` column, judged on the candidate's own metadata, so
    ``("Metadata_Batch",)`` gives NSB and ``("Metadata_Source",)`` gives NSS.

    Args:
        profiles: One row per well: ``schema.METADATA`` columns plus ``feature_columns``.
        feature_columns: Embedding columns; every value finite.
        exclude_same: Metadata columns a candidate must differ on from its query.
        ks: Cut-offs, each >= 1.

    Returns:
        One row per treated query well: its metadata, ``n_eligible_replicates`` and a boolean
        ``hit_at_{k}`` per k; queries with no eligible replicate are kept (0, False), not dropped.

    Raises:
        InvalidFeaturesError: A feature is NaN or inf (names the column and the first well).
        ValueError: A k is < 1, or an ``exclude_same`` column is missing.
    """
    ks = _check_ks(ks)
    exclude_same = list(exclude_same)
    if schema.JCP2022 in exclude_same:
        raise InvalidInputError(
            f"exclude_same {exclude_same} contains {schema.JCP2022}: no candidate could be a replicate"
        )
    try:
        require_metadata(profiles, [schema.JCP2022, *exclude_same], table_name="profiles for retrieval")
    except MissingColumnsError as exc:
        raise MissingColumnsError(f"{exc}; exclude_same was {exclude_same}") from exc
    is_control = control_mask(profiles, table_name="profiles for retrieval")
    treated = profiles.loc[~is_control]
    require_features(treated, list(feature_columns), table_name="profiles for retrieval")

    hits, n_eligible = _rank_and_mark(
        treated[list(feature_columns)].to_numpy(dtype=np.float64),
        labels=pd.factorize(treated[schema.JCP2022])[0],
        exclusion_codes=[pd.factorize(treated[c])[0] for c in exclude_same],
        ks=ks,
    )
    result = _hits_table(treated, hits, n_eligible, ks)
    logger.info(
        "retrieval (exclude_same=%s): %d treated queries, %d with an eligible replicate",
        exclude_same,
        len(result),
        int((n_eligible > 0).sum()),
    )
    return result


def retrieve_mechanism(
    profiles: pd.DataFrame,
    feature_columns: Sequence[str],
    *,
    annotation_column: str,
    exclude_same: Sequence[str],
    ks: Sequence[int],
) -> pd.DataFrame:
    """Mark, for each annotated treated well, whether another compound of its annotation is in its top k.

    Queries and candidates are the treated wells with a non-empty ``annotation_column`` (DMSO never
    takes part). A candidate is dropped from a query's list when it is of the same compound
    (``schema.JCP2022``) or equals the query on any ``exclude_same`` column (judged on the
    candidate's metadata, as ``retrieve_replicates``); a hit is a remaining candidate with the same
    annotation, so a compound's own replicates never count. ``"a|b"`` is one label.

    Args:
        profiles: One row per well: ``schema.JCP2022``, ``schema.IS_CONTROL``, ``annotation_column``,
            the ``exclude_same`` columns and ``feature_columns``.
        feature_columns: Feature columns; every value finite.
        annotation_column: The mechanism (or target) annotation, e.g. ``Metadata_MoA``.
        exclude_same: Metadata columns a candidate must differ on from its query.
        ks: Cut-offs, each >= 1.

    Returns:
        One row per annotated treated query well: its metadata, ``n_eligible_replicates`` (here: the
        wells of other compounds with its annotation left after the exclusions) and ``hit_at_{k}``.

    Raises:
        MissingColumnsError: A needed column is absent.
        InvalidInputError: A k is < 1, or ``exclude_same`` names ``schema.JCP2022`` or the annotation.
        InvalidFeaturesError: A feature is NaN or inf.
    """
    ks = _check_ks(ks)
    exclude_same = list(exclude_same)
    if {schema.JCP2022, annotation_column} & set(exclude_same):
        raise InvalidInputError(
            f"exclude_same {exclude_same} may not contain {schema.JCP2022} or {annotation_column}"
        )
    table_name = f"profiles for {annotation_column} retrieval"
    require_metadata(profiles, [schema.JCP2022, *exclude_same], table_name=table_name)
    if annotation_column not in profiles.columns:
        raise MissingColumnsError(f"{table_name} lack {annotation_column!r}; it has {list(profiles.columns)}")
    is_control = control_mask(profiles, table_name=table_name)
    labels = profiles[annotation_column]
    annotated = profiles.loc[~is_control & labels.notna().to_numpy() & (labels.astype(str) != "").to_numpy()]
    require_features(annotated, list(feature_columns), table_name=table_name)
    hits, n_eligible = _rank_and_mark(
        annotated[list(feature_columns)].to_numpy(dtype=np.float64),
        labels=pd.factorize(annotated[annotation_column].astype(str))[0],
        exclusion_codes=[pd.factorize(annotated[c])[0] for c in [schema.JCP2022, *exclude_same]],
        ks=ks,
    )
    result = _hits_table(annotated, hits, n_eligible, ks)
    logger.info(
        "%s retrieval (exclude_same=%s): %d annotated treated queries, %d with an eligible positive",
        annotation_column,
        exclude_same,
        len(result),
        int((n_eligible > 0).sum()),
    )
    return result


def summarise_retrieval(hits: pd.DataFrame, ks: Sequence[int]) -> dict[str, float]:
    """Return top-k accuracy over the queries that have at least one eligible replicate.

    Args:
        hits: The output of ``retrieve_replicates``.
        ks: Cut-offs to report; each needs its ``hit_at_{k}`` column.

    Returns:
        ``{"top{k}": share of counted queries with a hit within k, ..., "n_queries": number counted}``;
        the accuracies are NaN (with a logged warning) when no query has an eligible replicate.

    Raises:
        MissingColumnsError: ``n_eligible_replicates`` or a ``hit_at_{k}`` column is absent.
        InvalidInputError: A k is < 1.
    """
    ks = _check_ks(ks)
    columns = [N_ELIGIBLE, *(hit_column(k) for k in ks)]
    missing = [c for c in columns if c not in hits.columns]
    if missing:
        raise MissingColumnsError(f"retrieval hits lack column(s) {missing}; it has {list(hits.columns)}")
    counted = hits[N_ELIGIBLE].to_numpy() > 0
    n_queries = int(counted.sum())
    if n_queries == 0:
        logger.warning("no query has an eligible replicate; top-k accuracies are NaN")
    summary: dict[str, float] = {
        f"top{k}": float(hits.loc[counted, hit_column(k)].mean()) if n_queries else float("nan") for k in ks
    }
    summary["n_queries"] = n_queries
    return summary


def _hits_table(
    queries: pd.DataFrame, hits: np.ndarray, n_eligible: np.ndarray, ks: tuple[int, ...]
) -> pd.DataFrame:
    """Return the queries' metadata with ``n_eligible_replicates`` and one ``hit_at_{k}`` column per k."""
    result = queries.loc[:, schema.metadata_columns(queries.columns)].reset_index(drop=True)
    result[N_ELIGIBLE] = n_eligible
    for j, k in enumerate(ks):
        result[hit_column(k)] = hits[:, j]
    return result


def _check_ks(ks: Sequence[int]) -> tuple[int, ...]:
    """Return ``ks`` as a tuple of ints after refusing an empty list or a k < 1."""
    ks = tuple(ks)
    if not ks:
        raise InvalidInputError("ks is empty; give at least one cut-off >= 1")
    bad = [k for k in ks if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1]
    if bad:
        raise InvalidInputError(f"every k must be an integer >= 1; got {bad} in {list(ks)}")
    return tuple(int(k) for k in ks)


def _rank_and_mark(
    values: np.ndarray, *, labels: np.ndarray, exclusion_codes: list[np.ndarray], ks: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Return (hits (n, len(ks)) bool, n_eligible (n,) int64), every row a query and a candidate.

    A candidate is dropped when it is the query or shares a code with it in any of
    ``exclusion_codes``; a positive is a remaining candidate with the query's label. Hand-written
    with numpy: no library offers kNN with a per-pair exclusion rule on metadata; the similarity
    matrix is built one block of queries at a time. Ties are broken arbitrarily.
    """
    n = len(values)
    if n == 0:
        return np.zeros((0, len(ks)), dtype=bool), np.zeros(0, dtype=np.int64)
    k_max = min(max(ks), n)
    norms = np.linalg.norm(values, axis=1, keepdims=True)
    # A zero profile has no direction: it gets similarity 0 to everything rather than NaN.
    values = values / np.maximum(norms, np.finfo(np.float64).tiny)
    hits = np.zeros((n, len(ks)), dtype=bool)
    n_eligible = np.zeros(n, dtype=np.int64)
    block = max(1, _BLOCK_CELLS // max(n, 1))
    for start in range(0, n, block):
        stop = min(n, start + block)
        rows = np.arange(start, stop)
        similarity = values[start:stop] @ values.T
        excluded = np.zeros_like(similarity, dtype=bool)
        for codes in exclusion_codes:
            excluded |= codes[start:stop, None] == codes[None, :]
        excluded[rows - start, rows] = True  # the query itself
        eligible = (labels[start:stop, None] == labels[None, :]) & ~excluded
        n_eligible[start:stop] = eligible.sum(axis=1)
        similarity[excluded] = -np.inf

        if k_max < n:
            top = np.argpartition(-similarity, k_max - 1, axis=1)[:, :k_max]
        else:
            top = np.broadcast_to(np.arange(n), similarity.shape)
        order = np.argsort(-np.take_along_axis(similarity, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        # Excluded candidates can fill the list when too few remain; they are never eligible.
        found = np.logical_or.accumulate(np.take_along_axis(eligible, top, axis=1), axis=1)
        for j, k in enumerate(ks):
            hits[start:stop, j] = found[:, min(k, k_max) - 1]
    return hits, n_eligible
