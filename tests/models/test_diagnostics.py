import pytest
import torch

from micon.errors import InvalidInputError
from micon.models.diagnostics import generator_sensitivity, mean_pairwise_cosine
from micon.models.micon import MiconModelConfig, build_model
from micon.models.molecule_encoder import featurize_molecules
from tests.models.test_micon import CONFIG

SMILES = ["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1", "CCN(CC)CC", "OC(=O)c1ccccc1"]


def _micon():
    torch.manual_seed(0)
    model = build_model(MiconModelConfig.from_dict(CONFIG)).eval()
    return model, featurize_molecules(SMILES, model.config.molecule)


class _IgnoresControl(torch.nn.Module):
    """A generator whose output depends on the molecule only."""

    def __init__(self, molecule_dim: int, image_dim: int) -> None:
        super().__init__()
        self.net = torch.nn.Linear(molecule_dim, image_dim)

    def forward(self, control, molecule):
        return self.net(molecule)


class _IgnoresMolecule(torch.nn.Module):
    def forward(self, control, molecule):
        return 2 * control


def test_mean_pairwise_cosine_of_identical_and_opposite_vectors():
    same = torch.ones(4, 3)
    assert float(mean_pairwise_cosine(same)) == pytest.approx(1.0)
    opposite = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    assert float(mean_pairwise_cosine(opposite)) == pytest.approx(-1.0)
    batched = torch.stack([same, same])
    assert mean_pairwise_cosine(batched).shape == (2,)


def test_a_generator_that_ignores_the_control_scores_one_across_controls():
    model, molecules = _micon()
    model.generator = _IgnoresControl(model.config.molecule.out_dim, model.embedding_dim)
    controls = torch.randn(6, model.embedding_dim)
    scores = generator_sensitivity(model, controls, molecules)
    assert scores["similarity_across_controls"] == pytest.approx(1.0, abs=1e-6)
    assert scores["similarity_across_molecules"] < 0.999
    assert (scores["n_controls"], scores["n_molecules"]) == (6, len(SMILES))


def test_a_generator_that_ignores_the_molecule_scores_one_across_molecules():
    model, molecules = _micon()
    model.generator = _IgnoresMolecule()
    controls = torch.randn(6, model.embedding_dim)
    scores = generator_sensitivity(model, controls, molecules)
    assert scores["similarity_across_molecules"] == pytest.approx(1.0, abs=1e-6)
    assert scores["similarity_across_controls"] == pytest.approx(scores["similarity_of_controls"], abs=1e-6)


def test_generator_sensitivity_of_a_real_micon_model_and_its_errors():
    model, molecules = _micon()
    scores = generator_sensitivity(model, torch.randn(4, model.embedding_dim), molecules)
    assert (
        -1 <= scores["similarity_across_controls"] <= 1 and -1 <= scores["similarity_across_molecules"] <= 1
    )
    with pytest.raises(InvalidInputError, match=">= 2 controls"):
        generator_sensitivity(model, torch.randn(1, model.embedding_dim), molecules)
    model.generator = None
    with pytest.raises(InvalidInputError, match="generator"):
        generator_sensitivity(model, torch.randn(4, model.embedding_dim), molecules)
