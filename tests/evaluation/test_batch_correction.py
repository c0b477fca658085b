import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA

from micon import schema
from micon.errors import (
    InvalidConfigError,
    InvalidFeaturesError,
    InvalidInputError,
    MissingColumnsError,
    NoControlsError,
)
from micon.evaluation import harmonize_profiles, morphohelm_correct, robust_mad_normalize


def _batch_shifted(make_profiles, shift: float = 5.0) -> pd.DataFrame:
    """Profiles whose source_0 wells are shifted by ``shift`` in every feature."""
    profiles = make_profiles(dim=4, n_plates=1, signal=1.0)
    features = schema.feature_columns(profiles.columns)
    shifted = profiles[schema.SOURCE] == "source_0"
    profiles.loc[shifted, features] = profiles.loc[shifted, features].to_numpy() + shift
    return profiles


def _source_gap(profiles: pd.DataFrame) -> float:
    features = schema.feature_columns(profiles.columns)
    means = profiles.groupby(schema.SOURCE)[features].mean()
    return float(np.linalg.norm(means.loc["source_0"] - means.drop(index="source_0").mean()))


def test_harmonize_profiles_shrinks_source_shift_and_keeps_rows(make_profiles):
    profiles = _batch_shifted(make_profiles)
    out = harmonize_profiles(profiles, batch_column=schema.SOURCE, seed=0)
    assert _source_gap(out) < 0.5 * _source_gap(profiles)
    assert list(out.columns) == list(profiles.columns)
    pd.testing.assert_frame_equal(
        out[schema.metadata_columns(out.columns)], profiles[schema.metadata_columns(profiles.columns)]
    )


def test_harmonize_profiles_same_seed_same_result(make_profiles):
    profiles = _batch_shifted(make_profiles)
    a = harmonize_profiles(profiles, batch_column=schema.BATCH, seed=3)
    b = harmonize_profiles(profiles, batch_column=schema.BATCH, seed=3)
    pd.testing.assert_frame_equal(a, b)


def test_harmonize_profiles_single_level_raises_naming_value(make_profiles):
    profiles = make_profiles(n_sources=1)
    with pytest.raises(InvalidInputError, match="source_0"):
        harmonize_profiles(profiles, batch_column=schema.SOURCE)


def test_harmonize_profiles_missing_batch_column_raises(make_profiles):
    with pytest.raises(MissingColumnsError, match="Metadata_Lane"):
        harmonize_profiles(make_profiles(), batch_column="Metadata_Lane")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"max_iter": 0}, "max_iter"), ({"n_clusters": 0}, "n_clusters"), ({"batch_column": "lane"}, "lane")],
)
def test_harmonize_profiles_invalid_setting_raises(make_profiles, kwargs, match):
    with pytest.raises(InvalidConfigError, match=match):
        harmonize_profiles(make_profiles(), **kwargs)


def test_harmonize_profiles_nan_feature_raises_naming_column(make_profiles):
    profiles = make_profiles()
    profiles.loc[3, "emb_0002"] = np.nan
    with pytest.raises(InvalidFeaturesError, match="emb_0002"):
        harmonize_profiles(profiles)


def test_morphohelm_correct_equals_centre_scale_pca_then_plate_mad(make_profiles):
    profiles = make_profiles(dim=6)
    out = morphohelm_correct(profiles, n_components=3, epsilon=1e-6)
    features = schema.feature_columns(profiles.columns)
    values = profiles[features].to_numpy(dtype=np.float64)
    scaled = np.empty_like(values)
    for rows in profiles.groupby(list(schema.PLATE_KEY)).indices.values():
        block = values[rows]
        scaled[rows] = (block - block.mean(axis=0)) / block.std(axis=0)
    components = PCA(n_components=3, svd_solver="full").fit_transform(scaled)
    expected = profiles[schema.metadata_columns(profiles.columns)].copy()
    expected[schema.embedding_columns(3)] = components
    np.testing.assert_allclose(
        out[schema.embedding_columns(3)].to_numpy(),
        robust_mad_normalize(expected, epsilon=1e-6)[schema.embedding_columns(3)].to_numpy(),
        atol=1e-9,
    )
    assert schema.feature_columns(out.columns) == schema.embedding_columns(3)


def test_morphohelm_correct_caps_components_at_feature_count(make_profiles):
    out = morphohelm_correct(make_profiles(dim=4), n_components=64)
    assert schema.feature_columns(out.columns) == schema.embedding_columns(4)


def test_morphohelm_correct_plate_without_dmso_raises_naming_plate(make_profiles):
    profiles = make_profiles()
    profiles.loc[profiles[schema.PLATE] == "plate_1_0_1", schema.IS_CONTROL] = False
    with pytest.raises(NoControlsError, match="plate_1_0_1"):
        morphohelm_correct(profiles, n_components=2)


def test_morphohelm_correct_zero_components_raises(make_profiles):
    with pytest.raises(InvalidConfigError, match="n_components"):
        morphohelm_correct(make_profiles(), n_components=0)
