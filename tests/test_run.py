"""Integration test: every pipeline runs through a KedroSession on a tiny screen in a temp project root."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kedro.framework.session import KedroSession

from micon.training.methods import list_methods
from tests.kedro_project import temporary_project


@pytest.fixture
def tiny_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's configuration in a temporary folder, so data/ is written there."""
    return temporary_project(tmp_path, monkeypatch)


@pytest.mark.slow
def test_kedro_run_tiny_screen_writes_versioned_metrics(tiny_project: Path) -> None:
    with KedroSession.create(project_path=tiny_project, env="test") as session:
        session.run()

    metrics_versions = sorted((tiny_project / "data/test/08_reporting/retrieval_metrics.json").iterdir())
    assert len(metrics_versions) == 1
    metrics = json.loads((metrics_versions[0] / "retrieval_metrics.json").read_text())
    assert set(metrics) == set(list_methods())
    for chains in metrics.values():
        assert set(chains) == {"raw", "default", "recipe"}
        for scenarios in chains.values():
            assert {"NSB", "NSS"} <= set(scenarios)
            for scores in scenarios.values():
                assert {"top1", "top5", "map", "fraction_retrieved"} <= set(scores)
                assert 0.0 <= scores["top1"] <= scores["top5"] <= 1.0
    for versioned in (
        "06_models/micon_checkpoint.pt",
        "07_model_output/micon_crop_embeddings.parquet",
        "07_model_output/untrained_well_profiles.parquet",
        "08_reporting/retrieval_comparison.png",
        "08_reporting/report.html",
        "08_reporting/comparison_table.md",
    ):
        assert len(list((tiny_project / "data/test" / versioned).iterdir())) == 1, versioned


@pytest.mark.slow
def test_kedro_run_modeling_alone_after_data_engineering(tiny_project: Path) -> None:
    with KedroSession.create(project_path=tiny_project, env="test") as session:
        session.run(pipeline_names=["synthetic", "data_engineering"])
    with KedroSession.create(project_path=tiny_project, env="test") as session:
        session.run(pipeline_names=["modeling"])
    assert (
        len(list((tiny_project / "data/test/07_model_output/micon_crop_embeddings.parquet").iterdir())) == 1
    )
