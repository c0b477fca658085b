import json

import pytest

from micon.errors import InvalidInputError
from micon.runs import (
    RunContext,
    current_run,
    load_versions,
    load_versions_option,
    manifest_path,
    read_manifest,
    set_current_run,
    write_manifest,
)

FIRST, SECOND, FAILED = "2026-12-01T10.00.00.000Z", "2026-12-01T11.00.00.000Z", "2026-12-01T12.00.00.000Z"


def _manifest(run_id: str, status: str = "success") -> dict:
    return {
        "run_id": run_id,
        "status": status,
        "commit": "abc",
        "datasets": {
            "comparison_table": {"version": run_id, "path": f"t/{run_id}/comparison_table.csv"},
            "micon.model_checkpoint": {"version": run_id, "path": f"c/{run_id}/micon_checkpoint.pt"},
        },
    }


def test_latest_points_at_the_last_successful_run_only(tmp_path):
    write_manifest(tmp_path, _manifest(FIRST), latest=True)
    write_manifest(tmp_path, _manifest(SECOND), latest=True)
    assert read_manifest(run_root=tmp_path)["run_id"] == SECOND
    write_manifest(tmp_path, _manifest(FAILED, "failed"), latest=False)
    assert read_manifest(run_root=tmp_path)["run_id"] == SECOND
    assert read_manifest(FAILED, run_root=tmp_path)["status"] == "failed"
    assert json.loads(manifest_path(tmp_path, FIRST).read_text())["run_id"] == FIRST
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == [
        f"{FIRST}.json",
        f"{SECOND}.json",
        f"{FAILED}.json",
        "latest.json",
    ]


def test_load_versions_of_a_run_and_the_kedro_option(tmp_path):
    write_manifest(tmp_path, _manifest(FIRST), latest=True)
    write_manifest(tmp_path, _manifest(SECOND), latest=True)
    assert load_versions(FIRST, run_root=tmp_path) == {
        "comparison_table": FIRST,
        "micon.model_checkpoint": FIRST,
    }
    assert load_versions(run_root=tmp_path, names=["comparison_table"]) == {"comparison_table": SECOND}
    assert (
        load_versions_option(FIRST, run_root=tmp_path, names=["micon.model_checkpoint", "comparison_table"])
        == f"micon.model_checkpoint:{FIRST},comparison_table:{FIRST}"
    )


def test_load_versions_refuses_failed_runs_unknown_names_and_missing_runs(tmp_path):
    write_manifest(tmp_path, _manifest(FAILED, "failed"), latest=False)
    with pytest.raises(InvalidInputError, match="did not complete"):
        load_versions(FAILED, run_root=tmp_path)
    write_manifest(tmp_path, _manifest(FIRST), latest=True)
    with pytest.raises(InvalidInputError, match="saved no versioned \\['report_html'\\]"):
        load_versions(FIRST, run_root=tmp_path, names=["report_html"])
    with pytest.raises(InvalidInputError, match="no run manifest"):
        read_manifest(SECOND, run_root=tmp_path)
    with pytest.raises(InvalidInputError, match="not a Kedro save version"):
        read_manifest("../etc", run_root=tmp_path)


def test_current_run_is_set_and_cleared():
    assert current_run() is None
    set_current_run(RunContext(run_id=FIRST))
    try:
        assert current_run() == RunContext(run_id=FIRST)
    finally:
        set_current_run(None)
    assert current_run() is None
