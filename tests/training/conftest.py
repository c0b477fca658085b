"""A tiny seeded screen for training tests: 2 sources x 2 batches x 2 plates, 3 compounds + DMSO."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.models.micon import MiconModelConfig, merge_params
from micon.sources.synthetic import SYNTHETIC_PROFILE
from micon.training.data import MiconDataModule
from micon.training.methods import build_model_config, build_objective_config, get_method
from tests.parameters import parameter

COMPOUNDS = {
    "JCP2022_000001": "CC(=O)Oc1ccccc1C(=O)O",  # aspirin
    "JCP2022_000002": "Cn1c(=O)c2c(ncn2C)n(C)c1=O",  # caffeine
    "JCP2022_000003": "CC(C)Cc1ccc(C(C)C(=O)O)cc1",  # ibuprofen
}
CROP_SIZE = 16
CROPS_PER_WELL = 3
TEST_BATCH = ("source_2", "batch_2")  # every other (source, batch) is train


def _build_screen(seed: int = 0) -> tuple[np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    rows = []
    wells = [(jcp, smi, False) for jcp, smi in COMPOUNDS.items()]
    wells += [(schema.DMSO_JCP2022, schema.DMSO_SMILES, True)] * 2
    for s in ("source_1", "source_2"):
        for b in ("batch_1", "batch_2"):
            split = schema.SPLIT_TEST if (s, b) == TEST_BATCH else schema.SPLIT_TRAIN
            for p in ("plate_1", "plate_2"):
                for w, (jcp, smi, is_control) in enumerate(wells):
                    for site in range(CROPS_PER_WELL):
                        rows.append(
                            {
                                schema.SOURCE: s,
                                schema.BATCH: b,
                                schema.PLATE: f"{s}_{b}_{p}",
                                schema.PLATE_TYPE: "COMPOUND",
                                schema.WELL: f"A{w + 1:02d}",
                                schema.SITE: str(site),
                                schema.JCP2022: jcp,
                                schema.STANDARD_SMILES: smi,
                                schema.STANDARD_INCHIKEY: f"KEY-{jcp}",
                                schema.IS_CONTROL: is_control,
                                schema.SPLIT: split,
                                schema.CELL_X: float(rng.uniform(0, 100)),
                                schema.CELL_Y: float(rng.uniform(0, 100)),
                            }
                        )
    index = pd.DataFrame(rows)
    index.insert(0, schema.CROP_ID, np.arange(len(index), dtype=np.int64))
    # Raw intensities: background noise plus a compound-specific channel pattern, with a plate gain.
    n = len(index)
    codes = pd.factorize(index[schema.JCP2022])[0]
    patterns = rng.uniform(200, 2000, size=(codes.max() + 1, len(schema.CHANNELS), 1, 1))
    gains = rng.uniform(0.7, 1.3, size=index[schema.PLATE].nunique())
    plate_codes = pd.factorize(index[schema.PLATE])[0]
    yy, xx = np.mgrid[:CROP_SIZE, :CROP_SIZE]
    blob = np.exp(-((yy - CROP_SIZE / 2) ** 2 + (xx - CROP_SIZE / 2) ** 2) / (2 * 3.0**2))
    crops = 100 + patterns[codes] * blob * (1 + codes[:, None, None, None] % 2 * (xx / CROP_SIZE))
    crops = crops * gains[plate_codes][:, None, None, None] + rng.normal(
        0, 20, size=(n, 5, CROP_SIZE, CROP_SIZE)
    )
    return np.clip(crops, 0, 65535).astype(np.uint16), index


@pytest.fixture(scope="session")
def tiny_screen() -> tuple[np.ndarray, pd.DataFrame]:
    """Return ``(crops (N, 5, 16, 16) uint16, crop_index)`` of the tiny screen; do not mutate."""
    return _build_screen()


@pytest.fixture(scope="session")
def tiny_crops(tiny_screen: tuple[np.ndarray, pd.DataFrame]) -> np.ndarray:
    return tiny_screen[0]


@pytest.fixture(scope="session")
def tiny_crop_index(tiny_screen: tuple[np.ndarray, pd.DataFrame]) -> pd.DataFrame:
    return tiny_screen[1]


# Small, fast networks over the product's architecture (conf/base modeling.model). Raw intensities
# (per_crop scaling), so that tests may embed crops read straight from the store.
TINY_MODEL = {
    "image": {"backbone": "test_resnet", "embedding_dim": 16, "intensity_scaling": "per_crop"},
    "molecule": {"hidden_dim": 16, "num_layers": 2, "out_dim": 16},
    "channel_former": {"dim": 16, "num_layers": 1, "num_heads": 2},
    "frozen_features": {"backbone": "test_resnet"},
    "projection_hidden_dim": 32,
    "projection_dim": 16,
    "generator_hidden_dim": 32,
}
PER_CHANNEL = {"image": {"channel_strategy": "per_channel", "embedding_dim": 10}}


def tiny_model_params(**overrides: Any) -> dict[str, Any]:
    """Return the product's ``modeling.model`` values with :data:`TINY_MODEL` and ``overrides`` merged in."""
    return merge_params(merge_params(parameter("modeling.model", env="base"), TINY_MODEL), overrides)


def tiny_model_config_of(method: str) -> MiconModelConfig:
    """Return the tiny architecture with ``method``'s parts (per channel where it needs a channel former)."""
    spec = get_method(method)
    per_channel = "channel_former" in spec.model_parts or spec.channel_strategy == "per_channel"
    params = tiny_model_params(**(PER_CHANNEL if per_channel else {}))
    return build_model_config(method, params, channels=schema.CHANNELS)


def objective_of(method: str, **overrides: Any) -> Any:
    """Return ``method``'s product objective (conf/base) with ``overrides`` replacing fields."""
    values = parameter(f"modeling.methods.{method}.objective", env="base")
    return build_objective_config(method, {**values, **overrides})


def module_settings(**overrides: Any) -> dict[str, Any]:
    """Return the MiconModule keywords of the product's training budget (conf/base), with overrides."""
    training = parameter("modeling.training", env="base")
    keys = ("lr", "weight_decay", "warmup_steps", "max_steps", "flips", "rot90", "intensity_jitter", "seed")
    return {**{key: training[key] for key in keys}, **overrides}


def tiny_datamodule(
    crops: np.ndarray, crop_index: pd.DataFrame, *, method: str = "micon", **overrides: Any
) -> MiconDataModule:
    """Return a data module of ``method``'s batch fields with the product's sampler settings and overrides."""
    training = parameter("modeling.training", env="base")
    settings = {
        "batch_rows": 4,
        "splits": training["splits"],
        "seed": training["seed"],
        "steps_per_epoch": training["max_steps"],
        "num_workers": training["num_workers"],
        "pin_memory": False,  # CPU tests
        "persistent_workers": training["persistent_workers"],
        "prefetch_factor": training["prefetch_factor"],
        "controls": SYNTHETIC_PROFILE.controls,
        "second_view": training["second_view"],
        "intensity": None,
        "fields": get_method(method).batch_fields,
        "molecule": tiny_model_config_of("micon").molecule,
        **overrides,
    }
    return MiconDataModule(crops, crop_index, **settings)


@pytest.fixture()
def tiny_model_config() -> MiconModelConfig:
    """Return a small, fast MICON architecture for tests."""
    return tiny_model_config_of("micon")
