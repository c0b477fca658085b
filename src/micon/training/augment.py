"""Batch-wise augmentations on the training device: flips, 90-degree rotations, intensity jitter."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from micon.errors import InvalidConfigError

__all__ = ["AugmentationConfig", "CropAugmenter", "augment_images", "augmentation_generator"]


@dataclass(frozen=True, kw_only=True)
class AugmentationConfig:
    """Which augmentations :func:`augment_images` applies.

    The MICON reference code applies none (its two views are biological replicates); cell crops have
    no preferred orientation, so flips and rotations are free symmetries (on in ``conf/base``).

    Attributes:
        flips: Flip each crop horizontally with probability 1/2.
        rot90: Rotate each crop by k * 90 degrees, k uniform in {0, 1, 2, 3}.
        intensity_jitter: Standard deviation of a log-normal gain per crop and channel on the raw
            intensities (0: off). The encoder's per-crop standardisation removes most of a pure gain, so
            this matters mainly with other scalings.
    """

    flips: bool
    rot90: bool
    intensity_jitter: float

    def __post_init__(self) -> None:
        if self.intensity_jitter < 0:
            raise InvalidConfigError(f"intensity_jitter must be >= 0, got {self.intensity_jitter}")


def augment_images(
    images: Tensor, *, config: AugmentationConfig, generator: torch.Generator | None = None
) -> Tensor:
    """Return randomly flipped, rotated and gain-jittered copies of square crops, each crop drawn apart.

    All draws are tensors on the images' device; the work is a few whole-batch ops (a ``where`` for the
    flips, a gather over the four rotations), never a Python loop over crops.

    Args:
        images: Square crops.
        config: The augmentations to apply.
        generator: Optional torch generator on the images' device (default: torch's global RNG).

    Returns:
        A new tensor; ``images`` is left unchanged.

    Shapes:
        - images: :math:`(B, C, S, S)` float; output: same.
    """
    b = images.shape[0]
    out = images
    if config.flips:
        flip = torch.rand(b, device=images.device, generator=generator) < 0.5
        out = torch.where(flip[:, None, None, None], out.flip(-1), out)
    if config.rot90:
        k = torch.randint(0, 4, (b,), device=images.device, generator=generator)
        # All four rotations, then a gather: no boolean indexing, hence no host-device sync.
        rotations = torch.stack([torch.rot90(out, angle, dims=(-2, -1)) for angle in range(4)])
        out = rotations[k, torch.arange(b, device=images.device)]
    if config.intensity_jitter > 0:
        noise = torch.randn(b, images.shape[1], 1, 1, device=images.device, generator=generator)
        out = out * torch.exp(noise * config.intensity_jitter)
    return out


def augmentation_generator(seed: int, *keys: int, device: torch.device | str = "cpu") -> torch.Generator:
    """Return a torch generator on ``device`` seeded by ``(seed, *keys)``, e.g. the global step and rank.

    Drawing each step's augmentations from their own generator makes them a function of the step, not
    of how many draws came before: a run resumed from a checkpoint augments exactly as the uninterrupted
    run (Lightning checkpoints do not hold the global RNG state).
    """
    state = np.random.SeedSequence([seed, *keys]).generate_state(2, dtype=np.uint32)
    return torch.Generator(device=device).manual_seed(int(state[0]) << 32 | int(state[1]))


class CropAugmenter:
    """Augment the crops a loss uses, on their device, with one generator per training step.

    A method's loss function (``micon.training.methods``) receives one and calls it on each set of crops
    it feeds the encoder; ``augmenter(images, **overrides)`` replaces fields of the shared augmentation
    for that call (SimCLR's stronger views).

    Args:
        config: The shared augmentation; ``None`` leaves crops unchanged (evaluation of a loss).
        generator: Generator of the draws on the crops' device (None: torch's global RNG).
    """

    def __init__(self, config: AugmentationConfig | None, *, generator: torch.Generator | None) -> None:
        self.config = config
        self.generator = generator

    @property
    def is_enabled(self) -> bool:
        """Return whether crops are augmented (False: returned unchanged)."""
        return self.config is not None

    def __call__(self, images: Tensor, **overrides: Any) -> Tensor:
        """Return augmented copies of ``images`` ``(B, C, S, S)``, or ``images`` when disabled.

        Raises:
            TypeError: An override is not a field of :class:`AugmentationConfig`.
        """
        if self.config is None:
            return images
        config = dataclasses.replace(self.config, **overrides) if overrides else self.config
        return augment_images(images, config=config, generator=self.generator)
