import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from micon import schema
from micon.errors import (
    InvalidConfigError,
    InvalidFeaturesError,
    InvalidInputError,
    MissingColumnsError,
    NoControlsError,
)
from micon.evaluation import (
    center_on_plate_controls,
    filter_variant_features,
    inverse_normal_transform,
    robust_mad_normalize,
    scale_by_control_mad,
    select_features,
    sphere_profiles,
)


def _toy() -> pd.DataFrame:
    """Two plates, 3 DMSO + 2 treated wells each, 2 features."""
    plates = ["p1"] * 5 + ["p2"] * 5
    control = [True, True, True, False, False] * 2
    x = [1.0, 2.0, 4.0, 10.0, -3.0, 0.0, 10.0, 20.0, 5.0, 15.0]
    y = [5.0, 5.0, 6.0, 1.0, 7.0, 3.0, 1.0, 2.0, 0.0, 9.0]
    return pd.DataFrame(
        {
            schema.SOURCE: "s1",
            schema.BATCH: "b1",
            schema.PLATE: plates,
            schema.WELL: [f"A{i:02d}" for i in range(10)],
            schema.JCP2022: "X",
            schema.IS_CONTROL: control,
            "emb_0000": x,
            "emb_0001": y,
        }
    )


def _hand_mad(values: np.ndarray, controls: np.ndarray, epsilon: float) -> np.ndarray:
    median = np.median(controls, axis=0)
    mad = np.median(np.abs(controls - median), axis=0)
    return (values - median) / (1.4826 * mad + epsilon)


def test_robust_mad_normalize_two_plates_matches_hand_computation():
    toy = _toy()
    out = robust_mad_normalize(toy, epsilon=1e-6)
    features = ["emb_0000", "emb_0001"]
    for plate in ("p1", "p2"):
        rows = toy[schema.PLATE] == plate
        values = toy.loc[rows, features].to_numpy()
        controls = toy.loc[rows & toy[schema.IS_CONTROL], features].to_numpy()
        np.testing.assert_allclose(out.loc[rows, features].to_numpy(), _hand_mad(values, controls, 1e-6))
    pd.testing.assert_frame_equal(out.drop(columns=features), toy.drop(columns=features))


def test_robust_mad_normalize_keeps_row_order_with_shuffled_index():
    toy = _toy()
    shuffled = toy.sample(frac=1.0, random_state=0)
    out = robust_mad_normalize(shuffled)
    pd.testing.assert_frame_equal(out.loc[toy.index], robust_mad_normalize(toy))
    assert list(out.index) == list(shuffled.index)


def test_robust_mad_normalize_plate_without_dmso_raises_naming_plate():
    toy = _toy()
    toy.loc[toy[schema.PLATE] == "p2", schema.IS_CONTROL] = False
    with pytest.raises(NoControlsError, match="s1/b1/p2"):
        robust_mad_normalize(toy)


def test_robust_mad_normalize_negative_epsilon_raises():
    with pytest.raises(InvalidConfigError, match="-1"):
        robust_mad_normalize(_toy(), epsilon=-1.0)


def test_robust_mad_normalize_nan_feature_raises_naming_column():
    toy = _toy()
    toy.loc[6, "emb_0001"] = np.nan
    with pytest.raises(InvalidFeaturesError, match=r"emb_0001.*Well=A06"):
        robust_mad_normalize(toy)


def test_robust_mad_normalize_missing_control_column_raises():
    with pytest.raises(MissingColumnsError, match=schema.IS_CONTROL):
        robust_mad_normalize(_toy().drop(columns=[schema.IS_CONTROL]))


def test_robust_mad_normalize_empty_table_raises():
    with pytest.raises(InvalidInputError, match="empty"):
        robust_mad_normalize(_toy().iloc[:0])


def test_robust_mad_normalize_non_boolean_control_raises():
    toy = _toy().assign(**{schema.IS_CONTROL: "yes"})
    with pytest.raises(InvalidInputError, match="boolean"):
        robust_mad_normalize(toy)


