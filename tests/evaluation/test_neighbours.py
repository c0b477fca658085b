import numpy as np
import pytest

from micon.errors import InvalidConfigError
from micon.evaluation.neighbours import (
    EXACT,
    HnswIndex,
    NeighbourSearchConfig,
    nearest_neighbours,
    recall_at_k,
    unit_rows,
)


def _hnsw(**overrides) -> NeighbourSearchConfig:
    settings = {"mode": "hnsw", "approximate_min_wells": 2, "hnsw_m": 16, "hnsw_ef_construction": 64}
    return NeighbourSearchConfig(**{**settings, "hnsw_ef_search": 64, **overrides})


def _clustered(n: int = 600, d: int = 16, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) + 3 * rng.normal(size=(20, d))[rng.integers(0, 20, n)]


def test_nearest_neighbours_exact_equals_full_sort_in_blocks():
    x = _clustered(n=80)
    similarity = unit_rows(x) @ unit_rows(x).T
    np.fill_diagonal(similarity, -np.inf)
    expected = np.argsort(-similarity, axis=1, kind="stable")[:, :5]
    found, sims = nearest_neighbours(x, 5, block_cells=100)
    np.testing.assert_array_equal(found, expected)
    np.testing.assert_allclose(sims, np.take_along_axis(similarity, expected, axis=1))


def test_nearest_neighbours_hnsw_recall_at_10_against_exact():
    x = _clustered()
    exact, _ = nearest_neighbours(x, 10)
    approximate, _ = nearest_neighbours(x, 10, config=_hnsw())
    assert recall_at_k(approximate, exact) >= 0.99
    assert not (approximate == np.arange(len(x))[:, None]).any()  # never the row itself


def test_hnsw_search_allowed_rows_only():
    x = _clustered(n=200)
    allowed = np.arange(200) % 3 != 0
    index = HnswIndex(x, config=_hnsw())
    found, sims = index.search(np.arange(10), 5, allowed=allowed)
    assert allowed[found].all()
    masked = unit_rows(x)[:10] @ unit_rows(x).T
    masked[:, ~allowed] = -np.inf
    masked[np.arange(10), np.arange(10)] = -np.inf
    np.testing.assert_array_equal(found, np.argsort(-masked, axis=1)[:, :5])


def test_search_config_auto_is_exact_below_threshold():
    config = _hnsw(mode="auto", approximate_min_wells=1000)
    assert config.resolve(999) == "exact"
    assert config.resolve(1000) == "hnsw"
    assert EXACT.resolve(10**7) == "exact"


@pytest.mark.parametrize(
    ("overrides", "match"),
    [({"mode": "ivf"}, "mode"), ({"hnsw_m": 2}, "hnsw_m"), ({"hnsw_ef_search": 0}, "hnsw_ef_search")],
)
def test_search_config_invalid_raises(overrides, match):
    with pytest.raises(InvalidConfigError, match=match):
        _hnsw(**overrides)


def test_nearest_neighbours_k_too_large_raises():
    with pytest.raises(InvalidConfigError, match="k=4"):
        nearest_neighbours(np.eye(4), 4)
