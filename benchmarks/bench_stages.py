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

from micon import schema
from micon.chem.parallel import ParallelConfig
from micon.chem.standardize import StandardizationConfig, standardize_compounds, standardize_smiles
from micon.evaluation import RetrievalConfig, aggregate_to_wells, evaluate_profiles
from micon.imaging.extraction import CropExtractionConfig, extract_crop_table
from micon.metadata.joins import join_well_metadata
from micon.metadata.load_data import join_image_index
from micon.metadata.splits import SplitConfig, assign_splits
from micon.project_parameters import make_config, parameter
from micon.sources.synthetic import SYNTHETIC_PROFILE, SyntheticScreenConfig, generate_screen
from micon.training.methods import build_model_config, build_objective_config
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
    wells, _ = join_well_metadata(screen.plate_table, screen.well_table, compounds, profile=SYNTHETIC_PROFILE)
    wells = assign_splits(wells, make_config(SplitConfig, "data_engineering.splits"))
    sites, _ = join_image_index(screen.image_index, wells, channels=SYNTHETIC_PROFILE.channels)
    extraction, seconds = timed(
        lambda: extract_crop_table(
            sites,
            screen.fields,
            make_config(CropExtractionConfig, "data_engineering.crops"),
            channels=SYNTHETIC_PROFILE.channels,
            nuclear_channel=SYNTHETIC_PROFILE.nuclear_channel,
            cytoplasm_channels=SYNTHETIC_PROFILE.cytoplasm_channels,
        )
    )
    rows.append(("render fields + detect nuclei + cut crops", len(sites) / seconds, "sites/s"))
    rows.append(
        ("render fields + detect nuclei + cut crops", len(extraction.crop_index) / seconds, "crops/s")
    )

    crops, index = extraction.crops, extraction.crop_index
    modeling = parameter("modeling")
    channels = SYNTHETIC_PROFILE.channels
    model_config = build_model_config("micon", modeling["model"], channels=channels)
    objective = build_objective_config("micon", modeling["methods"]["micon"]["objective"])
    overrides = {"max_steps": args.steps, "enable_progress_bar": False, "log_every_n_steps": args.steps}
    training = TrainingConfig(
        **{**modeling["training"], **overrides, "run_dir": None, "checkpoint_every_n_steps": None}
    )
    _, seconds = timed(
        lambda: train_micon(
            crops,
            index,
            model_config=model_config,
            training_config=training,
            method="micon",
            objective=objective,
            controls=SYNTHETIC_PROFILE.controls,
        )
    )
    rows.append(("MICON training step (32 rows = 128 crops)", 1000 * seconds / args.steps, "ms/step"))

    untrained = build_model_config("untrained", modeling["model"], channels=channels)
    checkpoint = build_untrained_checkpoint(untrained, method="untrained", seed=0)
    embedding = {**modeling["embedding"], "channels": channels}
    embeddings, seconds = timed(lambda: embed_crops(checkpoint, crops, index, **embedding))
    rows.append(("embed crops", len(index) / seconds, "crops/s"))

    wells = aggregate_to_wells(embeddings, **parameter("reporting.aggregation"))
    retrieval = make_config(RetrievalConfig, "reporting.retrieval", null_size=1000)
    _, seconds = timed(lambda: evaluate_profiles(wells, retrieval))
    rows.append(("retrieval + copairs mAP (NR/NSB/NSS)", len(wells) / seconds, "wells/s"))

    table = pd.DataFrame(rows, columns=["stage", "throughput", "unit"])
    table["throughput"] = table["throughput"].map(lambda v: f"{v:,.1f}")
    print(table.to_string(index=False))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
