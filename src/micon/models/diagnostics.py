"""How a trained generator uses its inputs: is its output driven by the molecule or by the control?"""

from __future__ import annotations

import torch
from torch import Tensor

from micon.errors import InvalidInputError
from micon.models.micon import MiconModel
from micon.models.molecule_encoder import MoleculeFeatures, collate_molecules


def mean_pairwise_cosine(embeddings: Tensor) -> Tensor:
    """Return the mean cosine similarity over distinct pairs along the second-to-last axis.

    Shapes:
        - embeddings: :math:`(..., N, D)` with N >= 2; output: :math:`(...)`.
    """
    n = embeddings.shape[-2]
    if n < 2:
        raise InvalidInputError(f"mean pairwise cosine needs >= 2 embeddings, got {n}")
    unit = torch.nn.functional.normalize(embeddings, dim=-1)
    total = unit.sum(dim=-2)
    # sum over all ordered pairs of <u_i, u_j> = |sum u|^2; the n diagonal terms are |u_i|^2 = 1
    diagonal = (unit * unit).sum(dim=(-1, -2))
    return ((total * total).sum(dim=-1) - diagonal) / (n * (n - 1))


@torch.no_grad()
def generator_sensitivity(
    model: MiconModel, controls: Tensor, molecules: MoleculeFeatures
) -> dict[str, float]:
    """Measure whether the generator's output follows the control or the molecule it is given.

    Every molecule is paired with every control, ``G(e_ctrl, m)``; then

    - ``similarity_across_controls``: for a fixed molecule, the mean pairwise cosine similarity of its
      generated embeddings over the controls, averaged over molecules (1.0: the control is ignored);
    - ``similarity_across_molecules``: for a fixed control, the same over the molecules, averaged over
      controls (1.0: the molecule is ignored);
    - ``similarity_of_controls``: the controls' own mean pairwise cosine similarity (the baseline
      similarity the generator's input already has).

    Args:
        model: A model with ``generator`` and ``molecule_encoder`` (MICON), in eval mode.
        controls: ``(P, D)`` control (DMSO) image embeddings, P >= 2.
        molecules: Features of G >= 2 compounds (``featurize_molecules``).

    Raises:
        InvalidInputError: The model has no generator, or fewer than 2 controls or molecules.
    """
    if model.generator is None or model.molecule_encoder is None:
        raise InvalidInputError("generator sensitivity needs a model with a generator and a molecule encoder")
    n_molecules = len(molecules)
    if controls.ndim != 2 or controls.shape[0] < 2 or n_molecules < 2:
        raise InvalidInputError(
            f"generator sensitivity needs >= 2 controls and >= 2 molecules, got controls of shape "
            f"{tuple(controls.shape)} and {n_molecules} molecules"
        )
    was_training = model.training
    model.eval()
    try:
        encoded = model.molecule_encoder(collate_molecules(molecules, range(n_molecules)))  # (G, M)
        p, g = controls.shape[0], encoded.shape[0]
        generated = model.generator(
            controls.float().repeat(g, 1), encoded.repeat_interleave(p, dim=0)
        ).reshape(g, p, -1)  # (G, P, D): molecule-major
    finally:
        model.train(was_training)
    return {
        "similarity_across_controls": float(mean_pairwise_cosine(generated).mean()),
        "similarity_across_molecules": float(mean_pairwise_cosine(generated.transpose(0, 1)).mean()),
        "similarity_of_controls": float(mean_pairwise_cosine(controls.float())),
        "n_controls": p,
        "n_molecules": g,
    }


__all__ = ["generator_sensitivity", "mean_pairwise_cosine"]
