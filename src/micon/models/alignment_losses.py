"""Image-molecule alignment losses of the peers: InfoNCE (CLIP, CLOOME), CLOOB (CLOOME) and CWCL (CellCLIP).

Hand-written: no maintained library ships these losses in a form that takes repeated compounds within a
batch (the sampler draws compounds in proportion to their crops, so a batch holds several images of one
compound). Each loss is written for multi-positive batches and reduces to the published one-to-one form
when every label is unique.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from micon.errors import InvalidConfigError, InvalidInputError

__all__ = ["cloob_loss", "cwcl_loss", "info_nce_loss"]


def _check_pairs(image: Tensor, molecule: Tensor, labels_or_weights: Tensor, what: str) -> None:
    """Raise InvalidInputError unless image and molecule are (N, P) and the third tensor fits N."""
    n = image.shape[0]
    expected = (n,) if what == "labels" else (n, n)
    if image.ndim != 2 or image.shape != molecule.shape or labels_or_weights.shape != expected:
        raise InvalidInputError(
            f"expected two (N, P) embeddings and {what} of shape {expected}; got {tuple(image.shape)}, "
            f"{tuple(molecule.shape)} and {tuple(labels_or_weights.shape)}"
        )


def _check_temperature(temperature: float | Tensor) -> None:
    if temperature <= 0:
        raise InvalidConfigError(f"temperature must be > 0, got {temperature}")


def cwcl_loss(query: Tensor, keys: Tensor, weights: Tensor, *, temperature: float | Tensor) -> Tensor:
    r"""Return the continuously weighted contrastive loss of Srinivasa et al. 2023 (arXiv 2309.14580).

    Aligns ``query`` to ``keys``; with :math:`q, k` L2-normalised and :math:`w_{ij} \in [0, 1]` an
    intra-modal similarity of items :math:`i` and :math:`j` (in CWCL, that of the frozen, pretrained
    modality; CellCLIP takes it from frozen per-channel image features),

    .. math::
        \mathcal{L} = \frac{1}{N} \sum_{i=1}^{N} \frac{-1}{\sum_j w_{ij}} \sum_{j=1}^{N} w_{ij}
            \log \frac{\exp(q_i \cdot k_j / \tau)}{\sum_{l} \exp(q_i \cdot k_l / \tau)}

    Rows whose weights are all zero are left out of the mean. With :math:`w` the identity this is one
    direction of CLIP's InfoNCE; with :math:`w_{ij} = [y_i = y_j]` it is InfoNCE with every item of the
    same class a positive.

    Args:
        query: Embeddings of the modality being aligned (e.g. images).
        keys: Embeddings of the other modality, row i paired with ``query`` row i.
        weights: Intra-modal similarity of the items, in [0, 1].
        temperature: :math:`\tau > 0` (a float, or a scalar tensor such as a learned one).

    Returns:
        The scalar loss.

    Raises:
        InvalidConfigError: ``temperature`` is not positive.
        InvalidInputError: Shapes do not fit, or a weight lies outside [0, 1].

    Shapes:
        - query, keys: :math:`(N, P)`; weights: :math:`(N, N)`; output: :math:`()`.
    """
    _check_temperature(temperature)
    _check_pairs(query, keys, weights, "weights")
    if (weights < 0).any() or (weights > 1).any():
        raise InvalidInputError("CWCL weights must lie in [0, 1]; rescale the similarity first")
    logits = F.normalize(query.float(), dim=1) @ F.normalize(keys.float(), dim=1).T / temperature
    log_prob = logits.log_softmax(dim=1)
    weights = weights.to(log_prob.dtype)
    row_weight = weights.sum(dim=1)
    has_weight = row_weight > 0
    if not has_weight.any():
        return query.sum() * 0.0
    per_row = -(weights * log_prob).sum(dim=1)[has_weight] / row_weight[has_weight]
    return per_row.mean()


def info_nce_loss(image: Tensor, molecule: Tensor, labels: Tensor, *, temperature: float | Tensor) -> Tensor:
    r"""Return the symmetric InfoNCE loss of CLIP (Radford et al. 2021), with repeated compounds as positives.

    .. math::
        \mathcal{L} = \tfrac{1}{2}\big(\mathcal{L}_{CWCL}(u, v, M) + \mathcal{L}_{CWCL}(v, u, M)\big),
        \qquad M_{ij} = [y_i = y_j]

    (:func:`cwcl_loss`): image :math:`i` is pulled to every molecule row of its compound and pushed from
    the others, and the same for molecules. With unique labels this is CLIP's loss exactly.

    Args:
        image: Image projections, one per row.
        molecule: Molecule projections of each row's compound.
        labels: Compound of each row.
        temperature: :math:`\tau > 0`.

    Returns:
        The scalar loss.

    Raises:
        InvalidConfigError: ``temperature`` is not positive.
        InvalidInputError: Shapes do not fit.

    Shapes:
        - image, molecule: :math:`(N, P)`; labels: :math:`(N,)`; output: :math:`()`.
    """
    _check_pairs(image, molecule, labels, "labels")
    same = (labels[:, None] == labels[None, :]).float()
    return 0.5 * (
        cwcl_loss(image, molecule, same, temperature=temperature)
        + cwcl_loss(molecule, image, same, temperature=temperature)
    )


def _hopfield_retrieval(state: Tensor, stored: Tensor, *, scale: float) -> Tensor:
    """Return the L2-normalised patterns a modern Hopfield network retrieves: softmax(b s X^T) X."""
    retrieved = (scale * state @ stored.T).softmax(dim=1) @ stored
    return F.normalize(retrieved, dim=1)


def _info_loob(anchors: Tensor, candidates: Tensor, positives: Tensor, *, inv_tau: float | Tensor) -> Tensor:
    """Return InfoLOOB: -mean positive logit + logsumexp over the negatives only, times tau."""
    logits = anchors @ candidates.T * inv_tau
    n_pos = positives.sum(dim=1)
    positive_term = logits.masked_fill(~positives, 0.0).sum(dim=1) / n_pos
    negative_term = torch.logsumexp(logits.masked_fill(positives, float("-inf")), dim=1)
    has_negative = (~positives).any(dim=1)
    if not has_negative.any():
        return anchors.sum() * 0.0
    return (negative_term - positive_term)[has_negative].mean() / inv_tau


def cloob_loss(
    image: Tensor, molecule: Tensor, labels: Tensor, *, inv_tau: float | Tensor, hopfield_scale: float
) -> Tensor:
    r"""Return the CLOOB loss of Fürst et al. 2022 (arXiv 2110.11316), as CLOOME uses it.

    With :math:`U, V` the L2-normalised image and molecule embeddings and the modern-Hopfield retrieval
    :math:`\mathrm{H}(s; X) = \mathrm{norm}(\mathrm{softmax}(\beta\, s X^\top) X)`, let
    :math:`U_U = \mathrm{H}(U; U)`, :math:`U_V = \mathrm{H}(V; U)`, :math:`V_V = \mathrm{H}(V; V)`,
    :math:`V_U = \mathrm{H}(U; V)`. Then

    .. math::
        \mathcal{L} = \mathrm{LOOB}(U_U, U_V) + \mathrm{LOOB}(V_V, V_U), \quad
        \mathrm{LOOB}(X, Y) = \frac{\tau}{N} \sum_i \Big(
            -\frac{1}{|P(i)|}\sum_{p \in P(i)} x_i \cdot y_p / \tau
            + \log \sum_{j \notin P(i)} \exp(x_i \cdot y_j / \tau)\Big)

    InfoLOOB ("leave one out bound") leaves the positive out of the denominator; here every row of the
    same compound (:math:`P(i)`, which includes :math:`i`) is left out, which is the published loss when
    labels are unique. Rows without a negative are left out of the mean. The factor :math:`\tau` and the
    sum of the two directions follow the authors' code (github.com/ml-jku/cloob).

    No maintained library provides CLOOB (the authors' repository is a research snapshot), hence this
    implementation.

    Args:
        image: Image projections, one per row.
        molecule: Molecule projections of each row's compound.
        labels: Compound of each row.
        inv_tau: :math:`1 / \tau > 0` (CLOOME: 30), a float or a scalar tensor (a learned one).
        hopfield_scale: :math:`\beta > 0` of the retrieval (CLOOME: 14.3).

    Returns:
        The scalar loss.

    Raises:
        InvalidConfigError: ``inv_tau`` or ``hopfield_scale`` is not positive.
        InvalidInputError: Shapes do not fit.

    Shapes:
        - image, molecule: :math:`(N, P)`; labels: :math:`(N,)`; output: :math:`()`.
    """
    if inv_tau <= 0 or hopfield_scale <= 0:
        raise InvalidConfigError(
            f"inv_tau and hopfield_scale must be > 0, got {inv_tau} and {hopfield_scale}"
        )
    _check_pairs(image, molecule, labels, "labels")
    u = F.normalize(image.float(), dim=1)
    v = F.normalize(molecule.float(), dim=1)
    u_u = _hopfield_retrieval(u, u, scale=hopfield_scale)
    u_v = _hopfield_retrieval(v, u, scale=hopfield_scale)
    v_v = _hopfield_retrieval(v, v, scale=hopfield_scale)
    v_u = _hopfield_retrieval(u, v, scale=hopfield_scale)
    positives = labels[:, None] == labels[None, :]
    return _info_loob(u_u, u_v, positives, inv_tau=inv_tau) + _info_loob(v_v, v_u, positives, inv_tau=inv_tau)
