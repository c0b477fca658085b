"""Every dataset of every pipeline is declared in conf/base/catalog.yml; what a run produces is versioned."""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.framework.project import pipelines
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from micon.pipelines.reporting.pipeline import is_regrouping

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def catalog_and_datasets():
    bootstrap_project(PROJECT_ROOT)
    with KedroSession.create(project_path=PROJECT_ROOT, env="base") as session:
        catalog = session.load_context().catalog
    # the default run and the full comparison (every registered method)
    datasets = pipelines["__default__"].datasets() | pipelines["benchmark"].datasets()
    # reporting's run bundles only regroup outputs written under their own names: in memory by design
    names = sorted(n for n in datasets if not n.startswith("params:") and not is_regrouping(n))
    raw_inputs = pipelines["synthetic"].all_outputs()  # the raw screen, overwritten on each run
    return catalog, names, raw_inputs


def test_every_pipeline_dataset_is_declared(catalog_and_datasets):
    catalog, names, _ = catalog_and_datasets
    undeclared = [n for n in names if type(catalog.get(n)).__name__ == "MemoryDataset"]
    assert undeclared == []


def test_every_produced_dataset_is_versioned(catalog_and_datasets):
    catalog, names, raw_inputs = catalog_and_datasets
    assert len(raw_inputs) == 8  # the raw contract (6), the known truth and the compound annotations
    unversioned = [
        n for n in names if n not in raw_inputs and getattr(catalog.get(n), "_version", None) is None
    ]
    assert unversioned == []


def test_every_written_dataset_saves_atomically(catalog_and_datasets):
    """What a run writes is complete or absent: each written dataset moves a finished temporary into place."""
    from micon.datasets import (  # noqa: PLC0415
        ConfinedPartitionedDataset,
        CropStoreDataset,
        TorchCheckpointDataset,
    )
    from micon.datasets.atomic import AtomicSaveMixin  # noqa: PLC0415

    catalog, names, _ = catalog_and_datasets
    # A partitioned dataset saves each partition through its inner dataset (TIFF: atomic).
    atomic = (AtomicSaveMixin, CropStoreDataset, TorchCheckpointDataset, ConfinedPartitionedDataset)
    written = pipelines["__default__"].all_outputs() | pipelines["benchmark"].all_outputs()
    written = {n for n in written if not is_regrouping(n)}
    not_atomic = [n for n in sorted(written) if not isinstance(catalog.get(n), atomic)]
    assert not_atomic == []
