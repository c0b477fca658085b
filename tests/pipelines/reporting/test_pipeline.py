from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import pytest
from kedro.pipeline import Pipeline
from kedro.runner import SequentialRunner
from matplotlib.figure import Figure

from micon import schema
from micon.errors import UnknownNameError
from micon.pipelines.reporting import create_pipeline
from micon.pipelines.reporting.nodes import (
    Gathered,
    bundle_run_outputs,
    from_run_evaluations,
    gather_run_evaluations,
)
from micon.pipelines.reporting.pipeline import QUARANTINES
from micon.training.methods import get_method, list_methods
from tests.pipelines.conftest import add_parameters, kept_catalog


def _embeddings(crop_index: pd.DataFrame, seed: int, signal: float) -> pd.DataFrame:
    """Crop embeddings carrying a compound signal of the given strength plus noise."""
    rng = np.random.default_rng(seed)
    codes = pd.factorize(crop_index[schema.JCP2022])[0]
    centres = rng.normal(size=(codes.max() + 1, 8))
    features = signal * centres[codes] + rng.normal(size=(len(crop_index), 8))
    return pd.concat([crop_index, pd.DataFrame(features, columns=schema.embedding_columns(8))], axis=1)


def _checkpoint(parameters, engineered, method: str = "micon") -> dict:
    """An untrained model of ``method`` whose embedding has the 8 dimensions of ``_embeddings``."""
    from micon.models import merge_params
    from micon.training.methods import build_model_config
    from micon.training.runner import build_untrained_checkpoint

    model_params = merge_params(parameters["modeling"]["model"], {"image": {"embedding_dim": 8}})
    channels = engineered.load("crop_store").channels
    return build_untrained_checkpoint(
        build_model_config(method, model_params, channels=channels), method=method, seed=0
    )


def _history() -> pd.DataFrame:
    """A training history as modeling logs it: step, losses, learning rate."""
    return pd.DataFrame({"step": [1, 2], "loss": [2.0, 1.0], "lr": [1e-4, 2e-4]})


def test_reporting_pipeline_gathering_nodes_read_one_bundle_per_method_in_method_order():
    pipeline = create_pipeline(methods=["paclr", "cellprofiler"])
    (gather,) = [n for n in pipeline.nodes if n.name == "gather_run_evaluations"]
    assert gather.inputs == ["paclr.evaluation", "cellprofiler.evaluation"]
    assert gather.outputs == ["run_evaluations"]
    (collect,) = [n for n in pipeline.nodes if n.name == "collect_retrieval_metrics"]
    assert collect.inputs == ["run_evaluations"]
    (compare,) = [n for n in pipeline.nodes if n.name == "compare_methods"]
    assert compare.inputs == ["retrieval_metrics", "metric_intervals", "run_evaluations"]
    (bundle,) = [n for n in pipeline.nodes if n.name == "paclr.bundle_run_outputs"]
    assert bundle.outputs == ["paclr.evaluation"]
    assert {
        *(
            f"paclr.{chain}.{output}"
            for chain in ("raw", "default", "recipe")
            for output in ("retrieval_summary", "compound_scores", "mechanism_summary")
        ),
        "paclr.batch_effects",
        "paclr.consistency",
        "paclr.embedding_diagnostics",
        "paclr.default.compound_map",
        "paclr.embedding_coordinates",
    } <= set(bundle.inputs)
    (report,) = [n for n in pipeline.nodes if n.name == "write_html_report"]
    assert {
        "crop_store",
        "crop_index",
        "retrieval_metrics",
        "paclr.training_history",
        "run_evaluations",
    } <= set(report.inputs)
    assert "cellprofiler.training_history" not in report.inputs  # features are not trained
    # per method: aggregation, rank diagnostics, 3 chains x (normalise, replicate, mechanism, compound
    # scores), batch, consistency, 2-D maps, the bundle; then 12 summary nodes (the gathering of the
    # bundles, intervals, diagnostics, comparison, plots, quarantine, provenance, report)
    assert len({n.name for n in pipeline.nodes}) == len(pipeline.nodes) == 2 * (2 + 3 * 4 + 4 + 1) + 12


def test_each_method_namespace_hands_the_comparison_one_dataset_besides_its_figure():
    """What kedro-viz draws out of a collapsed method: the namespace's outputs read outside it, or by none."""
    pipeline = create_pipeline(methods=["micon", "paclr"], references=["known_truth"])
    for row in ("micon", "paclr", "known_truth"):
        inside = Pipeline([n for n in pipeline.nodes if n.name.startswith(f"{row}.")])
        outside = Pipeline([n for n in pipeline.nodes if not n.name.startswith(f"{row}.")])
        free = inside.outputs() | (outside.inputs() & inside.all_outputs())
        assert free == {f"{row}.evaluation", f"{row}.embedding_map_plot"}, row


