"""A Lightning callback recording what one DDP rank saw: imported by the ranks of test_distributed."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import lightning as L
import torch


class RecordRank(L.Callback):
    """Write ``rank<r>.pt``: per step the digests of the treated crops read, the backend, the parameters."""

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.steps: list[list[str]] = []

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, *args: Any
    ) -> None:
        self.steps.append([hashlib.sha1(crop.numpy().tobytes()).hexdigest() for crop in batch["treated_1"]])

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        record = {
            "steps": self.steps,
            "world_size": trainer.world_size,
            "backend": torch.distributed.get_backend() if torch.distributed.is_initialized() else None,
            "parameters": {k: v.detach().cpu().clone() for k, v in pl_module.named_parameters()},
        }
        torch.save(record, Path(self.folder) / f"rank{trainer.global_rank}.pt")
