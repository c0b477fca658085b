import numpy as np
import pandas as pd
import pytest
from copairs.map import average_precision, mean_average_precision
from sklearn.metrics import average_precision_score

from micon import schema
from micon.errors import InvalidConfigError, InvalidInputError, MissingColumnsError, NoControlsError
from micon.evaluation import replicate_map, summarise_replicability
from micon.evaluation.replicability import replicate_map_at_levels


def _hand_ap(profiles: pd.DataFrame, exclude_same, controls_same) -> list[float]:
    """AP per treated well by sklearn: positives = same compound differing on exclude_same; negatives =
    DMSO wells sharing controls_same with the query."""
    table = profiles.reset_index(drop=True)
    x = table[schema.feature_columns(table.columns)].to_numpy(dtype=np.float64)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    aps = []
    for i in np.flatnonzero(~table[schema.IS_CONTROL].to_numpy()):
        labels, scores = [], []
        for j in range(len(table)):
            if j == i:
                continue
            if table.at[j, schema.IS_CONTROL]:
                if all(table.at[j, c] == table.at[i, c] for c in controls_same):
                    labels.append(0)
                    scores.append(x[i] @ x[j])
            elif table.at[j, schema.JCP2022] == table.at[i, schema.JCP2022] and all(
                table.at[j, c] != table.at[i, c] for c in exclude_same
            ):
                labels.append(1)
                scores.append(x[i] @ x[j])
        aps.append(average_precision_score(labels, scores) if any(labels) else np.nan)
    return aps


@pytest.mark.parametrize(
    ("exclude_same", "controls_same"),
    [((), schema.PLATE_KEY), ((schema.BATCH,), schema.PLATE_KEY), ((schema.SOURCE,), ())],
)
def test_replicate_map_ap_equals_sklearn_average_precision(
    make_profiles, tmp_path, exclude_same, controls_same
):
    profiles = make_profiles(
        n_sources=2, n_batches=2, n_plates=2, n_compounds=3, n_dmso=2, signal=0.8, seed=2
    )
    features = schema.feature_columns(profiles.columns)
    ap_table, map_table = replicate_map(
        profiles,
        features,
        exclude_same=exclude_same,
        controls_same=controls_same,
        null_size=200,
        cache_dir=tmp_path,
    )
    expected = _hand_ap(profiles, exclude_same, controls_same)
    assert len(ap_table) == int((~profiles[schema.IS_CONTROL]).sum())
    np.testing.assert_allclose(ap_table["average_precision"].to_numpy(dtype=float), expected, rtol=1e-6)
    assert not (0.999 < np.nanmean(expected))  # an informative case, not all perfect
    per_compound = ap_table.groupby(schema.JCP2022)["average_precision"].mean()
    np.testing.assert_allclose(
        map_table.set_index(schema.JCP2022)["mean_average_precision"],
        per_compound.loc[map_table[schema.JCP2022]],
        rtol=1e-6,
    )


def test_replicate_map_tables_have_documented_columns(profiles, tmp_path):
    ap_table, map_table = replicate_map(
        profiles, schema.feature_columns(profiles.columns), exclude_same=(), null_size=100, cache_dir=tmp_path
    )
    assert {"average_precision", "n_pos_pairs", "n_total_pairs", schema.WELL, schema.PLATE} <= set(
        ap_table.columns
    )
    assert list(map_table.columns) == [
        schema.JCP2022,
        "mean_average_precision",
        "mean_normalized_average_precision",
        "p_value",
        "corrected_p_value",
        "below_p",
        "below_corrected_p",
        "evaluable",
        "not_evaluable_reason",
    ]
    assert len(map_table) == 5
    assert map_table["evaluable"].all()
    assert (map_table["corrected_p_value"] >= map_table["p_value"] - 1e-12).all()


