"""The project's parameters as Kedro loads them (base + an environment, merged key by key by settings.py).

Tests take their values from here rather than from dataclass defaults or YAML read by hand, so that a test
runs the product's values (``conf/base``) with only the overrides an environment lists (``conf/test``).
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from kedro.config import OmegaConfigLoader

from micon.settings import CONFIG_LOADER_ARGS

CONF = Path(__file__).resolve().parents[1] / "conf"
T = TypeVar("T")


@cache
def _load(env: str) -> dict[str, Any]:
    loader = OmegaConfigLoader(conf_source=str(CONF), env=env, **CONFIG_LOADER_ARGS)
    return dict(loader["parameters"])


def load_parameters(env: str = "test") -> dict[str, Any]:
    """Return the parameters of ``env`` merged over ``conf/base`` as Kedro merges them (a fresh copy)."""
    return copy.deepcopy(_load(env))


def parameter(path: str, env: str = "test") -> Any:
    """Return one parameter section or value by its dotted path, e.g. ``"modeling.training"``."""
    value: Any = load_parameters(env)
    for key in path.split("."):
        value = value[key]
    return value


def make_config(config_class: type[T], path: str, *, env: str = "test", **overrides: Any) -> T:
    """Build ``config_class`` from the parameter section at ``path`` of ``env``, with ``overrides`` replaced.

    A test states only the values it is about; every other value is the project's own. An override replaces
    the whole value (a nested section too: pass ``parameter(...)`` merged with the change).
    """
    return config_class(**{**parameter(path, env), **overrides})
