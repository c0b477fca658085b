"""Contrastive losses of MICON and SimCLR: supervised contrastive, PaCLR, counterfactual and NT-Xent."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from micon.errors import InvalidConfigError, InvalidInputError

__all__ = ["counterfactual_loss", "nt_xent_loss", "paclr_loss", "supervised_contrastive_loss"]


def supervised_contrastive_loss(features: Tensor, labels: Tensor, *, temperature: float) -> Tensor:
    r"""Return the supervised contrastive loss of Khosla et al. 2020 (arXiv 2004.11362), "all" anchors.

    With :math:`z_i = f_i / \lVert f_i \rVert`, :math:`A(i) = \{k \ne i\}` and
    :math:`P(i) = \{p \in A(i) : y_p = y_i\}`, this is the paper's :math:`\mathcal{L}^{sup}_{out}`:

    .. math::
        \mathcal{L} = \frac{1}{|I^+|} \sum_{i \in I^+} \frac{-1}{|P(i)|} \sum_{p \in P(i)}
            \log \frac{\exp(z_i \cdot z_p / \tau)}{\sum_{a \in A(i)} \exp(z_i \cdot z_a / \tau)}

    where :math:`I^+` are the anchors with at least one positive; anchors without a positive are left
    out of the mean (they would otherwise contribute 0 and dilute it). Unlike the authors' code, the
    loss is not rescaled by ``temperature / base_temperature``. Returns 0 (still attached to the graph)
    when no anchor has a positive.

    Args:
        features: One feature vector per item; normalised here.
        labels: Class of each item; items with equal labels are positives of each other.
        temperature: :math:`\tau > 0`.

    Returns:
        The scalar loss.

    Raises:
        InvalidConfigError: ``temperature`` is not positive.
        InvalidInputError: ``features`` is not 2-D or ``labels`` does not have one entry per row.

    Shapes:
        - features: :math:`(N, P)`; labels: :math:`(N,)` integer.
        - output: :math:`()`.
    """
    if temperature <= 0:
        raise InvalidConfigError(f"temperature must be > 0, got {temperature}")
    if features.ndim != 2 or labels.shape != (features.shape[0],):
        raise InvalidInputError(
            f"expected features (N, P) and labels (N,), got {tuple(features.shape)} and {tuple(labels.shape)}"
        )
    z = F.normalize(features.float(), dim=1)
    logits = z @ z.T / temperature
    n = z.shape[0]
    self_mask = torch.eye(n, dtype=torch.bool, device=z.device)
    # Remove the anchor itself from the denominator; -inf keeps logsumexp exact.
    logits = logits.masked_fill(self_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    positives = (labels[:, None] == labels[None, :]) & ~self_mask
    n_pos = positives.sum(dim=1)
    # masked_fill rather than multiply: log_prob is -inf on the diagonal and 0 * -inf is NaN.
    sum_log_prob_pos = log_prob.masked_fill(~positives, 0.0).sum(dim=1)
    has_pos = n_pos > 0
    per_anchor = -sum_log_prob_pos[has_pos] / n_pos[has_pos]
    if per_anchor.numel() == 0:
        return features.sum() * 0.0
    return per_anchor.mean()


def paclr_loss(
    treated_1: Tensor,
    treated_2: Tensor,
    control_1: Tensor,
    control_2: Tensor,
    compound_labels: Tensor,
    control_labels_1: Tensor,
    control_labels_2: Tensor,
    *,
    temperature: float,
) -> Tensor:
    r"""Return the PaCLR loss of MICON (arXiv 2504.09544): SupCon over treated and control projections.

    The :math:`4B` projections :math:`\{g(e(t^1_i)), g(e(t^2_i)), g(e(c^1_i)), g(e(c^2_i))\}_{i=1}^B` are
    labelled by compound, :math:`\mathcal{L}_{PaCLR} = \mathcal{L}^{sup}_{out}` over them
    (:func:`supervised_contrastive_loss`). The two treated views of row :math:`i` carry :math:`y_i`; a
    control crop carries its own compound's label, and every DMSO control (label ``-1``) one shared
    label. A treated anchor's negatives thus include the control crop from its own plate (same
    technical artefacts, different biology), and DMSO crops from different plates, batches and sources
    are positives of each other. Where a screen has no DMSO images, the controls are crops of other
    compounds on the same plate and are positives of that compound's treated crops.

    Args:
        treated_1: Projections of the first treated view.
        treated_2: Projections of the second treated view (same compound, another well).
        control_1: Projections of a control crop from the plate of ``treated_1``.
        control_2: Projections of a control crop from the plate of ``treated_2``.
        compound_labels: Compound of each row, non-negative integers.
        control_labels_1: Compound of each ``control_1`` crop, ``-1`` for DMSO.
        control_labels_2: Compound of each ``control_2`` crop, ``-1`` for DMSO.
        temperature: :math:`\tau > 0`.

    Returns:
        The scalar loss.

    Raises:
        InvalidInputError: A label is below -1, or a treated label is negative.

    Shapes:
        - treated_1, treated_2, control_1, control_2: :math:`(B, P)`; the three label tensors :math:`(B,)`.
        - output: :math:`()`.
    """
    if (compound_labels < 0).any() or (control_labels_1 < -1).any() or (control_labels_2 < -1).any():
        raise InvalidInputError(
            "compound_labels must be >= 0 and control labels >= -1 (-1 is DMSO); got "
            f"{compound_labels.tolist()}, {control_labels_1.tolist()}, {control_labels_2.tolist()}"
        )
    labels = torch.cat([compound_labels, compound_labels, control_labels_1, control_labels_2]).long()
    features = torch.cat([treated_1, treated_2, control_1, control_2], dim=0)
    return supervised_contrastive_loss(features, labels, temperature=temperature)


def counterfactual_loss(
    real_treated: Tensor, generated: Tensor, compound_labels: Tensor, *, temperature: float
) -> Tensor:
    r"""Return MICON's counterfactual loss for one view: SupCon over real and generated treated projections.

    For view :math:`v`, with :math:`\hat e_i = G(\mathrm{sg}(e(c^v_i)), m_i)` the embedding the generator
    predicts from row :math:`i`'s plate-matched control and molecule :math:`m_i`,

    .. math::
        \mathcal{L}^v_{cf} = \mathcal{L}^{sup}_{out}\Big(\{g(\mathrm{sg}(e(t^v_i)))\}_i \cup
            \{g(\hat e_i)\}_i;\ \text{labels } y_i\Big)

    (arXiv 2504.09544; sg = stop-gradient, applied by the caller). MICON's total loss is
    :math:`\mathcal{L}_{PaCLR} + \lambda \cdot \frac{1}{2}(\mathcal{L}^1_{cf} + \mathcal{L}^2_{cf})`.

    Args:
        real_treated: Projections of the real treated crops of view v.
        generated: Projections of the generated embeddings of view v.
        compound_labels: Compound of each row.
        temperature: :math:`\tau > 0`.

    Returns:
        The scalar loss.

    Raises:
        InvalidInputError: ``real_treated`` and ``generated`` differ in shape.

    Shapes:
        - real_treated, generated: :math:`(B, P)`; compound_labels: :math:`(B,)`.
        - output: :math:`()`.
    """
    if real_treated.shape != generated.shape:
        raise InvalidInputError(
            f"real_treated {tuple(real_treated.shape)} and generated {tuple(generated.shape)} differ in shape"
        )
    features = torch.cat([real_treated, generated], dim=0)
    labels = torch.cat([compound_labels, compound_labels]).long()
    return supervised_contrastive_loss(features, labels, temperature=temperature)


def nt_xent_loss(view_1: Tensor, view_2: Tensor, *, temperature: float) -> Tensor:
    r"""Return SimCLR's NT-Xent loss (Chen et al. 2020, arXiv 2002.05709) over two views of N images.

    With :math:`z` the :math:`2N` L2-normalised projections and :math:`j(i)` the other view of item
    :math:`i`,

    .. math::
        \mathcal{L} = \frac{1}{2N} \sum_{i=1}^{2N} -\log
            \frac{\exp(z_i \cdot z_{j(i)} / \tau)}{\sum_{k \ne i} \exp(z_i \cdot z_k / \tau)}

    which is :func:`supervised_contrastive_loss` with one label per image (its single positive is its
    other view), so it is computed by that function.

    Args:
        view_1: Projections of the first augmented view of each image.
        view_2: Projections of the second view, row i the same image as in ``view_1``.
        temperature: :math:`\tau > 0`.

    Returns:
        The scalar loss.

    Raises:
        InvalidInputError: The views differ in shape.

    Shapes:
        - view_1, view_2: :math:`(N, P)`; output: :math:`()`.
    """
    if view_1.shape != view_2.shape:
        raise InvalidInputError(
            f"view_1 {tuple(view_1.shape)} and view_2 {tuple(view_2.shape)} differ in shape"
        )
    images = torch.arange(view_1.shape[0], device=view_1.device)
    return supervised_contrastive_loss(
        torch.cat([view_1, view_2]), torch.cat([images, images]), temperature=temperature
    )
