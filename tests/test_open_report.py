from pathlib import Path

import pytest

from micon.errors import InvalidInputError
from micon.open_report import main, report_path
from micon.runs import write_manifest

OLD, NEW, FAILED = "2026-12-01T10.00.00.000Z", "2026-12-01T11.00.00.000Z", "2026-12-01T12.00.00.000Z"


def _project(tmp_path: Path) -> Path:
    (tmp_path / "conf" / "base").mkdir(parents=True)
    (tmp_path / "conf" / "local").mkdir()
    (tmp_path / "conf" / "base" / "globals.yml").write_text("run_root: data/here\n")
    return tmp_path


def _run(project: Path, run_id: str, *, status: str = "success", report: bool = True) -> None:
    datasets = {"comparison_table": {"version": run_id, "path": f"data/here/t/{run_id}/comparison_table.csv"}}
    if report:
        path = f"data/here/08_reporting/report.html/{run_id}/report.html"
        (project / path).parent.mkdir(parents=True)
        (project / path).write_text("<!DOCTYPE html>")
        datasets["report_html"] = {"version": run_id, "path": path}
    manifest = {"run_id": run_id, "status": status, "datasets": datasets}
    write_manifest(project / "data" / "here", manifest, latest=status == "success")


def test_report_path_is_the_newest_successful_run_that_wrote_a_report(tmp_path, capsys):
    project = _project(tmp_path)
    _run(project, OLD)
    _run(project, NEW, report=False)  # e.g. modeling alone: the latest run, without a report
    _run(project, FAILED, status="failed")
    expected = project / f"data/here/08_reporting/report.html/{OLD}/report.html"
    assert report_path(project) == expected
    with pytest.raises(InvalidInputError, match="report_html"):
        report_path(project, run_id=NEW)
    with pytest.raises(InvalidInputError, match="did not complete"):
        report_path(project, run_id=FAILED)


def test_main_prints_the_path_or_says_what_to_run(tmp_path, capsys, monkeypatch):
    project = _project(tmp_path)
    monkeypatch.chdir(project)
    assert main([]) == 1
    assert "uv run kedro run" in capsys.readouterr().err
    _run(project, OLD)
    assert main(["--run-id", OLD]) == 0
    assert capsys.readouterr().out.strip().endswith(f"report.html/{OLD}/report.html")
