import json
import re

import pandas as pd
import pytest

from micon.errors import InvalidInputError
from micon.render_tables import benchmark_answers, benchmark_truth_gap, latest_run, main


def _write_run(root, version, *, table=True, provenance=True, top1=0.5):
    reporting = root / "08_reporting"
    if table:
        folder = reporting / "comparison_table.csv" / version
        folder.mkdir(parents=True)
        pd.DataFrame(
            {"method": ["untrained", "known_truth"], "chain": ["raw", "raw"], "NSS_top1": [top1, 0.9]}
        ).to_csv(folder / "comparison_table.csv", index=False)
    if provenance:
        folder = reporting / "run_provenance.json" / version
        folder.mkdir(parents=True)
        (folder / "run_provenance.json").write_text(
            json.dumps({"commit": "abcdef1234567890", "dirty": False, "command": "kedro run"})
        )


def test_latest_run_takes_the_newest_version_holding_both_outputs(tmp_path):
    _write_run(tmp_path, "2026-12-01T10.00.00.000Z", top1=0.1)
    _write_run(tmp_path, "2026-12-01T11.00.00.000Z", provenance=False, top1=0.2)  # a partial run
    run = latest_run(tmp_path)
    assert run.version == "2026-12-01T10.00.00.000Z"
    assert run.comparison["NSS_top1"].tolist() == [0.1, 0.9]


def test_latest_run_refuses_a_root_without_a_complete_run(tmp_path):
    _write_run(tmp_path, "2026-12-01T10.00.00.000Z", table=False)
    with pytest.raises(InvalidInputError, match="wrote both"):
        latest_run(tmp_path)


def test_main_renders_marked_blocks_and_check_detects_stale_ones(tmp_path, capsys):
    _write_run(tmp_path / "run", "2026-12-01T10.00.00.000Z", top1=0.25)
    doc = tmp_path / "doc.md"
    doc.write_text(
        "intro\n<!-- BEGIN rendered: synthetic-replicate -->\nold\n"
        "<!-- END rendered: synthetic-replicate -->\nend\n"
    )
    args = ["--run-root", str(tmp_path / "run"), str(doc)]
    assert main([*args, "--check"]) == 1
    assert "old" in doc.read_text()  # --check writes nothing
    assert main(args) == 0
    text = doc.read_text()
    assert text.startswith("intro\n") and text.endswith("end\n")
    rows = [[c.strip() for c in line.split("|")[1:4]] for line in text.splitlines() if line.startswith("| ")]
    assert ["known truth (latent state)", "raw", "0.900"] == rows[1]  # the truth row comes first
    assert ["untrained encoder (floor)", "raw", "0.250"] in rows
    assert "commit `abcdef123456`" in text and "uv run python -m micon.render_tables" in text
    assert main([*args, "--check"]) == 0  # now up to date


def test_replace_block_replaces_only_the_named_block_and_refuses_a_missing_one():
    from micon.render_tables import replace_block

    text = (
        "<!-- BEGIN rendered: a -->\nx\n<!-- END rendered: a -->\n"
        "<!-- BEGIN rendered: b -->\ny\n<!-- END rendered: b -->\n"
    )
    new = replace_block(text, "b", "z\n")
    assert new == text.replace("y\n", "z\n")
    with pytest.raises(InvalidInputError, match="no block"):
        replace_block(text, "c", "z\n")


def test_write_measured_block_names_the_command_commit_and_machine(tmp_path):
    import subprocess

    from micon.render_tables import write_measured_block

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    doc = tmp_path / "doc.md"
    doc.write_text("intro\n<!-- BEGIN rendered: speed -->\nold\n<!-- END rendered: speed -->\nend\n")
    write_measured_block(
        doc,
        "speed",
        "| a |\n|---|\n| 1 |\n",
        command="uv run python b.py --x 1",
        root=tmp_path,
        details="20 sites",
    )
    text = doc.read_text()
    assert "old" not in text and text.startswith("intro\n") and text.endswith("end\n")
    assert "| 1 |\n<sub>Rendered by `uv run python b.py --x 1` at commit `unknown`" in text
    assert "CPU cores (load average " in text and "; 20 sites.</sub>" in text
    with pytest.raises(InvalidInputError, match="no block"):
        write_measured_block(doc, "other", "t", command="c", root=tmp_path)


def _write_benchmark_outputs(root, version):
    reporting = root / "08_reporting"
    intervals = pd.DataFrame(
        {
            "method": ["micon", "micon", "known_truth", "paclr"],
            "chain": ["default"] * 4,
            "metric": ["NSS_top1", "NSS_top1_ood_source", "NSS_top1", "NSS_top1"],
            "estimate": [0.5, 0.4, 0.9, 0.45],
            "ci_low": [0.45, 0.3, 0.85, float("nan")],
            "ci_high": [0.55, 0.5, 0.95, float("nan")],
            "n_seeds": [3, 3, 1, 3],
        }
    )
    differences = pd.DataFrame(
        {
            "method": ["micon", "micon"],
            "peer": ["paclr", "paclr"],
            "chain": ["default", "default"],
            "metric": ["NSS_top1", "NSS_top1_ood_source"],
            "difference": [0.05, -0.01],
            "ci_low": [0.01, -0.04],
            "ci_high": [0.09, 0.02],
        }
    )
    for name, table in (("metric_intervals.csv", intervals), ("paired_differences.csv", differences)):
        folder = reporting / name / version
        folder.mkdir(parents=True)
        table.to_csv(folder / name, index=False)