@pytest.mark.parametrize("method", ["ZCA", "PCA"])
def test_sphere_profiles_dmso_covariance_becomes_identity(make_profiles, method):
    profiles = make_profiles(dim=5)
    features = schema.feature_columns(profiles.columns)
    rng = np.random.default_rng(1)
    mixing = rng.normal(size=(5, 5))  # correlate the features
    profiles[features] = profiles[features].to_numpy() @ mixing
    sphered = sphere_profiles(profiles, method=method, epsilon=1e-9)
    dmso = sphered.loc[sphered[schema.IS_CONTROL], features].to_numpy()
    np.testing.assert_allclose(np.cov(dmso, rowvar=False), np.eye(5), atol=1e-6)
    np.testing.assert_allclose(dmso.mean(axis=0), 0.0, atol=1e-8)
    assert list(sphered.columns) == list(profiles.columns)
    assert len(sphered) == len(profiles)


def test_sphere_profiles_too_few_controls_raises(make_profiles):
    profiles = make_profiles()
    profiles[schema.IS_CONTROL] = False
    profiles.loc[0, schema.IS_CONTROL] = True
    with pytest.raises(NoControlsError, match="found 1"):
        sphere_profiles(profiles)


def test_sphere_profiles_unknown_method_raises(make_profiles):
    with pytest.raises(InvalidConfigError, match="ICA"):
        sphere_profiles(make_profiles(), method="ICA")


def test_sphere_profiles_negative_epsilon_raises(make_profiles):
    with pytest.raises(InvalidConfigError, match="epsilon"):
        sphere_profiles(make_profiles(), epsilon=-1.0)


def test_sphere_profiles_pycytominer_refusal_raises_invalid_input(make_profiles, monkeypatch):
    def refuse(self, X, y=None):
        raise ValueError("The data matrix X is not full rank")

    monkeypatch.setattr("micon.evaluation.normalize.Spherize.fit", refuse)
    with pytest.raises(InvalidInputError, match="sphering could not be fitted.*not full rank"):
        sphere_profiles(make_profiles())


def test_filter_variant_features_drops_feature_constant_on_one_plate_dmso():
    toy = _toy()
    toy.loc[1, "emb_0001"] = 4.0  # DMSO of p1 were 5, 5, 6: MAD 0
    toy["emb_0002"] = [7.0, 7.0, 7.0, 1.0, 2.0, 0.0, 1.0, 2.0, 3.0, 4.0]  # DMSO of p1 constant
    out = filter_variant_features(toy, min_mad=0.0, min_abs_coef_var=0.0)
    assert schema.feature_columns(out.columns) == ["emb_0000", "emb_0001"]
    pd.testing.assert_frame_equal(out, toy.drop(columns=["emb_0002"]))


def test_filter_variant_features_coefficient_of_variation_as_recipe():
    toy = _toy()
    toy.loc[1, "emb_0001"] = 4.0
    # DMSO of p1: median 1000, MAD 0.5 -> |MAD/median| = 5e-4 <= 1e-3; p2 varies a lot
    toy["emb_0002"] = [1000.0, 1000.5, 999.0, 3.0, 4.0, 0.0, 10.0, 20.0, 5.0, 15.0]
    # DMSO of p2 has median 0: counts as coefficient of variation 0 (the recipe's fillna(0))
    toy["emb_0003"] = [1.0, 2.0, 4.0, 0.0, 0.0, -1.0, 0.0, 1.0, 0.0, 0.0]
    kept = schema.feature_columns(filter_variant_features(toy, min_abs_coef_var=1e-3).columns)
    assert kept == ["emb_0000", "emb_0001"]
    kept_without_cv = filter_variant_features(toy, min_abs_coef_var=0.0).columns
    assert "emb_0002" in kept_without_cv and "emb_0003" in kept_without_cv


def test_filter_variant_features_all_dropped_raises():
    toy = _toy()
    toy[["emb_0000", "emb_0001"]] = 1.0
    with pytest.raises(InvalidInputError, match="drops all 2 features"):
        filter_variant_features(toy)


def test_filter_variant_features_plate_without_dmso_raises_naming_plate():
    toy = _toy()
    toy.loc[toy[schema.PLATE] == "p1", schema.IS_CONTROL] = False
    with pytest.raises(NoControlsError, match="s1/b1/p1"):
        filter_variant_features(toy)


