from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.errors import InvalidConfigError, InvalidFeaturesError, InvalidInputError, MissingColumnsError
from micon.evaluation import knn_label_accuracy, label_silhouette, measure_batch_effects
from micon.evaluation.neighbours import EXACT

# A graph over a hundred wells: small enough to be exhaustive.
SMALL_HNSW = replace(EXACT, mode="hnsw", hnsw_m=16, hnsw_ef_construction=64, hnsw_ef_search=64)


def _brute_knn_accuracy(x: np.ndarray, labels: list[str], k: int) -> float:
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    order_of_label = {label: i for i, label in reversed(list(enumerate(dict.fromkeys(labels))))}
    correct = 0
    for i in range(len(x)):
        similarity = [(unit[i] @ unit[j], j) for j in range(len(x)) if j != i]
        neighbours = [j for _, j in sorted(similarity, key=lambda item: -item[0])[:k]]
        counts: dict[str, int] = {}
        for j in neighbours:
            counts[labels[j]] = counts.get(labels[j], 0) + 1
        best = max(counts.values())
        vote = min((label for label, c in counts.items() if c == best), key=order_of_label.get)
        correct += vote == labels[i]
    return correct / len(x)


def _brute_silhouette(x: np.ndarray, labels: list[str]) -> float:
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    distance = 1.0 - unit @ unit.T
    labels = np.asarray(labels)
    scores = []
    for i in range(len(x)):
        same = (labels == labels[i]) & (np.arange(len(x)) != i)
        if not same.any():
            scores.append(0.0)
            continue
        a = distance[i, same].mean()
        b = min(distance[i, labels == other].mean() for other in set(labels) - {labels[i]})
        scores.append((b - a) / max(a, b))
    return float(np.mean(scores))


@pytest.mark.parametrize(("seed", "k"), [(0, 1), (1, 3), (2, 4), (3, 7)])
def test_knn_label_accuracy_matches_brute_force(seed, k):
    rng = np.random.default_rng(seed)
    labels = list(rng.choice(["s1", "s2", "s3"], size=40))
    x = rng.normal(size=(40, 5)) + np.array([{"s1": 0.0, "s2": 0.6, "s3": -0.6}[s] for s in labels])[:, None]
    assert knn_label_accuracy(x, labels, k=k) == pytest.approx(_brute_knn_accuracy(x, labels, k))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_label_silhouette_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    labels = list(rng.choice(["b1", "b2", "b3", "b4"], size=30))
    x = rng.normal(size=(30, 4)) + 0.5 * np.array([int(s[1]) for s in labels])[:, None]
    assert label_silhouette(x, labels) == pytest.approx(_brute_silhouette(x, labels))


def test_knn_label_accuracy_separated_groups_is_one():
    x = np.array([[1.0, 0.0], [1.0, 0.1], [1.0, -0.1], [0.0, 1.0], [0.1, 1.0], [-0.1, 1.0]])
    assert knn_label_accuracy(x, ["a", "a", "a", "b", "b", "b"], k=2) == 1.0


def test_label_silhouette_single_label_is_nan():
    assert np.isnan(label_silhouette(np.eye(3), ["a", "a", "a"]))


@pytest.mark.parametrize("k", [0, 6])
def test_knn_label_accuracy_invalid_k_raises(k):
    with pytest.raises(InvalidConfigError, match=f"k={k}"):
        knn_label_accuracy(np.eye(6), list("aabbcc"), k=k)


def test_knn_label_accuracy_length_mismatch_raises():
    with pytest.raises(InvalidInputError, match="6 feature rows but 5 labels"):
        knn_label_accuracy(np.eye(6), list("aabbc"), k=1)


def test_measure_batch_effects_names_scores_by_column(make_profiles):
    profiles = make_profiles()
    features = schema.feature_columns(profiles.columns)
    scores = measure_batch_effects(profiles, features, columns=[schema.SOURCE, schema.BATCH], k=3)
    x = profiles[features].to_numpy(dtype=np.float64)
    labels = list(profiles[schema.SOURCE])
    assert scores["source_knn_accuracy"] == pytest.approx(_brute_knn_accuracy(x, labels, 3))
    assert scores["source_silhouette"] == pytest.approx(_brute_silhouette(x, labels))
    assert scores["source_levels"] == 3 and scores["batch_levels"] == 6


def test_measure_batch_effects_single_level_gives_nan(make_profiles):
    profiles = make_profiles(n_sources=1)
    scores = measure_batch_effects(
        profiles, schema.feature_columns(profiles.columns), columns=[schema.SOURCE], k=3
    )
    assert np.isnan(scores["source_knn_accuracy"]) and np.isnan(scores["source_silhouette"])


def test_measure_batch_effects_missing_column_raises(make_profiles):
    profiles = make_profiles()
    with pytest.raises(MissingColumnsError, match="Metadata_Lane"):
        measure_batch_effects(
            profiles, schema.feature_columns(profiles.columns), columns=["Metadata_Lane"], k=3
        )


def test_measure_batch_effects_nan_feature_raises(make_profiles):
    profiles = make_profiles()
    profiles.loc[4, "emb_0001"] = np.nan
    with pytest.raises(InvalidFeaturesError, match="emb_0001"):
        measure_batch_effects(
            profiles, schema.feature_columns(profiles.columns), columns=[schema.SOURCE], k=3
        )


def test_measure_batch_effects_single_well_raises(make_profiles):
    profiles = make_profiles().iloc[:1]
    with pytest.raises(InvalidInputError, match="got 1"):
        measure_batch_effects(
            profiles, schema.feature_columns(profiles.columns), columns=[schema.SOURCE], k=3
        )


def test_measure_batch_effects_pandas_input_unchanged(make_profiles):
    profiles = make_profiles()
    before = profiles.copy()
    measure_batch_effects(profiles, schema.feature_columns(profiles.columns), columns=[schema.SOURCE], k=3)
    pd.testing.assert_frame_equal(profiles, before)


def test_knn_label_accuracy_hnsw_equals_exact_on_small_data():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(120, 8)) + np.repeat(rng.normal(size=(4, 8)) * 2, 30, axis=0)
    labels = np.repeat(list("abcd"), 30).tolist()
    hnsw = SMALL_HNSW
    assert knn_label_accuracy(x, labels, k=5, search=hnsw) == knn_label_accuracy(x, labels, k=5)


def test_label_silhouette_sample_is_seeded_estimate_and_exact_when_large():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(400, 5)) + np.repeat(rng.normal(size=(2, 5)), 200, axis=0)
    labels = np.repeat(["a", "b"], 200).tolist()
    exact = label_silhouette(x, labels)
    sampled = label_silhouette(x, labels, sample_size=150, seed=1)
    assert sampled == label_silhouette(x, labels, sample_size=150, seed=1)
    assert sampled != exact
    assert sampled == pytest.approx(exact, abs=0.05)
    assert label_silhouette(x, labels, sample_size=400) == exact


def test_label_silhouette_invalid_sample_size_raises():
    with pytest.raises(InvalidConfigError, match="sample_size"):
        label_silhouette(np.eye(4), list("aabb"), sample_size=1)
