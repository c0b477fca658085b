"""Wiring of the modeling pipeline."""

from functools import partial, update_wrapper

from kedro.pipeline import Node, Pipeline

from micon.models import TRAINED_METHODS as _MODEL_METHODS

from .nodes import build_untrained_model, embed_cell_crops, train_model

# Methods trained by one `kedro run`, each with the shared budget (params:modeling.training) and its own
# params:modeling.methods.<method>; all of the model package's methods.
TRAINED_METHODS: tuple[str, ...] = _MODEL_METHODS
# Methods whose checkpoints are embedded; reporting evaluates the same list.
METHODS: tuple[str, ...] = (*TRAINED_METHODS, "untrained")


def _training(method: str) -> Pipeline:
    """Return the namespaced training node of one method (``{method}.model_checkpoint``, ``...history``)."""
    train = update_wrapper(partial(train_model, method=method), train_model)
    node = Node(
        train,
        ["crop_store", "crop_index", "params:modeling.model", "params:modeling.training", "params:method"],
        ["model_checkpoint", "training_history"],
        name="train_model",
    )
    return Pipeline(
        [node],
        namespace=method,
        inputs={"crop_store", "crop_index"},
        parameters={
            "params:modeling.model": "params:modeling.model",
            "params:modeling.training": "params:modeling.training",
            "params:method": f"params:modeling.methods.{method}",
        },
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Create the pipeline from the crop store to one crop-embedding table per method."""
    untrained = Pipeline(
        [
            Node(
                build_untrained_model,
                ["params:modeling.model", "params:modeling.training"],
                "model_checkpoint",
                name="build_untrained_model",
            ),
        ],
        namespace="untrained",
        parameters={"params:modeling.model", "params:modeling.training"},
    )
    embedding = Pipeline(
        [
            Node(
                embed_cell_crops,
                ["model_checkpoint", "crop_store", "crop_index", "params:modeling.embedding"],
                "crop_embeddings",
                name="embed_cell_crops",
            )
        ]
    )
    embedded = sum(
        Pipeline(
            embedding,
            namespace=method,
            inputs={"crop_store", "crop_index"},
            parameters={"params:modeling.embedding"},
        )
        for method in METHODS
    )
    return sum((_training(method) for method in TRAINED_METHODS), untrained) + embedded
