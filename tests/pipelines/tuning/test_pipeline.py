from __future__ import annotations

import pytest
from kedro.runner import SequentialRunner

from micon import schema
from micon.errors import InvalidInputError
from micon.pipelines.tuning import create_pipeline
from micon.training.methods import list_methods
from tests.pipelines.conftest import add_parameters, kept_catalog


def test_tuning_pipeline_one_trial_node_per_trained_method_then_one_selection():
    pipeline = create_pipeline()
    names = {n.name for n in pipeline.nodes}
    assert names == {*(f"{m}.tune_method" for m in list_methods("trained")), "select_hyperparameters"}
    (node,) = [n for n in pipeline.nodes if n.name == "micon.tune_method"]
    assert "params:modeling.methods.micon" in node.inputs and "params:tuning" in node.inputs
    assert node.outputs == ["micon.tuning_trials"]
    with pytest.raises(InvalidInputError, match="untrained"):
        create_pipeline(methods=["micon", "untrained"])


def test_tuning_tiny_screen_every_method_same_trials_selected_on_validation_wells(engineered, parameters):
    crop_index = engineered.load("crop_index")
    # the tiny screen has no validation batch: its test batches of the training sources serve as one
    validation = crop_index[schema.SPLIT] == schema.SPLIT_TEST
    crop_index = crop_index.assign(
        **{schema.SPLIT: crop_index[schema.SPLIT].where(~validation, schema.SPLIT_VAL)}
    )
    methods = ["micon", "clip"]
    pipeline = create_pipeline(methods=methods)
    catalog = kept_catalog(
        {
            "crop_store": engineered.load("crop_store"),
            "crop_index": crop_index,
            "source_profile": engineered.load("source_profile"),
        },
        sorted(pipeline.all_outputs()),
    )
    tuning = {**parameters["tuning"], "n_trials": 2, "max_steps": 2, "lr": [1e-3, 3e-3], "temperature": [0.1]}
    tuning["selection"] = {**tuning["selection"], "level": "NR"}
    add_parameters(catalog, {**parameters, "tuning": tuning})
    SequentialRunner().run(pipeline, catalog)

    trials = catalog.load("tuning_trials")
    assert list(trials["method"]) == ["micon", "micon", "clip", "clip"]
    assert sorted(trials.loc[trials["method"] == "clip", "lr"]) == [1e-3, 3e-3]
    assert (trials["temperature"] == 0.1).all() and (trials["max_steps"] == 2).all()
    assert trials["val_NR_map_above_chance"].notna().all()
    selection = catalog.load("tuning_selection")
    assert list(selection["method"]) == methods and (selection["n_trials"] == 2).all()
    provenance = catalog.load("tuning_provenance")
    assert provenance["tuning"]["max_steps"] == 2 and "commit" in provenance


def test_tuning_without_validation_wells_names_the_parameter(engineered, parameters):
    pipeline = create_pipeline(methods=["paclr"])
    catalog = kept_catalog(
        {
            "crop_store": engineered.load("crop_store"),
            "crop_index": engineered.load("crop_index"),
            "source_profile": engineered.load("source_profile"),
        },
        sorted(pipeline.all_outputs()),
    )
    add_parameters(catalog, parameters)
    with pytest.raises(Exception, match="val_batches_per_source"):
        SequentialRunner().run(pipeline, catalog)
