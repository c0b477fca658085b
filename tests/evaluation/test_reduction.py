import logging

import numpy as np
import pandas as pd
import pytest
from sklearn.covariance import LedoitWolf
from sklearn.decomposition import PCA

from micon import schema
from micon.errors import InvalidConfigError, NoControlsError
from micon.evaluation import reduce_dimension, sphere_with_shrinkage


def test_reduce_dimension_matches_sklearn_pca_on_all_wells(make_profiles):
    profiles = make_profiles(dim=6)
    out = reduce_dimension(profiles, n_components=3, fit_on="all", whiten=False)
    features = schema.feature_columns(profiles.columns)
    expected = PCA(n_components=3, svd_solver="full").fit_transform(profiles[features].to_numpy(np.float64))
    assert schema.feature_columns(out.columns) == schema.embedding_columns(3)
    np.testing.assert_allclose(out[schema.embedding_columns(3)].to_numpy(), expected, atol=1e-10)
    pd.testing.assert_frame_equal(
        out[schema.metadata_columns(out.columns)], profiles[schema.metadata_columns(profiles.columns)]
    )


def test_reduce_dimension_caps_k_at_the_feature_count(make_profiles):
    profiles = make_profiles(dim=4)
    out = reduce_dimension(profiles, n_components=32, fit_on="all", whiten=False)
    assert schema.feature_columns(out.columns) == schema.embedding_columns(4)
    # a rotation: cosine similarities around the mean are kept
    x = profiles[schema.feature_columns(profiles.columns)].to_numpy(np.float64)
    x = x - x.mean(axis=0)
    y = out[schema.embedding_columns(4)].to_numpy()
    np.testing.assert_allclose(x @ x.T, y @ y.T, atol=1e-8)


def test_reduce_dimension_whitened_on_controls_gives_unit_dmso_variance(make_profiles):
    profiles = make_profiles(dim=6, n_dmso=8)
    out = reduce_dimension(profiles, n_components=3, fit_on="controls", whiten=True)
    controls = out.loc[out[schema.IS_CONTROL], schema.embedding_columns(3)].to_numpy()
    np.testing.assert_allclose(controls.mean(axis=0), 0, atol=1e-10)
    np.testing.assert_allclose(np.cov(controls, rowvar=False), np.eye(3), atol=1e-8)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_components": 0}, InvalidConfigError, "n_components"),
        ({"fit_on": "treated"}, InvalidConfigError, "treated"),
    ],
)
def test_reduce_dimension_invalid_setting_raises(make_profiles, kwargs, error, match):
    settings = {"n_components": 2, "fit_on": "all", "whiten": False, **kwargs}
    with pytest.raises(error, match=match):
        reduce_dimension(make_profiles(), **settings)


def test_reduce_dimension_on_controls_without_dmso_raises(make_profiles):
    profiles = make_profiles().assign(**{schema.IS_CONTROL: False})
    with pytest.raises(NoControlsError, match="controls"):
        reduce_dimension(profiles, n_components=2, fit_on="controls", whiten=False)


@pytest.mark.parametrize("method", ["ZCA", "PCA"])
def test_sphere_with_shrinkage_whitens_the_ledoit_wolf_covariance(make_profiles, method):
    profiles = make_profiles(dim=4, n_dmso=10)
    out = sphere_with_shrinkage(profiles, method=method, epsilon=0.0, min_controls_per_feature=4.0)
    features = schema.feature_columns(profiles.columns)
    controls = profiles.loc[profiles[schema.IS_CONTROL], features].to_numpy(np.float64)
    estimator = LedoitWolf().fit(controls)
    sphered = out.loc[out[schema.IS_CONTROL], features].to_numpy()
    np.testing.assert_allclose(sphered.mean(axis=0), 0, atol=1e-10)
    # the map W sends the shrunk covariance to the identity: W S W^T = I
    x = profiles[features].to_numpy(np.float64) - estimator.location_
    w = np.linalg.lstsq(x, out[features].to_numpy(), rcond=None)[0].T
    np.testing.assert_allclose(w @ estimator.covariance_ @ w.T, np.eye(4), atol=1e-8)
    if method == "ZCA":  # ZCA's map is symmetric
        np.testing.assert_allclose(w, w.T, atol=1e-8)


def test_sphere_with_shrinkage_too_few_controls_leaves_wells_and_says_so(make_profiles, caplog):
    profiles = make_profiles(dim=6, n_dmso=2)  # 24 DMSO wells (12 plates) for 6 features
    with caplog.at_level(logging.WARNING):
        out = sphere_with_shrinkage(profiles, method="ZCA", epsilon=1e-6, min_controls_per_feature=10.0)
    pd.testing.assert_frame_equal(out, profiles)
    assert "refused: 24 DMSO wells for 6 features" in caplog.text


def test_sphere_with_shrinkage_stays_bounded_where_the_dmso_covariance_is_singular(make_profiles):
    profiles = make_profiles(dim=4, n_dmso=10)
    profiles["emb_0004"] = profiles["emb_0000"] + profiles["emb_0001"]  # a linearly dependent feature
    out = sphere_with_shrinkage(profiles, method="ZCA", epsilon=0.0, min_controls_per_feature=1.0)
    assert np.isfinite(out[schema.feature_columns(out.columns)].to_numpy()).all()
    assert np.abs(out[schema.feature_columns(out.columns)].to_numpy()).max() < 100


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"method": "ICA"}, InvalidConfigError, "ICA"),
        ({"epsilon": -1.0}, InvalidConfigError, "epsilon"),
        ({"min_controls_per_feature": -1.0}, InvalidConfigError, "min_controls_per_feature"),
    ],
)
def test_sphere_with_shrinkage_invalid_setting_raises(make_profiles, kwargs, error, match):
    settings = {"method": "ZCA", "epsilon": 1e-6, "min_controls_per_feature": 1.0, **kwargs}
    with pytest.raises(error, match=match):
        sphere_with_shrinkage(make_profiles(), **settings)


def test_sphere_with_shrinkage_single_control_raises(make_profiles):
    profiles = make_profiles(n_sources=1, n_batches=1, n_plates=1, n_dmso=1)
    with pytest.raises(NoControlsError, match="found 1"):
        sphere_with_shrinkage(profiles, method="ZCA", epsilon=1e-6, min_controls_per_feature=0.0)