def test_filter_variant_features_negative_threshold_raises():
    with pytest.raises(InvalidConfigError, match="min_mad=-1"):
        filter_variant_features(_toy(), min_mad=-1.0)


def test_inverse_normal_transform_matches_blom_quantiles_with_average_ties():
    toy = _toy()
    out = inverse_normal_transform(toy)
    n = len(toy)
    # emb_0000 = [1, 2, 4, 10, -3, 0, 10, 20, 5, 15]: ranks 3, 4, 5, 7.5, 1, 2, 7.5, 10, 6, 9
    ranks = np.array([3, 4, 5, 7.5, 1, 2, 7.5, 10, 6, 9])
    expected = norm.ppf((ranks - 3 / 8) / (n - 3 / 4 + 1))
    np.testing.assert_allclose(out["emb_0000"].to_numpy(), expected)
    assert out["emb_0000"].to_numpy()[3] == out["emb_0000"].to_numpy()[6]  # the tie shares a value
    pd.testing.assert_frame_equal(
        out.drop(columns=["emb_0000", "emb_0001"]), toy.drop(columns=["emb_0000", "emb_0001"])
    )


def test_inverse_normal_transform_is_monotone_and_symmetric(make_profiles):
    profiles = make_profiles(dim=3)
    out = inverse_normal_transform(profiles)
    for column in schema.feature_columns(profiles.columns):
        order = np.argsort(profiles[column].to_numpy())
        assert np.all(np.diff(out[column].to_numpy()[order]) > 0)
        np.testing.assert_allclose(out[column].mean(), 0.0, atol=1e-12)


def test_inverse_normal_transform_nan_feature_raises_naming_column():
    toy = _toy()
    toy.loc[2, "emb_0000"] = np.inf
    with pytest.raises(InvalidFeaturesError, match="emb_0000"):
        inverse_normal_transform(toy)


def test_select_features_drops_correlated_and_constant_feature(make_profiles):
    toy = make_profiles(dim=2)
    toy["emb_0002"] = 2.0 * toy["emb_0000"] + 1.0  # perfectly correlated with emb_0000
    toy["emb_0003"] = 1.0
    toy.loc[0, "emb_0003"] = 1.001  # variance ~1e-8: below pycytominer's min_variance 1e-6
    out = select_features(toy, correlation_threshold=0.9)
    kept = schema.feature_columns(out.columns)
    assert "emb_0003" not in kept
    assert len({"emb_0000", "emb_0002"} & set(kept)) == 1
    assert "emb_0001" in kept
    assert schema.metadata_columns(out.columns) == schema.metadata_columns(toy.columns)


def test_select_features_unknown_operation_raises_listing_accepted():
    with pytest.raises(InvalidConfigError, match=r"pca.*correlation_threshold.*blocklist"):
        select_features(_toy(), operations=["pca"])


def test_select_features_threshold_out_of_range_raises():
    with pytest.raises(InvalidConfigError, match="correlation_threshold=1.5"):
        select_features(_toy(), correlation_threshold=1.5)


def test_select_features_all_dropped_raises():
    toy = _toy()
    toy[["emb_0000", "emb_0001"]] = 3.0
    with pytest.raises(InvalidInputError, match="drops all 2"):
        select_features(toy, operations=["variance_threshold"])


def test_filter_variant_features_plate_with_one_dmso_well_named_with_its_count():
    toy = _toy()
    toy.loc[[1, 2], schema.IS_CONTROL] = False  # p1 keeps 1 DMSO well: its MAD is 0 for every feature
    with pytest.raises(NoControlsError, match=r"s1/b1/p1: 1"):
        filter_variant_features(toy, min_mad=0.0, min_abs_coef_var=0.0)


