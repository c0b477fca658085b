"""Throughput of each stage of the default run on this machine, printed as a table.

Usage: ``uv run python benchmarks/bench_stages.py [--steps N]``. Everything is generated in-process
from a small synthetic screen, so no data folder is needed.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable

import numpy as np
import pandas as pd
from product_parameters import make_config

from micon import schema
from micon.chem.parallel import ParallelConfig
from micon.chem.standardize import StandardizationConfig, standardize_compounds, standardize_smiles
from micon.evaluation import RetrievalConfig, aggregate_to_wells, evaluate_profiles
from micon.imaging.extraction import CropExtractionConfig, extract_crop_table
from micon.metadata.joins import join_well_metadata
from micon.metadata.load_data import join_image_index
from micon.metadata.splits import SplitConfig, assign_splits
from micon.models import MiconModelConfig
from micon.synthetic import SyntheticScreenConfig, generate_screen
from micon.training.runner import TrainingConfig, build_untrained_checkpoint, embed_crops, train_micon


def timed(function: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=50, help="training steps to time")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    rows = []

    config = make_config(
        SyntheticScreenConfig, "synthetic", n_sources=3, n_batches_per_source=2, n_plates_per_batch=1
    )
    screen, seconds = timed(lambda: generate_screen(config))
    keys = list(screen.fields)[:500]
    _, seconds = timed(lambda: [screen.fields[k]() for k in keys])
    rows.append(("render synthetic fields", len(keys) / len(schema.CHANNELS) / seconds, "fields/s"))

    smiles = screen.compound_table[schema.SMILES].tolist()[:20]
    std_config = make_config(StandardizationConfig, "data_engineering.standardization")
    parallel = make_config(ParallelConfig, "data_engineering.standardization_parallel")

    def standardize_all() -> None:
        for s in smiles:
            try:
                standardize_smiles(s, std_config)
            except ValueError:
                pass

    _, seconds = timed(standardize_all)
    rows.append(("standardise SMILES", len(smiles) / seconds, "molecules/s"))

    compounds, _ = standardize_compounds(screen.compound_table, std_config, parallel)
    wells, _ = join_well_metadata(screen.plate_table, screen.well_table, compounds)
    wells = assign_splits(wells, make_config(SplitConfig, "data_engineering.splits"))
    sites, _ = join_image_index(screen.image_index, wells)
    extraction, seconds = timed(
        lambda: extract_crop_table(
            sites, screen.fields, make_config(CropExtractionConfig, "data_engineering.crops")
        )
    )
    rows.append(("render fields + detect nuclei + cut crops", len(sites) / seconds, "sites/s"))
    rows.append(
        ("render fields + detect nuclei + cut crops", len(extraction.crop_index) / seconds, "crops/s")
    )

    crops, index = extraction.crops, extraction.crop_index
    model_config = MiconModelConfig()
    training = TrainingConfig(max_steps=args.steps, enable_progress_bar=False, log_every_n_steps=args.steps)
    _, seconds = timed(lambda: train_micon(crops, index, model_config=model_config, training_config=training))
    rows.append(("MICON training step (32 rows = 128 crops)", 1000 * seconds / args.steps, "ms/step"))

    checkpoint = build_untrained_checkpoint(model_config, seed=0)
    embeddings, seconds = timed(lambda: embed_crops(checkpoint, crops, index, batch_size=512))
    rows.append(("embed crops", len(index) / seconds, "crops/s"))

    wells = aggregate_to_wells(embeddings)
    _, seconds = timed(lambda: evaluate_profiles(wells, RetrievalConfig(null_size=1000)))
    rows.append(("retrieval + copairs mAP (NR/NSB/NSS)", len(wells) / seconds, "wells/s"))

    table = pd.DataFrame(rows, columns=["stage", "throughput", "unit"])
    table["throughput"] = table["throughput"].map(lambda v: f"{v:,.1f}")
    print(table.to_string(index=False))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
