"""Per-method wiring shared by the modeling, reporting and BBBC021 pipelines: one namespace per method."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from functools import partial, update_wrapper
from typing import Any

from kedro.pipeline import Pipeline

from micon.training.methods import get_method, list_methods

__all__ = ["bind_keywords", "pipeline_per_method", "resolve_methods"]


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
