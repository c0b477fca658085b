from __future__ import annotations

import numpy as np
import pytest
from kedro.runner import SequentialRunner

from micon import schema
from micon.errors import InvalidInputError, UnknownNameError
from micon.models import load_model
from micon.pipelines.modeling import create_pipeline
from micon.training.methods import list_methods
from tests.pipelines.conftest import add_parameters, kept_catalog

TRAINED_METHODS = list_methods("trained")
METHODS = list_methods("trained", "untrained")


def test_modeling_pipeline_trains_every_method_with_the_shared_budget():
    pipeline = create_pipeline()
    assert METHODS == (*TRAINED_METHODS, "untrained")
    assert {n.name for n in pipeline.nodes} == {
        *(f"{m}.train_model" for m in TRAINED_METHODS),
        "untrained.build_untrained_model",
        *(f"{m}.embed_cell_crops" for m in METHODS),
    }
    for method in TRAINED_METHODS:
        (node,) = [n for n in pipeline.nodes if n.name == f"{method}.train_model"]
        assert node.inputs == [
            "crop_store",
            "crop_index",
            "source_profile",
            "params:modeling.model",
            "params:modeling.training",
            f"params:modeling.methods.{method}",
        ]
        assert node.outputs == [f"{method}.model_checkpoint", f"{method}.training_history"]


def test_modeling_pipeline_explicit_methods_builds_only_those():
    pipeline = create_pipeline(methods=["paclr", "untrained"])
    assert sorted(n.name for n in pipeline.nodes) == [
        "paclr.embed_cell_crops",
        "paclr.train_model",
        "untrained.build_untrained_model",
        "untrained.embed_cell_crops",
    ]


def test_modeling_pipeline_features_or_unknown_method_raises():
    with pytest.raises(InvalidInputError, match="cellprofiler"):
        create_pipeline(methods=["micon", "cellprofiler"])
    with pytest.raises(UnknownNameError, match="dino"):
        create_pipeline(methods=["dino"])


def test_modeling_tiny_screen_embeds_every_crop_per_method(engineered, parameters):
    crop_index = engineered.load("crop_index")
    pipeline = create_pipeline()
    catalog = kept_catalog(
        {
            "crop_store": engineered.load("crop_store"),
            "crop_index": crop_index,
            "source_profile": engineered.load("source_profile"),
        },
        sorted(pipeline.all_outputs()),
    )
    add_parameters(catalog, parameters)
    SequentialRunner().run(pipeline, catalog)

    for method in TRAINED_METHODS:
        checkpoint = catalog.load(f"{method}.model_checkpoint")
        assert checkpoint["method"] == method
        history = catalog.load(f"{method}.training_history")
        assert {"step", "loss", "lr"} <= set(history.columns) and len(history) > 0
    assert {"paclr", "cf"} <= set(catalog.load("micon.training_history").columns)
    assert catalog.load("untrained.model_checkpoint")["method"] == "untrained"
    shared_dim = parameters["modeling"]["model"]["image"]["embedding_dim"]
    for method in METHODS:
        dim = load_model(catalog.load(f"{method}.model_checkpoint")).embedding_dim
        assert dim == shared_dim, method  # every method is evaluated at one size
        embeddings = catalog.load(f"{method}.crop_embeddings")
        written = [c for c in embeddings.columns if c.startswith(schema.EMBEDDING_PREFIX)]
        assert written == schema.embedding_columns(shared_dim), method
        features = embeddings[schema.embedding_columns(dim)].to_numpy()
        assert len(embeddings) == len(crop_index)
        assert embeddings[schema.CROP_ID].tolist() == crop_index[schema.CROP_ID].tolist()
        assert np.isfinite(features).all()
    # per-method overrides of the shared architecture reach the model (conf/test: cellclip per channel)
    cellclip = catalog.load("cellclip.model_checkpoint")["config"]
    assert cellclip["image"]["channel_strategy"] == "per_channel"
    per_channel = catalog.load("micon_per_channel.model_checkpoint")["config"]["image"]
    assert per_channel["channel_strategy"] == "per_channel" and per_channel["l2_normalize"]
    assert catalog.load("clip.model_checkpoint")["config"]["molecule"]["kind"] == "fingerprint"
    # training moved the encoder away from its initialisation
    first = schema.embedding_columns(parameters["modeling"]["model"]["image"]["embedding_dim"])
    assert not np.allclose(
        catalog.load("micon.crop_embeddings")[first].to_numpy(),
        catalog.load("untrained.crop_embeddings")[first].to_numpy(),
    )


