import math

import numpy as np
import pytest
import torch

from micon.errors import InvalidConfigError, InvalidInputError
from micon.models.losses import counterfactual_loss, nt_xent_loss, paclr_loss, supervised_contrastive_loss


def _supcon_by_hand(features: np.ndarray, labels: list[int], temperature: float) -> float:
    """Khosla et al. L_out written as explicit loops over anchors and positives."""
    z = features / np.linalg.norm(features, axis=1, keepdims=True)
    n = len(labels)
    total, anchors = 0.0, 0
    for i in range(n):
        positives = [p for p in range(n) if p != i and labels[p] == labels[i]]
        if not positives:
            continue
        denominator = sum(math.exp(z[i] @ z[a] / temperature) for a in range(n) if a != i)
        anchor_loss = 0.0
        for p in positives:
            anchor_loss += -math.log(math.exp(z[i] @ z[p] / temperature) / denominator)
        total += anchor_loss / len(positives)
        anchors += 1
    return total / anchors


def test_supervised_contrastive_loss_tiny_batch_matches_hand_computation():
    features = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-1.0, 0.2], [0.3, -0.7]])
    labels = [0, 0, 1, 1, 2]  # item 4 has no positive: left out of the mean
    got = supervised_contrastive_loss(torch.tensor(features), torch.tensor(labels), temperature=0.5)
    assert got.item() == pytest.approx(_supcon_by_hand(features, labels, 0.5), rel=1e-6)


def test_supervised_contrastive_loss_two_items_equals_closed_form():
    # Two positives only: each anchor's denominator is its single positive, so the loss is 0.
    features = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    loss = supervised_contrastive_loss(features, torch.tensor([3, 3]), temperature=0.1)
    assert loss.item() == pytest.approx(0.0, abs=1e-6)


def test_supervised_contrastive_loss_scale_invariant_and_finite_gradient():
    features = torch.randn(6, 4, generator=torch.Generator().manual_seed(0), requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    loss = supervised_contrastive_loss(features, labels, temperature=0.2)
    loss.backward()
    assert torch.isfinite(features.grad).all()
    scaled = supervised_contrastive_loss(features.detach() * 7.0, labels, temperature=0.2)
    assert scaled.item() == pytest.approx(loss.item(), rel=1e-5)


def test_supervised_contrastive_loss_no_positives_returns_zero_with_graph():
    features = torch.randn(3, 2, requires_grad=True)
    loss = supervised_contrastive_loss(features, torch.tensor([0, 1, 2]), temperature=1.0)
    assert loss.item() == 0.0
    loss.backward()
    assert features.grad is not None


@pytest.mark.parametrize("temperature", [0.0, -1.0])
def test_supervised_contrastive_loss_nonpositive_temperature_raises(temperature):
    with pytest.raises(InvalidConfigError, match="temperature"):
        supervised_contrastive_loss(torch.randn(2, 2), torch.tensor([0, 0]), temperature=temperature)


def test_supervised_contrastive_loss_label_length_mismatch_raises():
    with pytest.raises(InvalidInputError, match=r"\(3,\)"):
        supervised_contrastive_loss(torch.randn(4, 2), torch.tensor([0, 0, 1]), temperature=1.0)


def _dmso(n: int) -> torch.Tensor:
    return torch.full((n,), -1)


def test_paclr_loss_tiny_batch_matches_hand_computation():
    rng = np.random.default_rng(1)
    t1, t2, c1, c2 = (rng.normal(size=(2, 3)) for _ in range(4))
    compounds = [4, 7]
    got = paclr_loss(
        *(torch.tensor(a) for a in (t1, t2, c1, c2)),
        torch.tensor(compounds),
        _dmso(2),
        _dmso(2),
        temperature=0.3,
    )
    # Treated items labelled by compound, all four DMSO items share one label distinct from compounds.
    features = np.concatenate([t1, t2, c1, c2])
    labels = [4, 7, 4, 7, -1, -1, -1, -1]
    assert got.item() == pytest.approx(_supcon_by_hand(features, labels, 0.3), rel=1e-6)


def test_paclr_loss_compound_controls_are_positives_of_their_compound():
    # Screens without DMSO: a control crop of compound 7 is a positive of compound 7's treated crops.
    rng = np.random.default_rng(3)
    t1, t2, c1, c2 = (rng.normal(size=(3, 4)) for _ in range(4))
    compounds, controls_1, controls_2 = [4, 7, 9], [7, -1, 4], [-1, 4, 2]
    got = paclr_loss(
        *(torch.tensor(a) for a in (t1, t2, c1, c2)),
        torch.tensor(compounds),
        torch.tensor(controls_1),
        torch.tensor(controls_2),
        temperature=0.5,
    )
    labels = compounds * 2 + controls_1 + controls_2
    expected = _supcon_by_hand(np.concatenate([t1, t2, c1, c2]), labels, 0.5)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_paclr_loss_compound_zero_is_not_a_control():
    # Compound label 0 must not collide with the DMSO label.
    t = torch.tensor([[1.0, 0.0]])
    c = torch.tensor([[1.0, 0.0]])
    got = paclr_loss(t, t, c, c, torch.tensor([0]), _dmso(1), _dmso(1), temperature=1.0)
    features = np.array([[1.0, 0.0]] * 4)
    assert got.item() == pytest.approx(_supcon_by_hand(features, [0, 0, -1, -1], 1.0), rel=1e-6)


@pytest.mark.parametrize(("compounds", "controls"), [([-1], [-1]), ([0], [-2])])
def test_paclr_loss_bad_labels_raise(compounds, controls):
    t = torch.randn(1, 2)
    with pytest.raises(InvalidInputError, match="-1 is DMSO"):
        paclr_loss(t, t, t, t, torch.tensor(compounds), torch.tensor(controls), _dmso(1), temperature=1.0)


def test_counterfactual_loss_tiny_batch_matches_hand_computation():
    rng = np.random.default_rng(2)
    real, generated = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    compounds = [0, 1, 0]
    got = counterfactual_loss(
        torch.tensor(real), torch.tensor(generated), torch.tensor(compounds), temperature=0.7
    )
    expected = _supcon_by_hand(np.concatenate([real, generated]), compounds * 2, 0.7)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_counterfactual_loss_shape_mismatch_raises():
    with pytest.raises(InvalidInputError, match="differ in shape"):
        counterfactual_loss(torch.randn(2, 3), torch.randn(3, 3), torch.tensor([0, 1]), temperature=1.0)


def _nt_xent_by_hand(view_1: np.ndarray, view_2: np.ndarray, temperature: float) -> float:
    """SimCLR's NT-Xent written with explicit loops: item i's positive is its other view."""
    z = np.concatenate([view_1, view_2])
    z = z / np.linalg.norm(z, axis=1, keepdims=True)
    n = len(view_1)
    total = 0.0
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        denominator = sum(math.exp(z[i] @ z[k] / temperature) for k in range(2 * n) if k != i)
        total += -math.log(math.exp(z[i] @ z[j] / temperature) / denominator)
    return total / (2 * n)


def test_nt_xent_loss_tiny_batch_matches_hand_computation():
    rng = np.random.default_rng(4)
    view_1, view_2 = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    got = nt_xent_loss(torch.tensor(view_1), torch.tensor(view_2), temperature=0.4)
    assert got.item() == pytest.approx(_nt_xent_by_hand(view_1, view_2, 0.4), rel=1e-6)


def test_nt_xent_loss_shape_mismatch_raises():
    with pytest.raises(InvalidInputError, match="differ in shape"):
        nt_xent_loss(torch.randn(2, 3), torch.randn(3, 3), temperature=1.0)
