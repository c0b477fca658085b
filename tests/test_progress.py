"""Progress off a terminal: a few log lines with the count of the total, never one per item."""

from __future__ import annotations

import logging

import pytest

from micon import progress as progress_module
from micon.progress import progress


@pytest.fixture
def off_terminal(monkeypatch, caplog):
    monkeypatch.setattr(progress_module, "on_terminal", lambda: False)
    caplog.set_level(logging.INFO)
    return caplog


def test_off_a_terminal_a_loop_logs_a_few_lines_with_the_count_of_the_total(off_terminal):
    logger = logging.getLogger("micon.test")
    assert list(progress(range(1000), desc="extract sites", logger=logger, unit="site", lines=5)) == list(
        range(1000)
    )
    lines = [r.getMessage() for r in off_terminal.records if r.name == "micon.test"]
    assert 2 <= len(lines) <= 5 + 2  # the start, every fifth of the way, the end
    assert lines[0].startswith("extract sites: 0/1000 (0%)")
    assert lines[-1].startswith("extract sites: 1000/1000 (100%)") and "site/s" in lines[-1]


def test_a_loop_that_logs_its_own_lines_logs_no_progress_off_a_terminal(off_terminal):
    logger = logging.getLogger("micon.test")
    assert list(progress(["NR", "NSB"], desc="levels", logger=logger, lines=0)) == ["NR", "NSB"]
    assert not [r for r in off_terminal.records if r.name == "micon.test"]
