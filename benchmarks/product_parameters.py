"""The product's parameters (``conf/base``) as Kedro loads them, for the benchmarks.

A benchmark times the product's settings and states only what it changes (a smaller screen, a batch size).
Run the benchmarks from the project root (``uv run python benchmarks/bench_<area>.py``); the script's folder
is on ``sys.path``, so they import this module as ``product_parameters``.
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
    return dict(OmegaConfigLoader(conf_source=str(CONF), env=env, **CONFIG_LOADER_ARGS)["parameters"])


def parameter(path: str, env: str = "base") -> Any:
    """Return a fresh copy of one parameter section or value by its dotted path, e.g. ``"reporting"``."""
    value: Any = _load(env)
    for key in path.split("."):
        value = value[key]
    return copy.deepcopy(value)


def make_config(config_class: type[T], path: str, *, env: str = "base", **overrides: Any) -> T:
    """Build ``config_class`` from the parameter section at ``path`` with ``overrides`` replaced."""
    return config_class(**{**parameter(path, env), **overrides})
