"""Training and embedding throughput of the default MICON model on this machine's device, printed as a table.

Usage: ``uv run python benchmarks/bench_training.py [--steps N] [--batch-rows B] [--crop-size S]``.
The model and training settings are those of ``conf/base/parameters_modeling.yml`` (device, precision
"auto": bf16-mixed on a CUDA GPU); the crops are a random in-memory store laid out as a small screen
(sources x batches x plates, DMSO wells on every plate), so no data folder is needed. A training step
is timed from one batch end to the next (data loading included) after ``--warmup`` steps; peak GPU
memory is ``torch.cuda.max_memory_allocated`` when CUDA is available.
"""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch

from micon import schema
from micon.project_parameters import parameter
from micon.training.methods import build_model_config, build_objective_config
from micon.training.runner import TrainingConfig, build_untrained_checkpoint, embed_crops, train_micon

CHANNELS = schema.CHANNELS  # the random store's channels
COMPOUNDS = (
    "CC(=O)Oc1ccccc1C(=O)O",
    "Cn1c(=O)c2c(ncn2C)n(C)c1=O",
    "CC(C)Cc1ccc(C(C)C(=O)O)cc1",
    "CN1CCC[C@H]1c1cccnc1",
    "O=C(O)c1ccccc1O",
    "CC(=O)Nc1ccc(O)cc1",
    "c1ccc2c(c1)ccc1ccccc12",
    "CCN(CC)CCOC(=O)c1ccc(N)cc1",
)


class _StepTimer(L.Callback):
    """Record the wall time between consecutive batch ends (CUDA synchronised)."""

    def __init__(self) -> None:
        self.ends: list[float] = []

    def on_train_batch_end(self, trainer: L.Trainer, *args: Any) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.ends.append(time.perf_counter())


def build_screen(
    n_crops: int, crop_size: int, seed: int = 0, *, min_per_well: int = 1
) -> tuple[np.ndarray, pd.DataFrame]:
    """Return a random uint16 crop store and its index: 2 sources x 2 batches x 2 plates, DMSO on each.

    Each well gets ``n_crops`` shared out, at least ``min_per_well`` crops, on two alternating sites.
    """
    rng = np.random.default_rng(seed)
    wells = [(c, False) for c in COMPOUNDS] + [(schema.DMSO_SMILES, True)] * 2
    plates = [(s, b, p) for s in ("s1", "s2") for b in ("b1", "b2") for p in ("p1", "p2")]
    per_well = max(min_per_well, n_crops // (len(plates) * len(wells)))
    rows = [
        {
            schema.SOURCE: s,
            schema.BATCH: f"{s}_{b}",
            schema.PLATE: f"{s}_{b}_{p}",
            schema.WELL: f"A{w:02d}",
            schema.SITE: str(k % 2),
            schema.STANDARD_SMILES: smiles,
            schema.IS_CONTROL: is_control,
            schema.SPLIT: schema.SPLIT_TRAIN,
        }
        for s, b, p in plates
        for w, (smiles, is_control) in enumerate(wells)
        for k in range(per_well)
    ]
    index = pd.DataFrame(rows)
    index.insert(0, schema.CROP_ID, np.arange(len(index), dtype=np.int64))
    crops = rng.integers(100, 4000, size=(len(index), 5, crop_size, crop_size), dtype=np.uint16)
    return crops, index


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=30, help="training steps timed (after warm-up)")
    parser.add_argument("--warmup", type=int, default=5, help="training steps not timed")
    parser.add_argument("--batch-rows", type=int, default=None, help="rows per step (default: parameters)")
    parser.add_argument("--crop-size", type=int, default=32, help="crop side in px")
    parser.add_argument("--n-crops", type=int, default=20_000, help="crops in the random store")
    parser.add_argument(
        "--num-workers", type=int, default=None, help="DataLoader workers (default: parameters)"
    )
    parser.add_argument("--embed-batch-size", type=int, default=None, help="default: parameters")
    args = parser.parse_args()
    logging.disable(logging.WARNING)

    params = parameter("modeling")
    model_config = build_model_config("micon", params["model"], channels=CHANNELS)
    objective = build_objective_config("micon", params["methods"]["micon"]["objective"])
    overrides = {
        "max_steps": args.warmup + args.steps,
        "run_dir": None,
        "checkpoint_every_n_steps": None,
        "resume": False,
        "enable_progress_bar": False,
        "log_every_n_steps": args.warmup + args.steps,
    }
    if args.batch_rows is not None:
        overrides["batch_rows"] = args.batch_rows
    if args.num_workers is not None:
        overrides["num_workers"] = args.num_workers
    training = TrainingConfig(**{**params["training"], **overrides})
    crops, index = build_screen(args.n_crops, args.crop_size)
    cuda = torch.cuda.is_available()
    device = torch.cuda.get_device_name() if cuda else f"CPU ({torch.get_num_threads()} threads)"
    rows: list[tuple[str, str, str]] = []

    if cuda:
        torch.cuda.reset_peak_memory_stats()
    timer = _StepTimer()
    train_micon(
        crops,
        index,
        model_config=model_config,
        training_config=training,
        method="micon",
        objective=objective,
        controls="dmso",
        callbacks=[timer],
    )
    step_s = float(np.median(np.diff(timer.ends[args.warmup - 1 :]))) if args.warmup else float("nan")
    crops_per_step = 4 * training.batch_rows
    rows.append(("training step", f"{1000 * step_s:,.1f}", f"ms/step ({crops_per_step} crops)"))
    rows.append(("training throughput", f"{crops_per_step / step_s:,.0f}", "crops/s"))
    if cuda:
        rows.append(("training peak GPU memory", f"{torch.cuda.max_memory_allocated() / 2**30:,.2f}", "GiB"))
        torch.cuda.reset_peak_memory_stats()

    checkpoint = build_untrained_checkpoint(
        build_model_config("untrained", params["model"], channels=CHANNELS), method="untrained", seed=0
    )
    embedding = {**params["embedding"], "channels": CHANNELS}
    if args.embed_batch_size is not None:
        embedding["batch_size"] = args.embed_batch_size
    embed_crops(checkpoint, crops, index.iloc[: embedding["batch_size"]], **embedding)  # warm-up
    start = time.perf_counter()
    embed_crops(checkpoint, crops, index, **embedding)
    seconds = time.perf_counter() - start
    rows.append(
        ("embedding throughput", f"{len(index) / seconds:,.0f}", f"crops/s (batch {embedding['batch_size']})")
    )
    if cuda:
        rows.append(("embedding peak GPU memory", f"{torch.cuda.max_memory_allocated() / 2**30:,.2f}", "GiB"))

    print(
        f"device: {device}; backbone {model_config.image.backbone}, intensity_scaling "
        f"{model_config.image.intensity_scaling}, precision {training.precision}, crops 5x{args.crop_size}x"
        f"{args.crop_size}, batch_rows {training.batch_rows}, num_workers {training.num_workers}"
    )
    print(pd.DataFrame(rows, columns=["measure", "value", "unit"]).to_string(index=False))


if __name__ == "__main__":
    main()
