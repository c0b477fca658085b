"""Replicability against DMSO (the JUMP convention) with copairs: AP per well, mAP per compound."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from micon import schema
from micon.errors import InvalidConfigError, InvalidInputError, NoControlsError
from micon.evaluation._checks import control_mask, require_features, require_metadata
from micon.quarantine import require_columns

logger = logging.getLogger(__name__)

# Private copairs helper column: -1 for treated wells, the row position for each DMSO well, so that
# DMSO wells are never positives of one another (copairs' "reference index" idiom).
_REFERENCE_COLUMN = "Metadata_ReferenceIndex"
_AP_COLUMNS: tuple[str, ...] = (
    "average_precision",
    "normalized_average_precision",
    "n_pos_pairs",
    "n_total_pairs",
)
_MAP_COLUMNS: tuple[str, ...] = (
    "mean_average_precision",
    "mean_normalized_average_precision",
    "p_value",
    "corrected_p_value",
    "below_p",
    "below_corrected_p",
)
EVALUABLE = "evaluable"
NOT_EVALUABLE_REASON = "not_evaluable_reason"


def replicate_map(
    profiles: pd.DataFrame,
    feature_columns: Sequence[str],
    *,
    exclude_same: Sequence[str],
    controls_same: Sequence[str] = schema.PLATE_KEY,
    null_size: int = 10000,
    threshold: float = 0.05,
    seed: int = 0,
    cache_dir: str | Path | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score how well each compound's wells retrieve one another against DMSO wells (copairs mAP).

    For each treated well, copairs ranks by cosine similarity its positives (wells of the same
    ``schema.JCP2022`` that differ from it on every ``exclude_same`` column, so NR/NSB/NSS as in
    ``retrieve_replicates``) together with its negatives (DMSO wells that share the
    ``controls_same`` columns with it: by default its own plate, as the JUMP profiling recipe does)
    and computes average precision. Per compound, copairs averages the APs, draws a permutation
    p-value (``null_size`` draws, ``seed``) and corrects the p-values by Benjamini-Hochberg.

    copairs arguments: ``pos_sameby=[JCP2022, reference]``, ``pos_diffby=exclude_same``,
    ``neg_sameby=controls_same``, ``neg_diffby=[IS_CONTROL]``, ``distance="cosine"``, where
    ``reference`` is -1 for treated wells and unique per DMSO well.

    Args:
        profiles: One row per well (treated and DMSO): ``schema.JCP2022``, ``schema.IS_CONTROL``,
            the ``exclude_same`` and ``controls_same`` columns, and ``feature_columns``.
        feature_columns: Embedding columns; every value finite.
        exclude_same: Metadata columns a positive must differ on from its query.
        controls_same: Metadata columns a DMSO negative must share with its query; empty for all
            DMSO wells.
        null_size: Permutations per null distribution, >= 1.
        threshold: Significance level for ``below_p`` / ``below_corrected_p``, in (0, 1).
        seed: Seed of the null distributions.
        cache_dir: Where copairs caches null distributions (copairs' default ``~/.copairs`` if None).

    Returns:
        ``(ap_table, map_table)``: ``ap_table`` has one row per treated well with its metadata,
        ``average_precision`` (NaN without a positive), copairs' ``normalized_average_precision``,
        ``n_pos_pairs`` and ``n_total_pairs``;
        ``map_table`` has one row per treated compound: ``schema.JCP2022``,
        ``mean_average_precision``, ``p_value``, ``corrected_p_value``, ``below_p``,
        ``below_corrected_p``, ``evaluable`` and ``not_evaluable_reason``. A compound none of whose
        wells has a positive (a single replicate, or replicates that all share an ``exclude_same``
        value) is kept, not dropped: ``evaluable`` False, NaN mAP and p-values, ``below_*`` False, and
        the reason (``single_replicate: ...`` or ``no_replicate_differing_on_...: ...``).

    Raises:
        InvalidConfigError: ``null_size`` < 1 or ``threshold`` outside (0, 1).
        InvalidInputError: No treated well has a positive under ``exclude_same`` (names it), or
            ``exclude_same`` / ``controls_same`` name ``schema.JCP2022`` or ``schema.IS_CONTROL``.
        NoControlsError: No treated well has a DMSO well to be ranked against.
        MissingColumnsError: A needed column is absent.
        InvalidFeaturesError: A feature is NaN or inf.
    """
    if null_size < 1:
        raise InvalidConfigError(f"null_size must be >= 1, got {null_size}")
    if not 0 < threshold < 1:
        raise InvalidConfigError(f"threshold must be in (0, 1), got {threshold}")
    levels = replicate_map_at_levels(
        profiles,
        feature_columns,
        levels={"level": exclude_same},
        controls_same=controls_same,
        null_size=null_size,
        threshold=threshold,
        seed=seed,
        cache_dir=cache_dir,
    )
    return levels["level"]