def test_replicate_map_same_seed_same_p_values(profiles, tmp_path):
    features = schema.feature_columns(profiles.columns)
    first = replicate_map(
        profiles, features, exclude_same=(), null_size=100, seed=7, cache_dir=tmp_path / "a"
    )[1]
    second = replicate_map(
        profiles, features, exclude_same=(), null_size=100, seed=7, cache_dir=tmp_path / "b"
    )[1]
    pd.testing.assert_frame_equal(first, second)


def test_replicate_map_strong_signal_all_compounds_retrieved(make_profiles, tmp_path):
    profiles = make_profiles(signal=5.0)
    _, map_table = replicate_map(
        profiles,
        schema.feature_columns(profiles.columns),
        exclude_same=(schema.BATCH,),
        null_size=1000,
        cache_dir=tmp_path,
    )
    summary = summarise_replicability(map_table)
    assert summary["fraction_retrieved"] == 1.0
    assert summary["map"] > 0.9
    assert summary["map_above_chance"] > 0.85


def test_replicate_map_without_signal_sits_at_chance_above_chance_near_zero(make_profiles, tmp_path):
    # pure noise: AP sits at chance (the positives' share of the ranked wells, far from 0), mAP above
    # chance near 0; the per-compound value is copairs' normalised AP averaged over the compound's wells
    profiles = make_profiles(signal=0.0, n_compounds=8)
    features = schema.feature_columns(profiles.columns)
    rng = np.random.default_rng(3)  # independent noise: no plate shift that would favour same-plate DMSO
    profiles[features] = rng.normal(size=(len(profiles), len(features)))
    ap_table, map_table = replicate_map(
        profiles,
        schema.feature_columns(profiles.columns),
        exclude_same=(schema.BATCH,),
        null_size=100,
        cache_dir=tmp_path,
    )
    summary = summarise_replicability(map_table)
    chance = (ap_table["n_pos_pairs"] / ap_table["n_total_pairs"]).mean()
    assert summary["map"] == pytest.approx(chance, abs=0.1) and chance > 0.1
    assert abs(summary["map_above_chance"]) < 0.1
    per_compound = ap_table.groupby(schema.JCP2022)["normalized_average_precision"].mean()
    by_compound = map_table.set_index(schema.JCP2022)["mean_normalized_average_precision"]
    pd.testing.assert_series_equal(
        by_compound.loc[per_compound.index], per_compound, check_names=False, check_index=False
    )


def test_replicate_map_no_positive_pair_raises_naming_scenario(make_profiles, tmp_path):
    profiles = make_profiles(n_sources=1)
    with pytest.raises(InvalidInputError, match=schema.SOURCE):
        replicate_map(
            profiles,
            schema.feature_columns(profiles.columns),
            exclude_same=(schema.SOURCE,),
            null_size=10,
            cache_dir=tmp_path,
        )


def test_replicate_map_no_dmso_raises(profiles, tmp_path):
    treated = profiles.loc[~profiles[schema.IS_CONTROL]]
    with pytest.raises(NoControlsError, match="no DMSO"):
        replicate_map(treated, schema.feature_columns(profiles.columns), exclude_same=(), cache_dir=tmp_path)


def test_replicate_map_no_dmso_on_query_plates_raises(make_profiles, tmp_path):
    profiles = make_profiles()
    # keep DMSO only on a plate without treated wells
    dmso = profiles.loc[profiles[schema.IS_CONTROL]].head(2).assign(**{schema.PLATE: "plate_dmso_only"})
    table = pd.concat([profiles.loc[~profiles[schema.IS_CONTROL]], dmso], ignore_index=True)
    with pytest.raises(NoControlsError, match=schema.PLATE):
        replicate_map(
            table, schema.feature_columns(table.columns), exclude_same=(), null_size=10, cache_dir=tmp_path
        )


@pytest.mark.parametrize(
    ("kwargs", "match"), [({"null_size": 0}, "null_size"), ({"threshold": 1.5}, "threshold")]
)
def test_replicate_map_invalid_setting_raises(profiles, kwargs, match):
    with pytest.raises(InvalidConfigError, match=match):
        replicate_map(profiles, schema.feature_columns(profiles.columns), exclude_same=(), **kwargs)