def test_robust_mad_normalize_batch_control_group_fits_on_the_batch():
    toy = _toy()
    toy.loc[[5, 6], schema.IS_CONTROL] = False  # p2 keeps 1 DMSO well ...
    toy[schema.CONTROL_GROUP] = ["s1/p1"] * 5 + ["s1/b1"] * 5  # ... and is normalised on its batch's
    out = robust_mad_normalize(toy, epsilon=1e-6)
    features = ["emb_0000", "emb_0001"]
    controls = toy.loc[toy[schema.IS_CONTROL], features].to_numpy()  # 3 of p1 + 1 of p2
    rows = toy[schema.PLATE] == "p2"
    np.testing.assert_allclose(
        out.loc[rows, features].to_numpy(), _hand_mad(toy.loc[rows, features].to_numpy(), controls, 1e-6)
    )


def test_center_on_plate_controls_subtracts_each_plates_dmso_median():
    toy = _toy()
    out = center_on_plate_controls(toy)
    # p1 DMSO medians (2, 5); p2 DMSO medians (10, 2)
    np.testing.assert_allclose(out["emb_0000"], [-1, 0, 2, 8, -5, -10, 0, 10, -5, 5])
    np.testing.assert_allclose(out["emb_0001"], [0, 0, 1, -4, 2, 1, -1, 0, -2, 7])
    pd.testing.assert_frame_equal(
        out[schema.metadata_columns(toy.columns)], toy[schema.metadata_columns(toy.columns)]
    )


def test_center_on_plate_controls_plate_without_dmso_raises_naming_plate():
    toy = _toy()
    toy.loc[toy[schema.PLATE] == "p2", schema.IS_CONTROL] = False
    with pytest.raises(NoControlsError, match="s1/b1/p2"):
        center_on_plate_controls(toy)


def test_scale_by_control_mad_screen_pools_every_dmso_well():
    toy = center_on_plate_controls(_toy())
    out = scale_by_control_mad(toy, scope="screen", epsilon=0.0)
    controls = toy.loc[toy[schema.IS_CONTROL], ["emb_0000", "emb_0001"]].to_numpy()
    # pooled centred DMSO: x = (-1, 0, 2, -10, 0, 10) -> MAD 1.5; y = (0, 0, 1, 1, -1, 0) -> MAD 0.5
    scale = 1.4826 * np.median(np.abs(controls - np.median(controls, axis=0)), axis=0)
    np.testing.assert_allclose(scale, 1.4826 * np.array([1.5, 0.5]), rtol=1e-4)
    np.testing.assert_allclose(
        out[["emb_0000", "emb_0001"]].to_numpy(), toy[["emb_0000", "emb_0001"]] / scale, rtol=1e-4
    )


def test_scale_by_control_mad_source_scope_fits_one_scale_per_source():
    toy = _toy()
    toy[schema.SOURCE] = np.where(toy[schema.PLATE] == "p1", "s1", "s2")
    out = scale_by_control_mad(toy, scope="source", epsilon=1e-6)
    for plate in ("p1", "p2"):
        rows = toy[schema.PLATE] == plate
        controls = toy.loc[rows & toy[schema.IS_CONTROL], ["emb_0000", "emb_0001"]].to_numpy()
        scale = 1.4826 * np.median(np.abs(controls - np.median(controls, axis=0)), axis=0) + 1e-6
        np.testing.assert_allclose(
            out.loc[rows, ["emb_0000", "emb_0001"]].to_numpy(),
            toy.loc[rows, ["emb_0000", "emb_0001"]].to_numpy() / scale,
            rtol=1e-4,
        )


def test_scale_by_control_mad_group_without_dmso_raises_naming_it():
    toy = _toy()
    toy[schema.SOURCE] = np.where(toy[schema.PLATE] == "p1", "s1", "s2")
    toy.loc[toy[schema.PLATE] == "p2", schema.IS_CONTROL] = False
    with pytest.raises(NoControlsError, match="s2"):
        scale_by_control_mad(toy, scope="source", epsilon=1e-6)


@pytest.mark.parametrize(("scope", "epsilon", "match"), [("well", 1e-6, "well"), ("screen", -1.0, "epsilon")])
def test_scale_by_control_mad_invalid_setting_raises(scope, epsilon, match):
    with pytest.raises(InvalidConfigError, match=match):
        scale_by_control_mad(_toy(), scope=scope, epsilon=epsilon)
