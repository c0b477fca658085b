"""Integration test: a tiny run tracked in MLflow (a local store in tmp), one run id across its outputs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch
from kedro.framework.session import KedroSession

from micon.errors import InvalidConfigError
from micon.parameters import validate_parameters
from micon.pipelines.compositions import DEFAULT_METHODS, DEFAULT_MODEL_METHODS
from micon.runs import read_manifest
from micon.session import load_run_outputs
from micon.tracking import flatten_params, retrieval_metric_items
from micon.training.methods import list_methods
from tests.kedro_project import temporary_project
from tests.parameters import load_parameters

RUN_ROOT = "data/test"


@pytest.fixture
def tiny_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's configuration in a temporary folder, so data/ and mlruns/ are written there."""
    # Nothing may reach the network: no server URI, and MLflow's own telemetry off.
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "true")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    root = temporary_project(tmp_path, monkeypatch)
    # a git work tree, so the run has a commit to record
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org"]
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "tiny project"], cwd=root, check=True)
    return root


def _run(project: Path, pipelines: list[str] | None = None, nodes: list[str] | None = None, **params) -> str:
    with KedroSession.create(project_path=project, env="test", runtime_params=params) as session:
        session.run(pipeline_names=pipelines, node_names=nodes)
        return session.session_id


