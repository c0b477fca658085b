import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.errors import (
    InvalidConfigError,
    InvalidFeaturesError,
    InvalidInputError,
    MissingColumnsError,
    NoControlsError,
    UnknownNameError,
)
from micon.evaluation import (
    NormalizationConfig,
    normalize_profiles,
    robust_mad_normalize,
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


def test_normalize_profiles_chain_equals_manual_composition(make_profiles):
    profiles = make_profiles()
    config = NormalizationConfig(steps=["mad_robustize", "sphering"], sphering_method="PCA", epsilon=1e-5)
    expected = sphere_profiles(robust_mad_normalize(profiles, epsilon=1e-5), method="PCA", epsilon=1e-5)
    pd.testing.assert_frame_equal(normalize_profiles(profiles, config), expected)
    assert config.steps == ("mad_robustize", "sphering")


def test_normalize_profiles_no_steps_returns_input_unchanged(make_profiles):
    profiles = make_profiles()
    pd.testing.assert_frame_equal(normalize_profiles(profiles, NormalizationConfig(steps=())), profiles)


def test_normalization_config_unknown_step_raises_listing_known():
    with pytest.raises(UnknownNameError, match=r"harmony.*mad_robustize.*sphering"):
        NormalizationConfig(steps=("mad_robustize", "harmony"))


def test_normalize_profiles_unknown_step_raises(make_profiles):
    config = NormalizationConfig()
    object.__setattr__(config, "steps", ("whiten",))  # bypass validation to reach the dispatcher
    with pytest.raises(UnknownNameError, match="whiten"):
        normalize_profiles(make_profiles(), config)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"steps": ("sphering", "sphering")}, "repeat"),
        ({"sphering_method": "ICA"}, "ICA"),
        ({"epsilon": -0.1}, "epsilon"),
    ],
)
def test_normalization_config_invalid_value_raises(kwargs, match):
    with pytest.raises(InvalidConfigError, match=match):
        NormalizationConfig(**kwargs)


def test_normalization_config_positional_arguments_refused():
    with pytest.raises(TypeError):
        NormalizationConfig(("sphering",))  # type: ignore[misc]
