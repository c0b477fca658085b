"""Evaluation of a run's crop embeddings under the parameters' normalisation chains; the pipeline's time.

Usage: ``uv run python benchmarks/bench_reporting.py [--data DATA] [--null-size N] [--old] [--pipeline]``.
``DATA`` is a run root after a ``kedro run`` (``data/synthetic`` by default): the latest version of
every ``07_model_output/<method>_crop_embeddings.parquet`` is evaluated under every chain of
``reporting.normalization.chains`` (raw, default, recipe) and, with ``--old``, the former default
``[variance_filter, mad_robustize, sphering]`` for reference. Printed per method and chain: the
feature count after the chain, top-1 and mAP at NR / NSB / NSS, mechanism retrieval where the wells
carry an annotation, and source kNN accuracy. With ``--pipeline`` the whole reporting pipeline is also
run in memory on those embeddings (a registered method without embeddings in ``DATA`` borrows the
``untrained`` ones, for timing only) and its wall time printed.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import pandas as pd

from micon import schema
from micon.evaluation import (
    NormalizationConfig,
    RetrievalConfig,
    aggregate_to_wells,
    evaluate_batch_effects,
    evaluate_mechanism_retrieval,
    evaluate_profiles,
    normalize_profiles,
)
from micon.project_parameters import make_config, parameter

# The default chain before the chains were measured: per-plate MAD on a few DMSO wells, then ZCA.
OLD_DEFAULT: tuple[str, ...] = ("variance_filter", "mad_robustize", "sphering")
LEVELS: tuple[str, ...] = ("NR", "NSB", "NSS")


def latest(folder: Path) -> Path:
    """Return the file inside the newest version folder of a versioned dataset."""
    version = sorted(p for p in folder.iterdir() if p.is_dir())[-1]
    return version / folder.name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path("data/synthetic"), help="a run root")
    parser.add_argument("--null-size", type=int, default=1000)
    parser.add_argument("--old", action="store_true", help="also evaluate the former default chain")
    parser.add_argument("--pipeline", action="store_true", help="also time the whole reporting pipeline")
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    embeddings = {
        folder.name.removesuffix("_crop_embeddings.parquet"): pd.read_parquet(latest(folder))
        for folder in sorted((args.data / "07_model_output").glob("*_crop_embeddings.parquet"))
    }
    cache = tempfile.mkdtemp()
    config = make_config(
        RetrievalConfig,
        "reporting.retrieval",
        null_size=args.null_size,
        null_cache_dir=cache,
        scenarios={level: parameter("reporting.retrieval.scenarios")[level] for level in LEVELS},
    )
    chains = dict(parameter("reporting.normalization.chains"))
    if args.old:
        chains["old default"] = list(OLD_DEFAULT)
    normalization = make_config(NormalizationConfig, "reporting.normalization", chains=chains)
    rows = []
    for method, crops in embeddings.items():
        wells = aggregate_to_wells(crops, **parameter("reporting.aggregation"))
        for chain in chains:
            start = time.perf_counter()
            normalized, _ = normalize_profiles(wells, normalization, chain=chain)
            metrics, _, _ = evaluate_profiles(normalized, config)
            mechanism = evaluate_mechanism_retrieval(normalized, config)
            batch = evaluate_batch_effects(normalized, config)
            row = {"method": method, "chain": chain, "dim": len(schema.feature_columns(normalized.columns))}
            for level in LEVELS:
                row |= {f"{level} top1": metrics[level]["top1"], f"{level} mAP": metrics[level]["map"]}
            for annotation, per_level in mechanism.items():
                name = annotation.removeprefix("Metadata_")
                row |= {f"{name} {level} top1": scores["top1"] for level, scores in per_level.items()}
                row |= {f"{name} {level} mAP": scores["map"] for level, scores in per_level.items()}
            row |= {"source kNN": batch["source_knn_accuracy"]}
            row["seconds"] = time.perf_counter() - start
            rows.append(row)
    print(pd.DataFrame(rows).to_string(index=False, float_format=lambda v: f"{v:.3f}"))  # noqa: T201

    if args.pipeline:
        print(f"reporting pipeline: {time_pipeline(args.data, embeddings):.1f} s")  # noqa: T201


def time_pipeline(data: Path, embeddings: dict[str, pd.DataFrame]) -> float:
    """Run the reporting pipeline in memory with the project's parameters; return its wall time."""
    from kedro.io import DataCatalog, MemoryDataset
    from kedro.runner import SequentialRunner

    from micon.pipelines.reporting import create_pipeline
    from micon.pipelines.reporting.pipeline import QUARANTINES
    from micon.training.methods import list_methods

    pipeline = create_pipeline()
    inputs = {f"{m}.crop_embeddings": embeddings.get(m, embeddings["untrained"]) for m in list_methods()}
    inputs["micon.training_history"] = pd.read_csv(latest(data / "06_models" / "micon_training_history.csv"))
    for name in QUARANTINES:
        inputs[name] = pd.read_parquet(latest(data / "02_intermediate" / "quarantine" / f"{name}.parquet"))
    reporting = parameter("reporting")
    reporting["retrieval"]["null_cache_dir"] = tempfile.mkdtemp()
    inputs["params:reporting"] = reporting
    inputs |= {f"params:reporting.{key}": value for key, value in reporting.items()}
    catalog = DataCatalog({name: MemoryDataset(value, copy_mode="assign") for name, value in inputs.items()})
    for name in pipeline.all_outputs():
        catalog[name] = MemoryDataset(copy_mode="assign")
    start = time.perf_counter()
    SequentialRunner().run(pipeline, catalog)
    seconds = time.perf_counter() - start
    return seconds


if __name__ == "__main__":
    main()
