"""A run that reads outputs no earlier run wrote is refused before its first node, naming what to run."""

from __future__ import annotations

import pandas as pd
import pytest
from kedro.io import DataCatalog, Version
from kedro.pipeline import Node, Pipeline

from micon.datasets import AtomicCSVDataset
from micon.hooks import UpstreamCheckHooks
from micon.upstream import MissingUpstreamError, check_upstream, producers


def _identity(data):
    return data


@pytest.fixture
def project(tmp_path):
    """``make`` writes ``table`` (versioned) from a source; ``use`` reads it and writes ``summary``."""
    make = Pipeline([Node(_identity, "source", "table", name="make_table")])
    use = Pipeline([Node(_identity, "table", "summary", name="summarise")])
    catalog = DataCatalog(
        {
            "source": AtomicCSVDataset(filepath=str(tmp_path / "absent_source.csv")),
            "table": AtomicCSVDataset(filepath=str(tmp_path / "table.csv"), version=Version(None, None)),
        }
    )
    return {"make": make, "use": use, "__default__": make + use}, catalog


def test_producers_map_each_dataset_to_the_pipelines_writing_it_leaving_out_compositions(project):
    pipelines, _ = project
    assert producers(pipelines, skip={"__default__"}) == {"table": ["make"], "summary": ["use"]}


def test_a_missing_upstream_version_names_the_pipeline_that_writes_it_and_the_command(project, tmp_path):
    pipelines, catalog = project
    project_root = tmp_path
    with pytest.raises(MissingUpstreamError) as info:
        check_upstream(pipelines["use"], catalog, lambda: pipelines, skip={"__default__"}, env="test")
    message = str(info.value)
    assert f"table ({project_root / 'table.csv'}): written by make" in message
    assert "`kedro run --env test --pipelines make`" in message
    assert "source" not in message  # a missing source no pipeline writes is left to Kedro's load error


def test_an_upstream_written_by_an_earlier_run_passes(project):
    pipelines, catalog = project
    catalog.save("table", pd.DataFrame({"a": [1]}))
    check_upstream(pipelines["use"], catalog, lambda: pipelines, skip={"__default__"})
    check_upstream(pipelines["__default__"], catalog, lambda: pipelines, skip={"__default__"})  # its own


def test_the_hook_refuses_a_reporting_run_before_modeling(project, monkeypatch):
    pipelines, catalog = project
    monkeypatch.setattr("micon.hooks._all_pipelines", lambda: pipelines)
    with pytest.raises(MissingUpstreamError, match="--pipelines make"):
        UpstreamCheckHooks().before_pipeline_run({"env": "local"}, pipelines["use"], catalog)
