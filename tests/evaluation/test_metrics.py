import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.errors import InvalidConfigError, InvalidInputError, MissingColumnsError
from micon.evaluation import RetrievalConfig, evaluate_profiles


def _config(tmp_path, **overrides) -> RetrievalConfig:
    settings = {
        "ks": (1, 5),
        "null_size": 100,
        "null_cache_dir": str(tmp_path),
        "splits": (schema.SPLIT_TEST,),
    }
    settings.update(overrides)
    return RetrievalConfig(**settings)


def test_evaluate_profiles_returns_nested_metrics_per_scenario(profiles, tmp_path):
    metrics, topk = evaluate_profiles(profiles, _config(tmp_path))
    assert set(metrics) == {"NR", "NSB", "NSS"}
    for values in metrics.values():
        assert list(values) == ["top1", "top5", "map", "fraction_retrieved", "n_queries"]
        assert 0.0 <= values["top1"] <= values["top5"] <= 1.0
        assert 0.0 <= values["map"] <= 1.0
        assert values["n_queries"] == 60
    assert list(topk.columns) == ["scenario", "k", "accuracy"]
    assert len(topk) == 3 * 2
    assert (
        topk.loc[(topk["scenario"] == "NSB") & (topk["k"] == 5), "accuracy"].item() == metrics["NSB"]["top5"]
    )


def test_evaluate_profiles_default_ks_give_top1_to_top10(profiles, tmp_path):
    metrics, topk = evaluate_profiles(
        profiles, _config(tmp_path, ks=RetrievalConfig().ks, scenarios={"NR": ()})
    )
    assert [f"top{k}" for k in range(1, 11)] == [key for key in metrics["NR"] if key.startswith("top")]
    assert topk["k"].tolist() == list(range(1, 11))


def test_evaluate_profiles_split_filter_uses_only_that_split(make_profiles, tmp_path):
    test = make_profiles(seed=0, split=schema.SPLIT_TEST)
    train = make_profiles(seed=1, split=schema.SPLIT_TRAIN)
    train[schema.PLATE] = "train_" + train[schema.PLATE]
    metrics, _ = evaluate_profiles(pd.concat([test, train], ignore_index=True), _config(tmp_path))
    assert metrics["NR"]["n_queries"] == 60


def test_evaluate_profiles_ood_compound_takes_dmso_of_its_plates(make_profiles, tmp_path):
    profiles = make_profiles(split=schema.SPLIT_TRAIN)
    profiles.loc[profiles[schema.JCP2022].isin(["C0", "C1"]), schema.SPLIT] = schema.SPLIT_OOD_COMPOUND
    metrics, _ = evaluate_profiles(profiles, _config(tmp_path, splits=(schema.SPLIT_OOD_COMPOUND,)))
    assert metrics["NSS"]["n_queries"] == 24
    assert np.isfinite(metrics["NSS"]["map"])


def test_evaluate_profiles_scenario_without_replicates_gives_nan(make_profiles, tmp_path):
    profiles = make_profiles(n_sources=1)
    metrics, topk = evaluate_profiles(profiles, _config(tmp_path))
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


def test_retrieval_config_defaults():
    config = RetrievalConfig()
    assert config.scenarios == {"NR": (), "NSB": (schema.BATCH,), "NSS": (schema.SOURCE,)}
    assert config.ks == tuple(range(1, 11))
    assert config.splits == (schema.SPLIT_TEST, schema.SPLIT_OOD_SOURCE, schema.SPLIT_OOD_COMPOUND)
    assert (config.null_size, config.threshold, config.seed) == (10000, 0.05, 0)


def test_retrieval_config_yaml_lists_become_tuples():
    config = RetrievalConfig(scenarios={"NSB": [schema.BATCH]}, ks=[5, 1, 5], splits=[schema.SPLIT_TEST])
    assert config.scenarios == {"NSB": (schema.BATCH,)}
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
    ],
)
def test_retrieval_config_invalid_value_raises(kwargs, match):
    with pytest.raises(InvalidConfigError, match=match):
        RetrievalConfig(**kwargs)


def test_retrieval_config_unknown_key_raises_type_error():
    with pytest.raises(TypeError, match="top_k"):
        RetrievalConfig(top_k=5)  # type: ignore[call-arg]