def test_run_bundles_hand_a_gathering_function_its_values_group_by_group_in_run_order():
    def gather(*values, methods):
        return methods, values

    evaluations = gather_run_evaluations(
        bundle_run_outputs(1, 2, 3, fields=("a.x", "b.x", "g")),
        bundle_run_outputs(4, 5, fields=("a.x", "b.x")),
        runs=["m1", "m2"],
    )
    assert list(evaluations) == ["m1", "m2"]
    node = from_run_evaluations(
        partial(gather, methods=["m1", "m2"]),
        leading=1,
        gathered=[Gathered(("a.x", "b.x")), Gathered(("g",), optional=True)],
    )
    assert node("head", evaluations, "tail") == (["m1", "m2"], ("head", 1, 2, 4, 5, 3, "tail"))
    required = from_run_evaluations(gather, leading=0, gathered=[Gathered(("g",))])
    with pytest.raises(KeyError, match=r"run 'm2': its bundle has no \['g'\]"):
        required(evaluations, methods=[])


def test_reporting_pipeline_scores_a_reference_first_from_its_well_table():
    pipeline = create_pipeline(methods=["paclr"], references=["known_truth"])
    (build,) = [n for n in pipeline.nodes if n.name == "known_truth.reference_profiles"]
    assert build.inputs == ["synthetic_well_truth", "crop_index"]
    assert build.outputs == ["known_truth.well_profiles"]
    assert "known_truth.crop_embeddings" not in pipeline.inputs()  # no aggregation of crops
    (compare,) = [n for n in pipeline.nodes if n.name == "compare_methods"]
    (gather,) = [n for n in pipeline.nodes if n.name == "gather_run_evaluations"]
    assert gather.inputs == ["known_truth.evaluation", "paclr.evaluation"]
    with pytest.raises(UnknownNameError, match="unknown reference"):
        create_pipeline(methods=["paclr"], references=["oracle"])


def test_reporting_pipeline_chain_reads_its_steps_from_parameters():
    pipeline = create_pipeline(methods=["paclr"])
    (node,) = [n for n in pipeline.nodes if n.name == "paclr.recipe.normalize_wells"]
    assert node.inputs == ["paclr.well_profiles", "params:reporting.normalization"]
    assert node.outputs == ["paclr.recipe.normalized_profiles", "paclr.recipe.normalization_log"]
    (batch,) = [n for n in pipeline.nodes if n.name == "paclr.evaluate_batch_effects_before_after"]
    assert batch.inputs[:2] == ["paclr.well_profiles", "paclr.default.normalized_profiles"]


