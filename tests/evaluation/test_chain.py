import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.errors import InvalidConfigError, InvalidFeaturesError, NoControlsError, UnknownNameError
from micon.evaluation import (
    NORMALIZATION_STEPS,
    NormalizationConfig,
    filter_variant_features,
    harmonize_profiles,
    inverse_normal_transform,
    normalize_profiles,
    plate_controls_needed,
    robust_mad_normalize,
    select_features,
    sphere_profiles,
)
from tests.parameters import make_config


def test_normalize_profiles_chain_equals_manual_composition(make_profiles):
    profiles = make_profiles(dim=5)
    config = make_config(
        NormalizationConfig,
        "reporting.normalization",
        steps=["variance_filter", "mad_robustize", "inverse_normal_transform", "feature_select", "harmony"],
        epsilon=1e-5,
        harmony_batch_column=schema.SOURCE,
        harmony_seed=1,
    )
    expected = harmonize_profiles(
        select_features(
            inverse_normal_transform(robust_mad_normalize(filter_variant_features(profiles), epsilon=1e-5))
        ),
        batch_column=schema.SOURCE,
        seed=1,
        max_iter=20,
    )
    normalized, step_log = normalize_profiles(profiles, config)
    pd.testing.assert_frame_equal(normalized, expected)
    assert list(step_log["step"]) == list(config.steps)
    assert not step_log["changed_feature_count"].any()


def test_normalize_profiles_step_log_records_which_step_changed_feature_count(make_profiles):
    profiles = make_profiles(dim=5)
    profiles["emb_0005"] = 2.0 * profiles["emb_0000"]  # redundant: feature selection drops one
    normalized, step_log = normalize_profiles(
        profiles,
        make_config(
            NormalizationConfig,
            "reporting.normalization",
            steps=["mad_robustize", "feature_select", "morphohelm"],
            morphohelm_n_components=3,
        ),
    )
    assert step_log[["step", "n_features_in", "n_features_out", "changed_feature_count"]].to_dict(
        "records"
    ) == [
        {"step": "mad_robustize", "n_features_in": 6, "n_features_out": 6, "changed_feature_count": False},
        {"step": "feature_select", "n_features_in": 6, "n_features_out": 5, "changed_feature_count": True},
        {"step": "morphohelm", "n_features_in": 5, "n_features_out": 3, "changed_feature_count": True},
    ]
    assert list(step_log["position"]) == [0, 1, 2]
    assert schema.feature_columns(normalized.columns) == schema.embedding_columns(3)


def test_normalize_profiles_default_is_mad_then_sphering(make_profiles):
    profiles = make_profiles()
    normalized, _ = normalize_profiles(profiles, make_config(NormalizationConfig, "reporting.normalization"))
    pd.testing.assert_frame_equal(normalized, sphere_profiles(robust_mad_normalize(profiles)))


def test_normalize_profiles_no_steps_returns_input_unchanged(make_profiles):
    profiles = make_profiles()
    normalized, step_log = normalize_profiles(
        profiles, make_config(NormalizationConfig, "reporting.normalization", steps=())
    )
    pd.testing.assert_frame_equal(normalized, profiles)
    assert step_log.empty


def test_normalization_config_unknown_step_lists_accepted_names():
    with pytest.raises(UnknownNameError, match=r"combat.*feature_select.*harmony.*inverse_normal_transform"):
        make_config(NormalizationConfig, "reporting.normalization", steps=("mad_robustize", "combat"))


def test_normalize_profiles_unknown_step_at_dispatch_raises(make_profiles):
    config = make_config(NormalizationConfig, "reporting.normalization")
    object.__setattr__(config, "steps", ("whiten",))  # bypass validation to reach the dispatcher
    with pytest.raises(UnknownNameError, match="whiten.*known steps"):
        normalize_profiles(make_profiles(), config)


def test_normalize_profiles_plate_without_dmso_named_with_step(make_profiles):
    profiles = make_profiles()
    profiles.loc[profiles[schema.PLATE] == "plate_2_1_0", schema.IS_CONTROL] = False
    # refused before any step runs, naming the steps, the plate and its count
    with pytest.raises(
        NoControlsError,
        match=r"'inverse_normal_transform', 'mad_robustize'\].*source_2/batch_2_1/plate_2_1_0: 0",
    ):
        normalize_profiles(
            profiles,
            make_config(
                NormalizationConfig,
                "reporting.normalization",
                steps=["inverse_normal_transform", "mad_robustize"],
            ),
        )


def test_normalize_profiles_nan_feature_named_before_any_step(make_profiles):
    profiles = make_profiles()
    profiles.loc[7, "emb_0003"] = np.nan
    with pytest.raises(InvalidFeaturesError, match=r"emb_0003.*Well=A07"):
        normalize_profiles(
            profiles,
            make_config(NormalizationConfig, "reporting.normalization", steps=["inverse_normal_transform"]),
        )


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"steps": ("sphering", "sphering")}, "repeat"),
        ({"sphering_method": "ICA"}, "ICA"),
        ({"epsilon": -0.1}, "epsilon"),
        ({"variant_min_mad": -1.0}, "variant"),
        ({"correlation_threshold": 0.0}, "correlation_threshold"),
        ({"feature_select_operations": ("pca",)}, "pca"),
        ({"harmony_batch_column": "batch"}, "batch"),
        ({"harmony_max_iter": 0}, "harmony_max_iter"),
        ({"morphohelm_n_components": 0}, "morphohelm_n_components"),
    ],
)
def test_normalization_config_invalid_value_raises(kwargs, match):
    with pytest.raises(InvalidConfigError, match=match):
        make_config(NormalizationConfig, "reporting.normalization", **kwargs)


def test_normalization_config_positional_arguments_refused():
    with pytest.raises(TypeError):
        make_config(NormalizationConfig, "reporting.normalization", ("sphering",))  # type: ignore[misc]


def test_normalization_steps_are_the_documented_names():
    assert set(NORMALIZATION_STEPS) == {
        "variance_filter",
        "mad_robustize",
        "inverse_normal_transform",
        "feature_select",
        "sphering",
        "harmony",
        "morphohelm",
    }


@pytest.mark.parametrize(
    ("steps", "needed"),
    [
        (["sphering"], 0),
        (["variance_filter"], 2),
        (["mad_robustize"], 2),
        (["variance_filter", "mad_robustize", "sphering"], 3),
        (["sphering", "mad_robustize"], 2),
    ],
)
def test_plate_controls_needed_by_steps(steps, needed):
    assert plate_controls_needed(steps) == needed


def test_normalize_profiles_two_dmso_wells_before_sphering_refused_up_front_naming_plates(make_profiles):
    # 2 DMSO wells per plate: after robust MAD they are mirror images, a rank-deficient DMSO matrix that
    # pycytominer's Spherize refused with "likely a bug in pycytominer"
    profiles = make_profiles(n_dmso=2, dim=40)
    config = make_config(NormalizationConfig, "reporting.normalization", steps=["mad_robustize", "sphering"])
    with pytest.raises(NoControlsError, match=r"fewer than 3 DMSO wells.*source_0/batch_0_0/plate_0_0_0: 2"):
        normalize_profiles(profiles, config)
