import numpy as np
import pytest

from micon.errors import InvalidConfigError
from micon.evaluation.neighbours import (
    EXACT,
    HnswIndex,
    NeighbourSearchConfig,
    ProjectedIndex,
    approximate_index,
    nearest_neighbours,
    projection_basis,
    recall_at_k,
    sampled_recall,
    unit_rows,
)


def _hnsw(**overrides) -> NeighbourSearchConfig:
    settings = {"mode": "hnsw", "approximate_min_wells": 2, "hnsw_m": 16, "hnsw_ef_construction": 64}
    settings |= {"projection_dims": 8, "projection_candidates": 32}
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


def _low_rank(n: int = 2000, d: int = 96, latent: int = 8, seed: int = 0) -> np.ndarray:
    # a few dozen groups in a low-dimensional latent space, mapped to d dimensions, plus isotropic noise
    rng = np.random.default_rng(seed)
    state = rng.normal(size=(n, latent)) * 0.5 + rng.normal(size=(40, latent))[rng.integers(0, 40, n)]
    return state @ rng.normal(size=(latent, d)) + rng.normal(size=(n, d)) * 0.3


def test_nearest_neighbours_projected_recall_at_10_against_exact():
    x = _low_rank()
    exact, _ = nearest_neighbours(x, 10)
    projected, sims = nearest_neighbours(x, 10, config=_hnsw(mode="projected", projection_candidates=64))
    assert recall_at_k(projected, exact) >= 0.99
    assert not (projected == np.arange(len(x))[:, None]).any()  # never the row itself
    unit = unit_rows(x)
    np.testing.assert_allclose(
        sims, np.einsum("ij,ikj->ik", unit, unit[projected]), rtol=1e-5
    )  # exact cosines
    assert (np.diff(sims, axis=1) <= 0).all()


def test_projected_search_with_every_candidate_equals_exact_masked_search():
    x = _clustered(n=200)
    allowed = np.arange(200) % 3 != 0
    index = ProjectedIndex(x, config=_hnsw(mode="projected", projection_dims=4, projection_candidates=200))
    found, sims = index.search(np.arange(10), 5, allowed=allowed)
    assert allowed[found].all()
    masked = unit_rows(x)[:10] @ unit_rows(x).T
    masked[:, ~allowed] = -np.inf
    masked[np.arange(10), np.arange(10)] = -np.inf
    np.testing.assert_array_equal(found, np.argsort(-masked, axis=1, kind="stable")[:, :5])
    np.testing.assert_allclose(sims, np.sort(masked, axis=1)[:, ::-1][:, :5], rtol=1e-5)


def test_projected_search_excluded_rows_never_returned_and_short_lists_padded():
    x = _low_rank(n=300)
    source = np.arange(300) % 12
    index = ProjectedIndex(x, config=_hnsw(mode="projected", projection_candidates=16))
    rows = np.flatnonzero(source == 5)
    found, _ = index.search(rows, 10, allowed=source != 5)
    assert (found >= 0).all() and (source[found] != 5).all()
    few = np.zeros(300, dtype=bool)
    few[[1, 2, 3]] = True
    found, sims = index.search(np.array([0, 1]), 4, allowed=few)
    assert set(found[0, :3].tolist()) == {1, 2, 3} and found[0, 3] == -1 and sims[0, 3] == -np.inf
    assert set(found[1, :2].tolist()) == {2, 3} and (found[1, 2:] == -1).all()  # never itself


def test_projection_basis_orthonormal_and_keeps_low_rank_products():
    rng = np.random.default_rng(1)
    unit = unit_rows(rng.normal(size=(300, 3)) @ rng.normal(size=(3, 20)))
    basis = projection_basis(unit, 3)
    np.testing.assert_allclose(basis.T @ basis, np.eye(3), atol=1e-12)
    projected = unit @ basis
    np.testing.assert_allclose(projected @ projected.T, unit @ unit.T, atol=1e-10)


def test_search_config_auto_is_exact_below_threshold():
    config = _hnsw(mode="auto", approximate_min_wells=1000)
    assert config.resolve(999) == "exact"
    assert config.resolve(1000) == "projected"
    assert EXACT.resolve(10**7) == "exact"


def test_approximate_index_of_exact_search_raises():
    with pytest.raises(InvalidConfigError, match="exact"):
        approximate_index(np.eye(4), config=EXACT)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"mode": "ivf"}, "mode"),
        ({"hnsw_m": 2}, "hnsw_m"),
        ({"hnsw_ef_search": 0}, "hnsw_ef_search"),
        ({"projection_dims": 0}, "projection_dims"),
        ({"projection_candidates": 1.5}, "projection_candidates"),
    ],
)
def test_search_config_invalid_raises(overrides, match):
    with pytest.raises(InvalidConfigError, match=match):
        _hnsw(**overrides)


def test_nearest_neighbours_k_too_large_raises():
    with pytest.raises(InvalidConfigError, match="k=4"):
        nearest_neighbours(np.eye(4), 4)


def test_sampled_recall_exhaustive_is_one_and_poor_settings_warn(caplog):
    x = _low_rank(n=400)
    exhaustive = ProjectedIndex(
        x, config=_hnsw(mode="projected", projection_dims=2, projection_candidates=400)
    )
    assert sampled_recall(exhaustive, 10, n_queries=50) == 1.0
    poor = ProjectedIndex(x, config=_hnsw(mode="projected", projection_dims=1, projection_candidates=10))
    with caplog.at_level("WARNING"):
        recall = sampled_recall(poor, 10, n_queries=50)
    assert recall < 0.99
    assert "projection_candidates" in caplog.text


def test_rough_search_returns_allowed_rows_near_the_query_with_their_exact_similarity():
    x = _clustered(n=800)
    index = ProjectedIndex(x, config=_hnsw(mode="projected"))
    allowed = np.random.default_rng(1).random(len(x)) < 0.7
    rows = np.arange(0, 800, 7)
    found, sims = index.rough_search(rows, 12, allowed=allowed)
    assert found.shape == sims.shape == (len(rows), 13)
    real = found >= 0
    assert real.sum(axis=1).min() >= 12  # the probed lists hold enough allowed rows
    assert allowed[found[real]].all()
    assert not (found == rows[:, None]).any()
    unit = unit_rows(x)
    expected = np.einsum("ij,ikj->ik", unit[rows], unit[np.maximum(found, 0)])
    np.testing.assert_allclose(sims[real], expected[real], rtol=1e-5, atol=1e-6)
    assert np.isneginf(sims[~real]).all()
    # near, not arbitrary: better than the mean similarity of the allowed rows
    mean = (unit[rows] @ unit[allowed].T).mean(axis=1)
    assert (np.nanmean(np.where(real, sims, np.nan), axis=1) > mean).mean() > 0.9
