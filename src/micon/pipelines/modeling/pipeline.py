"""Wiring of the modeling pipeline: one training (or untrained build) and one embedding per method."""

from collections.abc import Sequence

from kedro.pipeline import Node, Pipeline

from micon.errors import InvalidInputError
from micon.pipelines.per_method import bind_keywords, pipeline_per_method, resolve_methods
from micon.training.methods import get_method

from .nodes import build_untrained_model, embed_cell_crops, train_model

_SHARED = ("crop_store", "crop_index", "source_profile")


def _training(method: str) -> Pipeline:
    """Return the training node of one method (``model_checkpoint``, ``training_history``)."""
    node = Node(
        bind_keywords(train_model, method=method),
        [
            "crop_store",
            "crop_index",
            "source_profile",
            "params:modeling.model",
            "params:modeling.training",
            "params:method",
        ],
        ["model_checkpoint", "training_history"],
        name="train_model",
    )
    return Pipeline([node])


def _untrained(method: str) -> Pipeline:
    """Return the node building the seeded, randomly initialised model of one method."""
    node = Node(
        bind_keywords(build_untrained_model, method=method),
        ["crop_store", "params:modeling.model", "params:modeling.training"],
        "model_checkpoint",
        name="build_untrained_model",
    )
    return Pipeline([node])


def create_pipeline(methods: Sequence[str] | None = None, **kwargs) -> Pipeline:
    """Create the pipeline from the crop store to one crop-embedding table per method.

    Every trained method uses the shared budget ``params:modeling.training`` and its own
    ``params:modeling.methods.<method>`` (``model`` overrides of ``params:modeling.model``, and
    ``objective``).

    Args:
        methods: Methods with a model (trained or untrained), in order; None: every such method of the
            registry (``micon.training.methods``) when this is called.
        **kwargs: Ignored (Kedro's ``find_pipelines`` passes none).

    Raises:
        UnknownNameError: A method is not registered.
        InvalidInputError: A method has precomputed features (no model to train or embed).
    """
    methods = resolve_methods(methods, "trained", "untrained")
    kinds = {method: get_method(method).kind for method in methods}
    features = [method for method, kind in kinds.items() if kind == "features"]
    if features:
        raise InvalidInputError(
            f"methods {features} have precomputed features; modeling has no model for them"
        )
    model_params = ("params:modeling.model", "params:modeling.training")
    trained = pipeline_per_method(
        _training,
        [m for m in methods if kinds[m] == "trained"],
        inputs=_SHARED,
        parameters=model_params,
        method_parameters={"params:method": "params:modeling.methods.{method}"},
    )
    untrained = pipeline_per_method(
        _untrained,
        [m for m in methods if kinds[m] == "untrained"],
        inputs=("crop_store",),
        parameters=model_params,
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
    embedded = pipeline_per_method(
        embedding, methods, inputs=("crop_store", "crop_index"), parameters=("params:modeling.embedding",)
    )
    return trained + untrained + embedded
