import pytest
import torch

from micon.errors import InvalidInputError
from micon.models.heads import ProjectionHead, TreatmentGenerator


@pytest.mark.parametrize(("n", "d", "p"), [(1, 4, 2), (5, 16, 8)])
def test_projection_head_embeddings_give_n_by_p(n, d, p):
    assert ProjectionHead(d, 32, p)(torch.randn(n, d)).shape == (n, p)


def test_treatment_generator_control_and_molecule_give_image_dim():
    generator = TreatmentGenerator(image_dim=6, molecule_dim=3, hidden_dim=10)
    assert generator(torch.randn(4, 6), torch.randn(4, 3)).shape == (4, 6)


def test_treatment_generator_row_mismatch_raises():
    with pytest.raises(InvalidInputError, match="4 rows"):
        TreatmentGenerator(6, 3, 10)(torch.randn(4, 6), torch.randn(2, 3))
