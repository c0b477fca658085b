from __future__ import annotations

import numpy as np
from kedro.runner import SequentialRunner

from micon import schema
from micon.pipelines.modeling import create_pipeline
from micon.pipelines.modeling.pipeline import METHODS
from tests.pipelines.conftest import add_parameters, kept_catalog


def test_modeling_tiny_screen_embeds_every_crop_per_method(engineered, parameters):
    crop_index = engineered.load("crop_index")
    pipeline = create_pipeline()
    catalog = kept_catalog(
        {"crop_store": engineered.load("crop_store"), "crop_index": crop_index},
        sorted(pipeline.all_outputs()),
    )
    add_parameters(catalog, parameters)
    SequentialRunner().run(pipeline, catalog)

    dim = parameters["modeling"]["model"]["image"]["embedding_dim"]
    trained = catalog.load("micon.model_checkpoint")
    untrained = catalog.load("untrained.model_checkpoint")
    assert (trained["method"], untrained["method"]) == ("micon", "untrained")
    history = catalog.load("micon.training_history")
    assert {"step", "loss", "paclr", "cf"} <= set(history.columns) and len(history) > 0
    for method in METHODS:
        embeddings = catalog.load(f"{method}.crop_embeddings")
        features = embeddings[schema.embedding_columns(dim)].to_numpy()
        assert len(embeddings) == len(crop_index)
        assert embeddings[schema.CROP_ID].tolist() == crop_index[schema.CROP_ID].tolist()
        assert np.isfinite(features).all()
    # training moved the encoder away from its initialisation
    first = schema.embedding_columns(dim)
    assert not np.allclose(
        catalog.load("micon.crop_embeddings")[first].to_numpy(),
        catalog.load("untrained.crop_embeddings")[first].to_numpy(),
    )
