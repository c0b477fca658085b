import json

import pandas as pd
import pytest

from micon.errors import InvalidInputError
from micon.render_tables import latest_run, main


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
