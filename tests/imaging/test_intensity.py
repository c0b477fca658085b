import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.errors import InvalidConfigError, InvalidImageError, MissingColumnsError, NoControlsError
from micon.imaging.intensity import (
    CONTROL_CROP_COUNT,
    CropIntensityScaling,
    background_columns,
    fit_plate_intensity_references,
    scale_columns,
)


def _store() -> tuple[np.ndarray, pd.DataFrame]:
    """Two plates, 2 channels, 2x2 px; plate p1: 3 DMSO crops (one an outlier) and 1 treated crop."""
    pixels = {
        # plate p1, channel 0: minima 10, 20, 1000 and means 25, 40, 5000 -> background 20, scale 40 - 20.
        0: [[10, 20, 30, 40], [1, 2, 3, 4]],
        1: [[20, 20, 60, 60], [2, 2, 6, 6]],
        2: [[1000, 5000, 5000, 9000], [100, 500, 500, 900]],
        3: [[100, 100, 100, 100], [50, 50, 50, 50]],  # treated
        # plate p2 (other source, same plate name): one DMSO crop and one treated crop.
        4: [[0, 0, 10, 10], [5, 5, 5, 9]],
        5: [[7, 7, 7, 7], [7, 7, 7, 7]],
    }
    crops = np.array([pixels[i] for i in range(6)], dtype=np.uint16).reshape(6, 2, 2, 2)
    index = pd.DataFrame(
        {
            schema.CROP_ID: np.arange(6),
            schema.SOURCE: ["s1"] * 4 + ["s2"] * 2,
            schema.PLATE: ["p1"] * 4 + ["p1"] * 2,
            schema.IS_CONTROL: [True, True, True, False, True, False],
        }
    )
    return crops, index


def test_fit_plate_intensity_references_hand_computed_medians():
    crops, index = _store()
    references = fit_plate_intensity_references(crops, index, background_quantile=0.0)
    assert references[[schema.SOURCE, schema.PLATE]].values.tolist() == [["s1", "p1"], ["s2", "p1"]]
    assert references[CONTROL_CROP_COUNT].tolist() == [3, 1]
    background = references[background_columns(2)].to_numpy()
    scale = references[scale_columns(2)].to_numpy()
    # s1: channel 0 minima (10, 20, 1000), means (25, 40, 5000); channel 1 minima (1, 2, 100), means
    # (2.5, 4, 500). The outlier crop does not move the medians.
    np.testing.assert_allclose(background, [[20, 2], [0, 5]])
    np.testing.assert_allclose(scale, [[40 - 20, 4 - 2], [5 - 0, 6 - 5]])


def test_fit_plate_intensity_references_quantile_interpolates_pixels():
    crops, index = _store()
    references = fit_plate_intensity_references(crops, index.iloc[:1], background_quantile=0.25)
    # Crop 0 alone: the 0.25 quantile of (10, 20, 30, 40) is 17.5 and of (1, 2, 3, 4) is 1.75.
    np.testing.assert_allclose(references[background_columns(2)].to_numpy(), [[17.5, 1.75]])
    np.testing.assert_allclose(references[scale_columns(2)].to_numpy(), [[25 - 17.5, 2.5 - 1.75]])


def test_crop_intensity_scaling_applies_each_crops_plate_reference():
    crops, index = _store()
    references = fit_plate_intensity_references(crops, index, background_quantile=0.0)
    scaling = CropIntensityScaling.for_crops(references, index, n_crops=6)
    ids = np.array([3, 5])
    out = scaling.apply(crops[ids].astype(np.float32), ids)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0, 0], (100 - 20) / 20)
    np.testing.assert_allclose(out[0, 1], (50 - 2) / 2)
    np.testing.assert_allclose(out[1, 0], (7 - 0) / 5)
    np.testing.assert_allclose(out[1, 1], (7 - 5) / 1)


