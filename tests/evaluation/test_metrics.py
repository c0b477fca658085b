import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.errors import InvalidConfigError, InvalidInputError, MissingColumnsError
from micon.evaluation import (
    RetrievalConfig,
    evaluate_batch_effects,
    evaluate_consistency,
    evaluate_mechanism_retrieval,
    evaluate_profiles,
)
from tests.parameters import make_config


def _config(tmp_path, **overrides) -> RetrievalConfig:
    settings = {
        "ks": (1, 5),
        "null_size": 100,
        "null_cache_dir": str(tmp_path),
        "splits": (schema.SPLIT_TEST,),
    }
    if "scenarios" in overrides:  # mechanism retrieval at the overriding scenarios it shares
        settings["mechanism_scenarios"] = [s for s in ("NR", "NSS") if s in overrides["scenarios"]]
        settings["split_scenarios"] = [s for s in ("NR", "NSS") if s in overrides["scenarios"]]
    settings.update(overrides)
    return make_config(RetrievalConfig, "reporting.retrieval", **settings)


def test_evaluate_profiles_returns_nested_metrics_per_scenario(profiles, tmp_path):
    metrics, topk, compound_maps = evaluate_profiles(profiles, _config(tmp_path))
    assert set(metrics) == {"NR", "NSB", "NSS", "NSL", "NSSL", "NSPL"}
    for scenario in ("NR", "NSB", "NSS"):
        values = metrics[scenario]
        assert list(values) == ["top1", "top5", "map", "map_above_chance", "fraction_retrieved", "n_queries"]
        assert 0.0 <= values["top1"] <= values["top5"] <= 1.0
        assert 0.0 <= values["map"] <= 1.0
        assert values["map_above_chance"] <= values["map"]
        assert values["n_queries"] == 60
    # every plate of the toy screen holds each compound in the same well: one layout, and a compound's
    # replicates all sit at its well position, so no NSL / NSSL / NSPL replicate
    assert metrics["NSL"]["n_queries"] == metrics["NSSL"]["n_queries"] == metrics["NSPL"]["n_queries"] == 0
    assert list(topk.columns) == ["scenario", "k", "accuracy"]
    assert len(topk) == 6 * 2
    assert list(compound_maps.columns) == [
        "scenario",
        schema.JCP2022,
        "mean_average_precision",
        "mean_normalized_average_precision",
        "corrected_p_value",
        "below_corrected_p",
        "evaluable",
        "not_evaluable_reason",
    ]
    assert len(compound_maps) == 3 * 5
    nsb = compound_maps.loc[compound_maps["scenario"] == "NSB", "mean_average_precision"]
    assert nsb.mean() == pytest.approx(metrics["NSB"]["map"])
    assert (
        topk.loc[(topk["scenario"] == "NSB") & (topk["k"] == 5), "accuracy"].item() == metrics["NSB"]["top5"]
    )


def test_evaluate_profiles_default_ks_give_top1_to_top10(profiles, tmp_path):
    metrics, topk, _ = evaluate_profiles(
        profiles,
        _config(tmp_path, ks=make_config(RetrievalConfig, "reporting.retrieval").ks, scenarios={"NR": ()}),
    )
    assert [f"top{k}" for k in range(1, 11)] == [key for key in metrics["NR"] if key.startswith("top")]
    assert topk["k"].tolist() == list(range(1, 11))


def test_evaluate_profiles_split_filter_uses_only_that_split(make_profiles, tmp_path):
    test = make_profiles(seed=0, split=schema.SPLIT_TEST)
    train = make_profiles(seed=1, split=schema.SPLIT_TRAIN)
    train[schema.PLATE] = "train_" + train[schema.PLATE]
    metrics, _, _ = evaluate_profiles(pd.concat([test, train], ignore_index=True), _config(tmp_path))
    assert metrics["NR"]["n_queries"] == 60


def test_evaluate_profiles_ood_compound_takes_dmso_of_its_plates(make_profiles, tmp_path):
    profiles = make_profiles(split=schema.SPLIT_TRAIN)
    profiles.loc[profiles[schema.JCP2022].isin(["C0", "C1"]), schema.SPLIT] = schema.SPLIT_OOD_COMPOUND
    metrics, _, _ = evaluate_profiles(profiles, _config(tmp_path, splits=(schema.SPLIT_OOD_COMPOUND,)))
    assert metrics["NSS"]["n_queries"] == 24
    assert np.isfinite(metrics["NSS"]["map"])


