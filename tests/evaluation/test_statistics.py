from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from micon import schema
from micon.errors import InvalidConfigError, InvalidInputError
from micon.evaluation.retrieval import N_ELIGIBLE, hit_column
from micon.evaluation.statistics import (
    IntervalConfig as _IntervalConfig,
)
from micon.evaluation.statistics import (
    average_over_seeds,
    compound_interval,
    map_compound_scores,
    method_interval,
    paired_compound_difference,
    paired_method_difference,
    seed_interval,
    summarise_intervals,
    topk_compound_scores,
    with_intervals,
)


def IntervalConfig(  # noqa: N802 - the config with test defaults (conf/base holds the real ones)
    confidence_level: float = 0.95, n_resamples: int = 999, method: str = "BCa", seed: int = 0
) -> _IntervalConfig:
    return _IntervalConfig(
        confidence_level=confidence_level, n_resamples=n_resamples, method=method, seed=seed
    )


def _scores(values, weights=None, metric="NR_top1") -> pd.DataFrame:
    values = np.asarray(values, dtype=float)
    return pd.DataFrame(
        {
            "metric": metric,
            schema.JCP2022: [f"C{i:03d}" for i in range(len(values))],
            "value": values,
            "weight": np.ones(len(values)) if weights is None else np.asarray(weights, dtype=float),
        }
    )


def test_bootstrap_interval_covers_the_mean_at_close_to_the_nominal_rate():
    config = IntervalConfig(n_resamples=999, method="BCa")
    rng = np.random.default_rng(123)
    repetitions, covered = 200, 0
    for repetition in range(repetitions):
        sample = rng.normal(loc=0.4, scale=0.2, size=60)  # 60 compounds, true mean 0.4
        interval = compound_interval(_scores(sample), IntervalConfig(n_resamples=999, seed=repetition))
        covered += interval.low <= 0.4 <= interval.high
    # within 3 binomial standard errors of 0.95 (sd = sqrt(.95 * .05 / 200) ~ 0.015)
    tolerance = 3 * np.sqrt(0.95 * 0.05 / repetitions)
    assert abs(covered / repetitions - config.confidence_level) <= tolerance


def test_ratio_estimate_is_the_query_averaged_top1():
    hits = pd.DataFrame(
        {
            schema.JCP2022: ["a", "a", "a", "b", "b", "c"],
            N_ELIGIBLE: [2, 2, 2, 1, 1, 0],
            hit_column(1): [True, False, True, True, True, False],
        }
    )
    scores = topk_compound_scores(hits, metric="NR_top1")
    assert list(scores[schema.JCP2022]) == ["a", "b"]  # c has no eligible query
    assert list(scores["value"]) == [2.0, 2.0] and list(scores["weight"]) == [3.0, 2.0]
    interval = compound_interval(scores, IntervalConfig(n_resamples=200))
    assert interval.estimate == pytest.approx(4 / 5)


def test_map_scores_keep_evaluable_compounds():
    table = pd.DataFrame(
        {
            schema.JCP2022: ["b", "a", "c"],
            "mean_average_precision": [0.5, 0.25, np.nan],
            "evaluable": [True, True, False],
        }
    )
    scores = map_compound_scores(table, metric="NR_map")
    assert list(scores[schema.JCP2022]) == ["a", "b"] and list(scores["value"]) == [0.25, 0.5]


def test_paired_difference_of_identical_inputs_is_exactly_zero_with_zero_width():
    scores = _scores(np.random.default_rng(0).uniform(size=30), np.arange(1, 31))
    for method in ("BCa", "percentile"):
        result = paired_compound_difference(
            scores, scores.copy(), IntervalConfig(n_resamples=500, method=method)
        )
        assert (result.estimate, result.low, result.high) == (0.0, 0.0, 0.0)
    seeded = {1: scores, 2: scores}
    result = paired_method_difference(seeded, seeded, IntervalConfig(n_resamples=500), what="x")
    assert (result["difference"], result["ci_low"], result["ci_high"]) == (0.0, 0.0, 0.0)


def test_paired_difference_is_tighter_than_unpaired_when_compounds_dominate():
    rng = np.random.default_rng(1)
    difficulty = rng.uniform(0, 1, size=50)
    a = _scores(difficulty + 0.05 + rng.normal(0, 0.01, 50))
    b = _scores(difficulty)
    config = IntervalConfig(n_resamples=999)
    paired = paired_compound_difference(a, b, config)
    assert paired.low > 0  # the shared difficulty cancels
    width_a = compound_interval(a, config)
    assert paired.high - paired.low < width_a.high - width_a.low


def test_too_few_compounds_or_seeds_name_the_method():
    with pytest.raises(InvalidInputError, match="bootstrap over compounds needs >= 2"):
        compound_interval(_scores([0.5]), IntervalConfig(n_resamples=200))
    with pytest.raises(InvalidInputError, match="t interval across seeds needs >= 2"):
        seed_interval([0.5], IntervalConfig())
    with pytest.raises(InvalidInputError, match="same compounds"):
        paired_compound_difference(
            _scores([0.1, 0.2, 0.3]), _scores([0.1, 0.2]), IntervalConfig(n_resamples=200)
        )
    with pytest.raises(InvalidConfigError, match="method"):
        IntervalConfig(method="student")


def test_seed_interval_is_the_t_interval_with_n_minus_1_df():
    values = [0.30, 0.34, 0.41]
    result = seed_interval(values, IntervalConfig())
    low, high = stats.t.interval(0.95, 2, loc=np.mean(values), scale=stats.sem(values))
    assert (result.estimate, result.low, result.high) == pytest.approx((np.mean(values), low, high))


