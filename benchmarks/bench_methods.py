"""Training cost per step of every method on the default configuration, printed as a table.

Usage: ``OMP_NUM_THREADS=2 uv run python benchmarks/bench_methods.py [--steps N] [--warmup N]``.

A second table sizes ``kedro run --env benchmark`` from these costs: each method's training steps in that
environment (its tuning trials x their steps, plus one training per seed of ``BENCHMARK_SEEDS`` x its
steps) times the measured wall time per step. It is the training part of the benchmark's wall time only
(the screen, crops, embeddings, validation scoring and the evaluation come on top).
The model, budget and objective settings are those of ``conf/base/parameters_modeling.yml`` (crop size
and channels from a small synthetic screen generated in-process with the default crop extraction). A step
is what the Trainer does per batch: read the sampler batch, augment, forward, loss, backward, AdamW step.
"""

from __future__ import annotations

import argparse
import logging
import time

import torch

from micon.chem.parallel import ParallelConfig
from micon.chem.standardize import StandardizationConfig, standardize_compounds
from micon.imaging.extraction import CropExtractionConfig, extract_crop_table
from micon.metadata.joins import join_well_metadata
from micon.metadata.load_data import join_image_index
from micon.metadata.splits import SplitConfig, assign_splits
from micon.models import build_model, merge_params
from micon.pipelines.compositions import BENCHMARK_SEEDS
from micon.project_parameters import make_config, parameter
from micon.sources.synthetic import SYNTHETIC_PROFILE, SyntheticScreenConfig, generate_screen
from micon.training.data import MiconDataModule, resolve_pin_memory
from micon.training.methods import build_model_config, build_objective_config, get_method, list_methods
from micon.training.module import MiconModule
from micon.training.runner import TrainingConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per method")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per method first")
    parser.add_argument("--methods", nargs="*", default=list(list_methods("trained")))
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    params = parameter("modeling")
    training = TrainingConfig(**params["training"])

    screen = generate_screen(
        make_config(
            SyntheticScreenConfig,
            "synthetic",
            n_sources=3,
            n_batches_per_source=2,
            n_plates_per_batch=1,
            sites_per_well=1,
        )
    )
    compounds, _ = standardize_compounds(
        screen.compound_table,
        make_config(StandardizationConfig, "data_engineering.standardization"),
        make_config(ParallelConfig, "data_engineering.standardization_parallel"),
    )
    wells, _ = join_well_metadata(screen.plate_table, screen.well_table, compounds, profile=SYNTHETIC_PROFILE)
    wells = assign_splits(wells, make_config(SplitConfig, "data_engineering.splits"))
    sites, _ = join_image_index(screen.image_index, wells, channels=SYNTHETIC_PROFILE.channels)
    extraction = extract_crop_table(
        sites,
        screen.fields,
        make_config(CropExtractionConfig, "data_engineering.crops"),
        channels=SYNTHETIC_PROFILE.channels,
        nuclear_channel=SYNTHETIC_PROFILE.nuclear_channel,
        cytoplasm_channels=SYNTHETIC_PROFILE.cytoplasm_channels,
    )
    crops, index = extraction.crops, extraction.crop_index
    print(f"crops {tuple(crops.shape)}, batch_rows {training.batch_rows}, threads {torch.get_num_threads()}")

    rows = []
    for method in args.methods:
        method_params = params["methods"][method]
        config = build_model_config(
            method, merge_params(params["model"], method_params["model"]), channels=SYNTHETIC_PROFILE.channels
        )
        torch.manual_seed(0)
        model = build_model(config)
        module = MiconModule(
            model,
            method=method,
            objective=build_objective_config(method, method_params["objective"]),
            lr=training.lr,
            weight_decay=training.weight_decay,
            warmup_steps=training.warmup_steps,
            max_steps=training.max_steps,
            flips=training.flips,
            rot90=training.rot90,
            intensity_jitter=training.intensity_jitter,
            seed=training.seed,
        )
        optimizer = torch.optim.AdamW(model.parameters(), lr=training.lr)
        datamodule = MiconDataModule(
            crops,
            index,
            batch_rows=training.batch_rows,
            splits=training.splits,
            seed=training.seed,
            steps_per_epoch=args.steps + args.warmup,
            num_workers=training.num_workers,
            pin_memory=resolve_pin_memory(training.pin_memory),
            persistent_workers=training.persistent_workers,
            prefetch_factor=training.prefetch_factor,
            controls=SYNTHETIC_PROFILE.controls,
            second_view=training.second_view,
            intensity=None,
            fields=get_method(method).batch_fields,
            molecule=config.molecule,
        )
        datamodule.setup("fit")
        batches = iter(datamodule.train_dataloader())
        for step in range(args.warmup + args.steps):
            if step == args.warmup:
                start, start_cpu = time.perf_counter(), time.process_time()
            loss = module.compute_losses(next(batches), augment=True)["loss"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        ms = (time.perf_counter() - start) / args.steps * 1000
        cpu_ms = (time.process_time() - start_cpu) / args.steps * 1000
        n_params = sum(p.numel() for p in model.parameters())
        rows.append((method, ms, cpu_ms, n_params, config.embedding_dim))

    # CPU time is the less load-sensitive number on a shared machine (all threads of this process).
    print(f"{'method':<18} {'ms/step':>9} {'cpu ms/step':>12} {'params':>10} {'embedding':>10}")
    for method, ms, cpu_ms, n_params, dim in rows:
        print(f"{method:<18} {ms:>9.1f} {cpu_ms:>12.1f} {n_params:>10,d} {dim:>10d}")
    print_benchmark_budget({method: ms for method, ms, *_ in rows})


def print_benchmark_budget(ms_per_step: dict[str, float]) -> None:
    """Print each method's training steps in ``--env benchmark`` and their wall time at the measured cost."""
    tuning = parameter("tuning", env="benchmark")
    steps = parameter("modeling.training.max_steps", env="benchmark")
    per_method = tuning["n_trials"] * tuning["max_steps"] + len(BENCHMARK_SEEDS) * steps
    print(
        f"\n--env benchmark: {tuning['n_trials']} trials x {tuning['max_steps']} steps + "
        f"{len(BENCHMARK_SEEDS)} seeds x {steps} steps = {per_method} steps per method"
    )
    print(f"{'method':<18} {'steps':>6} {'training min':>13}")
    total = 0.0
    for method, ms in ms_per_step.items():
        minutes = per_method * ms / 1000 / 60
        total += minutes
        print(f"{method:<18} {per_method:>6d} {minutes:>13.1f}")
    print(f"{'all methods':<18} {per_method * len(ms_per_step):>6d} {total:>13.1f}")


if __name__ == "__main__":
    main()
