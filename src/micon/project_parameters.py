"""The project's parameters as a Kedro run sees them: ``conf/base`` merged key by key with an environment.

Tests and benchmarks take their values from here (never from YAML read by hand or from defaults in code),
so they run the product's values with only the overrides an environment lists.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from kedro.config import OmegaConfigLoader

from micon.settings import CONFIG_LOADER_ARGS

CONF = Path(__file__).resolve().parents[2] / "conf"
T = TypeVar("T")


@cache
def _load(env: str, conf_source: str) -> dict[str, Any]:
    return dict(OmegaConfigLoader(conf_source=conf_source, env=env, **CONFIG_LOADER_ARGS)["parameters"])


def load_parameters(env: str = "base", *, conf_source: Path = CONF) -> dict[str, Any]:
    """Return the parameters of ``env`` merged over ``conf/base`` as Kedro merges them (a fresh copy)."""
    return copy.deepcopy(_load(env, str(conf_source)))


def parameter(path: str, env: str = "base") -> Any:
    """Return one parameter section or value by its dotted path, e.g. ``"modeling.training"``."""
    value: Any = load_parameters(env)
    for key in path.split("."):
        value = value[key]
    return value


def make_config(config_class: type[T], path: str, *, env: str = "base", **overrides: Any) -> T:
    """Build ``config_class`` from the parameter section at ``path`` of ``env``, with ``overrides`` replaced.

    An override replaces the whole value (a nested section too: pass ``parameter(...)`` merged with the
    change).
    """
    return config_class(**{**parameter(path, env), **overrides})
