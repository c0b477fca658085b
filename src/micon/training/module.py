"""What a method learns: the LightningModule with its model, objective, optimiser and embedding path."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import lightning as L
import torch
from torch import Tensor

from micon.errors import InvalidConfigError, TrainingDivergedError
from micon.models.micon import MiconModel
from micon.training.augment import AugmentationConfig, CropAugmenter, augmentation_generator
from micon.training.methods import get_method

__all__ = ["MiconModule"]


class MiconModule(L.LightningModule):
    r"""Train a :class:`MiconModel` with its method's loss (:mod:`micon.training.methods`).

    For MICON (arXiv 2504.09544)

    .. math::
        \mathcal{L} = w_p \mathcal{L}_{PaCLR}
            + \lambda \cdot \tfrac{1}{2}\big(\mathcal{L}^1_{cf} + \mathcal{L}^2_{cf}\big)

    with every weight, temperature and stop-gradient a field of
    :class:`~micon.training.objectives.MiconObjectiveConfig`; every registered method trains from the
    sampler batches its spec asks for. Training crops are augmented on their device inside the loss
    (each loss augments the crops it uses; SimCLR each crop twice).

    Gradient clipping is the Trainer's (``gradient_clip_val``), which Lightning applies before every
    optimiser step; the reference code configured clipping but never applied it. A NaN or infinite loss
    stops the run at once (:class:`~micon.errors.TrainingDivergedError`, before the optimiser step and
    before any checkpoint of that step is written).

    A run resumed from a checkpoint restores its optimiser and schedule, whose learning rate and weight
    decay are the checkpoint's; with :attr:`override_resumed_optimizer` set (a resume that overrides a
    changed configuration) this module's ``lr`` and ``weight_decay`` replace them when training starts.

    Args:
        model: The networks (injected; not saved as a hyper-parameter); its parts must be the method's.
        method: A trained method of the registry.
        objective: The method's objective config (an instance of its spec's ``objective``).
        lr: Peak AdamW learning rate.
        weight_decay: AdamW weight decay.
        warmup_steps: Steps of linear warm-up from 0 to ``lr``.
        max_steps: Step at which the cosine decay reaches 0.
        flips: Random horizontal flips of training crops (on device).
        rot90: Random 90-degree rotations of training crops.
        intensity_jitter: Log-normal gain jitter of training crops (0: off).
        seed: Seed of the augmentations, drawn per (seed, step, rank) so that a resumed run repeats them.

    Raises:
        UnknownNameError: ``method`` is not registered.
        InvalidConfigError: A value is out of range, ``method`` is not trained, or the model's parts or
            the objective's type are not the method's.
    """

    def __init__(
        self,
        model: MiconModel,
        *,
        method: str,
        objective: Any,
        lr: float,
        weight_decay: float,
        warmup_steps: int,
        max_steps: int,
        flips: bool,
        rot90: bool,
        intensity_jitter: float,
        seed: int,
    ) -> None:
        super().__init__()
        if lr <= 0 or weight_decay < 0:
            raise InvalidConfigError(f"need lr > 0, weight_decay >= 0; got {lr}, {weight_decay}")
        if warmup_steps < 0 or max_steps < 1:
            raise InvalidConfigError(
                f"need warmup_steps >= 0, max_steps >= 1; got {warmup_steps}, {max_steps}"
            )
        self.spec = get_method(method)
        if self.spec.kind != "trained" or not isinstance(objective, self.spec.objective):
            raise InvalidConfigError(
                f"method {method!r} ({self.spec.kind}) trains with a "
                f"{getattr(self.spec.objective, '__name__', 'no objective')}, got {type(objective).__name__}"
            )
        if (
            set(model.config.parts) != set(self.spec.model_parts)
            or model.config.embedding != self.spec.embedding
        ):
            raise InvalidConfigError(
                f"method {method!r} needs a model with parts {self.spec.model_parts} embedded by "
                f"{self.spec.embedding!r}, got parts {model.config.parts} embedded by "
                f"{model.config.embedding!r}"
            )
        self.objective = objective
        if self.spec.prepare is not None:  # e.g. the logit scale's initial temperature (a resume restores it)
            self.spec.prepare(model, objective)
        self.override_resumed_optimizer = False
        self.augmentation = AugmentationConfig(flips=flips, rot90=rot90, intensity_jitter=intensity_jitter)
        self.save_hyperparameters(ignore=["model", "objective"])
        self.hparams["objective"] = dataclasses.asdict(objective)
        self.model = model

    @property
    def loss_parts(self) -> tuple[str, ...]:
        """Return the names of the loss parts logged besides ``loss`` (the method's spec)."""
        return self.spec.loss_parts

    def compute_losses(
        self, batch: dict[str, Any], *, augment: bool = False, generator: torch.Generator | None = None
    ) -> dict[str, Tensor]:
        """Return ``loss`` and the method's loss parts (MICON: ``paclr``, ``cf``) for one batch.

        Args:
            batch: A training batch holding the method's batch fields.
            augment: Augment the crops with the shared augmentation (False: as they are).
            generator: Generator of the augmentation draws on the crops' device (None: torch's global
                RNG); seeded per step by :meth:`training_step`, so a resumed run augments as the
                uninterrupted one.
        """
        augmenter = CropAugmenter(self.augmentation if augment else None, generator=generator)
        return self.spec.loss(self.model, batch, self.objective, augmenter)

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        """Compute and log the method's loss of one (augmented) batch."""
        # Augmentations drawn per (seed, step, rank): a resumed run repeats the uninterrupted run's draws.
        generator = augmentation_generator(
            self.hparams.seed, self.global_step, self.global_rank, device=batch["compound_labels"].device
        )
        losses = self.compute_losses(batch, augment=True, generator=generator)
        self._require_finite(losses)
        b = batch["compound_labels"].shape[0]
        for name, value in losses.items():
            self.log(
                f"train/{name}", value, on_step=True, on_epoch=False, prog_bar=name == "loss", batch_size=b
            )
        return losses["loss"]

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        """Clamp a learned logit scale to at most 100 after the step, as CLIP and CLOOME do."""
        if self.model.logit_scale is not None:
            self.model.logit_scale.clamp_()

    def _require_finite(self, losses: dict[str, Tensor]) -> None:
        """Raise TrainingDivergedError when the loss is NaN or infinite on any device (names step, parts)."""
        diverged = not bool(torch.isfinite(losses["loss"].detach()).all())
        if self._trainer is not None:  # every rank stops together, or the others would wait forever
            diverged = self.trainer.strategy.reduce_boolean_decision(diverged, all=False)
        if diverged:
            parts = ", ".join(f"{name} {float(value.detach()):.4g}" for name, value in losses.items())
            raise TrainingDivergedError(
                f"{self.spec.name} training diverged at step {self.global_step + 1}: non-finite loss "
                f"({parts}); the run stops and no checkpoint or embeddings are written. Lower "
                "modeling.training.lr, keep gradient_clip_val, or check the crops for extreme values"
            )

    def on_train_start(self) -> None:
        """Apply this run's learning rate and weight decay to a restored optimiser when overriding."""
        if not self.override_resumed_optimizer:
            return
        hp = self.hparams
        for config in self.trainer.lr_scheduler_configs:
            scheduler = config.scheduler
            scheduler.base_lrs = [hp.lr for _ in scheduler.base_lrs]
            for group, factor in zip(scheduler.optimizer.param_groups, scheduler.lr_lambdas, strict=True):
                group["initial_lr"] = hp.lr
                group["lr"] = hp.lr * factor(scheduler.last_epoch)
        for optimizer in self.trainer.optimizers:
            for group in optimizer.param_groups:
                if group.get("decay", True):
                    group["weight_decay"] = hp.weight_decay

    def predict_step(self, batch: Tensor, batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        """Return the evaluated embeddings ``(b, E)`` of a batch of crops ``(b, C, S, S)``."""
        return self.model.embed(batch)

    def configure_optimizers(self) -> dict[str, Any]:
        """Return AdamW with linear warm-up then cosine decay to 0 at ``max_steps``, stepped per batch.

        A learned logit scale gets no weight decay (as in open_clip, on which CLOOME builds).
        """
        hp = self.hparams
        trainable = [(n, p) for n, p in self.model.named_parameters() if p.requires_grad]
        decayed = [p for n, p in trainable if not n.startswith("logit_scale.")]
        groups: list[dict[str, Any]] = [{"params": decayed, "weight_decay": hp.weight_decay, "decay": True}]
        scale = [p for n, p in trainable if n.startswith("logit_scale.")]
        if scale:
            groups.append({"params": scale, "weight_decay": 0.0, "decay": False})
        optimizer = torch.optim.AdamW(groups, lr=hp.lr, weight_decay=hp.weight_decay)
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: _warmup_cosine(step, warmup=hp.warmup_steps, total=hp.max_steps)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def _warmup_cosine(step: int, *, warmup: int, total: int) -> float:
    """Return the learning-rate factor at ``step``: linear ramp over ``warmup``, cosine to 0 at ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return 0.5 * (1.0 + math.cos(math.pi * progress))