def test_replicate_map_reserved_column_in_exclude_same_raises(profiles):
    with pytest.raises(InvalidInputError, match=schema.IS_CONTROL):
        replicate_map(profiles, schema.feature_columns(profiles.columns), exclude_same=(schema.IS_CONTROL,))


def test_replicate_map_missing_column_raises(profiles):
    with pytest.raises(MissingColumnsError, match="Metadata_Lab"):
        replicate_map(profiles, schema.feature_columns(profiles.columns), exclude_same=("Metadata_Lab",))


def test_summarise_replicability_mean_and_fraction():
    table = pd.DataFrame(
        {"mean_average_precision": [0.2, 0.6, 1.0], "below_corrected_p": [False, True, True]}
    )
    summary = summarise_replicability(table)
    assert summary["map"] == pytest.approx(0.6) and summary["fraction_retrieved"] == pytest.approx(2 / 3)
    assert np.isnan(summary["map_above_chance"])  # a table without copairs' normalised AP


def test_summarise_replicability_map_above_chance_averages_normalised_ap_of_evaluable_compounds():
    table = pd.DataFrame(
        {
            "mean_average_precision": [0.4, 1.0, np.nan],
            "mean_normalized_average_precision": [0.1, 1.0, np.nan],
            "below_corrected_p": [False, True, False],
            "evaluable": [True, True, False],
        }
    )
    assert summarise_replicability(table)["map_above_chance"] == pytest.approx(0.55)


def test_summarise_replicability_empty_table_gives_nan():
    table = pd.DataFrame({"mean_average_precision": [], "below_corrected_p": []})
    summary = summarise_replicability(table)
    assert np.isnan(summary["map"]) and np.isnan(summary["fraction_retrieved"])


def test_summarise_replicability_missing_column_raises():
    with pytest.raises(MissingColumnsError, match="below_corrected_p"):
        summarise_replicability(pd.DataFrame({"mean_average_precision": [0.5]}))


def _brute_p_values(ap_table: pd.DataFrame, null_size: int, seed: int) -> pd.Series:
    """Permutation p-value per compound, drawn independently of copairs.

    As copairs does, wells with the same (positives, total) counts share one null sample of random-ranking
    APs, and a compound's null is the mean of its wells' null samples; p = (1 + #null > mAP) / (1 + draws).
    """
    rng = np.random.default_rng(seed)
    scored = ap_table.loc[ap_table["n_pos_pairs"] > 0]
    nulls = {}
    for n_pos, n_total in set(zip(scored["n_pos_pairs"], scored["n_total_pairs"], strict=True)):
        labels = np.zeros((null_size, int(n_total)))
        labels[:, : int(n_pos)] = 1
        labels = rng.permuted(labels, axis=1)
        precision = np.cumsum(labels, axis=1) / np.arange(1, int(n_total) + 1)
        nulls[(n_pos, n_total)] = (precision * labels).sum(axis=1) / n_pos
    p_values = {}
    for compound, wells in scored.groupby(schema.JCP2022):
        null = np.mean(
            [nulls[key] for key in zip(wells["n_pos_pairs"], wells["n_total_pairs"], strict=True)], axis=0
        )
        p_values[compound] = (1 + (null > wells["average_precision"].mean()).sum()) / (1 + null_size)
    return pd.Series(p_values)


def _benjamini_hochberg(p_values: np.ndarray) -> np.ndarray:
    order = np.argsort(p_values)
    ranked = p_values[order] * len(p_values) / np.arange(1, len(p_values) + 1)
    adjusted = np.minimum.accumulate(ranked[::-1])[::-1].clip(max=1.0)
    out = np.empty_like(adjusted)
    out[order] = adjusted
    return out