def test_crop_intensity_scaling_uncovered_crop_raises():
    crops, index = _store()
    references = fit_plate_intensity_references(crops, index[index[schema.SOURCE] == "s1"])
    scaling = CropIntensityScaling.for_crops(references, index[index[schema.SOURCE] == "s1"], n_crops=6)
    with pytest.raises(NoControlsError, match=r"\[5\]"):
        scaling.apply(crops[[5]].astype(np.float32), np.array([5]))


def test_crop_intensity_scaling_plate_without_reference_raises_naming_it():
    crops, index = _store()
    references = fit_plate_intensity_references(crops, index[index[schema.SOURCE] == "s1"])
    with pytest.raises(NoControlsError, match="p1"):
        CropIntensityScaling.for_crops(references, index, n_crops=6)


def test_fit_plate_intensity_references_plate_without_dmso_raises_naming_it():
    crops, index = _store()
    index = index.assign(**{schema.PLATE: ["p1"] * 4 + ["p9"] * 2})
    index.loc[4, schema.IS_CONTROL] = False
    with pytest.raises(NoControlsError, match="p9 \\(source s2\\)"):
        fit_plate_intensity_references(crops, index)


def test_fit_plate_intensity_references_flat_channel_raises_naming_plate():
    crops, index = _store()
    crops = crops.copy()
    crops[4, 1] = 3  # the only DMSO crop of s2/p1 is flat in channel 1: no signal above background
    with pytest.raises(InvalidImageError, match="'p1' \\(source 's2'\\).*channel 1"):
        fit_plate_intensity_references(crops, index)


def test_fit_plate_intensity_references_five_channels_named_by_schema():
    crops = np.ones((2, 5, 2, 2), dtype=np.uint16) * np.arange(1, 5, dtype=np.uint16).reshape(1, 1, 2, 2)
    index = pd.DataFrame(
        {schema.CROP_ID: [0, 1], schema.SOURCE: "s", schema.PLATE: "p", schema.IS_CONTROL: [True, False]}
    )
    references = fit_plate_intensity_references(crops, index)
    assert scale_columns(5) == [f"Scale_{c}" for c in schema.CHANNELS]
    assert set(scale_columns(5)) <= set(references.columns)


def test_fit_plate_intensity_references_missing_column_raises():
    crops, index = _store()
    with pytest.raises(MissingColumnsError, match=schema.IS_CONTROL):
        fit_plate_intensity_references(crops, index.drop(columns=[schema.IS_CONTROL]))


@pytest.mark.parametrize("kwargs", [{"background_quantile": 1.0}, {"chunk_crops": 0}])
def test_fit_plate_intensity_references_bad_settings_raise(kwargs):
    crops, index = _store()
    with pytest.raises(InvalidConfigError):
        fit_plate_intensity_references(crops, index, **kwargs)


def test_fit_plate_intensity_references_small_chunks_same_result():
    crops, index = _store()
    whole = fit_plate_intensity_references(crops, index)
    chunked = fit_plate_intensity_references(crops, index, chunk_crops=1)
    pd.testing.assert_frame_equal(whole, chunked)


def test_fit_plate_intensity_references_batch_group_fits_on_the_batchs_dmso():
    crops, index = _store()
    # one source, one batch: plate p2 has no DMSO crop of its own and is kept on its batch's controls
    index = index.assign(
        **{
            schema.SOURCE: "s1",
            schema.BATCH: "b1",
            schema.PLATE: ["p1"] * 4 + ["p2"] * 2,
            schema.CONTROL_GROUP: ["s1/p1"] * 4 + ["s1/b1"] * 2,
        }
    )
    index.loc[4, schema.IS_CONTROL] = False
    references = fit_plate_intensity_references(crops, index, background_quantile=0.0).set_index(schema.PLATE)
    assert references[CONTROL_CROP_COUNT].to_dict() == {"p1": 3, "p2": 3}
    np.testing.assert_allclose(
        references.loc["p2", background_columns(2)].to_numpy(dtype=float),
        references.loc["p1", background_columns(2)].to_numpy(dtype=float),
    )
