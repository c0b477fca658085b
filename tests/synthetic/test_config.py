from __future__ import annotations

import pytest

from micon.errors import InvalidConfigError
from micon.sources.synthetic import SyntheticScreenConfig
from tests.parameters import make_config


def _n_sites(config: SyntheticScreenConfig) -> int:
    n_plates = config.n_sources * config.n_batches_per_source * config.n_plates_per_batch
    n_wells = n_plates * (config.n_compounds + config.n_invalid_compounds + config.n_dmso_wells_per_plate)
    return n_wells * config.sites_per_well


def test_synthetic_screen_config_base_parameters_valid_keep_default_run_small() -> None:
    config = make_config(SyntheticScreenConfig, "synthetic", env="base")
    # NSS and NSB need several sources and batches; robust DMSO normalisation needs >= 16 wells a plate
    assert (config.n_sources, config.n_batches_per_source) == (3, 2)
    assert config.n_invalid_compounds >= 1
    assert config.n_dmso_wells_per_plate >= 16
    assert config.inactive_fraction == 0.5
    assert config.field_size_px <= 192
    assert _n_sites(config) <= 300
    assert _n_sites(config) * config.mean_cells_per_field <= 5_000
    assert config.treatment_model == "state_dependent"


def test_synthetic_screen_config_benchmark_parameters_keep_the_full_size_screen() -> None:
    base = make_config(SyntheticScreenConfig, "synthetic", env="base")
    config = make_config(SyntheticScreenConfig, "synthetic", env="benchmark")
    # 3 sources x 3 batches (one per training source becomes the tuning's validation batch) x 2 plates
    assert (config.n_sources, config.n_batches_per_source, config.n_plates_per_batch) == (3, 3, 2)
    assert config.n_compounds == 64
    assert _n_sites(config) <= 1600
    assert _n_sites(config) * config.mean_cells_per_field <= 30_000
    # only the screen's size differs from the default run's
    assert {k: v for k, v in vars(config).items() if getattr(base, k) != v}.keys() == {
        "n_batches_per_source",
        "n_plates_per_batch",
        "n_compounds",
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n_sources", 0),
        ("n_batches_per_source", 0),
        ("n_plates_per_batch", -1),
        ("n_compounds", 0),
        ("n_compounds", 500),
        ("n_layouts", 0),
        ("inactive_fraction", 1.5),
        ("response_threshold", 1.0),
        ("concentration_uM", 0.0),
        ("treatment_model", "multiplicative"),
        ("max_crosstalk", -0.1),
        ("n_invalid_compounds", -1),
        ("n_dmso_wells_per_plate", 0),
        ("n_dmso_wells_per_plate", 400),
        ("sites_per_well", 0),
        ("field_size_px", 16),
        ("mean_cells_per_field", 0.0),
        ("phenotype_strength", -0.1),
        ("source_gain_log_sd", -1.0),
        ("max_vignetting", 1.0),
        ("max_blur_sigma_px", -0.5),
    ],
)
def test_synthetic_screen_config_out_of_range_raises_naming_field(field: str, value: object) -> None:
    with pytest.raises(InvalidConfigError, match=field):
        make_config(SyntheticScreenConfig, "synthetic", **{field: value})


def test_synthetic_screen_config_too_many_forms_raises_naming_salt_forms() -> None:
    with pytest.raises(InvalidConfigError, match="n_salt_forms"):
        make_config(
            SyntheticScreenConfig,
            "synthetic",
            n_compounds=4,
            n_salt_forms=3,
            n_charged_forms=1,
            n_noncanonical_forms=1,
        )


@pytest.mark.parametrize(("field", "value"), [("n_sources", 2.5), ("seed", "0"), ("n_compounds", True)])
def test_synthetic_screen_config_wrong_type_raises_naming_field(field: str, value: object) -> None:
    with pytest.raises(InvalidConfigError, match=field):
        make_config(SyntheticScreenConfig, "synthetic", **{field: value})


def test_synthetic_screen_config_positional_arguments_raise_type_error() -> None:
    with pytest.raises(TypeError):
        SyntheticScreenConfig(0)  # type: ignore[misc]


def test_synthetic_screen_config_unknown_field_raises_type_error() -> None:
    with pytest.raises(TypeError, match="n_wells"):
        make_config(SyntheticScreenConfig, "synthetic", n_wells=3)  # type: ignore[call-arg]
