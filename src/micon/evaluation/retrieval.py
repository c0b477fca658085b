"""Replicate and mechanism retrieval: is a replicate (or a same-MoA compound) among the k nearest wells."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from micon import schema
from micon.errors import InvalidInputError, MissingColumnsError
from micon.evaluation._checks import control_mask, require_features, require_metadata
from micon.evaluation.neighbours import (
    EXACT,
    NeighbourSearchConfig,
    ProjectedIndex,
    approximate_index,
    sampled_recall,
    similarity_blocks,
    unit_rows,
)

logger = logging.getLogger(__name__)

# Eligible positives of a query: replicates (replicate retrieval) or same-annotation wells of other compounds.
N_ELIGIBLE = "n_eligible_replicates"
# Similarity rows are computed in blocks of queries so memory stays near this many matrix cells.
_BLOCK_CELLS = 2**24
# Inverted lists probed by the rough searches that prove misses before the restricted search, in turn.
_ROUGH_PROBES = (16, 128)


def hit_column(k: int) -> str:
    """Return the name of the boolean column that marks a hit within the top ``k``."""
    return f"hit_at_{k}"


def retrieve_replicates(
    profiles: pd.DataFrame,
    feature_columns: Sequence[str],
    *,
    exclude_same: Sequence[str],
    ks: Sequence[int],
    search: NeighbourSearchConfig = EXACT,
) -> pd.DataFrame:
    """Mark, for each treated well, whether a replicate is among its k most similar wells.

    Wells are ranked by cosine similarity. A candidate is dropped from a query's list when it equals
    the query on any ``exclude_same`` column, judged on the candidate's own metadata, so
    ``("Metadata_Batch",)`` gives NSB and ``("Metadata_Source",)`` gives NSS. Equal similarities are
    ranked by row order. ``retrieve_replicates_at_levels`` scores several levels in one pass.

    Args:
        profiles: One row per well: ``schema.METADATA`` columns plus ``feature_columns``.
        feature_columns: Embedding columns; every value finite.
        exclude_same: Metadata columns a candidate must differ on from its query.
        ks: Cut-offs, each >= 1.
        search: Exact (the default) or approximate (projected, HNSW) nearest-neighbour search.

    Returns:
        One row per treated query well: its metadata, ``n_eligible_replicates`` and a boolean
        ``hit_at_{k}`` per k; queries with no eligible replicate are kept (0, False), not dropped.

    Raises:
        InvalidFeaturesError: A feature is NaN or inf (names the column and the first well).
        ValueError: A k is < 1, or an ``exclude_same`` column is missing.
    """
    levels = retrieve_replicates_at_levels(
        profiles, feature_columns, levels={"level": exclude_same}, ks=ks, search=search
    )
    return levels["level"]


def retrieve_replicates_at_levels(
    profiles: pd.DataFrame,
    feature_columns: Sequence[str],
    *,
    levels: Mapping[str, Sequence[str]],
    ks: Sequence[int],
    search: NeighbourSearchConfig = EXACT,
) -> dict[str, pd.DataFrame]:
    """Return ``retrieve_replicates``' table for each level (name -> ``exclude_same``), from one search.

    The similarities (exact) or the index (projected, HNSW) are computed once and shared by all levels.

    Raises:
        As ``retrieve_replicates``, naming the level's ``exclude_same``.
    """
    ks = _check_ks(ks)
    levels = {name: list(columns) for name, columns in levels.items()}
    for exclude_same in levels.values():
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

    marked = _rank_and_mark(
        treated[list(feature_columns)].to_numpy(dtype=np.float64),
        labels=pd.factorize(treated[schema.JCP2022])[0],
        levels=[[pd.factorize(treated[c])[0] for c in columns] for columns in levels.values()],
        ks=ks,
        search=search,
    )
    tables = {}
    for (name, exclude_same), (hits, n_eligible) in zip(levels.items(), marked, strict=True):
        tables[name] = _hits_table(treated, hits, n_eligible, ks)
        logger.info(
            "retrieval (exclude_same=%s): %d treated queries, %d with an eligible replicate",
            exclude_same,
            len(treated),
            int((n_eligible > 0).sum()),
        )
    return tables


def retrieve_mechanism(
    profiles: pd.DataFrame,
    feature_columns: Sequence[str],
    *,
    annotation_column: str,
    exclude_same: Sequence[str],
    ks: Sequence[int],
    search: NeighbourSearchConfig = EXACT,
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
        search: Exact (the default) or approximate (projected, HNSW) nearest-neighbour search.

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
    [(hits, n_eligible)] = _rank_and_mark(
        annotated[list(feature_columns)].to_numpy(dtype=np.float64),
        labels=pd.factorize(annotated[annotation_column].astype(str))[0],
        levels=[[pd.factorize(annotated[c])[0] for c in [schema.JCP2022, *exclude_same]]],
        ks=ks,
        search=search,
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
    values: np.ndarray,
    *,
    labels: np.ndarray,
    levels: Sequence[Sequence[np.ndarray]],
    ks: tuple[int, ...],
    search: NeighbourSearchConfig = EXACT,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return, per level, (hits (n, len(ks)) bool, n_eligible (n,) int64), every row a query and a candidate.

    A level is a list of code arrays: a candidate is dropped when it is the query or shares a code
    with it in any of them; a positive is a remaining candidate with the query's label. Hand-written:
    no library offers kNN with a per-pair exclusion rule on metadata. Rather than ranking every
    candidate, the query's best positive ``p*`` (highest similarity, lowest row among ties) is found
    from the few positive pairs, and its rank is the number of remaining candidates ranked before it
    (more similar, or as similar with a lower row): a hit at k is a rank < k. That count is read off
    one shared list of each query's nearest rows (all levels at once) when the list reaches below
    ``p*`` or already holds ``max(ks)`` remaining candidates before it; otherwise it is counted over
    every candidate (exact search) or over a search restricted to the remaining candidates of the
    query's exclusion group (approximate search: one restricted search per group of queries sharing
    their codes). Projected search first looks for evidence of a miss: ``max(ks)`` remaining
    candidates before ``p*`` among the rows that ``ProjectedIndex.rough_search`` finds near the query
    (probing more lists in a second round), exact similarities of real rows, so a proof that needs no
    restricted search, and its shared list is searched only for the queries not shown missed at the
    least restrictive level. Exact search equals the full brute-force ranking with ties broken by row;
    projected and HNSW search are approximate.
    """
    n = len(values)
    empty = [(np.zeros((n, len(ks)), dtype=bool), np.zeros(n, dtype=np.int64)) for _ in levels]
    if n <= 1 or not levels:
        return empty
    k_max = max(ks)
    n_list = _list_length(n, k_max)
    q, p = _positive_pairs(labels)
    ranks = [np.full(n, k_max, dtype=np.int64) for _ in levels]
    n_eligible = [np.zeros(n, dtype=np.int64) for _ in levels]
    mode = search.resolve(n)
    if mode == "exact":
        unit = unit_rows(values)
        bounds = np.searchsorted(q, np.arange(n + 1))
        for rows, block in similarity_blocks(unit, block_cells=_BLOCK_CELLS):
            start = int(rows[0])
            block[np.arange(len(rows)), rows] = -np.inf  # the query itself
            top = np.argpartition(-block, n_list - 1, axis=1)[:, :n_list]
            top_sims = np.take_along_axis(block, top, axis=1)
            pair = slice(bounds[start], bounds[rows[-1] + 1])
            pair_sims = block[q[pair] - start, p[pair]]
            for level, codes in enumerate(levels):
                best, best_sim, count = _best_positive(q[pair], p[pair], pair_sims, codes, n=n)
                n_eligible[level][rows] = count[rows]
                has = rows[count[rows] > 0]
                rank, unresolved = _rank_in_list(
                    has,
                    best[has],
                    best_sim[has],
                    top[has - start],
                    top_sims[has - start],
                    codes,
                    k_max,
                    labels,
                )
                if unresolved.any():  # counted over every candidate, for these queries only
                    todo = has[unresolved]
                    lines = block[todo - start]
                    remaining = np.ones(lines.shape, dtype=bool)
                    for c in codes:
                        remaining &= c[None, :] != c[todo][:, None]
                    remaining[np.arange(len(todo)), todo] = False
                    b, s = best[todo][:, None], best_sim[todo][:, None]
                    before = (lines > s) | ((lines == s) & (np.arange(n)[None, :] < b))
                    rank[unresolved] = (remaining & before).sum(axis=1)
                ranks[level][has] = rank
    else:
        index = approximate_index(values, config=search)
        sampled_recall(index, k_max)
        pair_sims = index.pair_similarities(q, p)
        best_of = [_best_positive(q, p, pair_sims, codes, n=n) for codes in levels]
        listed, proven_before = np.arange(n), {}
        if mode == "projected":
            # the shared list only for the queries not shown missed at the least restrictive level
            first = min(range(len(levels)), key=lambda level: len(levels[level]))
            best, best_sim, count = best_of[first]
            has = np.flatnonzero(count > 0)
            proven = _prove_misses(index, has, levels[first], best, best_sim, labels, k_max)
            listed, proven_before[first] = has[~proven], has[proven]
            n_list = max(n_list, min(n - 1, search.projection_candidates))
        slot = np.full(n, -1, dtype=np.int64)
        slot[listed] = np.arange(len(listed))
        top, top_sims = index.search(listed, n_list)
        for level, codes in enumerate(levels):
            best, best_sim, count = best_of[level]
            n_eligible[level] = count
            has = np.flatnonzero(count > 0)
            rank = np.full(len(has), k_max, dtype=np.int64)
            unresolved = np.ones(len(has), dtype=bool)
            on_list = slot[has] >= 0
            rows = has[on_list]
            rank[on_list], unresolved[on_list] = _rank_in_list(
                rows, best[rows], best_sim[rows], top[slot[rows]], top_sims[slot[rows]], codes, k_max, labels
            )
            unresolved &= ~np.isin(has, proven_before.get(level, []))  # shown missed before the list
            todo, n_proven = has[unresolved], len(proven_before.get(level, []))
            if mode == "projected" and level not in proven_before:
                proven = _prove_misses(index, todo, codes, best, best_sim, labels, k_max)
                rank[np.searchsorted(has, todo[proven])] = k_max  # a listed rank may have been partial
                todo, n_proven = todo[~proven], n_proven + int(proven.sum())
            n_todo = len(todo)
            for members, allowed in _exclusion_groups(todo, codes, n):
                rows = todo[members]
                found, found_sims = index.search(rows, k_max, allowed=allowed)
                rank[np.searchsorted(has, rows)] = _before_best(
                    rows, found, found_sims, best, best_sim, labels
                ).sum(axis=1)
            ranks[level][has] = rank
            logger.info(
                "retrieval level %d: %d queries, %d settled by the shared list, %d shown missed by rows near "
                "them, %d by a restricted search",
                level,
                len(has),
                len(has) - n_todo - n_proven,
                n_proven,
                n_todo,
            )
        logger.info("retrieval by %s search over %d wells", mode, n)
    return [(np.stack([r < k for k in ks], axis=1), e) for r, e in zip(ranks, n_eligible, strict=True)]


