import base64
import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from micon.errors import InvalidInputError
from micon.evaluation.glossary import GlossaryEntry
from micon.evaluation.html_report import (
    Section,
    difference_table,
    figure_item,
    frame_table,
    headline_table,
    render_html_report,
)


def _comparison() -> pd.DataFrame:
    rows = [
        ("known_truth", 0.9, 0.8, 0.1),
        ("micon", 0.5, 0.4, 0.3),
        ("paclr", 0.6, 0.3, 0.2),
        ("untrained", 0.7, 0.1, 0.9),
    ]
    table = pd.DataFrame(rows, columns=["method", "NR_top1", "NSS_top1", "source_knn_accuracy"])
    table.insert(1, "chain", "default")
    table["NSS_top1_ci_low"] = table["NSS_top1"] - 0.05
    table["NSS_top1_ci_high"] = table["NSS_top1"] + 0.05
    return table


def test_headline_table_orders_ceiling_methods_floors_and_marks_the_best_method_only():
    table = headline_table(
        _comparison(),
        chain="default",
        metrics=["NR_top1", "NSS_top1", "source_knn_accuracy", "absent"],
        references=["known_truth"],
        floors=["untrained"],
        caption="c",
    )
    assert [r.header for r in table.rows] == [
        "known truth (latent state)",
        "MICON",
        "PaCLR-only",
        "untrained encoder",
    ]
    assert [r.role for r in table.rows] == ["reference", "method", "method", "floor"]
    assert [c.label for c in table.columns] == ["NR top-1", "NSS top-1", "source kNN accuracy"]
    best = {
        (r.header, table.columns[i].label) for r in table.rows for i, c in enumerate(r.cells) if c.is_best
    }
    # not the ceiling's 0.9 nor the floor's 0.7; batch effects: lower is better
    assert best == {("PaCLR-only", "NR top-1"), ("MICON", "NSS top-1"), ("PaCLR-only", "source kNN accuracy")}
    micon = table.rows[1].cells
    assert micon[1].text == "0.400" and micon[1].interval == "[0.350, 0.450]"
    assert micon[0].interval == ""  # no interval columns for NR_top1


def test_headline_table_without_the_chain_raises():
    with pytest.raises(InvalidInputError, match="recipe"):
        headline_table(
            _comparison(), chain="recipe", metrics=["NR_top1"], references=(), floors=(), caption=""
        )


def test_difference_table_marks_intervals_that_exclude_zero():
    differences = pd.DataFrame(
        {
            "method": "micon",
            "peer": ["paclr", "untrained"],
            "chain": "default",
            "metric": "NSS_top1",
            "difference": [0.01, 0.3],
            "ci_low": [-0.02, 0.2],
            "ci_high": [0.04, 0.4],
        }
    )
    table = difference_table(differences, chain="default", metrics=["NSS_top1", "NR_top1"], caption="c")
    assert [r.header for r in table.rows] == ["PaCLR-only", "untrained encoder"]
    assert [c.label for c in table.columns] == ["NSS top-1"]
    assert [r.cells[0].css for r in table.rows] == ["", "better"]
    assert table.rows[1].cells[0].text == "+0.300"


def test_frame_table_formats_floats_and_missing_values():
    table = frame_table(
        pd.DataFrame({"run": ["micon"], "effective_rank": [3.14159], "x": [math.nan]}), caption="c"
    )
    assert table.rows[0].header == "MICON"
    assert [c.text for c in table.rows[0].cells] == ["3.142", "—"]


def test_render_html_report_escapes_names_leaves_no_template_syntax_and_embeds_figures():
    comparison = _comparison()
    comparison.loc[2, "method"] = "<script>alert(1)</script>"
    figure = Figure()
    figure.add_subplot().plot([0, 1], [1, 0])
    page = render_html_report(
        title="micon <report>",
        run={"run_id": "2026-01-02T03.04.05.000Z", "commit": "abc123", "dirty": True, "command": "kedro run"},
        sections=[
            Section(
                "Headline",
                tables=(
                    headline_table(
                        comparison,
                        chain="default",
                        metrics=["NSS_top1"],
                        references=["known_truth"],
                        floors=["untrained"],
                        caption="Caption of the headline",
                    ),
                ),
                figures=(figure_item(figure, caption="Caption of the figure", alt="a line"),),
            ),
            Section("Folded", intro="folded away", collapsed=True),
        ],
        glossary={"Levels": [GlossaryEntry("NSS", "not same source", "other labs only")]},
        parameters={"null_size": 200},
        generated_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    assert page.lstrip().startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "{{" not in page and "{%" not in page and "{#" not in page
    assert "<title>micon &lt;report&gt;</title>" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert "2026-01-02T03.04.05.000Z" in page and "abc123" in page and "uncommitted" in page
    assert "<caption>Caption of the headline</caption>" in page
    assert "<figcaption>Caption of the figure</figcaption>" in page
    assert 'class="best' in page and "ceiling" in page and "floor" in page
    assert "<details><summary>" in page and "&#34;null_size&#34;: 200" in page
    assert "<dt>NSS (not same source)</dt>" in page
    encoded = page.split("data:image/png;base64,")[1].split('"')[0]
    assert base64.b64decode(encoded).startswith(b"\x89PNG")
    assert "http://" not in page and "https://" not in page  # nothing fetched when opened
    assert np.all([s in page for s in ('id="section-1"', 'href="#section-2"')])