@pytest.mark.parametrize(("signal", "seed"), [(0.3, 0), (0.8, 1), (2.0, 2)])
def test_replicate_map_fraction_retrieved_matches_brute_force_permutations(
    make_profiles, tmp_path, signal, seed
):
    profiles = make_profiles(
        n_sources=2, n_batches=2, n_plates=2, n_compounds=8, n_dmso=4, signal=signal, seed=seed
    )
    ap_table, map_table = replicate_map(
        profiles,
        schema.feature_columns(profiles.columns),
        exclude_same=(),
        null_size=2000,
        seed=0,
        cache_dir=tmp_path,
    )
    brute = _brute_p_values(ap_table, null_size=2000, seed=seed).loc[map_table[schema.JCP2022]].to_numpy()
    ours = map_table["p_value"].to_numpy(dtype=float)
    assert np.abs(ours - brute).max() < 0.05  # two independent permutation draws
    np.testing.assert_allclose(map_table["corrected_p_value"], _benjamini_hochberg(ours), rtol=1e-9)
    fraction = summarise_replicability(map_table)["fraction_retrieved"]
    assert fraction == np.mean(_benjamini_hochberg(ours) < 0.05)
    assert fraction == pytest.approx(np.mean(_benjamini_hochberg(brute) < 0.05), abs=0.13)


def test_replicate_map_equals_copairs_called_directly(make_profiles, tmp_path):
    profiles = make_profiles(n_sources=2, signal=0.6, seed=7)
    features = schema.feature_columns(profiles.columns)
    _, map_table = replicate_map(
        profiles, features, exclude_same=(schema.BATCH,), null_size=500, seed=3, cache_dir=tmp_path
    )
    meta = profiles[[schema.JCP2022, *schema.PLATE_KEY, schema.IS_CONTROL]].reset_index(drop=True)
    meta["reference"] = np.where(meta[schema.IS_CONTROL], np.arange(len(meta)), -1)
    ap = average_precision(
        meta,
        profiles[features].to_numpy(dtype=np.float64),
        pos_sameby=[schema.JCP2022, "reference"],
        pos_diffby=[schema.BATCH],
        neg_sameby=list(schema.PLATE_KEY),
        neg_diffby=[schema.IS_CONTROL],
        distance="cosine",
        progress_bar=False,
    )
    ap = ap.loc[(~meta[schema.IS_CONTROL]) & (ap["n_pos_pairs"] > 0)].reset_index(drop=True)
    direct = mean_average_precision(
        ap,
        sameby=[schema.JCP2022],
        null_size=500,
        threshold=0.05,
        seed=3,
        progress_bar=False,
        cache_dir=tmp_path,
    )
    merged = map_table.merge(direct, on=schema.JCP2022, suffixes=("", "_direct"))
    assert len(merged) == len(map_table) == 5
    for column in ("mean_average_precision", "p_value", "corrected_p_value"):
        np.testing.assert_allclose(merged[column], merged[f"{column}_direct"], atol=0.0)


def test_replicate_map_single_replicate_compound_kept_not_evaluable_with_reason(profiles, tmp_path):
    features = schema.feature_columns(profiles.columns)
    treated = profiles[~profiles[schema.IS_CONTROL]]
    lone = treated.iloc[[0]].assign(**{schema.JCP2022: "JCP2022_LONE"})
    with_lone = pd.concat([profiles, lone], ignore_index=True)

    _, map_table = replicate_map(with_lone, features, exclude_same=(), null_size=100, cache_dir=tmp_path)

    row = map_table.set_index(schema.JCP2022).loc["JCP2022_LONE"]
    assert not row["evaluable"]
    assert row["not_evaluable_reason"].startswith(
        "single_replicate: compound JCP2022_LONE has 1 treated well"
    )
    assert np.isnan(row["mean_average_precision"]) and not row["below_corrected_p"]
    assert set(map_table[schema.JCP2022]) == set(with_lone.loc[~with_lone[schema.IS_CONTROL], schema.JCP2022])
    # the summary is over the evaluable compounds only
    _, plain = replicate_map(profiles, features, exclude_same=(), null_size=100, cache_dir=tmp_path)
    assert summarise_replicability(map_table) == summarise_replicability(plain)


