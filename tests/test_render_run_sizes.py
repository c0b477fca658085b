"""The run-sizes table of docs/synthetic.md is rendered from conf/base and conf/benchmark."""

from __future__ import annotations

from pathlib import Path

from micon.render_run_sizes import BLOCK, main, run_sizes
from micon.render_tables import replace_block
from tests.kedro_project import PROJECT_ROOT


def test_run_sizes_compares_the_default_run_with_the_benchmark_run():
    table = run_sizes().set_index("")
    default, benchmark = table.columns
    assert table.loc["trained methods", default] == "micon"
    assert table.loc["training steps per method", benchmark] == "300"
    assert table.loc["seeds per trained method", default] == "1"
    assert table.loc["seeds per trained method", benchmark] == "3"
    assert table.loc["tuning (trials x steps per method)", benchmark] == "4 x 100"
    assert int(table.loc["wells", default].replace(",", "")) < int(
        table.loc["wells", benchmark].replace(",", "")
    )


def test_docs_run_sizes_block_is_up_to_date(monkeypatch):
    monkeypatch.chdir(PROJECT_ROOT)
    assert main(["--check", "docs/synthetic.md"]) == 0


def test_a_stale_block_is_reported_and_rewritten(tmp_path: Path):
    doc = tmp_path / "doc.md"
    doc.write_text(
        replace_block(f"<!-- BEGIN rendered: {BLOCK} -->\n<!-- END rendered: {BLOCK} -->\n", BLOCK, "x\n")
    )
    assert main(["--check", str(doc)]) == 1
    assert main([str(doc)]) == 0
    assert main(["--check", str(doc)]) == 0
