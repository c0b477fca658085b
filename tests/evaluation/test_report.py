import base64
import math
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from micon.errors import InvalidInputError
from micon.evaluation import build_comparison_table, build_html_report, format_markdown_table


def _retrieval() -> dict:
    level = {"top1": 0.5, "top5": 0.75, "map": 0.4, "fraction_retrieved": 0.25, "n_queries": 8}
    return {"micon": {"NR": level, "NSS": {**level, "top1": 0.25}}, "cellprofiler": {"NR": level}}


def test_build_comparison_table_one_row_per_method_with_levels_batch_and_annotations():
    batch = {"micon": {"before": {"source_knn_accuracy": 0.9}, "after": {"source_knn_accuracy": 0.4}}}
    consistency = {"micon": {"Metadata_MoA": {"map": 0.3, "fraction_retrieved": 0.1}}}
    table = build_comparison_table(_retrieval(), batch, consistency)
    assert list(table["method"]) == ["micon", "cellprofiler"]
    assert list(table.columns[:5]) == ["method", "NR_top1", "NR_top5", "NR_map", "NR_fraction_retrieved"]
    assert table.loc[0, "NSS_top1"] == 0.25
    assert math.isnan(table.loc[1, "NSS_top1"])  # a level a method lacks is NaN
    assert table.loc[0, "source_knn_accuracy"] == 0.4  # after normalisation
    assert math.isnan(table.loc[1, "batch_silhouette"])
    assert table.loc[0, "MoA_map"] == 0.3 and math.isnan(table.loc[1, "MoA_map"])


def test_build_comparison_table_without_methods_raises():
    with pytest.raises(InvalidInputError, match="no method"):
        build_comparison_table({}, {}, {})


def test_format_markdown_table_rounds_and_marks_missing():
    table = pd.DataFrame({"method": ["a|b", "c"], "NR_top1": [0.12345, np.nan]})
    assert format_markdown_table(table) == (
        "| method | NR_top1 |\n|---|---:|\n| a\\|b | 0.123 |\n| c | — |\n"
    )


def test_build_html_report_is_self_contained_with_embedded_png():
    figure = Figure()
    figure.add_subplot().plot([0, 1], [1, 0])
    page = build_html_report(
        title="micon <report>",
        parameters={"null_size": 200},
        tables={"Comparison": pd.DataFrame({"method": ["micon"], "NR_top1": [0.51234]})},
        figures={"Top-k": figure},
        generated_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "<title>micon &lt;report&gt;</title>" in page
    assert "2026-01-02 03:04:05 UTC" in page and "&quot;null_size&quot;: 200" in page
    assert "0.512" in page and "<table" in page
    encoded = page.split("data:image/png;base64,")[1].split('"')[0]
    assert base64.b64decode(encoded).startswith(b"\x89PNG")
    assert "http://" not in page and "https://" not in page  # nothing fetched when opened
