"""Integration test: every pipeline runs through a KedroSession on a tiny screen in a temp project root."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from kedro.framework.session import KedroSession

from micon.pipelines.compositions import COMPOSITIONS, DEFAULT_METHODS
from micon.render_tables import latest_run
from tests.kedro_project import temporary_project

SEEDS = (0, 1)


@pytest.fixture
def tiny_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's configuration in a temporary folder, so data/ is written there."""
    return temporary_project(tmp_path, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("pipeline", "methods"),
    [
        # the default run: MICON, the floors and the CellProfiler-style row
        (None, DEFAULT_METHODS),
        # the full comparison (`kedro run --env benchmark`): tuning, then each trained method per seed
        ("benchmark", None),
    ],
)
def test_kedro_run_tiny_screen_writes_versioned_metrics(
    tiny_project: Path,
    pipeline: str | None,
    methods: tuple[str, ...] | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if pipeline == "benchmark":
        # The registered benchmark with two trained methods and two seeds instead of every method and
        # three (25 report rows take minutes); it differs only in these lists, which
        # tests/test_environments.py checks on the registered composition.
        trained, floors = ("micon", "clip"), ("untrained", "cellprofiler", "intensity")
        options = dict(COMPOSITIONS["benchmark"].options)
        options["tuning"] = {"methods": trained}
        options["modeling"] = {**options["modeling"], "methods": (*trained, "untrained"), "seeds": SEEDS}
        options["reporting"] = {**options["reporting"], "methods": (*trained, *floors), "seeds": SEEDS}
        monkeypatch.setitem(COMPOSITIONS, "benchmark", replace(COMPOSITIONS["benchmark"], options=options))
    # the benchmark tunes on validation wells: the tiny screen gets a validation batch per source
    runtime = (
        {
            "synthetic": {"n_batches_per_source": 3},
            "data_engineering": {"splits": {"val_batches_per_source": 1}},
        }
        if pipeline == "benchmark"
        else None
    )
    with KedroSession.create(project_path=tiny_project, env="test", runtime_params=runtime) as session:
        session.run(pipeline_names=[pipeline] if pipeline else None)

    metrics_versions = sorted((tiny_project / "data/test/08_reporting/retrieval_metrics.json").iterdir())
    assert len(metrics_versions) == 1
    metrics = json.loads((metrics_versions[0] / "retrieval_metrics.json").read_text())
    # the synthetic screen's compositions score the known truth first, beside their methods
    if methods is None:  # each trained method once per seed
        rows = [
            "micon_seed0",
            "micon_seed1",
            "clip_seed0",
            "clip_seed1",
            "untrained",
            "cellprofiler",
            "intensity",
        ]
    else:
        rows = list(methods)
    assert list(metrics) == ["known_truth", *rows]
    for chains in metrics.values():
        assert set(chains) == {"raw", "default", "recipe"}
        for scenarios in chains.values():
            assert {"NSB", "NSS"} <= set(scenarios)
            for scores in scenarios.values():
                assert {"top1", "top5", "map", "fraction_retrieved"} <= set(scores)
                assert 0.0 <= scores["top1"] <= scores["top5"] <= 1.0
    micon = "micon" if methods else f"micon_seed{SEEDS[0]}"
    tuned = ("06_models/tuning/tuning_selection.csv",) if methods is None else ()
    for versioned in (
        *tuned,
        f"06_models/{micon}_checkpoint.pt",
        f"07_model_output/{micon}_crop_embeddings.parquet",
        "07_model_output/untrained_well_profiles.parquet",
        "08_reporting/retrieval_comparison.png",
        "08_reporting/report.html",
        "08_reporting/comparison_table.md",
        "07_model_output/known_truth_well_profiles.parquet",
        "07_model_output/intensity_crop_embeddings.parquet",
    ):
        assert len(list((tiny_project / "data/test" / versioned).iterdir())) == 1, versioned
    # the comparison table and the run's provenance share the run's save version (render_tables pairs them)
    run = latest_run(tiny_project / "data/test")
    assert run.comparison["method"].iloc[0] == "known_truth"
    assert set(run.provenance) >= {"commit", "dirty", "command", "finished_at"}


@pytest.mark.slow
def test_kedro_run_modeling_alone_after_data_engineering(tiny_project: Path) -> None:
    with KedroSession.create(project_path=tiny_project, env="test") as session:
        session.run(pipeline_names=["synthetic", "data_engineering"])
    with KedroSession.create(project_path=tiny_project, env="test") as session:
        session.run(pipeline_names=["modeling"])
    assert (
        len(list((tiny_project / "data/test/07_model_output/micon_crop_embeddings.parquet").iterdir())) == 1
    )
