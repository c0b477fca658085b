import math

import numpy as np
import pytest
import torch

from micon.errors import InvalidConfigError, InvalidInputError
from micon.models.alignment_losses import cloob_loss, cwcl_loss, info_nce_loss


def _unit(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _cwcl_by_hand(query: np.ndarray, keys: np.ndarray, weights: np.ndarray, temperature: float) -> float:
    """Srinivasa et al.'s CWCL with explicit loops over rows and columns."""
    q, k = _unit(query), _unit(keys)
    n = len(q)
    total, rows = 0.0, 0
    for i in range(n):
        if sum(weights[i]) == 0:
            continue
        denominator = sum(math.exp(q[i] @ k[m] / temperature) for m in range(n))
        row = 0.0
        for j in range(n):
            row += weights[i][j] * math.log(math.exp(q[i] @ k[j] / temperature) / denominator)
        total += -row / sum(weights[i])
        rows += 1
    return total / rows


def _clip_by_hand(image: np.ndarray, molecule: np.ndarray, temperature: float) -> float:
    """CLIP's symmetric cross-entropy for unique pairs: row i's target is column i, both directions."""
    u, v = _unit(image), _unit(molecule)
    n = len(u)
    image_to_molecule = molecule_to_image = 0.0
    for i in range(n):
        image_to_molecule -= math.log(
            math.exp(u[i] @ v[i] / temperature) / sum(math.exp(u[i] @ v[j] / temperature) for j in range(n))
        )
        molecule_to_image -= math.log(
            math.exp(v[i] @ u[i] / temperature) / sum(math.exp(v[i] @ u[j] / temperature) for j in range(n))
        )
    return 0.5 * (image_to_molecule + molecule_to_image) / n


def test_info_nce_loss_unique_compounds_equals_clip():
    rng = np.random.default_rng(0)
    image, molecule = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    got = info_nce_loss(torch.tensor(image), torch.tensor(molecule), torch.arange(4), temperature=0.2)
    assert got.item() == pytest.approx(_clip_by_hand(image, molecule, 0.2), rel=1e-6)


def test_info_nce_loss_repeated_compound_rows_are_all_positives():
    rng = np.random.default_rng(1)
    image, molecule = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    labels = [5, 2, 5, 8]
    same = np.array([[float(a == b) for b in labels] for a in labels])
    expected = 0.5 * (_cwcl_by_hand(image, molecule, same, 0.3) + _cwcl_by_hand(molecule, image, same, 0.3))
    got = info_nce_loss(torch.tensor(image), torch.tensor(molecule), torch.tensor(labels), temperature=0.3)
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_cwcl_loss_tiny_batch_matches_hand_computation():
    rng = np.random.default_rng(2)
    query, keys = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    weights = np.array([[1.0, 0.25, 0.0], [0.25, 1.0, 0.5], [0.0, 0.5, 1.0]])
    got = cwcl_loss(torch.tensor(query), torch.tensor(keys), torch.tensor(weights), temperature=0.7)
    assert got.item() == pytest.approx(_cwcl_by_hand(query, keys, weights, 0.7), rel=1e-6)


def test_cwcl_loss_identity_weights_is_one_clip_direction():
    # With w = I the loss is the image->molecule half of CLIP: -log softmax of the matched pair.
    u = np.array([[1.0, 0.0], [0.0, 1.0]])
    got = cwcl_loss(torch.tensor(u), torch.tensor(u), torch.eye(2, dtype=torch.float64), temperature=1.0)
    assert got.item() == pytest.approx(-math.log(math.e / (math.e + 1.0)), rel=1e-6)


def test_cwcl_loss_weights_outside_unit_interval_raise():
    with pytest.raises(InvalidInputError, match=r"\[0, 1\]"):
        cwcl_loss(torch.randn(2, 3), torch.randn(2, 3), torch.full((2, 2), 1.5), temperature=1.0)


def _hopfield_by_hand(state: np.ndarray, stored: np.ndarray, scale: float) -> np.ndarray:
    out = []
    for s in state:
        scores = [math.exp(scale * s @ x) for x in stored]
        retrieved = sum(w * x for w, x in zip(scores, stored, strict=True)) / sum(scores)
        out.append(retrieved / np.linalg.norm(retrieved))
    return np.array(out)


def _info_loob_by_hand(x: np.ndarray, y: np.ndarray, labels: list[int], inv_tau: float) -> float:
    n = len(x)
    total = 0.0
    for i in range(n):
        positives = [j for j in range(n) if labels[j] == labels[i]]
        negatives = [j for j in range(n) if labels[j] != labels[i]]
        positive = sum(inv_tau * x[i] @ y[j] for j in positives) / len(positives)
        negative = math.log(sum(math.exp(inv_tau * x[i] @ y[j]) for j in negatives))
        total += (negative - positive) / inv_tau
    return total / n


def _cloob_by_hand(image, molecule, labels, inv_tau, scale) -> float:
    u, v = _unit(image), _unit(molecule)
    u_u, u_v = _hopfield_by_hand(u, u, scale), _hopfield_by_hand(v, u, scale)
    v_v, v_u = _hopfield_by_hand(v, v, scale), _hopfield_by_hand(u, v, scale)
    return _info_loob_by_hand(u_u, u_v, labels, inv_tau) + _info_loob_by_hand(v_v, v_u, labels, inv_tau)


@pytest.mark.parametrize("labels", [[0, 1, 2, 3], [0, 1, 0, 3]])
def test_cloob_loss_tiny_batch_matches_hand_computation(labels):
    rng = np.random.default_rng(3)
    image, molecule = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    got = cloob_loss(
        torch.tensor(image), torch.tensor(molecule), torch.tensor(labels), inv_tau=5.0, hopfield_scale=3.0
    )
    assert got.item() == pytest.approx(_cloob_by_hand(image, molecule, labels, 5.0, 3.0), rel=1e-6)


def test_cloob_loss_single_compound_has_no_negative_and_returns_zero():
    image = torch.randn(3, 2, requires_grad=True)
    loss = cloob_loss(
        image, torch.randn(3, 2), torch.zeros(3, dtype=torch.long), inv_tau=10.0, hopfield_scale=1.0
    )
    assert loss.item() == 0.0
    loss.backward()
    assert image.grad is not None


@pytest.mark.parametrize(("inv_tau", "scale"), [(0.0, 1.0), (1.0, -1.0)])
def test_cloob_loss_nonpositive_settings_raise(inv_tau, scale):
    with pytest.raises(InvalidConfigError, match="inv_tau"):
        cloob_loss(
            torch.randn(2, 2), torch.randn(2, 2), torch.arange(2), inv_tau=inv_tau, hopfield_scale=scale
        )


def test_info_nce_loss_shape_mismatch_raises():
    with pytest.raises(InvalidInputError, match=r"\(3,\)"):
        info_nce_loss(torch.randn(3, 2), torch.randn(3, 2), torch.arange(2), temperature=1.0)


def test_info_nce_loss_nonpositive_temperature_raises():
    with pytest.raises(InvalidConfigError, match="temperature"):
        info_nce_loss(torch.randn(2, 2), torch.randn(2, 2), torch.arange(2), temperature=0.0)