def test_method_interval_over_seeds_and_compounds():
    rng = np.random.default_rng(2)
    runs = [_scores(rng.uniform(size=20)) for _ in range(3)]
    summary = method_interval(runs, IntervalConfig(n_resamples=500), what="micon / default / NR_top1")
    per_seed = [run["value"].mean() for run in runs]
    assert summary["estimate"] == pytest.approx(np.mean(per_seed))
    assert summary["interval"] == "seeds" and summary["n_seeds"] == 3 and summary["n_compounds"] == 20
    assert summary["compound_ci_low"] < summary["estimate"] < summary["compound_ci_high"]
    single = method_interval(runs[:1], IntervalConfig(n_resamples=500), what="x")
    assert single["interval"] == "compounds"
    assert (single["ci_low"], single["ci_high"]) == (single["compound_ci_low"], single["compound_ci_high"])


def test_summarise_intervals_pairs_micon_with_each_peer_per_chain_and_metric():
    rng = np.random.default_rng(3)
    base = rng.uniform(size=15)

    def table(shift):
        return pd.concat(
            [_scores(base + shift, metric="NR_top1"), _scores(base + 2 * shift, metric="NR_map")]
        )

    scores = {
        "micon": {1: {"default": table(0.1)}, 2: {"default": table(0.12)}},
        "untrained": {None: {"default": table(0.0)}},
    }
    intervals, differences = summarise_intervals(scores, IntervalConfig(n_resamples=300))
    assert list(zip(intervals["method"], intervals["metric"], intervals["interval"], strict=True)) == [
        ("micon", "NR_top1", "seeds"),
        ("micon", "NR_map", "seeds"),
        ("untrained", "NR_top1", "compounds"),
        ("untrained", "NR_map", "compounds"),
    ]
    assert list(differences["peer"]) == ["untrained", "untrained"]
    assert differences["difference"].tolist() == pytest.approx([0.11, 0.22])


def test_average_over_seeds_and_interval_columns():
    table = pd.DataFrame(
        {
            "method": ["micon_seed1", "micon_seed1", "micon_seed2", "micon_seed2", "untrained", "untrained"],
            "chain": ["raw", "default"] * 3,
            "NR_top1": [0.2, 0.4, 0.4, 0.6, 0.1, 0.1],
        }
    )
    averaged = average_over_seeds(
        table, {"micon": ["micon_seed1", "micon_seed2"], "untrained": ["untrained"]}
    )
    assert averaged[["method", "chain", "n_seeds"]].values.tolist() == [
        ["micon", "raw", 2],
        ["micon", "default", 2],
        ["untrained", "raw", 1],
        ["untrained", "default", 1],
    ]
    assert averaged["NR_top1"].tolist() == pytest.approx([0.3, 0.5, 0.1, 0.1])
    intervals = pd.DataFrame(
        {"method": ["micon"], "chain": ["default"], "metric": ["NR_top1"], "ci_low": [0.4], "ci_high": [0.6]}
    )
    shown = with_intervals(averaged, intervals)
    assert shown["NR_top1_ci_low"].tolist()[1] == 0.4 and np.isnan(shown["NR_top1_ci_low"].tolist()[0])


def test_compound_scores_break_down_by_split_for_the_held_out_source_and_compounds(tmp_path):
    from micon.evaluation.metrics import RetrievalConfig, evaluate_profiles
    from micon.evaluation.statistics import compound_scores
    from tests.evaluation.conftest import make_profiles
    from tests.parameters import make_config

    profiles = make_profiles(n_compounds=6)
    profiles.loc[profiles[schema.SOURCE] == "source_2", schema.SPLIT] = schema.SPLIT_OOD_SOURCE
    held_out = profiles[schema.JCP2022].isin(["C4", "C5"]) & (profiles[schema.SOURCE] != "source_2")
    profiles.loc[held_out, schema.SPLIT] = schema.SPLIT_OOD_COMPOUND
    config = make_config(
        RetrievalConfig,
        "reporting.retrieval",
        scenarios={"NR": [], "NSS": [schema.SOURCE]},
        mechanism_scenarios=["NR"],
        split_scenarios=["NSS"],
        ks=(1,),
        null_size=50,
        null_cache_dir=str(tmp_path),
        splits=(schema.SPLIT_TEST, schema.SPLIT_OOD_SOURCE, schema.SPLIT_OOD_COMPOUND),
    )
    _, _, compound_map = evaluate_profiles(profiles, config)
    scores = compound_scores(profiles, compound_map, config)
    metrics = set(scores["metric"])
    assert {"NSS_top1_test", "NSS_top1_ood_source", "NSS_top1_ood_compound"} <= metrics
    assert {"NSS_map_ood_compound", "NSS_map_above_chance_ood_compound"} <= metrics
    assert not any(m.startswith("NR_top1_") for m in metrics)  # NR is not broken down
    by_metric = scores.groupby("metric")["weight"].sum()
    # the splits partition the queries: their counted queries add up to the pooled metric's
    parts = by_metric[["NSS_top1_test", "NSS_top1_ood_source", "NSS_top1_ood_compound"]].sum()
    assert parts == by_metric["NSS_top1"]
    held = scores.loc[scores["metric"] == "NSS_map_ood_compound", schema.JCP2022]
    assert set(held) == {"C4", "C5"}
