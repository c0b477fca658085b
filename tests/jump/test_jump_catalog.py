"""The jump environment declares every dataset of the jump pipeline; `__default__` stays synthetic."""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.framework.project import pipelines
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from micon.pipelines.reporting.pipeline import is_regrouping

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def jump_catalog():
    bootstrap_project(PROJECT_ROOT)
    with KedroSession.create(project_path=PROJECT_ROOT, env="jump") as session:
        return session.load_context().catalog


def test_every_jump_pipeline_dataset_is_declared_and_produced_ones_versioned(jump_catalog):
    jump = pipelines["jump"]
    names = sorted(n for n in jump.datasets() if not n.startswith("params:"))
    # field_images is declared in memory: the images are read in place, never copied to the raw layer.
    # (reporting's run bundles only regroup outputs written under their own names)
    in_memory = [
        n for n in names if type(jump_catalog.get(n)).__name__ == "MemoryDataset" and not is_regrouping(n)
    ]
    assert in_memory == ["field_images"]
    assert jump_catalog.get("field_images")._copy_mode == "assign"
    raw = {n for n in pipelines["jump_ingestion"].all_outputs() if not n.endswith("_quarantine")}
    assert raw == set(pipelines["synthetic"].all_outputs()) - {
        "synthetic_well_truth",
        "synthetic_compound_annotations",
    }  # the raw contract
    inputs = pipelines["jump_ingestion"].inputs()
    unversioned = [
        n
        for n in names
        if n not in raw
        and n not in inputs
        and not is_regrouping(n)
        and getattr(jump_catalog.get(n), "_version", None) is None
    ]
    assert unversioned == []


def test_jump_raw_layer_and_gallery_are_jump_locations(jump_catalog):
    assert "data/jump/01_raw" in str(jump_catalog.get("plate_table")._filepath)
    gallery = jump_catalog.get("jump_gallery")._describe()
    assert gallery == {"root": "s3://cellpainting-gallery", "protocol": "s3"}


def test_default_pipeline_leaves_out_jump_ingestion():
    default_nodes = {n.name for n in pipelines["__default__"].nodes}
    assert "generate_synthetic_screen" in default_nodes
    assert not default_nodes & {n.name for n in pipelines["jump_ingestion"].nodes}
    jump_nodes = {n.name for n in pipelines["jump"].nodes}
    assert {
        "index_jump_images",
        "read_jump_fields_in_place",
        "extract_cell_crops",
        "collect_retrieval_metrics",
    } <= jump_nodes
    assert "generate_synthetic_screen" not in jump_nodes