def replicate_map_at_levels(
    profiles: pd.DataFrame,
    feature_columns: Sequence[str],
    *,
    levels: Mapping[str, Sequence[str]],
    controls_same: Sequence[str] = schema.PLATE_KEY,
    null_size: int = 10000,
    threshold: float = 0.05,
    seed: int = 0,
    cache_dir: str | Path | None = None,
) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Return ``replicate_map``'s ``(ap_table, map_table)`` per level (name -> ``exclude_same``).

    The pairs are copairs' (``copairs.matching.find_pairs``) and so are the rank lists, APs and
    p-values (``build_rank_lists``, ``ap_contiguous``, ``mean_average_precision``); the similarity of
    each pair is copairs' cosine formula on rows normalised once rather than per pair, and the DMSO
    negatives, the same at every level, are paired and scored once for all levels.

    Raises:
        As ``replicate_map``, naming the level's ``exclude_same``.
    """
    if null_size < 1:
        raise InvalidConfigError(f"null_size must be >= 1, got {null_size}")
    if not 0 < threshold < 1:
        raise InvalidConfigError(f"threshold must be in (0, 1), got {threshold}")
    levels = {name: list(columns) for name, columns in levels.items()}
    controls_same = list(controls_same)
    reserved = {schema.JCP2022, schema.IS_CONTROL}
    for exclude_same in levels.values():
        if reserved & set(exclude_same) or reserved & set(controls_same):
            raise InvalidInputError(
                f"exclude_same {exclude_same} and controls_same {controls_same} may not contain "
                f"{sorted(reserved)}"
            )
    table_name = "profiles for replicate mAP"
    level_columns = [c for columns in levels.values() for c in columns]
    pair_columns = list(dict.fromkeys([schema.JCP2022, *level_columns, *controls_same]))
    require_metadata(profiles, pair_columns, table_name=table_name)
    is_control = control_mask(profiles, table_name=table_name)
    require_features(profiles, list(feature_columns), table_name=table_name)
    if not is_control.any():
        raise NoControlsError(f"{table_name}: no DMSO well ({schema.IS_CONTROL} True) to rank against")

    from copairs.matching import find_pairs  # noqa: PLC0415 - nanobind via duckdb: loaded when used (micon.evaluation)

    meta = profiles.loc[:, pair_columns].reset_index(drop=True)
    meta[schema.IS_CONTROL] = is_control
    meta[_REFERENCE_COLUMN] = np.where(is_control, np.arange(len(meta)), -1)
    features = profiles[list(feature_columns)].to_numpy(dtype=np.float64)
    # copairs' cosine (compute.pairwise_cosine) normalises both rows of every pair; once per row here
    # (row-major: pandas hands the features over column-major, which makes every row gather slow)
    unit = np.ascontiguousarray(features / np.linalg.norm(features, axis=1)[:, np.newaxis])
    negatives = find_pairs(meta, sameby=controls_same, diffby=[schema.IS_CONTROL])
    if len(negatives) == 0:
        raise NoControlsError(
            f"no treated well has a DMSO well sharing {controls_same} with it; mAP is undefined"
        )
    ranked_negatives = _RankedNegatives(len(meta), negatives, _pair_cosine(unit, negatives))
    results = {}
    for name, exclude_same in levels.items():
        positives = find_pairs(meta, sameby=[schema.JCP2022, _REFERENCE_COLUMN], diffby=exclude_same)
        if len(positives) == 0:
            raise InvalidInputError(
                f"no treated well has a replicate differing on {exclude_same} (scenario "
                f"exclude_same={exclude_same}); mAP is undefined"
            )
        ap = _average_precision(ranked_negatives, positives, _pair_cosine(unit, positives))
        results[name] = _level_tables(
            profiles, is_control, ap, exclude_same, null_size, threshold, seed, cache_dir
        )
    return results


def _pair_cosine(unit: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Return copairs' float32 cosine similarity of each pair of unit rows, 2**11 pairs at a time.

    copairs' own sum (``np.sum`` of the products along the row), so the values are its bits; small
    blocks (8 MiB of products) stay in cache, where 2**16 pairs (256 MiB) had every block page-faulted.
    """
    out = np.empty(len(pairs), dtype=np.float32)
    step = 2**11
    for start in range(0, len(pairs), step):
        chunk = pairs[start : start + step]
        out[start : start + len(chunk)] = np.sum(unit[chunk[:, 0]] * unit[chunk[:, 1]], axis=1)
    return out


