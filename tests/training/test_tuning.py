from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.errors import InvalidConfigError, InvalidInputError
from micon.training.methods import list_methods
from micon.training.tuning import (
    SelectionConfig,
    TuningConfig,
    best_trials,
    check_equal_search,
    temperature_fields,
    trial_settings,
    validation_wells,
)
from tests.parameters import load_parameters

SELECTION = {"split": "val", "level": "NSS", "metric": "map_above_chance", "chain": "default"}


def _config(**overrides) -> TuningConfig:
    settings = {
        "n_trials": 4,
        "seed": 0,
        "max_steps": 10,
        "lr": [1e-3, 3e-3],
        "temperature": [0.1, 0.2, 0.5],
        "selection": SELECTION,
        **overrides,
    }
    return TuningConfig(**settings)


def test_trials_are_a_seeded_draw_from_the_grid_the_same_for_every_call():
    config = _config()
    trials = config.trials()
    assert len(trials) == 4 and trials == _config().trials()
    assert len({(t["lr"], t["temperature"]) for t in trials}) == 4
    assert all(t["lr"] in config.lr and t["temperature"] in config.temperature for t in trials)
    assert len(_config(n_trials=6).trials()) == 6  # the whole grid


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"n_trials": 7}, "between 1 and the grid's 6"),
        ({"n_trials": 0}, "between 1"),
        ({"lr": [1e-3, 1e-3]}, "distinct"),
        ({"temperature": [0.0]}, "> 0"),
        ({"max_steps": 0}, "max_steps"),
        ({"selection": {**SELECTION, "split": "test"}}, "test queries"),
        ({"selection": {**SELECTION, "split": "ood_compound"}}, "test queries"),
        ({"selection": {**SELECTION, "metric": "auc"}}, "metric"),
    ],
)
def test_tuning_config_refuses_unequal_or_test_selection(overrides, match):
    with pytest.raises(InvalidConfigError, match=match):
        _config(**overrides)


def test_every_trained_method_of_conf_base_has_a_temperature_to_tune():
    methods = load_parameters("base")["modeling"]["methods"]
    for method in list_methods("trained"):
        assert temperature_fields(methods[method]["objective"], method=method)
    assert temperature_fields(methods["micon"]["objective"], method="micon") == [
        "paclr_temperature",
        "cf_temperature",
    ]
    assert temperature_fields(methods["clip"]["objective"], method="clip") == ["temperature"]
    assert temperature_fields({"learn_temperature": True, "temperature": 0.1}, method="x") == ["temperature"]
    with pytest.raises(InvalidConfigError, match="'toy'.*no temperature"):
        temperature_fields({"weight": 1.0}, method="toy")


def test_trial_settings_set_lr_budget_and_every_temperature_and_keep_no_run():
    training = {"lr": 1e-3, "max_steps": 1000, "warmup_steps": 20, "run_dir": "runs", "resume": True}
    method = {"model": {}, "objective": {"paclr_temperature": 0.1, "cf_temperature": 0.1, "cf_weight": 1.0}}
    new_training, new_method = trial_settings(
        training, method, {"lr": 3e-3, "temperature": 0.5}, max_steps=50, method="micon"
    )
    assert new_training["lr"] == 3e-3 and new_training["max_steps"] == 50
    assert new_training["run_dir"] is None and new_training["resume"] is False
    assert new_method["objective"] == {"paclr_temperature": 0.5, "cf_temperature": 0.5, "cf_weight": 1.0}
    assert new_method["training"] == {"lr": 3e-3}
    assert method["objective"]["paclr_temperature"] == 0.1  # the inputs are not changed
    short, _ = trial_settings(training, method, {"lr": 1e-3, "temperature": 0.1}, max_steps=5, method="micon")
    assert short["warmup_steps"] == 4  # warm-up shorter than the trial


def _trials() -> pd.DataFrame:
    rows = []
    for method, scores in {"micon": [0.1, 0.3, 0.3], "clip": [np.nan, 0.2, 0.1]}.items():
        for trial, (lr, temperature) in enumerate([(1e-3, 0.1), (1e-3, 0.2), (3e-3, 0.1)]):
            rows.append(
                {
                    "method": method,
                    "trial": trial,
                    "lr": lr,
                    "temperature": temperature,
                    "max_steps": 10,
                    "val_NSS_map_above_chance": scores[trial],
                }
            )
    return pd.DataFrame(rows)


def test_best_trials_highest_validation_score_ties_to_the_earlier_trial():
    best = best_trials(_trials(), SelectionConfig(**SELECTION)).set_index("method")
    assert best.loc["micon", "trial"] == 1 and best.loc["micon", "temperature"] == 0.2
    assert best.loc["clip", "trial"] == 1  # NaN trials are skipped
    assert (best["n_trials"] == 3).all()


def test_best_trials_method_without_a_finite_score_named():
    trials = _trials()
    trials.loc[trials["method"] == "clip", "val_NSS_map_above_chance"] = math.nan
    with pytest.raises(InvalidInputError, match="'clip'"):
        best_trials(trials, SelectionConfig(**SELECTION))


def test_check_equal_search_names_a_method_with_other_trials():
    trials = _trials()
    check_equal_search(trials, ["micon", "clip"])
    trials.loc[(trials["method"] == "clip") & (trials["trial"] == 2), "lr"] = 1e-2
    with pytest.raises(InvalidInputError, match="'clip' ran other trials"):
        check_equal_search(trials, ["micon", "clip"])
    with pytest.raises(InvalidInputError, match="'simclr' has no tuning trial"):
        check_equal_search(trials, ["micon", "simclr"])


def test_validation_wells_keep_whole_plates_of_the_split_and_refuse_none():
    index = pd.DataFrame(
        {
            schema.SOURCE: ["s1"] * 4,
            schema.BATCH: ["b1", "b1", "b2", "b2"],
            schema.PLATE: ["p1", "p1", "p2", "p2"],
            schema.SPLIT: ["val", "val", "train", "train"],
            schema.CROP_ID: [0, 1, 2, 3],
        }
    )
    assert list(validation_wells(index, "val")[schema.CROP_ID]) == [0, 1]
    with pytest.raises(InvalidInputError, match="val_batches_per_source"):
        validation_wells(index.assign(**{schema.SPLIT: "train"}), "val")


def test_apply_selection_sets_the_methods_lr_and_every_temperature_only():
    from micon.training.tuning import apply_selection

    selection = pd.DataFrame({"method": ["micon", "clip"], "lr": [3e-3, 3e-4], "temperature": [0.2, 0.05]})
    method = {"model": {}, "objective": {"paclr_temperature": 0.1, "cf_temperature": 0.1, "cf_weight": 1.0}}
    tuned = apply_selection(method, selection, method="micon")
    assert tuned["training"] == {"lr": 3e-3}
    assert tuned["objective"] == {"paclr_temperature": 0.2, "cf_temperature": 0.2, "cf_weight": 1.0}
    assert method["objective"]["paclr_temperature"] == 0.1
    with pytest.raises(InvalidInputError, match="0 rows for method 'simclr'"):
        apply_selection({"objective": {"temperature": 0.1}}, selection, method="simclr")
