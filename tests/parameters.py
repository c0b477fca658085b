"""The test environment's parameters (``conf/test`` over ``conf/base``), as a Kedro run sees them.

Tests take their values from here rather than from dataclass defaults or YAML read by hand, so that a test
runs the product's values with only the overrides ``conf/test`` lists; ``env="base"`` gives the product's.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from micon import project_parameters

TEST_ENV = "test"


def load_parameters(env: str = TEST_ENV) -> dict[str, Any]:
    """Return the parameters of ``env`` (default: the test environment) merged over ``conf/base``."""
    return project_parameters.load_parameters(env)


parameter = partial(project_parameters.parameter, env=TEST_ENV)
make_config = partial(project_parameters.make_config, env=TEST_ENV)