def test_evaluate_profiles_scenario_without_replicates_gives_nan(make_profiles, tmp_path):
    profiles = make_profiles(n_sources=1)
    metrics, topk, _ = evaluate_profiles(profiles, _config(tmp_path))
    assert metrics["NSS"]["n_queries"] == 0
    assert np.isnan(metrics["NSS"]["top1"]) and np.isnan(metrics["NSS"]["map"])
    assert np.isfinite(metrics["NSB"]["map"])
    assert topk.loc[topk["scenario"] == "NSS", "accuracy"].isna().all()


def test_evaluate_profiles_split_without_wells_raises_naming_it(profiles, tmp_path):
    config = _config(tmp_path, splits=(schema.SPLIT_TEST, schema.SPLIT_OOD_SOURCE))
    with pytest.raises(InvalidInputError, match=schema.SPLIT_OOD_SOURCE):
        evaluate_profiles(profiles, config)


def test_evaluate_profiles_single_treated_well_raises(profiles, tmp_path):
    profiles[schema.SPLIT] = schema.SPLIT_TRAIN
    profiles.loc[0, schema.SPLIT] = schema.SPLIT_TEST
    with pytest.raises(InvalidInputError, match="leave 1 treated"):
        evaluate_profiles(profiles, _config(tmp_path))


def test_evaluate_profiles_missing_split_column_raises(profiles, tmp_path):
    with pytest.raises(MissingColumnsError, match=schema.SPLIT):
        evaluate_profiles(profiles.drop(columns=[schema.SPLIT]), _config(tmp_path))


def test_retrieval_config_base_parameters():
    config = make_config(RetrievalConfig, "reporting.retrieval", env="base")
    assert config.scenarios == {
        "NR": (),
        "NSB": (schema.BATCH,),
        "NSS": (schema.SOURCE,),
        "NSL": (schema.WELL,),
        "NSSL": (schema.SOURCE, schema.WELL),
        "NSPL": (schema.PLATE_LAYOUT,),
    }
    assert config.mechanism_scenarios == ("NR", "NSS")
    assert config.batch_columns == (schema.SOURCE, schema.BATCH)
    assert config.annotation_columns == (schema.MOA, "Metadata_Target")
    assert config.ks == tuple(range(1, 11))
    assert config.splits == (schema.SPLIT_TEST, schema.SPLIT_OOD_SOURCE, schema.SPLIT_OOD_COMPOUND)
    assert (config.null_size, config.threshold, config.seed) == (10000, 0.05, 0)


def test_retrieval_config_yaml_lists_become_tuples():
    config = make_config(
        RetrievalConfig,
        "reporting.retrieval",
        scenarios={"NSB": [schema.BATCH]},
        mechanism_scenarios=["NSB"],
        split_scenarios=["NSB"],
        ks=[5, 1, 5],
        splits=[schema.SPLIT_TEST],
    )
    assert config.scenarios == {"NSB": (schema.BATCH,)}
    assert config.mechanism_scenarios == ("NSB",)
    assert config.split_scenarios == ("NSB",)
    assert config.ks == (1, 5)
    assert config.splits == (schema.SPLIT_TEST,)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scenarios": {}}, "scenarios"),
        ({"scenarios": {"bad": ["Batch"]}}, "Batch"),
        ({"scenarios": {"bad": [schema.JCP2022]}}, schema.JCP2022),
        ({"ks": (0, 1)}, "ks"),
        ({"ks": ()}, "ks"),
        ({"null_size": 0}, "null_size"),
        ({"threshold": 0.0}, "threshold"),
        ({"splits": ("holdout",)}, "holdout"),
        ({"splits": ()}, "splits"),
        ({"mechanism_scenarios": ("NSX",)}, "NSX"),
        ({"split_scenarios": ("NSY",)}, "NSY"),
    ],
)
def test_retrieval_config_invalid_value_raises(kwargs, match):
    with pytest.raises(InvalidConfigError, match=match):
        make_config(RetrievalConfig, "reporting.retrieval", **kwargs)


def test_retrieval_config_unknown_key_raises_type_error():
    with pytest.raises(TypeError, match="top_k"):
        make_config(RetrievalConfig, "reporting.retrieval", top_k=5)  # type: ignore[call-arg]


