"""Wiring of the modeling pipeline: one training (or untrained build) and one embedding per method."""

from collections.abc import Sequence
from functools import partial

from kedro.pipeline import Node, Pipeline

from micon.errors import InvalidInputError
from micon.pipelines.per_method import (
    Run,
    bind_keywords,
    pipeline_per_method,
    pipeline_per_run,
    resolve_methods,
    runs_of,
)
from micon.training.methods import get_method

from .nodes import build_untrained_model, embed_cell_crops, train_model, train_tuned_model

_SHARED = ("crop_store", "crop_index", "source_profile")


def _training(run: Run, *, tuned: bool = False) -> Pipeline:
    """Return the training node of one run (``model_checkpoint``, ``training_history``).

    A seeded run gets its seed and run name bound to the node; the default run binds only the method.
    ``tuned``: the node also reads ``tuning_selection`` (the tuning pipeline's choice per method).
    """
    keywords = {} if run.seed is None else {"seed": run.seed, "run": run.name}
    inputs = [
        "crop_store",
        "crop_index",
        "source_profile",
        "params:modeling.model",
        "params:modeling.training",
        "params:method",
    ]
    node = Node(
        bind_keywords(train_tuned_model if tuned else train_model, method=run.method, **keywords),
        [*inputs, "tuning_selection"] if tuned else inputs,
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


def create_pipeline(
    methods: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    tuned: bool = False,
    **kwargs,
) -> Pipeline:
    """Create the pipeline from the crop store to one crop-embedding table per method.

    Every trained method uses the shared budget ``params:modeling.training`` and its own
    ``params:modeling.methods.<method>`` (``model`` overrides of ``params:modeling.model``, and
    ``objective``).

    Args:
        methods: Methods with a model (trained or untrained), in order; None: every such method of the
            registry (``micon.training.methods``) when this is called.
        seeds: Training seeds: each trained method is trained once per seed, in the namespace
            ``<method>_seed<k>`` (``micon.pipelines.per_method.Run``), the seed bound to its training
            node. None: one run per method with ``modeling.training.seed``, named like the method.
            Untrained methods are built once either way.
        tuned: Every trained run reads ``tuning_selection`` (the tuning pipeline's output in the same run)
            and trains with its method's selected learning rate and temperature instead of conf/base's.
        **kwargs: Ignored (Kedro's ``find_pipelines`` passes none).

    Raises:
        UnknownNameError: A method is not registered.
        InvalidInputError: A method has precomputed features (no model to train or embed), or
            ``seeds`` is empty or repeats a seed.
    """
    methods = resolve_methods(methods, "trained", "untrained")
    kinds = {method: get_method(method).kind for method in methods}
    features = [method for method, kind in kinds.items() if kind == "features"]
    if features:
        raise InvalidInputError(
            f"methods {features} have precomputed features; modeling has no model for them"
        )
    model_params = ("params:modeling.model", "params:modeling.training")
    runs = runs_of(methods, seeds)
    trained = pipeline_per_run(
        partial(_training, tuned=tuned),
        [run for m in methods if kinds[m] == "trained" for run in runs[m]],
        inputs=(*_SHARED, "tuning_selection") if tuned else _SHARED,
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
    embedded = pipeline_per_run(
        embedding,
        [run for m in methods for run in runs[m]],
        inputs=("crop_store", "crop_index"),
        parameters=("params:modeling.embedding",),
    )
    return trained + untrained + embedded