def test_reporting_tiny_screen_writes_metrics_plots_and_quarantine_summary(engineered, parameters, tmp_path):
    crop_index = engineered.load("crop_index")
    # every method but the per-channel MICON, whose generator probe would need a per-channel checkpoint
    # of the 8-d toy embeddings (8 does not split into 5 channels); its wiring is MICON's
    PROFILED_METHODS = tuple(m for m in list_methods() if m != "micon_per_channel")
    pipeline = create_pipeline(methods=PROFILED_METHODS)
    inputs = {
        **{
            f"{m}.crop_embeddings": _embeddings(crop_index, i, signal=0.0)
            for i, m in enumerate(PROFILED_METHODS)
        },
        "micon.crop_embeddings": _embeddings(crop_index, 0, signal=3.0),
        "cellprofiler.crop_embeddings": _embeddings(crop_index, 7, signal=1.5).rename(
            columns=lambda c: c.replace(schema.EMBEDDING_PREFIX, "Cells_Intensity_Mean_")
        ),
        **{f"{m}.training_history": _history() for m in PROFILED_METHODS if get_method(m).kind == "trained"},
        "micon.model_checkpoint": _checkpoint(parameters, engineered),
        "crop_store": engineered.load("crop_store"),
        "crop_index": crop_index,
        **{name: engineered.load(name) for name in QUARANTINES},
    }
    catalog = kept_catalog(inputs, sorted(pipeline.all_outputs()))
    params = dict(parameters)
    params["reporting"] = {
        **parameters["reporting"],
        "retrieval": {
            **parameters["reporting"]["retrieval"],
            "null_size": 200,
            "null_cache_dir": str(tmp_path),
        },
        # both maps here (the test environment draws PCA only, for speed)
        "projection": {**parameters["reporting"]["projection"], "projections": ["PCA", "UMAP"]},
    }
    add_parameters(catalog, params)
    SequentialRunner().run(pipeline, catalog)

    metrics = catalog.load("retrieval_metrics")
    assert set(metrics) == set(PROFILED_METHODS)
    assert {"micon", "untrained", "cellprofiler"} <= set(metrics)
    assert set(metrics["micon"]) == {"raw", "default", "recipe"}
    assert set(metrics["micon"]["default"]) == {"NR", "NSB", "NSS", "NSL", "NSSL", "NSPL"}
    assert set(metrics["micon"]["recipe"]["NSS"]) == {
        "top1",
        "top5",
        "map",
        "map_above_chance",
        "fraction_retrieved",
        "n_queries",
    }
    # a compound signal is retrieved across sources under every chain; pure noise is not
    for chain in ("raw", "default", "recipe"):
        assert metrics["micon"][chain]["NSS"]["top1"] > metrics["untrained"][chain]["NSS"]["top1"]

    chains = params["reporting"]["normalization"]["chains"]
    for chain in ("raw", "default", "recipe"):
        assert list(catalog.load(f"micon.{chain}.normalization_log")["step"]) == chains[chain]
    batch = catalog.load("micon.batch_effects")
    assert set(batch) == {"before", "after"} and "source_knn_accuracy" in batch["after"]
    assert set(catalog.load("micon.consistency")) <= {schema.MOA}  # the synthetic wells carry their MoA
    assert set(catalog.load("micon.default.mechanism_summary")) <= {schema.MOA}

    table = catalog.load("comparison_table")
    assert list(zip(table["method"], table["chain"], strict=True)) == [
        (m, c) for m in PROFILED_METHODS for c in ("raw", "default", "recipe")
    ]
    assert {"NR_top1", "NSS_top5", "NSB_map", "NSL_fraction_retrieved", "NSSL_top1", "NSPL_map"} <= set(
        table.columns
    )
    # the synthetic wells carry their mechanism: mechanism retrieval is scored per chain
    assert {"MoA_NR_top1", "MoA_NSS_map"} <= set(table.columns)
    by_chain = table.set_index(["method", "chain"])
    assert by_chain.loc[("micon", "raw"), "source_knn_accuracy"] == batch["before"]["source_knn_accuracy"]
    assert by_chain.loc[("micon", "default"), "source_knn_accuracy"] == batch["after"]["source_knn_accuracy"]
    assert np.isnan(by_chain.loc[("micon", "recipe"), "source_knn_accuracy"])
    # intervals over compounds (no seeds): every row one run, the headline estimate inside its interval
    assert (table["n_seeds"] == 1).all()
    for metric in ("NR_top1", "NSS_top1", "NSS_map", "MoA_NSS_top1"):
        inside = table[metric].between(table[f"{metric}_ci_low"], table[f"{metric}_ci_high"])
        assert inside[table[metric].notna()].all(), metric
    intervals = catalog.load("metric_intervals")
    assert set(intervals["interval"]) == {"compounds"}
    differences = catalog.load("paired_differences")
    assert set(differences["peer"]) == set(PROFILED_METHODS) - {"micon"}
    by_peer = differences.set_index(["peer", "chain", "metric"])
    micon_nss = by_chain.loc[("micon", "default"), "NSS_top1"]
    untrained_nss = by_chain.loc[("untrained", "default"), "NSS_top1"]
    assert by_peer.loc[("untrained", "default", "NSS_top1"), "difference"] == pytest.approx(
        micon_nss - untrained_nss
    )
    assert by_peer.loc[("untrained", "default", "NSS_top1"), "ci_low"] > 0  # signal vs noise
    diagnostics = catalog.load("diagnostics").set_index("run")
    assert list(diagnostics.index) == list(PROFILED_METHODS)
    assert (diagnostics["effective_rank"] > 1).all()
    assert 0 <= diagnostics.loc["micon", "similarity_across_controls"] <= 1.0 + 1e-6
    assert np.isnan(diagnostics.loc["paclr", "similarity_across_controls"])
    markdown = catalog.load("comparison_table_markdown")
    assert [c.strip() for c in markdown.splitlines()[0].split("|")[1:4]] == ["method", "chain", "NR_top1"]
    assert markdown.count("\n") == 2 + 3 * len(PROFILED_METHODS)

    coordinates = catalog.load("cellprofiler.embedding_coordinates")
    assert set(zip(coordinates["stage"], coordinates["projection"], strict=True)) == {
        ("before", "PCA"),
        ("before", "UMAP"),
        ("after", "PCA"),
        ("after", "UMAP"),
    }
    report = catalog.load("report_html")
    trained = [m for m in PROFILED_METHODS if get_method(m).kind == "trained"]
    # retrieval comparison, top-k, mAP; a training figure per trained method; a map per run; the montage
    figures = 3 + len(trained) + len(PROFILED_METHODS) + 1
    assert report.lstrip().startswith("<!DOCTYPE html>") and report.count('src="data:image/') == figures
    assert report.count('src="data:image/jpeg;base64,') == 1  # the crop montage
    assert report.count("<figcaption>") == figures and report.count("<caption>") == report.count("<table>")
    for heading in (
        "Headline comparison",
        "MICON against each peer",
        "Every metric, every chain",
        "Glossary",
    ):
        assert f">{heading}</h2>" in report
    assert "PaCLR-only" in report and "untrained encoder" in report and "null_size" in report
    assert 'class="best' in report and "floor</span>" in report

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


