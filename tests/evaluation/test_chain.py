import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.errors import InvalidConfigError, InvalidFeaturesError, NoControlsError, UnknownNameError
from micon.evaluation import (
    NORMALIZATION_STEPS,
    NormalizationConfig,
    center_on_plate_controls,
    filter_variant_features,
    harmonize_profiles,
    inverse_normal_transform,
    normalize_profiles,
    plate_controls_needed,
    reduce_dimension,
    retrieve_replicates,
    robust_mad_normalize,
    scale_by_control_mad,
    select_features,
    sphere_with_shrinkage,
    summarise_retrieval,
)
from tests.parameters import make_config, parameter


def _config(steps, **overrides) -> NormalizationConfig:
    """The test environment's normalisation settings with one chain, ``"chain"``, of ``steps``."""
    return make_config(NormalizationConfig, "reporting.normalization", chains={"chain": steps}, **overrides)


def test_normalize_profiles_chain_equals_manual_composition(make_profiles):
    profiles = make_profiles(dim=5)
    config = _config(
        ["variance_filter", "mad_robustize", "inverse_normal_transform", "feature_select", "harmony"],
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
    normalized, step_log = normalize_profiles(profiles, config, chain="chain")
    pd.testing.assert_frame_equal(normalized, expected)
    assert list(step_log["step"]) == list(config.chains["chain"])
    assert not step_log["changed_feature_count"].any()


def test_normalize_profiles_step_log_records_which_step_changed_feature_count(make_profiles):
    profiles = make_profiles(dim=5)
    profiles["emb_0005"] = 2.0 * profiles["emb_0000"]  # redundant: feature selection drops one
    normalized, step_log = normalize_profiles(
        profiles,
        _config(["mad_robustize", "feature_select", "morphohelm"], morphohelm_n_components=3),
        chain="chain",
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


def test_normalization_config_base_chains_are_raw_default_and_recipe():
    config = make_config(NormalizationConfig, "reporting.normalization", env="base")
    assert config.chains == {
        "raw": (),
        "default": ("variance_filter", "center_on_controls", "robust_scale", "pca", "shrunk_sphering"),
        "recipe": (
            "variance_filter",
            "mad_robustize",
            "inverse_normal_transform",
            "feature_select",
            "harmony",
        ),
    }
    assert parameter("reporting.normalization.chains", env="base")["raw"] == []


def test_normalize_profiles_default_chain_equals_manual_composition(make_profiles):
    profiles = make_profiles(n_dmso=8, dim=4)
    config = make_config(NormalizationConfig, "reporting.normalization")
    normalized, step_log = normalize_profiles(profiles, config, chain="default")
    expected = sphere_with_shrinkage(
        reduce_dimension(
            scale_by_control_mad(
                center_on_plate_controls(
                    filter_variant_features(
                        profiles,
                        min_mad=config.variant_min_mad,
                        min_abs_coef_var=config.variant_min_abs_coef_var,
                    )
                ),
                scope=config.scale_scope,
                epsilon=config.epsilon,
            ),
            n_components=config.pca_n_components,
            fit_on=config.pca_fit_on,
            whiten=config.pca_whiten,
        ),
        method=config.sphering_method,
        epsilon=config.epsilon,
        min_controls_per_feature=config.shrunk_sphering_min_controls_per_feature,
    )
    pd.testing.assert_frame_equal(normalized, expected)
    assert list(step_log["step"]) == list(config.chains["default"])


def test_normalize_profiles_raw_chain_returns_input_unchanged(make_profiles):
    profiles = make_profiles()
    normalized, step_log = normalize_profiles(
        profiles, make_config(NormalizationConfig, "reporting.normalization"), chain="raw"
    )
    pd.testing.assert_frame_equal(normalized, profiles)
    assert step_log.empty


def test_normalize_profiles_unknown_chain_lists_chains(make_profiles):
    with pytest.raises(UnknownNameError, match=r"'jump'.*\['default', 'raw', 'recipe'\]"):
        normalize_profiles(
            make_profiles(), make_config(NormalizationConfig, "reporting.normalization"), chain="jump"
        )


def test_normalization_config_unknown_step_lists_accepted_names():
    with pytest.raises(UnknownNameError, match=r"combat.*feature_select.*harmony.*inverse_normal_transform"):
        _config(("mad_robustize", "combat"))


def test_normalize_profiles_unknown_step_at_dispatch_raises(make_profiles):
    config = _config(["mad_robustize"])
    object.__setattr__(config, "chains", {"chain": ("whiten",)})  # bypass validation to reach the dispatcher
    with pytest.raises(UnknownNameError, match="whiten.*known steps"):
        normalize_profiles(make_profiles(), config, chain="chain")


def test_normalize_profiles_plate_without_dmso_named_with_step(make_profiles):
    profiles = make_profiles()
    profiles.loc[profiles[schema.PLATE] == "plate_2_1_0", schema.IS_CONTROL] = False
    # refused before any step runs, naming the chain, the plate and its count
    with pytest.raises(
        NoControlsError,
        match=r"'inverse_normal_transform', 'mad_robustize'\].*source_2/batch_2_1/plate_2_1_0: 0",
    ):
        normalize_profiles(profiles, _config(["inverse_normal_transform", "mad_robustize"]), chain="chain")


def test_normalize_profiles_nan_feature_named_before_any_step(make_profiles):
    profiles = make_profiles()
    profiles.loc[7, "emb_0003"] = np.nan
    with pytest.raises(InvalidFeaturesError, match=r"emb_0003.*Well=A07"):
        normalize_profiles(profiles, _config(["inverse_normal_transform"]), chain="chain")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"chains": {"x": ("sphering", "sphering")}}, "repeat"),
        ({"chains": {}}, "chains"),
        ({"scale_scope": "well"}, "scale_scope"),
        ({"pca_n_components": 0}, "pca_n_components"),
        ({"pca_fit_on": "treated"}, "pca_fit_on"),
        ({"shrunk_sphering_min_controls_per_feature": -1.0}, "shrunk_sphering"),
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
        make_config(NormalizationConfig, "reporting.normalization", {"x": ("sphering",)})  # type: ignore[misc]


