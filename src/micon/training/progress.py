"""Training progress in optimiser steps of the total, on a terminal and in the log (:mod:`micon.progress`)."""

from __future__ import annotations

import logging
from typing import Any

import lightning as L

from micon.progress import progress

__all__ = ["StepProgress"]

logger = logging.getLogger(__name__)


class StepProgress(L.Callback):
    """Show a training's optimiser steps of ``max_steps`` with its loss, rate and time left.

    Lightning's own bar counts batches of an epoch and, with ``max_steps`` and no ``max_epochs``, reads
    "Epoch 0/-2"; off a terminal it prints only its final state. This callback replaces it: a bar on a
    terminal, about ``lines`` log lines elsewhere (``step 120/300 (40%), 3.1 step/s, 00:58 left,
    loss=2.31``). A resumed run starts at its checkpoint's step. Only the global rank 0 shows it.
    """

    def __init__(self, description: str, *, lines: int = 10) -> None:
        self.description = description
        self.lines = lines
        self._bar: Any = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Open the bar at the run's current step."""
        if trainer.is_global_zero:
            self._bar = progress(
                total=trainer.max_steps,
                initial=trainer.global_step,
                desc=self.description,
                logger=logger,
                lines=self.lines,
                unit="step",
            )

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        """Advance to the trainer's step, with the last logged loss."""
        if self._bar is None:
            return
        loss = trainer.callback_metrics.get("train/loss")
        if loss is not None:
            self._bar.set_postfix(loss=f"{float(loss):.4g}", refresh=False)
        self._bar.update(trainer.global_step - self._bar.n)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Close the bar (its final state)."""
        self._close()

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        """Close the bar when training fails."""
        self._close()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