def test_reporting_seeds_gather_runs_into_one_row_per_method_with_intervals_across_seeds(
    engineered, parameters, tmp_path
):
    crop_index = engineered.load("crop_index")
    pipeline = create_pipeline(methods=["micon", "paclr", "untrained"], seeds=[1, 2])
    assert "micon_seed2.default.score_compounds" in {n.name for n in pipeline.nodes}
    assert "micon_seed1.diagnose_generator" in {n.name for n in pipeline.nodes}
    assert "paclr_seed1.diagnose_generator" not in {n.name for n in pipeline.nodes}
    inputs = {
        "micon_seed1.crop_embeddings": _embeddings(crop_index, 0, signal=3.0),
        "micon_seed2.crop_embeddings": _embeddings(crop_index, 1, signal=3.0),
        "paclr_seed1.crop_embeddings": _embeddings(crop_index, 2, signal=1.0),
        "paclr_seed2.crop_embeddings": _embeddings(crop_index, 3, signal=1.0),
        "untrained.crop_embeddings": _embeddings(crop_index, 4, signal=0.0),
        "micon_seed1.training_history": _history(),
        "paclr_seed1.training_history": _history(),
        "micon_seed1.model_checkpoint": _checkpoint(parameters, engineered),
        "micon_seed2.model_checkpoint": _checkpoint(parameters, engineered),
        "crop_store": engineered.load("crop_store"),
        "crop_index": crop_index,
        **{name: engineered.load(name) for name in QUARANTINES},
    }
    catalog = kept_catalog(inputs, sorted(pipeline.all_outputs()))
    params = dict(parameters)
    params["reporting"] = {
        **parameters["reporting"],
        "retrieval": {
            **parameters["reporting"]["retrieval"],
            "null_size": 100,
            "null_cache_dir": str(tmp_path),
        },
        "statistics": {**parameters["reporting"]["statistics"], "n_resamples": 999},
    }
    add_parameters(catalog, params)
    SequentialRunner().run(pipeline, catalog)

    metrics = catalog.load("retrieval_metrics")
    assert set(metrics) == {"micon_seed1", "micon_seed2", "paclr_seed1", "paclr_seed2", "untrained"}
    table = catalog.load("comparison_table")
    assert list(zip(table["method"], table["chain"], table["n_seeds"], strict=True)) == [
        (m, c, n)
        for m, n in (("micon", 2), ("paclr", 2), ("untrained", 1))
        for c in ("raw", "default", "recipe")
    ]
    row = table.set_index(["method", "chain"]).loc[("micon", "default")]
    seeds = [metrics[f"micon_seed{k}"]["default"]["NSS"]["top1"] for k in (1, 2)]
    assert row["NSS_top1"] == pytest.approx(np.mean(seeds))
    assert row["NSS_top1_ci_low"] <= row["NSS_top1"] <= row["NSS_top1_ci_high"]
    intervals = catalog.load("metric_intervals").set_index(["method", "chain", "metric"])
    assert intervals.loc[("micon", "default", "NSS_top1"), "interval"] == "seeds"
    assert intervals.loc[("untrained", "default", "NSS_top1"), "interval"] == "compounds"
    differences = catalog.load("paired_differences").set_index(["peer", "chain", "metric"])
    assert set(differences.index.get_level_values("peer")) == {"paclr", "untrained"}
    assert differences.loc[("paclr", "default", "NSS_top1"), "n_seeds"] == 2
    diagnostics = catalog.load("diagnostics").set_index("run")
    assert list(diagnostics.index) == [
        "micon_seed1",
        "micon_seed2",
        "paclr_seed1",
        "paclr_seed2",
        "untrained",
    ]
    assert diagnostics.loc["micon_seed2", "seed"] == 2
    report = catalog.load("report_html")
    assert "MICON against each peer" in report and "MICON (seed 1)" in report
