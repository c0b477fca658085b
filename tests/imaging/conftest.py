from collections.abc import Callable, Sequence

import numpy as np
import pytest


def draw_discs(
    shape: tuple[int, int],
    centres: Sequence[tuple[float, float]],
    *,
    radius: float = 5.0,
    background: int = 100,
    foreground: int = 3000,
    noise: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """Return a uint16 image of bright discs (centres as (y, x)) on a dark, optionally noisy background."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    image = np.full(shape, float(background))
    for cy, cx in centres:
        image[(yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2] = foreground
    if noise:
        image += rng.normal(0.0, noise, size=shape)
    return np.clip(np.rint(image), 0, 65535).astype(np.uint16)


@pytest.fixture
def disc_image() -> Callable[..., np.ndarray]:
    return draw_discs
