"""Shared fixtures for pipeline tests: a tiny synthetic screen and the project's parameters."""

from __future__ import annotations

from typing import Any

import pytest
from kedro.io import DataCatalog, MemoryDataset

from micon.sources.synthetic import SYNTHETIC_PROFILE, SyntheticScreenConfig, generate_screen
from tests.parameters import load_parameters


class KeptMemoryDataset(MemoryDataset):
    """A MemoryDataset the runner cannot release, so a test can load intermediate outputs afterwards."""

    def _release(self) -> None:
        pass


def kept_catalog(inputs: dict[str, Any], outputs: list[str]) -> DataCatalog:
    """Return a catalog of the given inputs plus kept (never released) datasets for ``outputs``."""
    catalog = DataCatalog({name: MemoryDataset(value, copy_mode="assign") for name, value in inputs.items()})
    for name in outputs:
        catalog[name] = KeptMemoryDataset(copy_mode="assign")
    return catalog


def add_parameters(catalog: DataCatalog, params: dict[str, Any], prefix: str = "params") -> None:
    """Add ``params:a``, ``params:a.b`` ... entries for every nested key, as Kedro does."""
    for key, value in params.items():
        name = f"{prefix}:{key}" if prefix == "params" else f"{prefix}.{key}"
        catalog[name] = MemoryDataset(value)
        if isinstance(value, dict):
            add_parameters(catalog, value, prefix=name)


@pytest.fixture(scope="session")
def parameters() -> dict[str, Any]:
    """The test environment's parameters: conf/base merged key by key with conf/test, as Kedro merges them."""
    return load_parameters("test")


@pytest.fixture(scope="session")
def tiny_screen(parameters):
    return generate_screen(SyntheticScreenConfig(**parameters["synthetic"]))


@pytest.fixture(scope="session")
def engineered(tiny_screen, parameters, tmp_path_factory) -> DataCatalog:
    """The tiny screen run through data_engineering, outputs kept in memory (crop stores' parts on disk)."""
    from kedro.runner import SequentialRunner

    from micon.datasets import CropStoreWriter
    from micon.pipelines.data_engineering import create_pipeline

    stores = tmp_path_factory.mktemp("crop_stores")

    pipeline = create_pipeline()
    inputs = {
        "plate_table": tiny_screen.plate_table,
        "well_table": tiny_screen.well_table,
        "compound_table": tiny_screen.compound_table,
        "image_index": tiny_screen.image_index,
        "field_images": tiny_screen.fields,
        "crop_store_writer": CropStoreWriter(protocol="file", path=f"{stores}/crop_store", options={}),
        "crop_masks_writer": CropStoreWriter(protocol="file", path=f"{stores}/crop_masks", options={}),
        "source_profile": SYNTHETIC_PROFILE.to_dict(),
    }
    catalog = kept_catalog(inputs, sorted(pipeline.all_outputs()))
    add_parameters(catalog, parameters)
    SequentialRunner().run(pipeline, catalog)
    return catalog
