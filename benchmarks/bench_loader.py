"""Training data loader and training throughput from an on-disk crop store, printed (and written) as tables.

Usage: ``uv run python benchmarks/bench_loader.py [--crop-size 96] [--n-crops N] [--batches B]
[--workers 0 1 2] [--train-steps S] [--write-doc docs/performance.md]``.

A random screen (2 sources x 2 batches x 2 plates, 8 compounds and DMSO on every plate) is written as a
crop store (``micon.datasets.CropStoreDataset``) into a temporary folder and loaded as training loads it
(a read-only memory map; the page cache is warm: it was just written). Then:

- **loader**: MICON's training batches (treated and control crops, plate-DMSO intensity scaling as
  ``conf/base``) read by the training DataLoader with 0, 1 and 2 workers; the first batch (worker start)
  is timed apart, the next ``--batches`` give crops/s.
- **training**: ``train_micon`` of MICON with ``conf/base``'s settings (precision auto: bf16-mixed on a
  CUDA GPU), ``--train-steps`` steps after one warm-up step, timed batch end to batch end.
- **GPU**: with CUDA, the image encoder alone (forward + backward, bf16 autocast, channels_last) on
  batches of the training step's crops, and the training step's share of that throughput; without
  CUDA the table says "not measured".

``--write-doc FILE`` replaces the ``training-loader`` block of FILE (``<!-- BEGIN rendered:
training-loader -->`` ... ``END``) with the tables, the commit and the command: no number is typed by hand.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

# the random screen and the step timer of the training benchmark (benchmarks/ is on the path of a script)
from bench_training import _StepTimer, build_screen

from micon import schema
from micon.datasets import CropArray, CropStoreDataset
from micon.evaluation.report import format_markdown_table
from micon.project_parameters import parameter
from micon.provenance import commit_label
from micon.render_tables import replace_block
from micon.training.data import MiconDataModule, resolve_pin_memory
from micon.training.methods import build_model_config, build_objective_config
from micon.training.runner import TrainingConfig, fit_intensity_scaling, train_micon

CHANNELS = schema.CHANNELS
BLOCK = "training-loader"


def measure_loader(
    store: CropArray,
    index: pd.DataFrame,
    training: TrainingConfig,
    *,
    workers: int,
    batches: int,
    intensity: Any,
) -> tuple[float, float]:
    """Return (seconds to the first batch, crops/s over the next ``batches``) of the training loader."""
    datamodule = MiconDataModule(
        store,
        index,
        batch_rows=training.batch_rows,
        splits=training.splits,
        seed=training.seed,
        steps_per_epoch=batches + 1,
        num_workers=workers,
        pin_memory=resolve_pin_memory(training.pin_memory),
        persistent_workers=training.persistent_workers,
        prefetch_factor=training.prefetch_factor,
        controls="dmso",
        second_view=training.second_view,
        intensity=intensity,
        fields=("treated", "controls"),  # MICON's crops; its molecule inputs are cached per compound
        molecule=None,
    )
    datamodule.setup("fit")
    start = time.perf_counter()
    loader = iter(datamodule.train_dataloader())
    next(loader)
    first = time.perf_counter()
    n = 0
    for batch in loader:
        n += sum(batch[k].shape[0] for k in ("treated_1", "treated_2", "control_1", "control_2"))
    return first - start, n / (time.perf_counter() - first)


def measure_training(
    store: CropArray, index: pd.DataFrame, params: dict[str, Any], training: TrainingConfig
) -> float:
    """Return MICON's training crops/s (4 crops per row), median over the timed steps."""
    timer = _StepTimer()
    train_micon(
        store,
        index,
        model_config=build_model_config("micon", params["model"], channels=CHANNELS),
        training_config=training,
        method="micon",
        objective=build_objective_config("micon", params["methods"]["micon"]["objective"]),
        controls="dmso",
        callbacks=[timer],
    )
    step_s = float(np.median(np.diff(timer.ends)))
    return 4 * training.batch_rows / step_s


