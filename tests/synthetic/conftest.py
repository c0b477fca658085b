"""Tiny seeded synthetic screens shared by the synthetic tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from micon.sources.synthetic import SyntheticScreen, SyntheticScreenConfig, generate_screen
from tests.parameters import parameter


def make_tiny_config(**overrides: object) -> SyntheticScreenConfig:
    """Return a tiny screen config: 2 sources x 2 batches x 2 plates, 8 compounds, 64 px fields.

    The values not listed are conf/test's (base merged with the test environment).
    """
    values: dict[str, object] = {
        **parameter("synthetic"),
        "seed": 0,
        "n_sources": 2,
        "n_batches_per_source": 2,
        "n_plates_per_batch": 2,
        "n_compounds": 8,
        "n_salt_forms": 2,
        "n_charged_forms": 2,
        "n_noncanonical_forms": 1,
        "n_invalid_compounds": 2,
        "n_dmso_wells_per_plate": 3,
        "field_size_px": 64,
        "mean_cells_per_field": 5.0,
    }
    values.update(overrides)
    return SyntheticScreenConfig(**values)


@pytest.fixture(scope="session")
def make_config() -> Callable[..., SyntheticScreenConfig]:
    """Return the tiny-config factory; keyword arguments override fields."""
    return make_tiny_config


@pytest.fixture(scope="session")
def tiny_config() -> SyntheticScreenConfig:
    return make_tiny_config()


@pytest.fixture(scope="session")
def tiny_screen(tiny_config: SyntheticScreenConfig) -> SyntheticScreen:
    return generate_screen(tiny_config)
