import numpy as np
import pytest

from micon.errors import InvalidConfigError
from micon.imaging.nuclei import NucleiConfig, segment_nuclei
from micon.imaging.plausibility import (
    NucleusPlausibilityConfig,
    check_nucleus_statistics,
    measure_nuclei,
    screen_outliers,
)
from tests.imaging.conftest import draw_discs
from tests.parameters import make_config

NUCLEI = make_config(NucleiConfig, "data_engineering.crops.nuclei")
CONFIG = make_config(NucleusPlausibilityConfig, "data_engineering.crops.plausibility")
CENTRES = [(20.0, 20.0), (20.0, 60.0), (60.0, 40.0), (45.0, 70.0)]


def _statistics(image):
    return measure_nuclei(image, segment_nuclei(image, NUCLEI))


def test_measure_nuclei_blob_cells_are_nuclei():
    stats = _statistics(draw_discs((80, 80), CENTRES, radius=6, noise=30.0))
    assert stats.n_objects == 4
    assert stats.contrast_fraction > 0.5 and stats.contrast_to_noise > 20
    assert stats.solidity > 0.9 and stats.isolation == 1.0
    assert check_nucleus_statistics(stats, CONFIG, key="f") is None


@pytest.mark.parametrize(
    "image",
    [
        np.clip(np.random.default_rng(0).normal(1000, 100, (80, 80)), 0, None).astype(np.uint16),
        np.random.default_rng(0).poisson(10, (80, 80)).astype(np.uint16),
        (100 + 30 * np.mgrid[:80, :80][1]).astype(np.uint16),
    ],
    ids=["gaussian_noise", "shot_noise", "gradient"],
)
def test_check_nucleus_statistics_field_without_cells_no_real_nuclei(image):
    stats = _statistics(image)
    assert stats.n_objects > 5  # Otsu always finds "objects"
    reason, detail = check_nucleus_statistics(stats, CONFIG, key="site s/p/w/1")
    assert reason == "no_real_nuclei"
    assert "site s/p/w/1" in detail and "median" in detail


def test_check_nucleus_statistics_no_object_is_not_its_business():
    stats = measure_nuclei(np.zeros((8, 8)), np.zeros((8, 8), dtype=np.int32))
    assert check_nucleus_statistics(stats, CONFIG, key="f") is None


def test_screen_outliers_flags_fields_far_from_the_screen_median():
    config = make_config(
        NucleusPlausibilityConfig, "data_engineering.crops.plausibility", min_sites_for_screen_check=5
    )
    mask, median = screen_outliers([60, 55, 70, 65, 58, 400, 10], config)
    assert median == 60
    assert mask.tolist() == [False, False, False, False, False, True, True]
    mask, _ = screen_outliers([60, 400], config)  # too few fields to judge
    assert not mask.any()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"min_solidity": 1.5}, "min_solidity"),
        ({"min_contrast_to_noise": -1}, "min_contrast_to_noise"),
        ({"max_area_ratio_to_screen": 0.5}, "max_area_ratio_to_screen"),
        ({"min_sites_for_screen_check": 0}, "min_sites_for_screen_check"),
    ],
)
def test_nucleus_plausibility_config_bad_value_raises(kwargs, match):
    with pytest.raises(InvalidConfigError, match=match):
        make_config(NucleusPlausibilityConfig, "data_engineering.crops.plausibility", **kwargs)
