"""Uncertainty of the comparison: per-compound scores, intervals over compounds and seeds, paired differences.

The unit of resampling is the **compound**, never the well: the wells of one compound share its
perturbation (and often its plate map), so they are correlated and resampling them would understate the
uncertainty. Every headline score is written as a ratio over compounds, ``sum(value) / sum(weight)``:

- replicate or mechanism top-k: ``value`` = a compound's query wells with a hit within k, ``weight`` =
  its query wells with an eligible positive, so the ratio is exactly the query-averaged top-k of
  ``summarise_retrieval`` and of the comparison table;
- replicate mAP: ``value`` = the compound's mAP, ``weight`` = 1 (evaluable compounds), so the ratio is
  the mean over compounds of ``summarise_replicability``.

Intervals over compounds are ``scipy.stats.bootstrap`` intervals (``paired=True`` over the two columns
of a compound, BCa by default) of that ratio. Across seeds (one trained model per seed, the same
compounds) the estimate is the mean of the per-seed estimates and its interval a Student t interval
with ``n_seeds - 1`` degrees of freedom (``scipy.stats.t``): it measures what another training seed
would give; the compound interval of the seed-averaged estimate is reported beside it. A paired
difference (MICON minus a peer) is bootstrapped over the same compounds resampled together for both
methods; with seeds, it is the mean of per-seed differences (paired by seed when both methods have
seeds, against the peer's single run otherwise) with a t interval across seeds.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from micon import schema
from micon.errors import InvalidConfigError, InvalidInputError, MissingColumnsError
from micon.evaluation.layout import assign_plate_layouts
from micon.evaluation.metrics import RetrievalConfig, select_evaluated_wells
from micon.evaluation.replicability import EVALUABLE
from micon.evaluation.retrieval import N_ELIGIBLE, hit_column, retrieve_mechanism, retrieve_replicates

logger = logging.getLogger(__name__)

# Columns of a per-compound score table (one row per metric and compound).
SCORE_COLUMNS: tuple[str, ...] = ("metric", schema.JCP2022, "value", "weight")
BOOTSTRAP_METHODS: tuple[str, ...] = ("BCa", "percentile", "basic")


@dataclass(frozen=True, kw_only=True)
class IntervalConfig:
    """How intervals are computed.

    Attributes:
        confidence_level: Two-sided coverage, in (0, 1).
        n_resamples: Bootstrap resamples, >= 100.
        method: ``scipy.stats.bootstrap`` method: BCa, percentile or basic.
        seed: Seed of the bootstrap's generator (every interval is reproducible).
    """

    confidence_level: float
    n_resamples: int
    method: str
    seed: int

    def __post_init__(self) -> None:
        if not 0 < self.confidence_level < 1:
            raise InvalidConfigError(f"confidence_level must be in (0, 1), got {self.confidence_level}")
        if (
            isinstance(self.n_resamples, bool)
            or not isinstance(self.n_resamples, int)
            or self.n_resamples < 100
        ):
            raise InvalidConfigError(f"n_resamples must be an integer >= 100, got {self.n_resamples!r}")
        if self.method not in BOOTSTRAP_METHODS:
            raise InvalidConfigError(f"method must be one of {list(BOOTSTRAP_METHODS)}, got {self.method!r}")


@dataclass(frozen=True)
class Interval:
    """An estimate with its interval and what it was resampled over."""

    estimate: float
    low: float
    high: float
    n_compounds: int
    n_seeds: int
    over: str  # "compounds" or "seeds"


def topk_compound_scores(hits: pd.DataFrame, *, metric: str, k: int = 1) -> pd.DataFrame:
    """Return one row per compound: its query wells with a hit within ``k`` and its counted queries.

    Args:
        hits: ``retrieve_replicates`` or ``retrieve_mechanism`` output (one row per query well).
        metric: Name written in the ``metric`` column (e.g. ``NSS_top1``).
        k: The cut-off; ``hit_at_{k}`` must be present.

    Returns:
        :data:`SCORE_COLUMNS`: ``value`` = hits, ``weight`` = queries with an eligible positive. Compounds
        without such a query cannot be scored and are left out with a logged count (they weigh 0 in
        the query-averaged top-k too).

    Raises:
        MissingColumnsError: A needed column is absent.
    """
    needed = [schema.JCP2022, N_ELIGIBLE, hit_column(k)]
    missing = [c for c in needed if c not in hits.columns]
    if missing:
        raise MissingColumnsError(f"retrieval hits for {metric} lack {missing}; it has {list(hits.columns)}")
    counted = hits.loc[hits[N_ELIGIBLE].to_numpy() > 0]
    grouped = counted.groupby(schema.JCP2022, sort=True)[hit_column(k)]
    table = pd.DataFrame(
        {
            "metric": metric,
            schema.JCP2022: grouped.sum().index.astype(str),
            "value": grouped.sum().to_numpy(dtype=np.float64),
            "weight": grouped.size().to_numpy(dtype=np.float64),
        }
    )
    unscored = hits[schema.JCP2022].nunique() - len(table)
    if unscored:
        logger.info(
            "%s: %d compound(s) have no query with an eligible positive; not scored", metric, unscored
        )
    return table[list(SCORE_COLUMNS)]


def map_compound_scores(
    map_table: pd.DataFrame, *, metric: str, column: str = "mean_average_precision"
) -> pd.DataFrame:
    """Return one row per evaluable compound of a ``replicate_map`` table: ``value`` = mAP, ``weight`` = 1.

    Compounds marked not evaluable (no replicate to rank) are left out, as in ``summarise_replicability``.
    ``column`` = ``"mean_normalized_average_precision"`` gives the mAP above chance instead.

    Raises:
        MissingColumnsError: ``schema.JCP2022`` or ``column`` is absent.
    """
    missing = [c for c in (schema.JCP2022, column) if c not in map_table.columns]
    if missing:
        raise MissingColumnsError(f"mAP table for {metric} lacks {missing}; it has {list(map_table.columns)}")
    if EVALUABLE in map_table.columns:
        map_table = map_table[map_table[EVALUABLE].astype(bool)]
    table = pd.DataFrame(
        {
            "metric": metric,
            schema.JCP2022: map_table[schema.JCP2022].astype(str).to_numpy(),
            "value": map_table[column].to_numpy(dtype=np.float64),
            "weight": 1.0,
        }
    )
    return table.sort_values(schema.JCP2022, kind="stable").reset_index(drop=True)[list(SCORE_COLUMNS)]


def compound_scores(
    profiles: pd.DataFrame, compound_map: pd.DataFrame, config: RetrievalConfig
) -> pd.DataFrame:
    """Return the per-compound scores behind a chain's headline metrics, one row per metric and compound.

    The wells, scenarios and exclusions are those of ``evaluate_profiles`` and
    ``evaluate_mechanism_retrieval``: per scenario ``{scenario}_top1`` (``retrieve_replicates`` hits,
    recomputed here: cheap beside copairs), ``{scenario}_map`` and ``{scenario}_map_above_chance`` (from
    ``compound_map``, the mAP table ``evaluate_profiles`` returned); per present annotation shared by two
    compounds and mechanism scenario ``{annotation}_{scenario}_top1`` (``retrieve_mechanism``;
    ``Metadata_`` dropped, as in the comparison table). Mechanism mAP is scored per annotation group, not
    per compound, so it has no compound scores. For ``config.split_scenarios``, the same scores broken
    down by the query's split (:func:`_split_scores`), so that intervals and paired differences exist for
    the held-out source and the held-out compounds.

    Args:
        profiles: The chain's normalised well profiles.
        compound_map: ``evaluate_profiles``' third output for the same profiles.
        config: The retrieval configuration the profiles were scored with; ``ks`` must hold 1.

    Returns:
        A :data:`SCORE_COLUMNS` table.

    Raises:
        InvalidConfigError: ``config.ks`` lacks 1.
        MissingColumnsError, InvalidInputError: As ``evaluate_profiles``.
    """
    if 1 not in config.ks:
        raise InvalidConfigError(f"compound scores are top-1 scores; ks {list(config.ks)} lack 1")
    if schema.PLATE_LAYOUT not in profiles.columns and schema.WELL in profiles.columns:
        profiles = assign_plate_layouts(profiles)
    selected = select_evaluated_wells(profiles, config)
    features = schema.feature_columns(selected.columns)
    parts = []
    for scenario, exclude_same in config.scenarios.items():
        if any(c not in selected.columns for c in exclude_same):
            continue  # evaluate_profiles skipped it with a logged warning
        hits = retrieve_replicates(
            selected, features, exclude_same=exclude_same, ks=(1,), search=config.search
        )
        parts.append(topk_compound_scores(hits, metric=f"{scenario}_top1"))
        maps = pd.DataFrame()
        if len(compound_map) and "scenario" in compound_map.columns:
            maps = compound_map[compound_map["scenario"] == scenario]
            parts.extend(_map_scores(maps, scenario))
        if scenario in config.split_scenarios:
            parts.extend(_split_scores(selected, hits, maps, scenario))
    for column in [c for c in config.annotation_columns if c in selected.columns]:
        annotated = selected[column].notna() & (selected[column].astype(str) != "")
        treated = selected.loc[~selected[schema.IS_CONTROL].astype(bool) & annotated]
        if not (treated.groupby(column)[schema.JCP2022].nunique() >= 2).any():
            continue
        for scenario in config.mechanism_scenarios:
            exclude_same = config.scenarios[scenario]
            if any(c not in selected.columns for c in exclude_same):
                continue
            hits = retrieve_mechanism(
                selected,
                features,
                annotation_column=column,
                exclude_same=exclude_same,
                ks=(1,),
                search=config.search,
            )
            name = f"{column.removeprefix('Metadata_')}_{scenario}_top1"
            parts.append(topk_compound_scores(hits, metric=name))
    if not parts:
        return pd.DataFrame(
            {c: pd.Series(dtype=object if c in ("metric", schema.JCP2022) else float) for c in SCORE_COLUMNS}
        )
    return pd.concat(parts, ignore_index=True)


def _split_scores(
    selected: pd.DataFrame, hits: pd.DataFrame, maps: pd.DataFrame, scenario: str
) -> list[pd.DataFrame]:
    """Return a scenario's per-compound scores broken down by the query's split (``split_scenarios``).

    Top-1 per split present among the queries (``{scenario}_top1_{split}``: the queries of that split,
    retrieving from the whole evaluated pool), and the mAP of the held-out compounds
    (``{scenario}_map_ood_compound``, ``..._map_above_chance_ood_compound``: compounds with an
    ``ood_compound`` well, scored over all their queries). Nothing when one split is evaluated (the
    headline metric already is that split's).
    """
    if schema.SPLIT not in hits.columns or hits[schema.SPLIT].nunique() < 2:
        return []
    parts = [
        topk_compound_scores(hits.loc[hits[schema.SPLIT] == split], metric=f"{scenario}_top1_{split}")
        for split in schema.SPLITS
        if (hits[schema.SPLIT] == split).any()
    ]
    held_out = selected.loc[selected[schema.SPLIT] == schema.SPLIT_OOD_COMPOUND, schema.JCP2022].astype(str)
    if len(maps) and held_out.size:
        own = maps.loc[maps[schema.JCP2022].astype(str).isin(set(held_out))]
        parts.extend(_map_scores(own, scenario, suffix=f"_{schema.SPLIT_OOD_COMPOUND}"))
    return parts


def _map_scores(maps: pd.DataFrame, scenario: str, suffix: str = "") -> list[pd.DataFrame]:
    """Return ``{scenario}_map{suffix}`` and, where copairs normalised it, ``_map_above_chance{suffix}``."""
    if not len(maps):
        return []
    parts = [map_compound_scores(maps, metric=f"{scenario}_map{suffix}")]
    if "mean_normalized_average_precision" in maps.columns:
        parts.append(
            map_compound_scores(
                maps,
                metric=f"{scenario}_map_above_chance{suffix}",
                column="mean_normalized_average_precision",
            )
        )
    return parts


def _ratio(value: np.ndarray, weight: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.sum(value, axis=axis) / np.sum(weight, axis=axis)


def _ratio_difference(
    value_a: np.ndarray, weight_a: np.ndarray, value_b: np.ndarray, weight_b: np.ndarray, axis: int = -1
) -> np.ndarray:
    return _ratio(value_a, weight_a, axis) - _ratio(value_b, weight_b, axis)


def _bootstrap(
    data: tuple[np.ndarray, ...], statistic, config: IntervalConfig, what: str
) -> tuple[float, float]:
    """Run ``scipy.stats.bootstrap`` over compounds (paired columns); a constant statistic: zero width."""
    estimate = float(statistic(*data))
    with warnings.catch_warnings():
        # A degenerate bootstrap distribution (e.g. identical methods) makes BCa NaN with a warning; it is
        # handled below as the zero-width interval it is.
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.bootstrap(
            data,
            statistic,
            paired=True,
            vectorized=True,
            n_resamples=config.n_resamples,
            confidence_level=config.confidence_level,
            method=config.method,
            rng=np.random.default_rng(config.seed),
        )
    distribution = np.asarray(result.bootstrap_distribution)
    if np.all(distribution == estimate):
        return estimate, estimate
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    if math.isnan(low) or math.isnan(high):
        raise InvalidInputError(f"{what}: the {config.method} bootstrap interval is undefined (NaN)")
    return low, high


def _require_compounds(n: int, what: str) -> None:
    if n < 2:
        raise InvalidInputError(f"{what}: the bootstrap over compounds needs >= 2 scored compounds, got {n}")


def compound_interval(scores: pd.DataFrame, config: IntervalConfig, *, what: str = "scores") -> Interval:
    """Return the ratio estimate of a per-compound score table and its bootstrap interval over compounds.

    Args:
        scores: One metric's rows of a :data:`SCORE_COLUMNS` table (one row per compound).
        config: Confidence level, resamples, method and seed.
        what: Names the scores in errors (method, chain, metric).

    Raises:
        InvalidInputError: Fewer than 2 compounds (the error names the bootstrap over compounds), a
            compound appears twice, or a weight is not positive.
    """
    _check_scores(scores, what)
    _require_compounds(len(scores), what)
    data = (scores["value"].to_numpy(np.float64), scores["weight"].to_numpy(np.float64))
    low, high = _bootstrap(data, _ratio, config, what)
    return Interval(float(_ratio(*data)), low, high, len(scores), 1, "compounds")


def seed_interval(estimates: Sequence[float], config: IntervalConfig, *, what: str = "estimates") -> Interval:
    """Return the mean of per-seed estimates and its Student t interval with ``n - 1`` degrees of freedom.

    Raises:
        InvalidInputError: Fewer than 2 seeds (the error names the t interval across seeds), or a NaN.
    """
    values = np.asarray(list(estimates), dtype=np.float64)
    if len(values) < 2:
        raise InvalidInputError(f"{what}: the t interval across seeds needs >= 2 seeds, got {len(values)}")
    if np.isnan(values).any():
        raise InvalidInputError(f"{what}: a per-seed estimate is NaN: {values.tolist()}")
    mean = float(values.mean())
    scale = float(stats.sem(values))
    if scale == 0.0:
        return Interval(mean, mean, mean, 0, len(values), "seeds")
    low, high = stats.t.interval(config.confidence_level, len(values) - 1, loc=mean, scale=scale)
    return Interval(mean, float(low), float(high), 0, len(values), "seeds")


def _check_scores(scores: pd.DataFrame, what: str) -> None:
    missing = [c for c in SCORE_COLUMNS if c not in scores.columns]
    if missing:
        raise MissingColumnsError(f"{what}: score table lacks {missing}; it has {list(scores.columns)}")
    repeated = scores[schema.JCP2022][scores[schema.JCP2022].duplicated()].unique().tolist()
    if repeated:
        raise InvalidInputError(f"{what}: compound(s) {repeated[:5]} appear more than once")
    if (scores["weight"].to_numpy() <= 0).any():
        raise InvalidInputError(f"{what}: every compound needs a positive weight")


def _aligned(a: pd.DataFrame, b: pd.DataFrame, what: str) -> pd.DataFrame:
    """Join two score tables of one metric on the compound; refuse different compound sets."""
    _check_scores(a, what)
    _check_scores(b, what)
    only_a = sorted(set(a[schema.JCP2022]) - set(b[schema.JCP2022]))
    only_b = sorted(set(b[schema.JCP2022]) - set(a[schema.JCP2022]))
    if only_a or only_b:
        raise InvalidInputError(
            f"{what}: a paired difference needs the same compounds; only in the first: {only_a[:5]}, "
            f"only in the second: {only_b[:5]}"
        )
    return a.merge(b, on=schema.JCP2022, suffixes=("_a", "_b"), validate="one_to_one")


def paired_compound_difference(
    a: pd.DataFrame, b: pd.DataFrame, config: IntervalConfig, *, what: str = "difference"
) -> Interval:
    """Return ``estimate(a) - estimate(b)`` with a paired bootstrap interval over the same compounds.

    Each resample draws compounds once and scores both methods on them, so what the methods share
    (easy and hard compounds) cancels.

    Raises:
        InvalidInputError: The compound sets differ, or fewer than 2 compounds (names the bootstrap).
    """
    joined = _aligned(a, b, what)
    _require_compounds(len(joined), what)
    data = tuple(joined[c].to_numpy(np.float64) for c in ("value_a", "weight_a", "value_b", "weight_b"))
    low, high = _bootstrap(data, _ratio_difference, config, what)
    return Interval(float(_ratio_difference(*data)), low, high, len(joined), 1, "compounds")


def _estimate(scores: pd.DataFrame) -> float:
    return float(_ratio(scores["value"].to_numpy(np.float64), scores["weight"].to_numpy(np.float64)))


def method_interval(runs: Sequence[pd.DataFrame], config: IntervalConfig, *, what: str) -> dict[str, float]:
    """Summarise one metric of one method over its runs (one per seed, or a single run).

    Returns:
        ``estimate`` (mean over seeds of the per-run ratio), ``ci_low``/``ci_high`` (t across seeds when
        there are >= 2 runs, else the bootstrap over compounds), ``compound_ci_low``/``compound_ci_high``
        (bootstrap over compounds of the seed-averaged ratio: each resample draws compounds once for
        every seed), ``n_seeds``, ``n_compounds`` and ``interval`` (``seeds`` or ``compounds``).
    """
    if not runs:
        raise InvalidInputError(f"{what}: no run to summarise")
    first = runs[0]
    for run in runs[1:]:
        _aligned(first, run, what)
    _require_compounds(len(first), what)
    order = first[schema.JCP2022].to_numpy()
    arrays = []
    for run in runs:
        _check_scores(run, what)
        indexed = run.set_index(schema.JCP2022).loc[order]
        arrays += [indexed["value"].to_numpy(np.float64), indexed["weight"].to_numpy(np.float64)]

    def seed_mean(*columns: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.mean([_ratio(columns[i], columns[i + 1], axis) for i in range(0, len(columns), 2)], axis=0)

    compound_low, compound_high = _bootstrap(tuple(arrays), seed_mean, config, what)
    estimate = float(seed_mean(*arrays))
    if len(runs) >= 2:
        seeds = seed_interval([_estimate(run) for run in runs], config, what=what)
        low, high, over = seeds.low, seeds.high, "seeds"
    else:
        low, high, over = compound_low, compound_high, "compounds"
    return {
        "estimate": estimate,
        "ci_low": low,
        "ci_high": high,
        "compound_ci_low": compound_low,
        "compound_ci_high": compound_high,
        "n_seeds": len(runs),
        "n_compounds": len(first),
        "interval": over,
    }


def paired_method_difference(
    runs_a: Mapping[int | None, pd.DataFrame],
    runs_b: Mapping[int | None, pd.DataFrame],
    config: IntervalConfig,
    *,
    what: str,
) -> dict[str, float]:
    """Return method a minus method b on one metric with its interval, paired over compounds and seeds.

    ``runs_a`` / ``runs_b`` map a seed (None for a single unseeded run) to its score table. With one run
    each: the paired bootstrap over compounds. Otherwise the per-seed differences (paired by seed
    where both have that seed; against the single run of the side that has one) are averaged and
    given a t interval across seeds.

    Raises:
        InvalidInputError: Both have several seeds but not the same ones; compound sets differ; too few
            compounds or seeds (the error names the method).
    """
    if len(runs_a) == 1 and len(runs_b) == 1:
        (a,), (b,) = runs_a.values(), runs_b.values()
        result = paired_compound_difference(a, b, config, what=what)
        over, low, high = "compounds", result.low, result.high
        return {
            "difference": result.estimate,
            "ci_low": low,
            "ci_high": high,
            "n_seeds": 1,
            "n_compounds": result.n_compounds,
            "interval": over,
        }
    if len(runs_a) > 1 and len(runs_b) > 1:
        if set(runs_a) != set(runs_b):
            raise InvalidInputError(
                f"{what}: pairing over seeds needs the same seeds, got {sorted(runs_a)} and {sorted(runs_b)}"
            )
        pairs = [(runs_a[s], runs_b[s]) for s in sorted(runs_a)]
    elif len(runs_a) > 1:
        (b,) = runs_b.values()
        pairs = [(runs_a[s], b) for s in sorted(runs_a)]
    else:
        (a,) = runs_a.values()
        pairs = [(a, runs_b[s]) for s in sorted(runs_b)]
    differences = []
    for a, b in pairs:
        joined = _aligned(a, b, what)
        differences.append(
            float(
                _ratio_difference(
                    *(joined[c].to_numpy(np.float64) for c in ("value_a", "weight_a", "value_b", "weight_b"))
                )
            )
        )
    result = seed_interval(differences, config, what=what)
    return {
        "difference": result.estimate,
        "ci_low": result.low,
        "ci_high": result.high,
        "n_seeds": len(pairs),
        "n_compounds": len(pairs[0][0]),
        "interval": "seeds",
    }


INTERVAL_COLUMNS: tuple[str, ...] = (
    "method",
    "chain",
    "metric",
    "estimate",
    "ci_low",
    "ci_high",
    "compound_ci_low",
    "compound_ci_high",
    "n_seeds",
    "n_compounds",
    "interval",
)
DIFFERENCE_COLUMNS: tuple[str, ...] = (
    "method",
    "peer",
    "chain",
    "metric",
    "difference",
    "ci_low",
    "ci_high",
    "n_seeds",
    "n_compounds",
    "interval",
)


def summarise_intervals(
    scores: Mapping[str, Mapping[int | None, Mapping[str, pd.DataFrame]]],
    config: IntervalConfig,
    *,
    reference_method: str = "micon",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return the interval of every (method, chain, metric) and the paired differences against one method.

    Args:
        scores: Method -> seed (None for one unseeded run) -> chain -> :data:`SCORE_COLUMNS` table.
        config: How intervals are computed.
        reference_method: The method every other is compared with (``reference - peer``); no
            difference table rows when it is absent.

    Returns:
        ``(intervals, differences)`` with :data:`INTERVAL_COLUMNS` and :data:`DIFFERENCE_COLUMNS`. A
        metric with fewer than 2 scored compounds gets NaN intervals and a logged warning (it cannot
        be resampled); methods in the order of ``scores``, chains and metrics in first-seen order.
    """
    rows, diffs = [], []
    by_metric: dict[tuple[str, str, str], dict[int | None, pd.DataFrame]] = {}
    for method, seeds in scores.items():
        for seed, chains in seeds.items():
            for chain, table in chains.items():
                for metric, part in table.groupby("metric", sort=False):
                    by_metric.setdefault((method, chain, str(metric)), {})[seed] = part.reset_index(drop=True)
    for (method, chain, metric), runs in by_metric.items():
        what = f"{method} / {chain} / {metric}"
        try:
            summary = method_interval(list(runs.values()), config, what=what)
        except InvalidInputError as exc:
            if "needs >= 2" not in str(exc):
                raise
            logger.warning("%s; interval left NaN", exc)
            summary = _nan_interval(runs)
        rows.append({"method": method, "chain": chain, "metric": metric, **summary})
    for (method, chain, metric), runs in by_metric.items():
        if method == reference_method:
            continue
        reference = by_metric.get((reference_method, chain, metric))
        if reference is None:
            continue
        what = f"{reference_method} - {method} / {chain} / {metric}"
        try:
            summary = paired_method_difference(reference, runs, config, what=what)
        except InvalidInputError as exc:
            if "needs >= 2" not in str(exc):
                raise
            logger.warning("%s; difference interval left NaN", exc)
            summary = {
                "difference": math.nan,
                "ci_low": math.nan,
                "ci_high": math.nan,
                "n_seeds": 0,
                "n_compounds": 0,
                "interval": "",
            }
        diffs.append(
            {"method": reference_method, "peer": method, "chain": chain, "metric": metric, **summary}
        )
    intervals = pd.DataFrame(rows, columns=list(INTERVAL_COLUMNS))
    differences = pd.DataFrame(diffs, columns=list(DIFFERENCE_COLUMNS))
    return intervals, differences


def _nan_interval(runs: Mapping[int | None, pd.DataFrame]) -> dict[str, float]:
    estimates = [_estimate(run) if len(run) else math.nan for run in runs.values()]
    return {
        "estimate": float(np.mean(estimates)) if estimates else math.nan,
        "ci_low": math.nan,
        "ci_high": math.nan,
        "compound_ci_low": math.nan,
        "compound_ci_high": math.nan,
        "n_seeds": len(runs),
        "n_compounds": min((len(run) for run in runs.values()), default=0),
        "interval": "",
    }


def average_over_seeds(table: pd.DataFrame, runs: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Collapse a comparison table's per-run rows into one row per (method, chain): the mean over seeds.

    Args:
        table: One row per run (``method`` holds the run name, e.g. ``micon_seed1``) and ``chain``.
        runs: Method -> its run names; a method with one run keeps its row unchanged.

    Returns:
        The table with ``method`` renamed to the method, numeric columns averaged over its runs, and
        ``n_seeds`` (the number of runs) after ``chain``; methods in the order of ``runs``.

    Raises:
        InvalidInputError: A run of ``runs`` has no row, or a row belongs to no method.
    """
    owner = {run: method for method, names in runs.items() for run in names}
    unknown = sorted(set(table["method"]) - set(owner))
    absent = sorted(set(owner) - set(table["method"]))
    if unknown or absent:
        raise InvalidInputError(f"comparison rows {unknown} belong to no method; runs {absent} have no row")
    renamed = table.assign(method=table["method"].map(owner))
    numeric = [
        c for c in table.columns if c not in ("method", "chain") and pd.api.types.is_numeric_dtype(table[c])
    ]
    grouped = renamed.groupby(["method", "chain"], sort=False)
    averaged = grouped[numeric].mean().reset_index()
    averaged.insert(2, "n_seeds", grouped.size().to_numpy())
    order = {m: i for i, m in enumerate(runs)}
    chains = {c: i for i, c in enumerate(dict.fromkeys(table["chain"]))}
    averaged = averaged.sort_values(
        ["method", "chain"],
        key=lambda s: s.map(order) if s.name == "method" else s.map(chains),
        kind="stable",
    )
    return averaged.reset_index(drop=True)


def with_intervals(table: pd.DataFrame, intervals: pd.DataFrame) -> pd.DataFrame:
    """Add ``{metric}_ci_low`` / ``{metric}_ci_high`` columns to a (method, chain) comparison table.

    The interval of each metric is ``intervals``' ``ci_low``/``ci_high`` (across seeds for a seeded
    method, over compounds otherwise); ``interval`` says which per metric in ``intervals``. A metric
    absent from the table's columns is still added. NaN where a (method, chain) has no interval.
    """
    result = table.copy()
    for metric, part in intervals.groupby("metric", sort=False):
        keyed = part.set_index(["method", "chain"])
        index = pd.MultiIndex.from_frame(table[["method", "chain"]])
        for bound in ("ci_low", "ci_high"):
            result[f"{metric}_{bound}"] = keyed[bound].reindex(index).to_numpy()
    return result


__all__ = [
    "DIFFERENCE_COLUMNS",
    "INTERVAL_COLUMNS",
    "SCORE_COLUMNS",
    "Interval",
    "IntervalConfig",
    "average_over_seeds",
    "compound_interval",
    "compound_scores",
    "map_compound_scores",
    "method_interval",
    "paired_compound_difference",
    "paired_method_difference",
    "seed_interval",
    "summarise_intervals",
    "topk_compound_scores",
    "with_intervals",
]
