"""Per-method wiring shared by the modeling, reporting and BBBC021 pipelines: one namespace per method."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import partial, update_wrapper
from typing import Any

from kedro.pipeline import Pipeline

from micon.errors import InvalidInputError
from micon.training.methods import get_method, list_methods

__all__ = [
    "Run",
    "bind_keywords",
    "check_seeds",
    "pipeline_per_method",
    "pipeline_per_run",
    "resolve_methods",
    "runs_of",
]


@dataclass(frozen=True)
class Run:
    """One model of a method: its namespace, the method and the training seed (None: the configured one).

    Without seeds a method has one run named like the method (``micon``), so the default run's
    datasets keep their names; with seeds each trained method has one run per seed, named
    ``<method>_seed<k>`` (``micon_seed1``): a flat namespace that the catalog's ``{method}.<name>``
    factories serve like a method's (files ``micon_seed1_checkpoint.pt``, ``08_reporting/micon_seed1/``).
    """

    name: str
    method: str
    seed: int | None = None


def check_seeds(seeds: Sequence[int] | None) -> tuple[int, ...] | None:
    """Return ``seeds`` as a tuple of distinct integers (None stays None).

    Raises:
        InvalidInputError: ``seeds`` is empty, repeats a seed, or holds a non-integer.
    """
    if seeds is None:
        return None
    seeds = tuple(seeds)
    bad = [s for s in seeds if isinstance(s, bool) or not isinstance(s, int)]
    if not seeds or bad or len(set(seeds)) != len(seeds):
        raise InvalidInputError(f"seeds must be None or distinct integers (at least one), got {list(seeds)}")
    return seeds


def runs_of(methods: Sequence[str], seeds: Sequence[int] | None) -> dict[str, tuple[Run, ...]]:
    """Return each method's runs: one per seed for a trained method when ``seeds`` is given, else one.

    Untrained and feature methods are built once (the untrained floor with ``modeling.training.seed``).
    """
    seeds = check_seeds(seeds)
    return {
        method: (
            tuple(Run(f"{method}_seed{seed}", method, seed) for seed in seeds)
            if seeds is not None and get_method(method).kind == "trained"
            else (Run(method, method),)
        )
        for method in methods
    }


def pipeline_per_run(
    build: Pipeline | Callable[[Run], Pipeline],
    runs: Sequence[Run],
    *,
    inputs: Collection[str] = (),
    parameters: Collection[str] = (),
    method_parameters: Mapping[str, str] | None = None,
) -> Pipeline:
    """As :func:`pipeline_per_method`, one copy per run in the run's namespace (``build`` takes the run).

    ``{method}`` in ``method_parameters`` is replaced by the run's method, so every seed of a method
    reads the method's one parameter entry.
    """
    templates = dict(method_parameters or {})
    pipelines = [
        Pipeline(
            build(run) if callable(build) and not isinstance(build, Pipeline) else build,
            namespace=run.name,
            inputs=set(inputs),
            parameters={
                **{name: name for name in parameters},
                **{local: name.format(method=run.method) for local, name in templates.items()},
            },
        )
        for run in runs
    ]
    return sum(pipelines, Pipeline([]))


def pipeline_per_method(
    build: Pipeline | Callable[[str], Pipeline],
    methods: Sequence[str],
    *,
    inputs: Collection[str] = (),
    parameters: Collection[str] = (),
    method_parameters: Mapping[str, str] | None = None,
) -> Pipeline:
    """Return one copy of a pipeline per method, each in the method's namespace, summed.

    Datasets of a copy are ``<method>.<name>`` (served by the catalog's ``"{method}.<name>"`` factories)
    except the shared ``inputs`` and ``parameters``, which every copy reads unchanged.

    Args:
        build: The pipeline, or a function of the method name returning it (a node bound to the method).
        methods: The methods, in order; each becomes a namespace.
        inputs: Free inputs shared by every method (e.g. ``crop_store``).
        parameters: ``params:`` entries shared by every method.
        method_parameters: Per-method parameters: local name -> global name, where ``{method}`` in the
            global name is replaced by the method (``{"params:method": "params:modeling.methods.{method}"}``).

    Returns:
        The sum of the namespaced pipelines (an empty pipeline for no methods).
    """
    templates = dict(method_parameters or {})
    pipelines = [
        Pipeline(
            build(method) if callable(build) and not isinstance(build, Pipeline) else build,
            namespace=method,
            inputs=set(inputs),
            parameters={
                **{name: name for name in parameters},
                **{local: name.format(method=method) for local, name in templates.items()},
            },
        )
        for method in methods
    ]
    return sum(pipelines, Pipeline([]))


def resolve_methods(methods: Sequence[str] | None, *kinds: str) -> tuple[str, ...]:
    """Return ``methods`` checked against the registry, or the registry's methods of ``kinds`` when None.

    The registry (``micon.training.methods``) is read when a pipeline is created, so a method registered
    before then joins it.

    Raises:
        UnknownNameError: A method is not registered.
    """
    if methods is None:
        return list_methods(*kinds)
    for method in methods:
        get_method(method)
    return tuple(methods)


def bind_keywords(func: Callable[..., Any], **keywords: Any) -> Callable[..., Any]:
    """Return ``func`` with keyword arguments bound, keeping its name (Kedro names and shows nodes by it).

    A node of one method binds ``method=``; a node that gathers per-method outputs binds ``methods=``
    and lists the outputs positionally in that order, so the function zips them to the names it is
    given and never parses dataset names.
    """
    return update_wrapper(partial(func, **keywords), func)