def test_tagged_benchmark_blocks_render_intervals_and_differences_of_the_chosen_run(tmp_path):
    first, second = "2026-12-01T10.00.00.000Z", "2026-12-01T11.00.00.000Z"
    for version in (first, second):
        _write_run(tmp_path / "run", version)
    _write_benchmark_outputs(tmp_path / "run", first)
    doc = tmp_path / "doc.md"
    untagged = (
        "<!-- BEGIN rendered: synthetic-replicate -->\nkeep\n<!-- END rendered: synthetic-replicate -->\n"
    )
    doc.write_text(
        untagged + "<!-- BEGIN rendered: benchmark-comparison@additive -->\nold\n"
        "<!-- END rendered: benchmark-comparison@additive -->\n"
        "<!-- BEGIN rendered: benchmark-differences@additive -->\nold\n"
        "<!-- END rendered: benchmark-differences@additive -->\n"
    )
    args = ["--run-root", str(tmp_path / "run"), str(doc), "--tag", "additive"]
    with pytest.raises(InvalidInputError, match="metric_intervals"):  # the latest run has no intervals
        main(args)
    assert main([*args, "--version", first]) == 0
    text = re.sub(r" {2,}", " ", doc.read_text())  # table cells padded to their column's width
    assert text.startswith(untagged)  # untagged blocks are left to an untagged render
    assert "| MICON | 3 | 0.500 [0.450, 0.550] |" in text
    assert "| PaCLR-only | 3 | 0.450 |" in text  # no interval: the estimate alone
    assert "0.050 [0.010, 0.090] (higher)" in text and "-0.010 [-0.040, 0.020] (n.d.)" in text
    assert f"version `{first}`" in text
    with pytest.raises(InvalidInputError, match="no complete run"):
        main([*args, "--version", "2026-01-01T00.00.00.000Z"])


def test_the_papers_questions_are_answered_by_the_paired_intervals_and_rows_by_their_share_of_truth(tmp_path):
    version = "2026-12-01T10.00.00.000Z"
    _write_run(tmp_path / "run", version)
    _write_benchmark_outputs(tmp_path / "run", version)
    run = latest_run(tmp_path / "run", version)
    answers = benchmark_answers(run).set_index(["question", "metric"])["answer"]
    counterfactual = "Does the counterfactual term help (MICON vs PaCLR-only)?"
    assert answers[(counterfactual, "NSS top-1")] == "MICON higher"  # interval [0.01, 0.09] excludes 0
    assert answers[
        ("Does a gain over PaCLR-only hold for the held-out source?", "NSS top-1, held-out source")
    ] == (
        "no difference"  # [-0.04, 0.02] contains 0
    )
    assert answers[("Compounds as treatments vs direct alignment (CLIP-style)?", "NSS top-1")] == (
        "not in this run"
    )
    gap = benchmark_truth_gap(run).set_index("method")["NSS top-1: share of known truth"]
    assert gap.to_dict() == {"MICON": f"{0.5 / 0.9:.2f}", "PaCLR-only": f"{0.45 / 0.9:.2f}"}


@pytest.mark.parametrize(
    "runtime_params",
    [
        {"synthetic": {"treatment_model": "additive"}},  # as Kedro stores `--params a.b=c` (nested)
        {"synthetic.treatment_model": "additive"},
    ],
)
def test_blocks_tagged_with_a_treatment_model_refuse_a_run_of_the_other_one(tmp_path, runtime_params):
    version = "2026-12-01T10.00.00.000Z"
    _write_run(tmp_path / "run", version)
    runs = tmp_path / "run" / "runs"
    runs.mkdir()
    (runs / f"{version}.json").write_text(
        json.dumps(
            {
                "run_id": version,
                "command": "kedro run --env benchmark --params synthetic.treatment_model=additive",
                "runtime_params": runtime_params,
                "status": "success",
                "seconds": 4500.0,
            }
        )
    )
    doc = tmp_path / "doc.md"
    doc.write_text(
        "<!-- BEGIN rendered: benchmark-run@additive -->\n<!-- END rendered: benchmark-run@additive -->\n"
    )
    args = ["--run-root", str(tmp_path / "run"), str(doc)]
    with pytest.raises(InvalidInputError, match="used additive"):
        main([*args, "--tag", "state_dependent"])
    assert main([*args, "--tag", "additive"]) == 0
    rendered = re.sub(r" {2,}", " ", doc.read_text())
    assert "| synthetic.treatment_model=additive | success | 75.0 min |" in rendered