def test_normalization_steps_are_the_documented_names():
    assert set(NORMALIZATION_STEPS) == {
        "variance_filter",
        "mad_robustize",
        "center_on_controls",
        "robust_scale",
        "pca",
        "shrunk_sphering",
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
        (["center_on_controls"], 1),
        (["center_on_controls", "robust_scale", "sphering"], 3),
        (["variance_filter", "center_on_controls", "robust_scale", "pca", "shrunk_sphering"], 2),
    ],
)
def test_plate_controls_needed_by_steps(steps, needed):
    assert plate_controls_needed(steps) == needed


def test_normalize_profiles_two_dmso_wells_before_sphering_refused_up_front_naming_plates(make_profiles):
    # 2 DMSO wells per plate: after robust MAD they are mirror images, a rank-deficient DMSO matrix that
    # pycytominer's Spherize refused with "likely a bug in pycytominer"
    profiles = make_profiles(n_dmso=2, dim=40)
    config = _config(["mad_robustize", "sphering"])
    with pytest.raises(NoControlsError, match=r"fewer than 3 DMSO wells.*source_0/batch_0_0/plate_0_0_0: 2"):
        normalize_profiles(profiles, config, chain="chain")


def _known_truth_profiles(seed: int = 0, *, dim: int = 128, latent: int = 6, n_dmso: int = 8) -> pd.DataFrame:
    """Wells of a low-dimensional known truth embedded in ``dim`` dimensions, 8 DMSO wells per plate.

    Compound effects, source and plate shifts and replicate noise live in a ``latent``-dimensional
    subspace; four strong nuisance directions and a common offset are added, and the remaining
    directions hold only tiny noise, so the DMSO covariance is near singular (as a 128-d embedding's).
    """
    rng = np.random.default_rng(seed)
    n_compounds = 16
    effects = rng.normal(size=(n_compounds, latent)) * 2.0
    basis = np.linalg.qr(rng.normal(size=(dim, dim)))[0]
    signal, nuisance, offset = basis[:, :latent], basis[:, latent : latent + 4], basis[:, -1]
    rows, values = [], []
    for s in range(3):
        source_shift = rng.normal(size=latent) * 0.5
        for b in range(2):
            for p in range(3):
                plate_shift = source_shift + rng.normal(size=latent) * 0.3
                compounds = [f"C{c:02d}" for c in range(n_compounds)] + [schema.DMSO_JCP2022] * n_dmso
                for w, compound in enumerate(compounds):
                    is_control = compound == schema.DMSO_JCP2022
                    effect = np.zeros(latent) if is_control else effects[int(compound[1:])]
                    x = (effect + plate_shift + rng.normal(size=latent) * 0.3) @ signal.T
                    x += rng.normal(size=4) @ nuisance.T + rng.normal(size=dim) * 0.01 + 2.0 * offset
                    rows.append(
                        {
                            schema.SOURCE: f"source_{s}",
                            schema.BATCH: f"batch_{s}_{b}",
                            schema.PLATE: f"plate_{s}_{b}_{p}",
                            schema.WELL: f"W{w:02d}",
                            schema.JCP2022: compound,
                            schema.IS_CONTROL: is_control,
                            schema.SPLIT: schema.SPLIT_TEST,
                        }
                    )
                    values.append(x)
    features = pd.DataFrame(np.asarray(values), columns=schema.embedding_columns(dim))
    return pd.concat([pd.DataFrame(rows), features], axis=1)


def _nss_top1(profiles: pd.DataFrame) -> float:
    features = schema.feature_columns(profiles.columns)
    hits = retrieve_replicates(profiles, features, exclude_same=[schema.SOURCE], ks=[1])
    return summarise_retrieval(hits, [1])["top1"]


def test_default_chain_keeps_known_truth_signal_that_the_old_chain_destroys():
    """Per-plate MAD on 8 DMSO wells then ZCA on a near-singular 128-d DMSO covariance amplifies the
    quiet directions into noise; the default chain (plate DMSO centring, pooled MAD, PCA to k, shrunk
    sphering only where DMSO outnumbers the dimensions) keeps the raw wells' NSS top-1."""
    profiles = _known_truth_profiles()
    base = make_config(NormalizationConfig, "reporting.normalization", env="base")
    old = make_config(
        NormalizationConfig,
        "reporting.normalization",
        env="base",
        chains={"old": ["variance_filter", "mad_robustize", "sphering"]},
    )
    raw = _nss_top1(profiles)
    default = _nss_top1(normalize_profiles(profiles, base, chain="default")[0])
    old_default = _nss_top1(normalize_profiles(profiles, old, chain="old")[0])
    assert raw > 0.8  # the truth is retrievable from the raw well means (0.85 at seed 0)
    assert default >= raw - 0.02  # 0.98 at seed 0
    assert old_default < raw - 0.3  # 0.16 at seed 0: the old default chain destroyed the signal