def _shuffled_layouts(profiles: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    """Give every plate its own random well positions (so plates have distinct layouts)."""
    rng = np.random.default_rng(seed)
    shuffled = profiles.copy()
    for rows in shuffled.groupby(schema.PLATE).indices.values():
        wells = shuffled[schema.WELL].to_numpy()[rows]
        shuffled.iloc[rows, shuffled.columns.get_loc(schema.WELL)] = rng.permutation(wells)
    return shuffled


def test_evaluate_profiles_nspl_with_distinct_layouts_equals_not_same_plate(make_profiles, tmp_path):
    profiles = _shuffled_layouts(make_profiles())
    metrics, _, _ = evaluate_profiles(
        profiles, _config(tmp_path, scenarios={"NSPL": [schema.PLATE_LAYOUT], "NSP": [schema.PLATE]})
    )
    assert metrics["NSPL"]["n_queries"] == 60
    assert metrics["NSPL"]["top1"] == metrics["NSP"]["top1"]
    assert metrics["NSPL"]["map"] == pytest.approx(metrics["NSP"]["map"])


def test_evaluate_profiles_scenario_with_absent_column_is_skipped(profiles, tmp_path, caplog):
    metrics, topk, _ = evaluate_profiles(
        profiles, _config(tmp_path, scenarios={"NR": [], "NSW": ["Metadata_Washer"]})
    )
    assert set(metrics) == {"NR"}
    assert set(topk["scenario"]) == {"NR"}
    assert "NSW skipped" in caplog.text and "Metadata_Washer" in caplog.text


def test_evaluate_batch_effects_reports_source_and_batch(make_profiles, tmp_path):
    profiles = make_profiles(signal=0.0)
    features = schema.feature_columns(profiles.columns)
    shifted = profiles[schema.SOURCE] == "source_0"
    profiles.loc[shifted, features] = profiles.loc[shifted, features].to_numpy() + 10.0
    scores = evaluate_batch_effects(profiles, _config(tmp_path))
    assert set(scores) == {
        "source_levels",
        "source_knn_accuracy",
        "source_silhouette",
        "batch_levels",
        "batch_knn_accuracy",
        "batch_silhouette",
    }
    assert scores["source_levels"] == 3 and scores["batch_levels"] == 6
    assert scores["source_silhouette"] > scores["batch_silhouette"]


def test_evaluate_consistency_scores_present_annotation_and_skips_absent(make_profiles, tmp_path):
    profiles = make_profiles(n_compounds=6, signal=3.0)
    moa = {"C0": "a", "C1": "a", "C2": "b", "C3": "b", "C4": "c", "C5": "c", schema.DMSO_JCP2022: None}
    profiles["Metadata_moa"] = profiles[schema.JCP2022].map(moa)
    config = _config(tmp_path, annotation_columns=["Metadata_moa", "Metadata_target"])
    scores = evaluate_consistency(profiles, config)
    assert set(scores) == {"Metadata_moa"}
    assert scores["Metadata_moa"]["n_groups"] == 3
    assert 0.0 <= scores["Metadata_moa"]["map"] <= 1.0


def test_evaluate_consistency_without_annotation_columns_is_empty(profiles, tmp_path):
    assert evaluate_consistency(profiles, _config(tmp_path)) == {}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"batch_columns": ["source"]}, "batch_columns"),
        ({"batch_knn_k": 0}, "batch_knn_k"),
        ({"silhouette_sample_size": 1}, "silhouette_sample_size"),
        ({"search": {"mode": "ivf"}}, "search"),
    ],
)
def test_retrieval_config_invalid_batch_setting_raises(kwargs, match):
    with pytest.raises(InvalidConfigError, match=match):
        make_config(RetrievalConfig, "reporting.retrieval", **kwargs)


def test_evaluate_consistency_annotation_without_shared_value_is_skipped(profiles, tmp_path, caplog):
    profiles["Metadata_moa"] = profiles[schema.JCP2022]  # every compound its own MoA
    config = _config(tmp_path, annotation_columns=["Metadata_moa"])
    assert evaluate_consistency(profiles, config) == {}
    assert "no value is shared by two compounds" in caplog.text


def test_evaluate_mechanism_retrieval_scores_each_annotation_at_each_mechanism_scenario(
    make_profiles, tmp_path
):
    profiles = make_profiles(n_compounds=6, signal=3.0)
    moa = {"C0": "a", "C1": "a", "C2": "b", "C3": "b", "C4": "c", "C5": "c", schema.DMSO_JCP2022: "DMSO"}
    profiles[schema.MOA] = profiles[schema.JCP2022].map(moa)
    scores = evaluate_mechanism_retrieval(
        profiles, _config(tmp_path, annotation_columns=[schema.MOA, "Metadata_X"])
    )
    assert set(scores) == {schema.MOA}
    assert set(scores[schema.MOA]) == {"NR", "NSS"}
    for values in scores[schema.MOA].values():
        assert list(values) == ["top1", "top5", "map", "fraction_retrieved", "n_queries"]
        assert 0.0 <= values["top1"] <= values["top5"] <= 1.0 and 0.0 <= values["map"] <= 1.0
        assert values["n_queries"] == 6 * 12  # every treated well (6 compounds x 12 plates), never DMSO


def test_evaluate_mechanism_retrieval_without_annotation_column_is_empty(profiles, tmp_path):
    assert evaluate_mechanism_retrieval(profiles, _config(tmp_path)) == {}
