from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.errors import InvalidConfigError, InvalidImageError, MissingColumnsError
from micon.imaging.cell_features import (
    CELLS,
    COMPARTMENTS,
    CellFeaturesConfig,
    compartment_masks,
    feature_names,
    measure_cell_features,
    radial_distribution,
)
from tests.parameters import make_config

SIZE = 32
CHANNELS = ("AGP", "DNA")
# Shape, intensity and texture only: a flat stain has no Pearson correlation (0/0).
NO_CORRELATION = make_config(
    CellFeaturesConfig, "data_engineering.cell_features", correlation=False, texture_scales=(1,), batch_size=3
)


def _disc(radius: float, size: int = SIZE) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size]
    return (yy - size // 2) ** 2 + (xx - size // 2) ** 2 <= radius**2


def _masks(nucleus: np.ndarray, cell: np.ndarray) -> np.ndarray:
    return np.stack([nucleus, cell]).astype(np.uint16)[None]


def _index(n: int) -> pd.DataFrame:
    return pd.DataFrame({schema.CROP_ID: np.arange(n), schema.WELL: [f"A{i:02d}" for i in range(n)]})


def _flat_cell(values=(1000, 2000)) -> tuple[np.ndarray, np.ndarray]:
    """A cell of radius 10 with a nucleus of radius 4, each channel flat inside the cell, 0 outside."""
    cell = _disc(10)
    crops = np.stack([np.where(cell, v, 0) for v in values]).astype(np.uint16)[None]
    return crops, _masks(_disc(4), cell)


def test_disc_shape_and_intensity_hand_computed():
    crops, masks = _flat_cell()
    result = measure_cell_features(crops, masks, _index(1), NO_CORRELATION, channels=CHANNELS)
    row = result.features.iloc[0]
    area = int(_disc(10).sum())
    nucleus_area = int(_disc(4).sum())
    assert row["Cells_AreaShape_Area"] == area
    assert row["Nuclei_AreaShape_Area"] == nucleus_area
    assert row["Cells_AreaShape_Eccentricity"] < 0.1
    assert row["Cells_AreaShape_FormFactor"] == pytest.approx(1.0, abs=0.15)
    assert 0.9 < row["Cells_AreaShape_Solidity"] <= 1.0  # a pixel disc against its polygonal hull
    assert row["Cells_AreaShape_MaxFeretDiameter"] == pytest.approx(21.0, abs=1.0)
    assert row["Cells_Intensity_MeanIntensity_DNA"] == pytest.approx(2000 / 65535)
    assert row["Cells_Intensity_IntegratedIntensity_AGP"] == pytest.approx(area * 1000 / 65535)
    assert row["Cytoplasm_Intensity_IntegratedIntensity_AGP"] == pytest.approx(
        (area - nucleus_area) * 1000 / 65535
    )
    assert row["Nuclei_Intensity_StdIntensity_DNA"] == pytest.approx(0.0, abs=1e-12)
    assert row["Cells_Intensity_MassDisplacement_DNA"] == pytest.approx(0.0, abs=1e-9)
    assert row["Cells_Intensity_MedianIntensity_DNA"] == pytest.approx(2000 / 65535)
    # A flat stain: uniform texture, and each ring holds its share of the pixels
    assert row["Cells_Texture_Contrast_DNA_1_16"] == 0.0
    assert row["Cells_Texture_AngularSecondMoment_DNA_1_16"] == pytest.approx(1.0)
    for ring in range(1, 5):
        assert row[f"Cells_RadialDistribution_MeanFrac_DNA_{ring}of4"] == pytest.approx(1.0)
        assert row[f"Cells_RadialDistribution_RadialCV_DNA_{ring}of4"] == pytest.approx(0.0, abs=1e-9)


def test_checkerboard_has_more_texture_contrast_than_flat():
    cell = _disc(12)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    checker = np.where((yy + xx) % 2 == 0, 4000, 1000)
    crops = np.stack([np.stack([np.where(cell, 2500, 0), np.where(cell, checker, 0)])] * 2).astype(np.uint16)
    masks = np.concatenate([_masks(_disc(4), cell)] * 2)
    result = measure_cell_features(crops, masks, _index(2), NO_CORRELATION, channels=("Flat", "Checker"))
    row = result.features.iloc[0]
    assert row["Cells_Texture_Contrast_Flat_1_16"] == 0.0
    # 4000 is the channel's reference (level 15), 1000 is level 1 + floor(0.25 * 15) = 4: horizontal and
    # vertical pairs always differ by 11 levels, diagonal pairs never, so the mean contrast is 121 / 2.
    assert row["Cells_Texture_Contrast_Checker_1_16"] == pytest.approx(60.5)
    assert (
        row["Cells_Texture_AngularSecondMoment_Checker_1_16"]
        < row["Cells_Texture_AngularSecondMoment_Flat_1_16"]
    )
    assert row["Cells_Texture_Entropy_Checker_1_16"] > row["Cells_Texture_Entropy_Flat_1_16"]


def test_features_follow_crop_index_order_and_subset():
    rng = np.random.default_rng(0)
    crops, masks = _flat_cell()
    crops = np.concatenate([crops] * 4) + rng.integers(0, 500, (4, 2, SIZE, SIZE)).astype(np.uint16)
    masks = np.concatenate([masks] * 4)
    config = make_config(
        CellFeaturesConfig, "data_engineering.cell_features", texture_scales=(1,), batch_size=2
    )
    whole = measure_cell_features(crops, masks, _index(4), config, channels=CHANNELS).features
    index = _index(4).iloc[[3, 1]]
    subset = measure_cell_features(crops, masks, index, config, channels=CHANNELS).features
    assert subset[schema.CROP_ID].tolist() == [3, 1]
    assert list(subset.columns) == [*index.columns, *feature_names(CHANNELS, config)]
    expected = whole.set_index(schema.CROP_ID).loc[[3, 1]].reset_index()
    pd.testing.assert_frame_equal(subset, expected)
    assert np.isfinite(subset[feature_names(CHANNELS, config)].to_numpy()).all()


@pytest.mark.slow
def test_parallel_equals_sequential():
    rng = np.random.default_rng(1)
    crops, masks = _flat_cell()
    crops = np.concatenate([crops] * 4) + rng.integers(0, 500, (4, 2, SIZE, SIZE)).astype(np.uint16)
    masks = np.concatenate([masks] * 4)
    config = make_config(
        CellFeaturesConfig, "data_engineering.cell_features", texture_scales=(1,), batch_size=2
    )
    one = measure_cell_features(crops, masks, _index(4), config, channels=CHANNELS).features
    two = measure_cell_features(
        crops, masks, _index(4), replace(config, n_jobs=2), channels=CHANNELS
    ).features
    pd.testing.assert_frame_equal(one, two)


def test_empty_compartment_and_non_finite_quarantined():
    good, good_masks = _flat_cell()
    rng = np.random.default_rng(2)
    noisy = good + rng.integers(0, 500, good.shape).astype(np.uint16)
    no_cytoplasm = _masks(_disc(4), _disc(4))
    no_nucleus = _masks(np.zeros((SIZE, SIZE), bool), _disc(10))
    tiny_nucleus = np.zeros((SIZE, SIZE), bool)
    tiny_nucleus[15:17, 15:17] = True  # no pixel pair 3 px apart: no texture at scale 3
    crops = np.concatenate([noisy] * 4)
    masks = np.concatenate([good_masks, no_cytoplasm, no_nucleus, _masks(tiny_nucleus, _disc(10))])
    result = measure_cell_features(
        crops,
        masks,
        _index(4),
        make_config(CellFeaturesConfig, "data_engineering.cell_features"),
        channels=CHANNELS,
    )
    assert result.features[schema.CROP_ID].tolist() == [0]
    quarantine = result.quarantine
    assert list(quarantine.columns) == [schema.CROP_ID, "stage", "reason", "detail"]
    assert quarantine[schema.CROP_ID].tolist() == [1, 2, 3]
    assert quarantine["reason"].tolist() == ["empty_compartment", "empty_compartment", "non_finite_features"]
    assert "Cytoplasm" in quarantine["detail"].iloc[0]
    assert "Nuclei" in quarantine["detail"].iloc[1]
    assert "Nuclei_Texture" in quarantine["detail"].iloc[2] and "_3_16" in quarantine["detail"].iloc[2]
    assert len(result.features) + len(quarantine) == 4


def test_everything_quarantined_gives_empty_feature_table():
    crops, _ = _flat_cell()
    result = measure_cell_features(
        crops, _masks(_disc(4), _disc(4)), _index(1), NO_CORRELATION, channels=CHANNELS
    )
    assert len(result.features) == 0
    assert list(result.features.columns) == [*_index(1).columns, *feature_names(CHANNELS, NO_CORRELATION)]
    assert result.quarantine["reason"].tolist() == ["empty_compartment"]


def test_feature_names_cellprofiler_style():
    names = feature_names(CHANNELS, make_config(CellFeaturesConfig, "data_engineering.cell_features"))
    assert len(names) == len(set(names))
    assert {"Nuclei_Intensity_MeanIntensity_DNA", "Cytoplasm_Intensity_MeanIntensity_AGP"} <= set(names)
    assert {
        "Cells_AreaShape_Area",
        "Nuclei_AreaShape_Zernike_2_0",
        "Cells_Correlation_Correlation_AGP_DNA",
    } <= set(names)
    assert {"Cytoplasm_Texture_Contrast_DNA_3_16", "Cells_RadialDistribution_FracAtD_AGP_1of4"} <= set(names)
    assert not any("Location" in n or "Center" in n or "Orientation" in n for n in names)
    assert all(n.split("_", 1)[0] in COMPARTMENTS for n in names)
    assert not any(
        n.startswith("Cytoplasm_AreaShape") for n in names
    )  # not in the default shape_compartments
    shape_only = make_config(
        CellFeaturesConfig,
        "data_engineering.cell_features",
        intensity=False,
        texture=False,
        radial_distribution=False,
        correlation=False,
        zernike_degree=0,
    )
    assert all("_AreaShape_" in n for n in feature_names(CHANNELS, shape_only))


def test_radial_distribution_fractions_sum_to_one_and_follow_the_stain():
    cell, nucleus = _disc(12), _disc(3)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    rim = np.hypot(yy - SIZE // 2, xx - SIZE // 2) / 12.0  # brighter towards the edge
    pixels = np.stack([np.where(cell, 1.0, 0.0), np.where(cell, rim, 0.0)])[None]
    radial = radial_distribution(pixels, nucleus[None], cell[None], 4)
    np.testing.assert_allclose(radial["FracAtD"].sum(axis=2), 1.0)
    np.testing.assert_allclose(radial["MeanFrac"][0, 0], 1.0)
    assert np.all(np.diff(radial["MeanFrac"][0, 1]) > 0)


def test_compartment_masks_cytoplasm_is_cell_minus_nucleus():
    masks = _masks(_disc(4), _disc(10))
    parts = compartment_masks(masks)
    np.testing.assert_array_equal(parts["Cytoplasm"][0], _disc(10) & ~_disc(4))
    np.testing.assert_array_equal(parts[CELLS][0], _disc(10))


def test_bad_inputs_raise():
    crops, masks = _flat_cell()
    with pytest.raises(MissingColumnsError, match="Metadata_CropID"):
        measure_cell_features(crops, masks, pd.DataFrame({"x": [0]}), NO_CORRELATION, channels=CHANNELS)
    with pytest.raises(InvalidImageError, match="crops must be"):
        measure_cell_features(crops, masks, _index(1), NO_CORRELATION, channels=("DNA",))
    with pytest.raises(InvalidImageError, match="masks must be"):
        measure_cell_features(crops, masks[:, :1], _index(1), NO_CORRELATION, channels=CHANNELS)
    with pytest.raises(InvalidImageError, match="crop ids span"):
        measure_cell_features(crops, masks, _index(2), NO_CORRELATION, channels=CHANNELS)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        (
            {
                "intensity": False,
                "texture": False,
                "shape": False,
                "radial_distribution": False,
                "correlation": False,
            },
            "switched off",
        ),
        ({"texture_scales": (0,)}, "texture_scales"),
        ({"texture_gray_levels": 1}, "texture_gray_levels"),
        ({"texture_percentile": 0}, "texture_percentile"),
        ({"shape_compartments": ("Nucleus",)}, "shape_compartments"),
        ({"zernike_degree": -1}, "zernike_degree"),
        ({"radial_bins": 1}, "radial_bins"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_config_rejects_bad_values(changes, match):
    with pytest.raises(InvalidConfigError, match=match):
        make_config(CellFeaturesConfig, "data_engineering.cell_features", **changes)