def measure_encoder(params: dict[str, Any], *, crops: int, crop_size: int, steps: int) -> float:
    """Return the image encoder's forward + backward crops/s on CUDA (bf16 autocast, channels_last)."""
    from micon.models.micon import build_model

    model = build_model(build_model_config("micon", params["model"], channels=CHANNELS)).image_encoder
    model = model.cuda().to(memory_format=torch.channels_last).train()
    images = torch.rand(crops, len(CHANNELS), crop_size, crop_size, device="cuda")
    images = images.contiguous(memory_format=torch.channels_last)
    for step in range(steps + 2):
        if step == 2:
            torch.cuda.synchronize()
            start = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(images).float().square().mean()
        loss.backward()
    torch.cuda.synchronize()
    return crops * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crop-size", type=int, default=96, help="crop side in px")
    parser.add_argument("--n-crops", type=int, default=2_000, help="crops in the store")
    parser.add_argument("--batches", type=int, default=20, help="loader batches timed per worker count")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2], help="worker counts")
    parser.add_argument("--train-steps", type=int, default=3, help="training steps timed (after 1 warm-up)")
    parser.add_argument("--write-doc", default=None, help="replace the training-loader block of this file")
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    params = parameter("modeling", env="base")
    overrides = {
        "max_steps": args.train_steps + 1,
        "run_dir": None,
        "checkpoint_every_n_steps": None,
        "resume": False,
        "enable_progress_bar": False,
        "log_every_n_steps": args.train_steps + 1,
    }
    training = TrainingConfig(**{**params["training"], **overrides})
    crops, index = build_screen(args.n_crops, args.crop_size, min_per_well=2)
    cuda = torch.cuda.is_available()
    device = torch.cuda.get_device_name() if cuda else f"CPU, {torch.get_num_threads()} torch threads"
    size = f"{len(CHANNELS)}x{args.crop_size}x{args.crop_size}"

    with tempfile.TemporaryDirectory(prefix="bench-loader-") as folder:
        dataset = CropStoreDataset(filepath=str(Path(folder) / "crop_store"))
        dataset.save(CropArray(crops, CHANNELS))
        store = dataset.load()
        del crops
        intensity = fit_intensity_scaling(store, index, scaling=params["model"]["image"]["intensity_scaling"])
        loader_rows = []
        for workers in args.workers:
            first, rate = measure_loader(
                store, index, training, workers=workers, batches=args.batches, intensity=intensity
            )
            loader_rows.append(
                {"workers": workers, "first batch (s)": f"{first:.2f}", "crops/s": f"{rate:,.0f}"}
            )
        train_rate = measure_training(store, index, params, training)

    train_rows = [
        {"measure": "MICON training (crops/s)", "value": f"{train_rate:,.0f}"},
        {"measure": "crops per step", "value": str(4 * training.batch_rows)},
        {"measure": "precision", "value": _precision_name(training)},
    ]
    if cuda:
        encoder = measure_encoder(params, crops=4 * training.batch_rows, crop_size=args.crop_size, steps=20)
        train_rows += [
            {"measure": "image encoder fwd+bwd, bf16, channels_last (crops/s)", "value": f"{encoder:,.0f}"},
            {"measure": "training step's share of it", "value": f"{train_rate / encoder:.0%}"},
        ]
    else:
        train_rows.append({"measure": "GPU", "value": "not measured (no CUDA device)"})

    loader_table = pd.DataFrame(loader_rows)
    train_table = pd.DataFrame(train_rows)
    print(
        f"device: {device}; crops {size} uint16, {len(index):,} in the store; "
        f"batch_rows {training.batch_rows}"
    )
    print(loader_table.to_string(index=False))
    print(train_table.to_string(index=False))
    if args.write_doc:
        commit = commit_label()
        command = "uv run python benchmarks/bench_loader.py " + shlex.join(sys.argv[1:])
        body = (
            f"Device: {device}. Crops {size} uint16, {len(index):,} in an on-disk crop store (warm page "
            f"cache); batch_rows {training.batch_rows} (4 crops a row).\n\n"
            "Training loader (MICON's treated and control crops, plate-DMSO scaling):\n\n"
            + format_markdown_table(loader_table)
            + "\nTraining:\n\n"
            + format_markdown_table(train_table)
            + f"\n<sub>Written by `{command}` at commit `{commit}`, "
            f"{datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}.</sub>\n"
        )
        path = Path(args.write_doc)
        path.write_text(replace_block(path.read_text(), BLOCK, body))
        print(f"written: {path}")


def _precision_name(training: TrainingConfig) -> str:
    from micon.training.runner import _precision

    return _precision(training.precision, training.accelerator)


if __name__ == "__main__":
    main()