@pytest.mark.slow
def test_tracked_run_one_identity_mlflow_pointer_and_loading(tiny_project: Path) -> None:
    from mlflow import MlflowClient

    run_dir = tiny_project / RUN_ROOT / "06_models" / "runs"
    tracked = {"tracking": {"enabled": True}, "modeling": {"training": {"run_dir": str(run_dir)}}}
    first = _run(tiny_project, **tracked)

    # --- the manifest and the pointer name the run; its datasets carry its id as their version ---
    manifest = read_manifest(first, run_root=tiny_project / RUN_ROOT)
    assert manifest["status"] == "success" and manifest["run_id"] == first
    assert read_manifest(run_root=tiny_project / RUN_ROOT) == manifest
    assert {"comparison_table", "report_html", "micon.model_checkpoint"} <= set(manifest["datasets"])
    assert {d["version"] for d in manifest["datasets"].values()} == {first}
    for record in manifest["datasets"].values():
        assert Path(record["path"]).exists(), record
    # the training logs of each method are named by the run id
    trained = [m for m in DEFAULT_MODEL_METHODS if m in list_methods("trained")]  # the default run's
    for method in trained:
        assert (run_dir / method / first / "csv").is_dir(), method
    # the report and the provenance name the run id and the commit
    provenance = json.loads(Path(manifest["datasets"]["run_provenance"]["path"]).read_text())
    assert provenance["run_id"] == first
    report = Path(manifest["datasets"]["report_html"]["path"]).read_text()
    assert first in report
    if provenance["commit"]:
        assert provenance["commit"] in report

    # --- the MLflow run, read back through MLflow's API from the local store under the run root ---
    tracking_uri = manifest["mlflow"]["tracking_uri"]
    assert tracking_uri.startswith("sqlite:///") and str(tiny_project / RUN_ROOT / "mlruns") in tracking_uri
    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name("micon")
    parent = client.get_run(manifest["mlflow"]["run_id"])
    assert parent.info.run_name == first and parent.data.tags["micon.run_id"] == first
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["mlflow.source.git.commit"] == str(provenance["commit"])
    assert parent.data.params["modeling.training.max_steps"] == "4"
    assert parent.data.params["tracking.enabled"] == "True"
    metrics = parent.data.metrics
    for method in ["known_truth", *DEFAULT_METHODS]:
        assert 0.0 <= metrics[f"retrieval/{method}/default/NSB/top1"] <= 1.0, method
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id, "report")}
    assert "report/report.html" in artifacts and "report/comparison_table.csv" in artifacts
    checkpoints = {a.path for a in client.list_artifacts(parent.info.run_id, "checkpoints")}
    assert "checkpoints/micon_checkpoint.pt" in checkpoints
    # each trained method is a child run with its training curve
    children = client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'"
    )
    assert {child.data.tags["micon.method"] for child in children} == set(trained)
    for child in children:
        assert child.data.tags["micon.run_id"] == first
        seed = child.data.tags["micon.seed"]  # a benchmark's seeds of one method are told apart
        assert child.info.run_name == f"{child.data.tags['micon.method']} seed {seed}"
        history = client.get_metric_history(child.info.run_id, "train/loss")
        assert len(history) >= 2, child.data.tags["micon.method"]

    # --- a second run moves the pointer; each run's outputs load at their own versions ---
    # (one node: the untrained floor, rebuilt with another seed, so the two versions differ)
    untrained = "untrained.model_checkpoint"
    second = _run(
        tiny_project, ["modeling"], ["untrained.build_untrained_model"], modeling={"training": {"seed": 1}}
    )
    assert second > first
    latest = read_manifest(run_root=tiny_project / RUN_ROOT)
    assert latest["run_id"] == second and set(latest["datasets"]) == {untrained}
    assert latest["mlflow"] is None  # tracking off (conf/test): the manifest is still written
    assert len(client.search_runs([experiment.experiment_id])) == 1 + len(children)
    loaded = {
        run_id: load_run_outputs(run_id, [untrained], env="test", project_path=tiny_project)[untrained]
        for run_id in (first, second)
    }
    for run_id in (first, second):
        saved = torch.load(_path(tiny_project, run_id, untrained), weights_only=True)
        assert _same_weights(loaded[run_id], saved), run_id
    assert not _same_weights(loaded[first], loaded[second])
    assert _same_weights(load_run_outputs(names=[untrained], env="test")[untrained], loaded[second])
    assert load_run_outputs(first, ["run_provenance"], env="test")["run_provenance"]["run_id"] == first

    # --- a failing run records itself as failed and leaves the pointer on the last complete run ---
    # (an unreadable checkpoint: a missing one is refused before the run starts, micon.upstream)
    for version in (tiny_project / RUN_ROOT / "06_models" / "micon_checkpoint.pt").iterdir():
        (version / "micon_checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(Exception):  # noqa: B017 - Kedro's load error; the manifest records it below
        _run(tiny_project, ["modeling"], ["micon.embed_cell_crops"])
    assert read_manifest(run_root=tiny_project / RUN_ROOT)["run_id"] == second
    manifests = [json.loads(p.read_text()) for p in (tiny_project / RUN_ROOT / "runs").glob("2*.json")]
    assert sorted((m["run_id"], m["status"]) for m in manifests)[:2] == [
        (first, "success"),
        (second, "success"),
    ]
    (failed,) = [m for m in manifests if m["status"] == "failed"]
    assert failed["run_id"] > second and "micon_checkpoint" in failed["error"]


def _same_weights(a: dict, b: dict) -> bool:
    return a["state_dict"].keys() == b["state_dict"].keys() and all(
        torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"]
    )


def test_flatten_params_dotted_text_keys() -> None:
    assert flatten_params({"a": {"b": 1, "c": [1, 2], "d": {}}, "e": None}) == {
        "a.b": "1",
        "a.c": "[1, 2]",
        "a.d": "{}",
        "e": "None",
    }


def test_retrieval_metric_items_name_method_chain_level_metric() -> None:
    metrics = {"micon": {"default": {"NSB": {"top1": 0.5, "map": 0.25}}}}
    assert dict(retrieval_metric_items(metrics)) == {
        "retrieval/micon/default/NSB/top1": 0.5,
        "retrieval/micon/default/NSB/map": 0.25,
    }


def test_tracking_parameters_validated() -> None:
    params = load_parameters()
    assert params["tracking"]["enabled"] is False  # conf/test turns it off; conf/base on
    assert load_parameters("base")["tracking"] == {
        "enabled": True,
        "tracking_uri": None,
        "experiment_name": "micon",
    }
    with pytest.raises(InvalidConfigError, match="tracking.enabled"):
        validate_parameters({**params, "tracking": {**params["tracking"], "enabled": "no"}})
    with pytest.raises(InvalidConfigError, match="experiment_name"):
        validate_parameters({**params, "tracking": {**params["tracking"], "experiment_name": " "}})


def _path(project: Path, run_id: str, name: str) -> str:
    return read_manifest(run_id, run_root=project / RUN_ROOT)["datasets"][name]["path"]