def test_modeling_diverged_training_stops_and_writes_no_checkpoint_or_embeddings(
    engineered, parameters, monkeypatch
):
    from micon.errors import TrainingDivergedError  # noqa: PLC0415
    from micon.training.module import MiconModule  # noqa: PLC0415

    compute = MiconModule.compute_losses

    def diverging(self, batch, **kwargs):
        losses = compute(self, batch, **kwargs)
        return {**losses, "loss": losses["loss"] * float("inf")}

    monkeypatch.setattr(MiconModule, "compute_losses", diverging)
    pipeline = create_pipeline(methods=["micon"])
    catalog = kept_catalog(
        {name: engineered.load(name) for name in ("crop_store", "crop_index", "source_profile")},
        sorted(pipeline.all_outputs()),
    )
    add_parameters(catalog, parameters)
    with pytest.raises(TrainingDivergedError, match="step 1: non-finite loss"):
        SequentialRunner().run(pipeline, catalog)
    assert not catalog.exists("micon.model_checkpoint")
    assert not catalog.exists("micon.crop_embeddings")


def test_modeling_seeds_train_each_trained_method_once_per_seed_in_its_namespace():
    pipeline = create_pipeline(methods=["paclr", "untrained"], seeds=[3, 5])
    assert sorted(n.name for n in pipeline.nodes) == [
        "paclr_seed3.embed_cell_crops",
        "paclr_seed3.train_model",
        "paclr_seed5.embed_cell_crops",
        "paclr_seed5.train_model",
        "untrained.build_untrained_model",
        "untrained.embed_cell_crops",
    ]
    (node,) = [n for n in pipeline.nodes if n.name == "paclr_seed5.train_model"]
    assert node.inputs[-2:] == ["params:modeling.training", "params:modeling.methods.paclr"]
    assert node.outputs == ["paclr_seed5.model_checkpoint", "paclr_seed5.training_history"]
    assert node.func.keywords == {"method": "paclr", "seed": 5, "run": "paclr_seed5"}
    with pytest.raises(InvalidInputError, match="seeds"):
        create_pipeline(methods=["paclr"], seeds=[1, 1])
    with pytest.raises(InvalidInputError, match="seeds"):
        create_pipeline(methods=["paclr"], seeds=[])


def test_modeling_tiny_screen_seeds_differ_and_default_seed_is_untouched(engineered, parameters, tmp_path):
    pipeline = create_pipeline(methods=["paclr"], seeds=[0, 1])
    catalog = kept_catalog(
        {name: engineered.load(name) for name in ("crop_store", "crop_index", "source_profile")},
        sorted(pipeline.all_outputs()),
    )
    params = {**parameters, "modeling": {**parameters["modeling"]}}
    params["modeling"]["training"] = {**parameters["modeling"]["training"], "run_dir": str(tmp_path)}
    add_parameters(catalog, params)
    SequentialRunner().run(pipeline, catalog)
    first = catalog.load("paclr_seed0.crop_embeddings")
    second = catalog.load("paclr_seed1.crop_embeddings")
    columns = schema.embedding_columns(load_model(catalog.load("paclr_seed0.model_checkpoint")).embedding_dim)
    assert not np.allclose(first[columns].to_numpy(), second[columns].to_numpy())
    assert {p.name for p in tmp_path.iterdir()} == {"paclr_seed0", "paclr_seed1"}


def test_modeling_pipeline_tuned_training_reads_the_tuning_selection():
    pipeline = create_pipeline(methods=["micon", "untrained"], seeds=[0, 1], tuned=True)
    trained = [n for n in pipeline.nodes if n.name.endswith(".train_model")]
    assert sorted(n.name for n in trained) == ["micon_seed0.train_model", "micon_seed1.train_model"]
    for node in trained:
        assert node.inputs[-1] == "tuning_selection" and node.func.__name__ == "train_tuned_model"
    untuned = create_pipeline(methods=["micon"])
    assert "tuning_selection" not in untuned.all_inputs()
