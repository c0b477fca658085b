import math

import numpy as np
import pandas as pd
import pytest

from micon.errors import InvalidInputError
from micon.evaluation import build_comparison_table, format_markdown_table


def _retrieval() -> dict:
    level = {"top1": 0.5, "top5": 0.75, "map": 0.4, "fraction_retrieved": 0.25, "n_queries": 8}
    return {
        "micon": {"raw": {"NR": level, "NSS": {**level, "top1": 0.25}}, "default": {"NR": level}},
        "cellprofiler": {"raw": {"NR": level}, "default": {"NR": {**level, "top1": 0.125}}},
    }


def test_build_comparison_table_one_row_per_method_and_chain_with_levels_batch_and_annotations():
    batch = {"micon": {"raw": {"source_knn_accuracy": 0.9}, "default": {"source_knn_accuracy": 0.4}}}
    consistency = {"micon": {"default": {"Metadata_MoA": {"map": 0.3, "fraction_retrieved": 0.1}}}}
    mechanism = {
        "micon": {
            "default": {"Metadata_MoA": {"NSS": {"top1": 0.6, "top5": 0.9, "map": 0.5, "n_queries": 8}}}
        },
        "cellprofiler": {"default": {}, "raw": {}},
    }
    table = build_comparison_table(
        _retrieval(), mechanism=mechanism, batch_effects=batch, consistency=consistency
    )
    assert list(zip(table["method"], table["chain"], strict=True)) == [
        ("micon", "raw"),
        ("micon", "default"),
        ("cellprofiler", "raw"),
        ("cellprofiler", "default"),
    ]
    assert list(table.columns[:7]) == [
        "method",
        "chain",
        "NR_top1",
        "NR_top5",
        "NR_map",
        "NR_map_above_chance",
        "NR_fraction_retrieved",
    ]
    assert table.loc[0, "NSS_top1"] == 0.25 and table.loc[3, "NR_top1"] == 0.125
    assert math.isnan(table.loc[1, "NSS_top1"])  # a level a chain lacks is NaN
    assert list(table["source_knn_accuracy"].fillna(-1)) == [0.9, 0.4, -1, -1]
    assert math.isnan(table.loc[2, "batch_silhouette"])
    assert table.loc[1, "MoA_consistency_map"] == 0.3 and math.isnan(table.loc[0, "MoA_consistency_map"])
    assert table.loc[1, "MoA_NSS_top1"] == 0.6 and table.loc[1, "MoA_NSS_map"] == 0.5
    assert table[["MoA_NSS_top1", "MoA_NSS_top5", "MoA_NSS_map"]].drop(index=1).isna().all().all()


def test_build_comparison_table_without_annotations_has_no_mechanism_columns():
    table = build_comparison_table(_retrieval(), mechanism={}, batch_effects={}, consistency={})
    assert not [c for c in table.columns if c.startswith("MoA_")]


def test_build_comparison_table_without_methods_raises():
    with pytest.raises(InvalidInputError, match="no method"):
        build_comparison_table({}, mechanism={}, batch_effects={}, consistency={})


def test_format_markdown_table_rounds_and_marks_missing():
    table = pd.DataFrame({"method": ["a|b", "c"], "NR_top1": [0.12345, np.nan]})
    lines = format_markdown_table(table).splitlines()
    assert [c.strip() for c in lines[0].split("|")[1:-1]] == ["method", "NR_top1"]
    assert lines[1].endswith(":|")  # numbers right-aligned
    assert [[c.strip() for c in line.replace("\\|", "¦").split("|")[1:-1]] for line in lines[2:]] == [
        ["a¦b", "0.123"],
        ["c", "—"],
    ]


def test_format_markdown_table_keeps_a_columns_own_format():
    table = pd.DataFrame({"lr": [0.0003, 0.001], "score": [0.12345, 0.5]})
    lines = format_markdown_table(table, formats={"lr": "g"}).splitlines()
    assert [[c.strip() for c in line.split("|")[1:-1]] for line in lines[2:]] == [
        ["0.0003", "0.123"],
        ["0.001", "0.500"],
    ]
