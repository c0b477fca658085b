"""Heads on top of the encoders: the projection head, the treatment generator and the logit scale."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from micon.errors import InvalidInputError

__all__ = ["LogitScale", "ProjectionHead", "TreatmentGenerator"]


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


class LogitScale(nn.Module):
    r"""The learnable inverse temperature of CLIP and CLOOME: :math:`1/\tau = \exp(s)`, at most 100.

    As in CLIP (Radford et al. 2021) and CLOOME's code (``logit_inv_tau``): one scalar parameter
    :math:`s = \log(1/\tau)`, initialised from a temperature; :meth:`clamp_` keeps it in
    :math:`[0, \log 100]` after every optimiser step, and :meth:`forward` clamps the same way, so the
    logits are scaled by at most 100. Fixed (no gradient) unless :meth:`reset` says it learns.

    Shapes:
        - output: :math:`()`, the scale :math:`1/\tau`.
    """

    MAX_SCALE = 100.0

    def __init__(self) -> None:
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(()))

    def reset(self, temperature: float, *, learnable: bool) -> None:
        r"""Set :math:`1/\tau` to ``1 / temperature`` (clamped) and whether it learns."""
        with torch.no_grad():
            self.log_scale.fill_(-math.log(temperature))
        self.clamp_()
        self.log_scale.requires_grad_(learnable)

    def clamp_(self) -> None:
        r"""Clamp :math:`s` in place to :math:`[0, \log 100]` (CLIP's and CLOOME's clamp)."""
        with torch.no_grad():
            self.log_scale.clamp_(0.0, math.log(self.MAX_SCALE))

    @property
    def temperature(self) -> float:
        r"""Return the current temperature :math:`\tau`."""
        return float(1.0 / self.forward().detach())

    def forward(self) -> Tensor:
        r"""Return the inverse temperature :math:`\exp(s)`, clamped to [1, 100]."""
        return self.log_scale.clamp(0.0, math.log(self.MAX_SCALE)).exp()
