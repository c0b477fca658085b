"""What MICON learns: the LightningModule with the model, its losses, the optimiser and the embedding path."""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch
from torch import Tensor

from micon.errors import InvalidConfigError
from micon.models.losses import counterfactual_loss, paclr_loss
from micon.models.micon import MiconModel
from micon.training.augment import AugmentationConfig, augment_images, augmentation_generator
from micon.training.data import IMAGE_KEYS

__all__ = ["MiconModule"]


class MiconModule(L.LightningModule):
    r"""Train a :class:`MiconModel` with MICON's objective (arXiv 2504.09544).

    .. math::
        \mathcal{L} = \mathcal{L}_{PaCLR}
            + \lambda \cdot \tfrac{1}{2}\big(\mathcal{L}^1_{cf} + \mathcal{L}^2_{cf}\big)

    Per step the 4B crops (``treated_1``, ``treated_2``, ``control_1``, ``control_2``) go through the image
    encoder in one batched forward; PaCLR is the supervised contrastive loss over their projections
    (:func:`~micon.models.losses.paclr_loss`). With the generator on, for each view v the generator
    predicts ``G(sg(e(c_v)), m)`` and the counterfactual loss contrasts its projection with
    ``g(sg(e(t_v)))`` (:func:`~micon.models.losses.counterfactual_loss`); ``sg`` (stop-gradient) is applied
    where the flags say, as in the reference code by default. With ``use_generator=False`` this is
    PaCLR alone (the reference code's shipped default).

    Gradient clipping is the Trainer's (``gradient_clip_val``), which Lightning applies before every
    optimiser step; the reference code configured clipping but never applied it.

    Args:
        model: The networks (injected; not saved as a hyper-parameter).
        temperature: SupCon temperature :math:`\tau` of both losses.
        cf_weight: :math:`\lambda`, weight of the counterfactual loss.
        use_generator: Whether to train G and add the counterfactual loss.
        detach_control: Stop the gradient of the control embedding fed to G.
        detach_treated: Stop the gradient of the real treated embedding in the counterfactual loss.
        lr: Peak AdamW learning rate.
        weight_decay: AdamW weight decay.
        warmup_steps: Steps of linear warm-up from 0 to ``lr``.
        max_steps: Step at which the cosine decay reaches 0.
        flips: Random horizontal flips of training crops (on device).
        rot90: Random 90-degree rotations of training crops.
        intensity_jitter: Log-normal gain jitter of training crops (0: off).
        seed: Seed of the augmentations, drawn per (seed, step, rank) so that a resumed run repeats them.

    Raises:
        InvalidConfigError: A value is out of range.
    """

    def __init__(
        self,
        model: MiconModel,
        *,
        temperature: float = 0.2,
        cf_weight: float = 1.0,
        use_generator: bool = True,
        detach_control: bool = True,
        detach_treated: bool = True,
        lr: float = 1e-3,
        weight_decay: float = 1e-2,
        warmup_steps: int = 0,
        max_steps: int = 1000,
        flips: bool = True,
        rot90: bool = True,
        intensity_jitter: float = 0.0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if temperature <= 0 or cf_weight < 0 or lr <= 0 or weight_decay < 0:
            raise InvalidConfigError(
                f"need temperature > 0, cf_weight >= 0, lr > 0, weight_decay >= 0; got {temperature}, "
                f"{cf_weight}, {lr}, {weight_decay}"
            )
        if warmup_steps < 0 or max_steps < 1:
            raise InvalidConfigError(
                f"need warmup_steps >= 0, max_steps >= 1; got {warmup_steps}, {max_steps}"
            )
        self.save_hyperparameters(ignore=["model"])
        self.model = model
        self.augmentation = AugmentationConfig(flips=flips, rot90=rot90, intensity_jitter=intensity_jitter)

    def augment(self, batch: dict[str, Any]) -> dict[str, Any]:
        """Return the batch with its four crop tensors augmented on their device (each crop drawn apart).

        Called from :meth:`training_step`, i.e. after the batch reached the device; doing it in
        ``on_after_batch_transfer`` would be equivalent but makes Lightning warn next to a DataModule.
        """
        batch = dict(batch)
        device = batch[IMAGE_KEYS[0]].device
        generator = augmentation_generator(
            self.hparams.seed, self.global_step, self.global_rank, device=device
        )
        for key in IMAGE_KEYS:
            batch[key] = augment_images(batch[key], config=self.augmentation, generator=generator)
        return batch

    def compute_losses(self, batch: dict[str, Any]) -> dict[str, Tensor]:
        """Return ``loss``, ``paclr`` and ``cf`` (0 without the generator) for one batch."""
        hp = self.hparams
        b = batch["compound_labels"].shape[0]
        labels = batch["compound_labels"]
        images = torch.cat([batch[k] for k in IMAGE_KEYS], dim=0)
        embeddings = self.model.image_encoder(images)  # (4B, D), one forward for all four views
        projections = self.model.projection_head(embeddings)
        paclr = paclr_loss(*projections.split(b), labels, temperature=hp.temperature)
        cf = paclr.new_zeros(())
        if hp.use_generator:
            treated_1, treated_2, control_1, control_2 = embeddings.split(b)
            molecules = self.model.molecule_encoder(batch["molecules"])[batch["molecule_index"]]  # (B, M)
            treated = torch.cat([treated_1, treated_2])
            control = torch.cat([control_1, control_2])
            # Stop-gradients of the reference code: L_cf trains G, the molecule encoder and g, not e.
            if hp.detach_treated:
                treated = treated.detach()
            if hp.detach_control:
                control = control.detach()
            generated = self.model.generator(control, molecules.repeat(2, 1))
            real_proj = self.model.projection_head(treated).split(b)
            generated_proj = self.model.projection_head(generated).split(b)
            cf = torch.stack(
                [
                    counterfactual_loss(real_proj[v], generated_proj[v], labels, temperature=hp.temperature)
                    for v in range(2)
                ]
            ).mean()
        return {"loss": paclr + hp.cf_weight * cf, "paclr": paclr, "cf": cf}

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> Tensor:
        """Compute and log the MICON loss of one batch."""
        losses = self.compute_losses(self.augment(batch))
        b = batch["compound_labels"].shape[0]
        for name, value in losses.items():
            self.log(
                f"train/{name}", value, on_step=True, on_epoch=False, prog_bar=name == "loss", batch_size=b
            )
        return losses["loss"]

    def predict_step(self, batch: Tensor, batch_idx: int, dataloader_idx: int = 0) -> Tensor:
        """Return the image encoder embeddings ``(b, D)`` of a batch of crops ``(b, C, S, S)``."""
        return self.model.image_encoder.encode(batch)

    def configure_optimizers(self) -> dict[str, Any]:
        """Return AdamW with linear warm-up then cosine decay to 0 at ``max_steps``, stepped per batch."""
        hp = self.hparams
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=hp.lr, weight_decay=hp.weight_decay)
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