def _ordered_keys(ix: np.ndarray, sims: np.ndarray) -> np.ndarray:
    """Return uint64 keys that sort rank-list entries as copairs does: by row, then by ``1 - sim``.

    copairs (``build_rank_lists``) sorts the entries with ``np.lexsort([1 - sim, ix])`` in float32;
    the high 32 bits here hold the row, the low 32 bits ``1 - sim`` mapped to an unsigned integer of
    the same order (the sign bit flipped for positive floats, every bit for negative ones).
    """
    bits = (np.float32(1) - sims.astype(np.float32, copy=False)).view(np.uint32)
    flip = np.where(bits >> np.uint32(31), np.uint32(0xFFFFFFFF), np.uint32(0x80000000))
    return (ix.astype(np.uint64) << np.uint64(32)) | (bits ^ flip).astype(np.uint64)


class _RankedNegatives:
    """The DMSO negative pairs of every row, sorted once in copairs' rank-list order for all levels.

    copairs' ``build_rank_lists`` sorts every (row, similarity) entry of the positive and negative
    pairs together, once per level; the negatives are the same at every level, so here they are sorted
    once, and a level only places its positives among them (``rank_lists``). The rank lists are those
    of copairs, entry for entry (a positive goes before a negative of equal ``1 - sim``, as copairs'
    stable sort of the positives-first concatenation puts it), and copairs' ``ap_contiguous`` turns them
    into APs; with a NaN similarity copairs' own ``build_rank_lists`` runs instead.
    """

    def __init__(self, n: int, negatives: np.ndarray, sims: np.ndarray) -> None:
        self.n, self.negatives, self.sims = n, negatives, sims
        ix = negatives.ravel()
        self.has_nan = bool(np.isnan(sims).any())
        self.keys = np.sort(_ordered_keys(ix, np.repeat(sims, 2)))
        self.count = np.bincount(ix, minlength=n)
        self.start = np.searchsorted(self.keys, np.arange(n, dtype=np.uint64) << np.uint64(32))

    def rank_lists(
        self, positives: np.ndarray, sims: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return copairs' ``build_rank_lists(positives, negatives, sims, negative sims)``."""
        if self.has_nan or np.isnan(sims).any():
            from copairs.map.average_precision import build_rank_lists  # noqa: PLC0415 - nanobind via duckdb: loaded when used (micon.evaluation)

            return build_rank_lists(positives, self.negatives, sims, self.sims)
        ix = positives.ravel()
        keys = _ordered_keys(ix, np.repeat(sims, 2))
        negatives_before = np.searchsorted(self.keys, keys, side="left") - self.start[ix]
        order = np.argsort(keys, kind="stable")
        positive_count = np.bincount(ix, minlength=self.n)
        first_positive = np.cumsum(positive_count) - positive_count
        positives_before = np.empty(len(ix), dtype=np.int64)
        positives_before[order] = np.arange(len(ix)) - first_positive[ix[order]]
        counts = positive_count + self.count
        paired = np.flatnonzero(counts)
        offset = np.cumsum(counts) - counts
        rel_k_list = np.zeros(int(counts.sum()), dtype=np.uint32)
        rel_k_list[offset[ix] + positives_before + negatives_before] = 1
        paired = paired.astype(np.result_type(positives, self.negatives))  # copairs' dtype: the pairs'
        return paired, rel_k_list, counts[paired].astype(np.uint32)


def _average_precision(
    negatives: _RankedNegatives, positives: np.ndarray, positive_sims: np.ndarray
) -> pd.DataFrame:
    """Return copairs' ``average_precision`` columns per row from its pairs and their similarities.

    The steps of ``copairs.map.average_precision`` after the similarities, with copairs' functions
    (the rank lists as ``build_rank_lists`` makes them, from negatives sorted once).
    """
    from copairs.compute import ap_contiguous  # noqa: PLC0415 - nanobind via duckdb: loaded when used (micon.evaluation)
    from copairs.map.normalization import normalize_ap  # noqa: PLC0415 - nanobind via duckdb: loaded when used (micon.evaluation)

    n = negatives.n
    paired, rel_k_list, counts = negatives.rank_lists(positives, positive_sims)
    ap_scores, null_confs = ap_contiguous(rel_k_list, counts)
    table = pd.DataFrame(
        {
            "average_precision": np.nan,
            "normalized_average_precision": np.nan,
            "n_pos_pairs": np.zeros(n, dtype=np.int64),
            "n_total_pairs": np.zeros(n, dtype=np.int64),
        },
        index=np.arange(n),
    )
    table.loc[paired, "average_precision"] = ap_scores
    table.loc[paired, "n_pos_pairs"] = null_confs[:, 0]
    table.loc[paired, "n_total_pairs"] = null_confs[:, 1]
    table.loc[paired, "normalized_average_precision"] = normalize_ap(
        ap_scores, null_confs[:, 0], null_confs[:, 1] - null_confs[:, 0]
    )
    return table


def _level_tables(
    profiles: pd.DataFrame,
    is_control: np.ndarray,
    ap: pd.DataFrame,
    exclude_same: list[str],
    null_size: int,
    threshold: float,
    seed: int,
    cache_dir: str | Path | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return one level's ``(ap_table, map_table)`` from its per-row APs (copairs' mAP and p-values)."""
    ap_table = profiles.loc[:, schema.metadata_columns(profiles.columns)].reset_index(drop=True)
    for column in _AP_COLUMNS:
        ap_table[column] = ap[column].to_numpy()
    ap_table = ap_table.loc[~is_control].reset_index(drop=True)
    _warn_unranked(ap_table)

    scored = ap_table.loc[ap_table["n_pos_pairs"] > 0, [schema.JCP2022, *_AP_COLUMNS]].copy()
    map_table = _mean_average_precision(
        scored.reset_index(drop=True),
        sameby=[schema.JCP2022],
        null_size=null_size,
        threshold=threshold,
        seed=seed,
        cache_dir=cache_dir,
    )
    # copairs' normalised AP, (AP - chance) / (1 - chance) with chance = positives / ranked wells, averaged
    # per compound as copairs averages AP: 0 at chance whatever a well's number of replicates and DMSO wells.
    normalized = scored.groupby(schema.JCP2022, sort=False)["normalized_average_precision"].mean()
    map_table["mean_normalized_average_precision"] = (
        map_table[schema.JCP2022].map(normalized).astype(np.float64)
    )
    map_table = _with_not_evaluable(
        map_table.loc[:, [schema.JCP2022, *_MAP_COLUMNS]].reset_index(drop=True), ap_table, exclude_same
    )
    logger.info(
        "replicate mAP (exclude_same=%s): %d wells scored, %d evaluable compounds, %d below corrected p < %s",
        exclude_same,
        len(scored),
        int(map_table[EVALUABLE].sum()),
        int(map_table["below_corrected_p"].sum()),
        threshold,
    )
    return ap_table, map_table


def _mean_average_precision(
    ap_scores: pd.DataFrame,
    *,
    sameby: list[str],
    null_size: int,
    threshold: float,
    seed: int,
    cache_dir: str | Path | None,
) -> pd.DataFrame:
    """Return ``copairs.map.mean_average_precision``'s table, its values bit for bit, in less time.

    copairs' steps with its functions (``get_null_dists``, ``apply_fdr_correction``) and its
    arithmetic; what differs is the p-value loop. copairs averages, for every group, the null
    distributions of its rows' (positives, ranked) configurations and counts the null mAPs above the
    group's mAP, one thread task per group; groups whose rows have the same configurations in the same
    order share that average, so it is computed once per such sequence (the same numpy mean, so the
    same bits), sorted, and the counts read off it with ``searchsorted`` for all of them at once.
    """
    from copairs.compute import get_null_dists  # noqa: PLC0415 - nanobind via duckdb: loaded when used (micon.evaluation)
    from copairs.map.hierarchical_fdr import apply_fdr_correction  # noqa: PLC0415 - nanobind via duckdb: loaded when used (micon.evaluation)

    ap_scores = ap_scores.query("~average_precision.isna() and n_pos_pairs > 0").reset_index(drop=True)
    null_confs, rev_ix = np.unique(
        ap_scores[["n_pos_pairs", "n_total_pairs"]].to_numpy(), axis=0, return_inverse=True
    )
    rev_ix = rev_ix.ravel()
    null_dists = get_null_dists(null_confs, null_size, seed=seed, cache_dir=cache_dir, progress_bar=False)
    grouped = ap_scores.groupby(sameby, observed=True, as_index=False)
    map_scores = grouped.agg({"average_precision": "mean", "normalized_average_precision": "mean"})
    map_scores.columns = [*sameby, "mean_average_precision", "mean_normalized_average_precision"]
    group = grouped.ngroup().to_numpy()
    order = np.argsort(group, kind="stable")  # each group's rows in row order, as copairs lists them
    bounds = np.cumsum(np.bincount(group, minlength=len(map_scores)))[:-1]
    sequences: dict[tuple[int, ...], list[int]] = {}
    for g, confs in enumerate(np.split(rev_ix[order], bounds)):
        sequences.setdefault(tuple(confs.tolist()), []).append(g)
    means = map_scores["mean_average_precision"].to_numpy()
    p_values = np.empty(len(map_scores), dtype=np.float64)
    for confs, groups in sequences.items():
        null_dist = null_dists[np.asarray(confs)].mean(axis=0)
        at_or_below = np.searchsorted(np.sort(null_dist).astype(np.float64), means[groups], side="right")
        p_values[groups] = (null_size - at_or_below + 1) / (null_size + 1)
    map_scores["p_value"] = p_values
    map_scores = apply_fdr_correction(map_scores)
    map_scores["below_p"] = map_scores["p_value"] < threshold
    map_scores["below_corrected_p"] = map_scores["corrected_p_value"] < threshold
    return map_scores


def summarise_replicability(map_table: pd.DataFrame) -> dict[str, float]:
    """Return the mean of the per-compound mAPs, the same above chance, and the fraction retrieved.

    A compound's AP against DMSO has a chance level of about its positives' share of the ranked wells (a
    third for 8 replicates against 16 DMSO wells), the same for every representation; inactive compounds
    sit there for all of them, the known truth included. ``map_above_chance`` averages copairs'
    normalised AP, ``(AP - chance) / (1 - chance)``, so it is 0 at chance and comparable across levels
    whose queries have different numbers of replicates.

    Args:
        map_table: The second output of ``replicate_map``.

    Returns:
        ``{"map": mean mAP over compounds, "map_above_chance": mean of the per-compound normalised
        mAPs (NaN when the table lacks ``mean_normalized_average_precision``), "fraction_retrieved":
        share with corrected p below the threshold}``, over the evaluable compounds (``evaluable``,
        where the column is present); all NaN when there is none.

    Raises:
        MissingColumnsError: ``mean_average_precision`` or ``below_corrected_p`` is absent.
    """
    require_columns(map_table, ["mean_average_precision", "below_corrected_p"], table_name="mAP table")
    if EVALUABLE in map_table.columns:
        map_table = map_table[map_table[EVALUABLE].astype(bool)]
    if map_table.empty:
        return {"map": float("nan"), "map_above_chance": float("nan"), "fraction_retrieved": float("nan")}
    above = map_table.get("mean_normalized_average_precision")
    return {
        "map": float(map_table["mean_average_precision"].mean()),
        "map_above_chance": float(above.mean()) if above is not None else float("nan"),
        "fraction_retrieved": float(map_table["below_corrected_p"].astype(bool).mean()),
    }


def _with_not_evaluable(
    map_table: pd.DataFrame, ap_table: pd.DataFrame, exclude_same: list[str]
) -> pd.DataFrame:
    """Add a row for every treated compound without a scored well, marked not evaluable with its reason."""
    wells = ap_table.groupby(schema.JCP2022, sort=False, dropna=False).size()
    absent = wells[~wells.index.isin(map_table[schema.JCP2022])]
    rows = pd.DataFrame(
        {
            schema.JCP2022: absent.index,
            "mean_average_precision": np.nan,
            "mean_normalized_average_precision": np.nan,
            "p_value": np.nan,
            "corrected_p_value": np.nan,
            "below_p": False,
            "below_corrected_p": False,
            EVALUABLE: False,
            NOT_EVALUABLE_REASON: [
                f"single_replicate: compound {c} has 1 treated well; mAP needs a replicate"
                if n == 1
                else f"no_replicate_differing_on_{'_'.join(exclude_same)}: its {n} wells share {exclude_same}"
                for c, n in absent.items()
            ],
        }
    )
    if len(rows):
        logger.warning(
            "replicate mAP (exclude_same=%s): %d compound(s) not evaluable, kept with their reason: %s",
            exclude_same,
            len(rows),
            rows[NOT_EVALUABLE_REASON].str.split(":").str[0].value_counts().to_dict(),
        )
    evaluable = map_table.assign(**{EVALUABLE: True, NOT_EVALUABLE_REASON: ""})
    if rows.empty:
        return evaluable
    return pd.concat([evaluable, rows.astype({EVALUABLE: bool})], ignore_index=True)


def _warn_unranked(ap_table: pd.DataFrame) -> None:
    """Log treated wells that copairs scored without any DMSO negative (their AP is trivially 1)."""
    no_negatives = (ap_table["n_pos_pairs"] > 0) & (ap_table["n_total_pairs"] == ap_table["n_pos_pairs"])
    if no_negatives.any():
        logger.warning(
            "%d treated well(s) have replicates but no DMSO negative; their AP is 1 by construction",
            int(no_negatives.sum()),
        )
