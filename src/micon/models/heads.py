"""Heads on top of the encoders: the contrastive projection head and the treatment generator."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from micon.errors import InvalidInputError

__all__ = ["ProjectionHead", "TreatmentGenerator"]


def _mlp(in_dim: int, hidden_dim: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, out_dim))


class ProjectionHead(nn.Module):
    """Map encoder embeddings to the space the contrastive losses compare (g in the MICON paper).

    A two-layer MLP ``D -> hidden -> P``; shared by real treated, real control and generated embeddings.
    Its output is not normalised here: the losses L2-normalise it.

    Args:
        in_dim: D, the image embedding size.
        hidden_dim: Width of the hidden layer.
        out_dim: P, the projection size.

    Shapes:
        - input: :math:`(N, D)`.
        - output: :math:`(N, P)`.
    """

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int) -> None:
        super().__init__()
        self.net = _mlp(in_dim, hidden_dim, out_dim)

    def forward(self, embeddings: Tensor) -> Tensor:
        """Return the projections of ``embeddings``."""
        return self.net(embeddings)


class TreatmentGenerator(nn.Module):
    """Predict a treated image embedding from a control embedding and a molecule (G in the MICON paper).

    ``G(e_ctrl, m) = MLP(concat(e_ctrl, m))``, a two-layer MLP ``D + M -> hidden -> D``. The caller
    passes the stop-gradient control embedding (as in the reference code), so G learns the effect of
    the compound without moving the image encoder.

    Args:
        image_dim: D, the image embedding size (input and output).
        molecule_dim: M, the molecule embedding size.
        hidden_dim: Width of the hidden layer.

    Shapes:
        - control: :math:`(B, D)`; molecule: :math:`(B, M)`.
        - output: :math:`(B, D)`.
    """

    def __init__(self, image_dim: int, molecule_dim: int, hidden_dim: int) -> None:
        super().__init__()
        self.net = _mlp(image_dim + molecule_dim, hidden_dim, image_dim)

    def forward(self, control: Tensor, molecule: Tensor) -> Tensor:
        """Return the generated treated embeddings.

        Raises:
            InvalidInputError: ``control`` and ``molecule`` differ in their number of rows.
        """
        if control.shape[0] != molecule.shape[0]:
            raise InvalidInputError(
                f"control has {control.shape[0]} rows but molecule has {molecule.shape[0]}; pass one "
                "molecule embedding per control row"
            )
        return self.net(torch.cat([control, molecule], dim=-1))
