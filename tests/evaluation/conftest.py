"""Tiny seeded well-profile and crop tables for the evaluation tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from micon import schema


def make_profiles(
    *,
    n_sources: int = 3,
    n_batches: int = 2,
    n_plates: int = 2,
    n_compounds: int = 5,
    n_dmso: int = 4,
    dim: int = 6,
    signal: float = 2.0,
    seed: int = 0,
    split: str = schema.SPLIT_TEST,
) -> pd.DataFrame:
    """Return one row per well: every compound once per plate plus ``n_dmso`` DMSO wells per plate."""
    rng = np.random.default_rng(seed)
    centroids = rng.normal(size=(n_compounds, dim)) * signal
    rows, feats = [], []
    for s in range(n_sources):
        for b in range(n_batches):
            for p in range(n_plates):
                plate_shift = rng.normal(size=dim) * 0.5
                wells = [(f"C{c}", centroids[c]) for c in range(n_compounds)]
                wells += [(schema.DMSO_JCP2022, np.zeros(dim))] * n_dmso
                for w, (compound, centre) in enumerate(wells):
                    is_control = compound == schema.DMSO_JCP2022
                    rows.append(
                        {
                            schema.SOURCE: f"source_{s}",
                            schema.BATCH: f"batch_{s}_{b}",
                            schema.PLATE: f"plate_{s}_{b}_{p}",
                            schema.PLATE_TYPE: "COMPOUND",
                            schema.WELL: f"A{w:02d}",
                            schema.JCP2022: compound,
                            schema.IS_CONTROL: is_control,
                            schema.SPLIT: split,
                            schema.CELL_COUNT: 10,
                        }
                    )
                    feats.append(centre + plate_shift + rng.normal(size=dim))
    table = pd.DataFrame(rows)
    features = pd.DataFrame(np.asarray(feats, dtype=np.float32), columns=schema.embedding_columns(dim))
    return pd.concat([table, features], axis=1)


@pytest.fixture
def profiles() -> pd.DataFrame:
    return make_profiles()


@pytest.fixture(name="make_profiles")
def make_profiles_fixture():
    return make_profiles
