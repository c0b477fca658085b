from __future__ import annotations

import numpy as np
import pandas as pd
from kedro.runner import SequentialRunner
from matplotlib.figure import Figure

from micon import schema
from micon.pipelines.reporting import create_pipeline
from micon.pipelines.reporting.pipeline import QUARANTINES
from micon.training.methods import list_methods
from tests.pipelines.conftest import add_parameters, kept_catalog


def _embeddings(crop_index: pd.DataFrame, seed: int, signal: float) -> pd.DataFrame:
    """Crop embeddings carrying a compound signal of the given strength plus noise."""
    rng = np.random.default_rng(seed)
    codes = pd.factorize(crop_index[schema.JCP2022])[0]
    centres = rng.normal(size=(codes.max() + 1, 8))
    features = signal * centres[codes] + rng.normal(size=(len(crop_index), 8))
    return pd.concat([crop_index, pd.DataFrame(features, columns=schema.embedding_columns(8))], axis=1)


def test_reporting_pipeline_gathering_nodes_take_per_method_inputs_in_method_order():
    pipeline = create_pipeline(methods=["paclr", "cellprofiler"])
    (collect,) = [n for n in pipeline.nodes if n.name == "collect_retrieval_metrics"]
    assert collect.inputs == ["paclr.retrieval_summary", "cellprofiler.retrieval_summary"]
    (compare,) = [n for n in pipeline.nodes if n.name == "compare_methods"]
    assert compare.inputs == [
        "retrieval_metrics",
        "paclr.batch_effects",
        "cellprofiler.batch_effects",
        "paclr.consistency",
        "cellprofiler.consistency",
    ]
    assert len({n.name for n in pipeline.nodes}) == len(pipeline.nodes) == 2 * 7 + 8


def test_reporting_tiny_screen_writes_metrics_plots_and_quarantine_summary(engineered, parameters, tmp_path):
    crop_index = engineered.load("crop_index")
    pipeline = create_pipeline()
    PROFILED_METHODS = list_methods()
    inputs = {
        **{
            f"{m}.crop_embeddings": _embeddings(crop_index, i, signal=0.0)
            for i, m in enumerate(PROFILED_METHODS)
        },
        "micon.crop_embeddings": _embeddings(crop_index, 0, signal=3.0),
        "cellprofiler.crop_embeddings": _embeddings(crop_index, 7, signal=1.5).rename(
            columns=lambda c: c.replace(schema.EMBEDDING_PREFIX, "Cells_Intensity_Mean_")
        ),
        "micon.training_history": pd.DataFrame({"step": [1, 2], "loss": [2.0, 1.0]}),
        **{name: engineered.load(name) for name in QUARANTINES},
    }
    catalog = kept_catalog(inputs, sorted(pipeline.all_outputs()))
    params = dict(parameters)
    params["reporting"] = {
        **parameters["reporting"],
        "normalization": {
            **parameters["reporting"]["normalization"],
            "steps": [
                "variance_filter",
                "mad_robustize",
                "inverse_normal_transform",
                "feature_select",
                "harmony",
            ],
        },
        "retrieval": {
            **parameters["reporting"]["retrieval"],
            "null_size": 200,
            "null_cache_dir": str(tmp_path),
        },
    }
    add_parameters(catalog, params)
    SequentialRunner().run(pipeline, catalog)

    metrics = catalog.load("retrieval_metrics")
    assert set(metrics) == set(PROFILED_METHODS)
    assert {"micon", "untrained", "cellprofiler"} <= set(metrics)
    assert set(metrics["micon"]) == {"NR", "NSB", "NSS", "NSL"}
    assert set(metrics["micon"]["NSS"]) == {"top1", "top5", "map", "fraction_retrieved", "n_queries"}
    # a compound signal is retrieved across sources; pure noise is not
    assert metrics["micon"]["NSS"]["top1"] > metrics["untrained"]["NSS"]["top1"]

    log = catalog.load("micon.normalization_log")
    assert list(log["step"]) == params["reporting"]["normalization"]["steps"]
    batch = catalog.load("micon.batch_effects")
    assert set(batch) == {"before", "after"} and "source_knn_accuracy" in batch["after"]
    assert set(catalog.load("micon.consistency")) <= {schema.MOA}  # the synthetic wells carry their MoA

    table = catalog.load("comparison_table")
    assert list(table["method"]) == list(PROFILED_METHODS)
    assert {"NR_top1", "NSS_top5", "NSB_map", "NSL_fraction_retrieved", "source_knn_accuracy"} <= set(
        table.columns
    )
    markdown = catalog.load("comparison_table_markdown")
    assert markdown.startswith("| method | NR_top1 |") and markdown.count("\n") == 2 + len(PROFILED_METHODS)

    coordinates = catalog.load("cellprofiler.embedding_coordinates")
    assert set(zip(coordinates["stage"], coordinates["projection"], strict=True)) == {
        ("before", "PCA"),
        ("before", "UMAP"),
        ("after", "PCA"),
        ("after", "UMAP"),
    }
    report = catalog.load("report_html")
    assert report.startswith("<!DOCTYPE html>") and report.count("data:image/png;base64,") == 3 + len(
        PROFILED_METHODS
    )
    assert "Comparison of methods" in report and "null_size" in report

    for plot in (
        "retrieval_comparison_plot",
        "topk_accuracy_plot",
        "map_distribution_plot",
        "training_loss_plot",
        "micon.embedding_map_plot",
    ):
        assert isinstance(catalog.load(plot), Figure)
    summary = catalog.load("quarantine_summary")
    assert summary.loc[summary["reason"] == "invalid_smiles", "n_items"].sum() == 1
