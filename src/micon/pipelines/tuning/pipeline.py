"""Wiring of the tuning pipeline: one trial node per trained method, then one selection."""

from collections.abc import Sequence

from kedro.pipeline import Node, Pipeline

from micon.errors import InvalidInputError
from micon.pipelines.per_method import bind_keywords, pipeline_per_method, resolve_methods
from micon.training.methods import get_method

from .nodes import select_hyperparameters, tune_method

_SHARED = ("crop_store", "crop_index", "source_profile")
_PARAMETERS = (
    "params:modeling.model",
    "params:modeling.training",
    "params:tuning",
    "params:reporting",
    "params:modeling.embedding",
)


def _trials(method: str) -> Pipeline:
    node = Node(
        bind_keywords(tune_method, method=method),
        [
            "crop_store",
            "crop_index",
            "source_profile",
            "params:modeling.model",
            "params:modeling.training",
            "params:method",
            "params:tuning",
            "params:reporting",
            "params:modeling.embedding",
        ],
        "tuning_trials",
        name="tune_method",
    )
    return Pipeline([node])


def create_pipeline(methods: Sequence[str] | None = None, **kwargs) -> Pipeline:
    """Create the pipeline from the crop store to every trained method's trials and the selection.

    Every method runs the trials of ``params:tuning`` (the same learning rates, temperatures and steps)
    and is scored on the validation wells; ``tuning_trials`` gathers them and ``tuning_selection`` holds
    each method's best. ``uv run python -m micon.apply_tuning`` writes the selection into conf/base and
    renders the search's table into docs/methods.md.

    Args:
        methods: Trained methods, in order; None: every trained method of the registry.
        **kwargs: Ignored (Kedro's ``find_pipelines`` passes none).

    Raises:
        UnknownNameError: A method is not registered.
        InvalidInputError: A method is not trained (nothing to tune).
    """
    methods = resolve_methods(methods, "trained")
    untrained = [m for m in methods if get_method(m).kind != "trained"]
    if untrained:
        raise InvalidInputError(f"methods {untrained} are not trained; tuning has nothing to tune for them")
    trials = pipeline_per_method(
        _trials,
        methods,
        inputs=_SHARED,
        parameters=_PARAMETERS,
        method_parameters={"params:method": "params:modeling.methods.{method}"},
    )
    selection = Node(
        bind_keywords(select_hyperparameters, methods=tuple(methods)),
        ["params:tuning", *(f"{m}.tuning_trials" for m in methods)],
        ["tuning_trials", "tuning_selection", "tuning_provenance"],
        name="select_hyperparameters",
    )
    return trials + Pipeline([selection])
