"""A method added as a user adds one (a registry entry plus its loss), then trained, embedded and reported."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
import pytest
import torch
from kedro.runner import SequentialRunner
from torch import Tensor

from micon import schema
from micon.models import MiconModel, load_model, supervised_contrastive_loss
from micon.pipelines import modeling, reporting
from micon.pipelines.reporting.pipeline import QUARANTINES
from micon.training.augment import CropAugmenter
from micon.training.methods import MethodSpec, list_methods, register_method, unregister_method
from micon.training.objectives import TrainingBatch
from tests.pipelines.conftest import add_parameters, kept_catalog


# --- what a user writes: an objective config, a loss function and one registry entry --------------
@dataclass(frozen=True, kw_only=True)
class ToyObjectiveConfig:
    """Image-only supervised contrastive learning on compound labels.

    Attributes:
        temperature: SupCon temperature.
    """

    temperature: float


def toy_losses(
    model: MiconModel, batch: TrainingBatch, config: ToyObjectiveConfig, augment: CropAugmenter
) -> dict[str, Tensor]:
    """Return SupCon over both treated crops of each row, labelled by compound."""
    images = torch.cat([augment(batch["treated_1"]), augment(batch["treated_2"])])
    projections = model.projection_head(model.image_encoder(images))
    labels = batch["compound_labels"].repeat(2)
    return {"loss": supervised_contrastive_loss(projections, labels, temperature=config.temperature)}


TOY = MethodSpec(
    name="toy",
    kind="trained",
    objective=ToyObjectiveConfig,
    loss=toy_losses,
    batch_fields=("treated",),
)
# ------------------------------------------------------------------------------------------------


@pytest.fixture()
def toy_method() -> Iterator[MethodSpec]:
    """Register the toy method for one test and remove it afterwards."""
    register_method(TOY)
    try:
        yield TOY
    finally:
        unregister_method(TOY.name)


def test_toy_method_registered_joins_every_pipeline_created_afterwards(toy_method):
    assert "toy" in list_methods("trained")
    assert "toy.train_model" in {n.name for n in modeling.create_pipeline().nodes}
    assert "toy.default.evaluate_retrieval" in {n.name for n in reporting.create_pipeline().nodes}


def test_toy_method_unregistered_leaves_the_pipelines():
    assert "toy" not in list_methods()
    assert "toy.train_model" not in {n.name for n in modeling.create_pipeline().nodes}


def test_toy_method_trains_embeds_and_reaches_the_comparison(toy_method, engineered, parameters, tmp_path):
    methods = ("toy", "untrained", "cellprofiler")
    pipeline = modeling.create_pipeline(methods=methods[:2]) + reporting.create_pipeline(methods=methods)
    crop_index = engineered.load("crop_index")
    inputs = {
        "crop_store": engineered.load("crop_store"),
        "crop_index": crop_index,
        "source_profile": engineered.load("source_profile"),
        "cellprofiler.crop_embeddings": engineered.load("cellprofiler.crop_embeddings"),
        "micon.training_history": pd.DataFrame({"step": [1, 2], "loss": [2.0, 1.0]}),
        **{name: engineered.load(name) for name in QUARANTINES},
    }
    catalog = kept_catalog(inputs, sorted(pipeline.all_outputs()))
    params = {
        **parameters,
        "reporting": {
            **parameters["reporting"],
            "retrieval": {
                **parameters["reporting"]["retrieval"],
                "null_size": 100,
                "null_cache_dir": str(tmp_path),
            },
        },
    }
    params["modeling"] = {
        **params["modeling"],
        "methods": {**params["modeling"]["methods"], "toy": {"model": {}, "objective": {"temperature": 0.2}}},
    }
    add_parameters(catalog, params)
    SequentialRunner().run(pipeline, catalog)

    checkpoint = catalog.load("toy.model_checkpoint")
    assert checkpoint["method"] == "toy"
    assert checkpoint["config"]["parts"] == ()  # image encoder and projection head only
    history = catalog.load("toy.training_history")
    assert list(history.columns) == ["step", "loss", "lr"] and len(history) > 0
    dim = load_model(checkpoint).embedding_dim
    embeddings = catalog.load("toy.crop_embeddings")
    assert embeddings[schema.CROP_ID].tolist() == crop_index[schema.CROP_ID].tolist()
    assert embeddings[schema.embedding_columns(dim)].notna().all().all()
    metrics = catalog.load("retrieval_metrics")
    assert list(metrics) == list(methods)
    assert set(metrics["toy"]) == {"raw", "default", "recipe"}
    assert set(metrics["toy"]["default"]) == {"NR", "NSB", "NSS", "NSL", "NSSL", "NSPL"}
    assert list(dict.fromkeys(catalog.load("comparison_table")["method"])) == list(methods)
    assert re.search(r"\| toy +\|", catalog.load("comparison_table_markdown"))  # cells padded by tabulate
