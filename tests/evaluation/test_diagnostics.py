import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.errors import InvalidFeaturesError, InvalidInputError
from micon.evaluation.diagnostics import effective_rank, embedding_rank


def test_effective_rank_of_known_spectra():
    rng = np.random.default_rng(0)
    rank_one = np.outer(rng.normal(size=20), rng.normal(size=5))
    assert effective_rank(rank_one) == pytest.approx(1.0)
    assert effective_rank(np.eye(6)) == pytest.approx(6.0)
    # two equal singular values of four: rank 2
    assert effective_rank(np.diag([3.0, 3.0, 0.0, 0.0])) == pytest.approx(2.0)


def test_effective_rank_errors():
    with pytest.raises(InvalidFeaturesError):
        effective_rank(np.array([[1.0, np.nan]]))
    with pytest.raises(InvalidInputError, match="all zero"):
        effective_rank(np.zeros((3, 3)))


def test_embedding_rank_uses_the_feature_columns():
    rng = np.random.default_rng(1)
    features = pd.DataFrame(rng.normal(size=(30, 4)), columns=schema.embedding_columns(4))
    profiles = pd.concat([pd.DataFrame({schema.JCP2022: ["a"] * 30}), features], axis=1)
    result = embedding_rank(profiles)
    assert result["embedding_dim"] == 4 and result["n_wells"] == 30
    assert 3 < result["effective_rank"] <= 4 and result["relative_rank"] == result["effective_rank"] / 4
