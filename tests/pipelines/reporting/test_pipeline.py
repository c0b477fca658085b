from __future__ import annotations

import numpy as np
import pandas as pd
from kedro.runner import SequentialRunner
from matplotlib.figure import Figure

from micon import schema
from micon.pipelines.modeling.pipeline import METHODS
from micon.pipelines.reporting import create_pipeline
from micon.pipelines.reporting.pipeline import QUARANTINES
from tests.pipelines.conftest import add_parameters, kept_catalog


def _embeddings(crop_index: pd.DataFrame, seed: int, signal: float) -> pd.DataFrame:
    """Crop embeddings carrying a compound signal of the given strength plus noise."""
    rng = np.random.default_rng(seed)
    codes = pd.factorize(crop_index[schema.JCP2022])[0]
    centres = rng.normal(size=(codes.max() + 1, 8))
    features = signal * centres[codes] + rng.normal(size=(len(crop_index), 8))
    return pd.concat([crop_index, pd.DataFrame(features, columns=schema.embedding_columns(8))], axis=1)


def test_reporting_tiny_screen_writes_metrics_plots_and_quarantine_summary(engineered, parameters, tmp_path):
    crop_index = engineered.load("crop_index")
    pipeline = create_pipeline()
    inputs = {
        # every embedded method; only the untrained floor carries no compound signal
        **{
            f"{method}.crop_embeddings": _embeddings(
                crop_index, seed, signal=0.0 if method == "untrained" else 3.0
            )
            for seed, method in enumerate(METHODS)
        },
        "micon.training_history": pd.DataFrame({"step": [1, 2], "loss": [2.0, 1.0]}),
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
    }
    add_parameters(catalog, params)
    SequentialRunner().run(pipeline, catalog)

    metrics = catalog.load("retrieval_metrics")
    assert set(metrics) == set(METHODS)
    assert set(metrics["micon"]) == {"NR", "NSB", "NSS"}
    assert set(metrics["micon"]["NSS"]) == {"top1", "top5", "map", "fraction_retrieved", "n_queries"}
    # a compound signal is retrieved across sources; pure noise is not
    assert metrics["micon"]["NSS"]["top1"] > metrics["untrained"]["NSS"]["top1"]
    for plot in ("retrieval_comparison_plot", "topk_accuracy_plot", "training_loss_plot"):
        assert isinstance(catalog.load(plot), Figure)
    summary = catalog.load("quarantine_summary")
    assert summary.loc[summary["reason"] == "invalid_smiles", "n_items"].sum() == 1