def _prove_misses(
    index: ProjectedIndex,
    rows: np.ndarray,
    codes: Sequence[np.ndarray],
    best: np.ndarray,
    best_sim: np.ndarray,
    labels: np.ndarray,
    k_max: int,
) -> np.ndarray:
    """Return which of ``rows`` are shown to miss at every k: ``k_max`` rows before their best positive.

    The rows come from ``index.rough_search`` restricted to the allowed rows of each query's exclusion
    group, probing ``_ROUGH_PROBES`` lists in turn (the second round only for the queries the first
    left): real rows with their exact similarity, so a miss shown here is a miss.
    """
    proven = np.zeros(len(rows), dtype=bool)
    for probes in _ROUGH_PROBES:
        todo = np.flatnonzero(~proven)
        for members, allowed in _exclusion_groups(rows[todo], codes, len(labels)):
            queries = rows[todo[members]]
            found, found_sims = index.rough_search(queries, 4 * k_max, allowed=allowed, probes=probes)
            before = _before_best(queries, found, found_sims, best, best_sim, labels)
            proven[todo[members]] = before.sum(axis=1) >= k_max
    return proven


def _exclusion_groups(
    rows: np.ndarray, codes: Sequence[np.ndarray], n: int
) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
    """Yield ``(positions in rows, allowed mask over all n rows)`` per group of rows sharing their codes.

    The allowed rows differ from the group's in every code array (None when there is none: all rows).
    """
    if not len(rows):
        return
    keys = np.stack([c[rows] for c in codes], axis=1) if codes else np.zeros((len(rows), 0))
    _, group = np.unique(keys, axis=0, return_inverse=True)
    group = group.ravel()
    for g in np.unique(group):
        members = np.flatnonzero(group == g)
        allowed = None
        if codes:
            allowed = np.ones(n, dtype=bool)
            for c in codes:
                allowed &= c != c[rows[members[0]]]
        yield members, allowed


