"""Integration test: every pipeline runs through a KedroSession on a tiny screen in a temp project root."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from micon.pipelines.modeling.pipeline import METHODS

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def tiny_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's configuration in a temporary folder, so data/ is written there."""
    shutil.copy(PROJECT_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copy(PROJECT_ROOT / ".telemetry", tmp_path / ".telemetry")
    shutil.copytree(PROJECT_ROOT / "conf", tmp_path / "conf", ignore=shutil.ignore_patterns("local"))
    (tmp_path / "conf" / "local").mkdir()
    (tmp_path / "src").mkdir()  # the package itself is imported from the installed project
    monkeypatch.chdir(tmp_path)
    bootstrap_project(tmp_path)
    return tmp_path


@pytest.mark.slow
def test_kedro_run_tiny_screen_writes_versioned_metrics(tiny_project: Path) -> None:
    with KedroSession.create(project_path=tiny_project, env="test") as session:
        session.run()

    metrics_versions = sorted((tiny_project / "data/08_reporting/retrieval_metrics.json").iterdir())
    assert len(metrics_versions) == 1
    metrics = json.loads((metrics_versions[0] / "retrieval_metrics.json").read_text())
    assert set(metrics) == set(METHODS)
    for scenarios in metrics.values():
        assert {"NSB", "NSS"} <= set(scenarios)
        for scores in scenarios.values():
            assert {"top1", "top5", "map", "fraction_retrieved"} <= set(scores)
            assert 0.0 <= scores["top1"] <= scores["top5"] <= 1.0
    for versioned in (
        "06_models/micon_checkpoint.pt",
        "07_model_output/micon_crop_embeddings.parquet",
        "07_model_output/untrained_well_profiles.parquet",
        "08_reporting/retrieval_comparison.png",
    ):
        assert len(list((tiny_project / "data" / versioned).iterdir())) == 1, versioned


@pytest.mark.slow
def test_kedro_run_modeling_alone_after_data_engineering(tiny_project: Path) -> None:
    with KedroSession.create(project_path=tiny_project, env="test") as session:
        session.run(pipeline_names=["synthetic", "data_engineering"])
    with KedroSession.create(project_path=tiny_project, env="test") as session:
        session.run(pipeline_names=["modeling"])
    assert len(list((tiny_project / "data/07_model_output/micon_crop_embeddings.parquet").iterdir())) == 1