def test_replicate_map_at_levels_equals_one_call_per_level_and_copairs_aps(make_profiles, tmp_path):
    profiles = make_profiles(n_sources=2, signal=0.6, seed=8)
    features = schema.feature_columns(profiles.columns)
    levels = {"NR": (), "NSB": (schema.BATCH,), "NSS": (schema.SOURCE,)}
    together = replicate_map_at_levels(profiles, features, levels=levels, null_size=200, cache_dir=tmp_path)
    meta = profiles[[schema.JCP2022, *schema.PLATE_KEY, schema.IS_CONTROL]].reset_index(drop=True)
    meta["reference"] = np.where(meta[schema.IS_CONTROL], np.arange(len(meta)), -1)
    for name, exclude_same in levels.items():
        alone = replicate_map(
            profiles, features, exclude_same=exclude_same, null_size=200, cache_dir=tmp_path
        )
        pd.testing.assert_frame_equal(together[name][0], alone[0])
        pd.testing.assert_frame_equal(together[name][1], alone[1])
        direct = average_precision(
            meta,
            profiles[features].to_numpy(dtype=np.float64),
            pos_sameby=[schema.JCP2022, "reference"],
            pos_diffby=list(exclude_same),
            neg_sameby=list(schema.PLATE_KEY),
            neg_diffby=[schema.IS_CONTROL],
            distance="cosine",
            progress_bar=False,
        ).loc[~meta[schema.IS_CONTROL]]
        for column in ("average_precision", "normalized_average_precision", "n_pos_pairs", "n_total_pairs"):
            np.testing.assert_array_equal(together[name][0][column].to_numpy(), direct[column].to_numpy())


def test_ranked_negatives_rank_lists_equal_copairs_build_rank_lists_with_ties():
    from copairs.map.average_precision import build_rank_lists

    from micon.evaluation.replicability import _RankedNegatives

    rng = np.random.default_rng(11)
    n = 60
    negatives = np.unique(rng.integers(0, n, size=(400, 2)), axis=0)
    negatives = negatives[negatives[:, 0] != negatives[:, 1]].astype(np.uint32)
    positives = np.unique(rng.integers(0, n, size=(90, 2)), axis=0)
    positives = positives[positives[:, 0] != positives[:, 1]].astype(np.uint32)
    # few distinct values (ties between and across positives and negatives), negative ones included
    negative_sims = rng.choice([-0.5, 0.0, 0.25, 0.5, 1.0], size=len(negatives)).astype(np.float32)
    positive_sims = rng.choice([-0.5, 0.25, 0.5, 0.75, 1.0], size=len(positives)).astype(np.float32)
    ranked = _RankedNegatives(n, negatives, negative_sims)
    for got, expected in zip(
        ranked.rank_lists(positives, positive_sims),
        build_rank_lists(positives, negatives, positive_sims, negative_sims),
        strict=True,
    ):
        np.testing.assert_array_equal(got, expected)
        assert got.dtype == expected.dtype


def test_mean_average_precision_equals_copairs_bit_for_bit(tmp_path):
    from micon.evaluation.replicability import _mean_average_precision

    rng = np.random.default_rng(12)
    n = 300
    n_pos = rng.integers(1, 4, size=n)
    ap = pd.DataFrame(
        {
            schema.JCP2022: rng.choice([f"C{i}" for i in range(70)], size=n),
            "average_precision": rng.random(n),
            "normalized_average_precision": rng.random(n),
            "n_pos_pairs": n_pos,
            "n_total_pairs": n_pos + rng.choice([6, 8], size=n),
        }
    )
    ap.loc[::17, "average_precision"] = np.nan  # dropped by both
    settings = {"sameby": [schema.JCP2022], "null_size": 200, "threshold": 0.05, "seed": 4}
    ours = _mean_average_precision(ap, cache_dir=tmp_path / "ours", **settings)
    direct = mean_average_precision(ap, progress_bar=False, cache_dir=tmp_path / "direct", **settings)
    pd.testing.assert_frame_equal(ours, direct.drop(columns="indices")[ours.columns], check_exact=True)