def _before_best(
    rows: np.ndarray,
    found: np.ndarray,
    found_sims: np.ndarray,
    best: np.ndarray,
    best_sim: np.ndarray,
    labels: np.ndarray,
) -> np.ndarray:
    """Return which found candidates rank before each query's best positive (rows of its label never do)."""
    b, s = best[rows][:, None], best_sim[rows][:, None]
    other = labels[np.maximum(found, 0)] != labels[rows][:, None]
    return (found >= 0) & other & ((found_sims > s) | ((found_sims == s) & (found < b)))


def _list_length(n: int, k_max: int) -> int:
    """Return how many nearest rows are listed per query: enough to settle most ranks without a fallback."""
    return min(n - 1, max(4 * k_max, 32))


def _positive_pairs(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return every ordered pair (q, p), q != p, of rows with the same label, sorted by q."""
    order = np.argsort(labels, kind="stable")
    _, starts, sizes = np.unique(labels[order], return_index=True, return_counts=True)
    size_of = np.repeat(sizes, sizes)  # per sorted element: its group's size
    start_of = np.repeat(starts, sizes)
    q_sorted = np.repeat(np.arange(len(labels)), size_of)
    offsets = np.arange(len(q_sorted)) - np.repeat(np.cumsum(size_of) - size_of, size_of)
    p_sorted = start_of[q_sorted] + offsets
    q, p = order[q_sorted], order[p_sorted]
    keep = q != p
    q, p = q[keep], p[keep]
    by_query = np.argsort(q, kind="stable")
    return q[by_query], p[by_query]


def _best_positive(
    q: np.ndarray, p: np.ndarray, sims: np.ndarray, codes: Sequence[np.ndarray], *, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return per row its best eligible positive (row), that similarity and its count of eligible positives.

    A pair is eligible when the two rows differ in every code array; the best positive is the most
    similar, the lowest row among ties. Rows without one get -1, -inf and 0.
    """
    eligible = np.ones(len(q), dtype=bool)
    for c in codes:
        eligible &= c[q] != c[p]
    q, p, sims = q[eligible], p[eligible], sims[eligible]
    count = np.bincount(q, minlength=n).astype(np.int64)
    best = np.full(n, -1, dtype=np.int64)
    best_sim = np.full(n, -np.inf)
    if len(q):
        order = np.lexsort((p, -sims, q))
        first = order[np.r_[True, q[order][1:] != q[order][:-1]]]
        best[q[first]], best_sim[q[first]] = p[first], sims[first]
    return best, best_sim, count


def _rank_in_list(
    rows: np.ndarray,
    best: np.ndarray,
    best_sim: np.ndarray,
    top: np.ndarray,
    top_sims: np.ndarray,
    codes: Sequence[np.ndarray],
    k_max: int,
    labels: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Return each query's rank read off its nearest-row list and whether the list could not settle it.

    The rank (remaining candidates before the best positive) is settled when the list reaches below
    the best positive's similarity (every candidate before it is listed) or already holds ``k_max``
    remaining candidates before it (a miss at every k). Rows of the query's label (the query itself,
    its positives) are never counted.
    """
    # positives are never before the best one (in float32 HNSW similarities, rounding could say otherwise)
    remaining = (top >= 0) & (labels[np.maximum(top, 0)] != labels[rows][:, None])
    for c in codes:
        remaining &= c[np.maximum(top, 0)] != c[rows][:, None]
    s, b = best_sim[:, None], best[:, None]
    before = remaining & ((top_sims > s) | ((top_sims == s) & (top < b)))
    rank = np.minimum(before.sum(axis=1), k_max)
    listed_all = top_sims.min(axis=1, initial=np.inf) < best_sim
    return rank, ~(listed_all | (rank >= k_max))
