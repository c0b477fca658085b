import numpy as np
import pandas as pd
import pytest

from micon.errors import InvalidConfigError, InvalidImageError
from micon.imaging import NucleiConfig, detect_nuclei, segment_nuclei
from micon.imaging.nuclei import nuclei_table
from tests.parameters import make_config

CENTRES = [(15.0, 15.0), (15.0, 45.0), (40.0, 30.0), (50.0, 10.0)]


def test_detect_nuclei_separate_discs_finds_each_centroid(disc_image):
    image = disc_image((64, 64), CENTRES, noise=20.0)
    nuclei = detect_nuclei(image, make_config(NucleiConfig, "data_engineering.crops.nuclei"))
    assert list(nuclei.columns) == ["y", "x", "area_px"]
    assert len(nuclei) == len(CENTRES)
    expected = np.array(sorted(CENTRES))
    found = nuclei[["y", "x"]].to_numpy()
    np.testing.assert_allclose(found, expected, atol=1.0)
    assert (nuclei["area_px"].between(70, 100)).all()  # pi * 5^2 ~ 79 px


def test_detect_nuclei_touching_discs_split_in_two(disc_image):
    image = disc_image((40, 60), [(20.0, 24.0), (20.0, 35.0)], radius=6.0)
    nuclei = detect_nuclei(
        image, make_config(NucleiConfig, "data_engineering.crops.nuclei", gaussian_sigma_px=0.5)
    )
    assert len(nuclei) == 2
    np.testing.assert_allclose(nuclei["y"], [20.0, 20.0], atol=1.0)
    assert nuclei["x"].iloc[0] < 29.5 < nuclei["x"].iloc[1]


def test_detect_nuclei_touching_discs_without_split_one_object(disc_image):
    image = disc_image((40, 60), [(20.0, 24.0), (20.0, 35.0)], radius=6.0)
    nuclei = detect_nuclei(
        image,
        make_config(
            NucleiConfig, "data_engineering.crops.nuclei", gaussian_sigma_px=0.5, split_touching=False
        ),
    )
    assert len(nuclei) == 1


@pytest.mark.parametrize("value", [0, 1234])
def test_detect_nuclei_blank_image_empty_table(value):
    nuclei = detect_nuclei(
        np.full((32, 32), value, dtype=np.uint16), make_config(NucleiConfig, "data_engineering.crops.nuclei")
    )
    assert isinstance(nuclei, pd.DataFrame)
    assert nuclei.empty
    assert list(nuclei.columns) == ["y", "x", "area_px"]


def test_detect_nuclei_small_and_large_objects_dropped(disc_image):
    image = disc_image((80, 80), [(20.0, 20.0)], radius=5.0)
    image[60:62, 60:62] = 3000  # 4 px speck
    nuclei = detect_nuclei(
        image, make_config(NucleiConfig, "data_engineering.crops.nuclei", min_area_px=20, max_area_px=60)
    )
    assert nuclei.empty  # the disc (~79 px) is above max_area_px, the speck below min_area_px
    nuclei = detect_nuclei(
        image, make_config(NucleiConfig, "data_engineering.crops.nuclei", min_area_px=20, max_area_px=200)
    )
    assert len(nuclei) == 1


def test_detect_nuclei_ring_holes_filled(disc_image):
    image = disc_image((40, 40), [(20.0, 20.0)], radius=8.0)
    yy, xx = np.mgrid[:40, :40]
    image[(yy - 20) ** 2 + (xx - 20) ** 2 <= 9] = 100  # dark hole inside the nucleus
    nuclei = detect_nuclei(
        image, make_config(NucleiConfig, "data_engineering.crops.nuclei", gaussian_sigma_px=0.0)
    )
    assert len(nuclei) == 1
    assert nuclei["area_px"].iloc[0] > 190  # hole filled: ~ pi * 8^2 = 201


@pytest.mark.parametrize("shape", [(5, 32, 32), (32,)])
def test_detect_nuclei_non_2d_raises(shape):
    with pytest.raises(InvalidImageError, match=str(shape).replace("(", r"\(").replace(")", r"\)")):
        detect_nuclei(
            np.zeros(shape, dtype=np.uint16), make_config(NucleiConfig, "data_engineering.crops.nuclei")
        )


def test_detect_nuclei_nan_raises():
    image = np.zeros((8, 8))
    image[0, 0] = np.nan
    with pytest.raises(InvalidImageError, match="NaN"):
        detect_nuclei(image, make_config(NucleiConfig, "data_engineering.crops.nuclei"))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"gaussian_sigma_px": -1.0}, "gaussian_sigma_px"),
        ({"min_area_px": 0}, "min_area_px"),
        ({"min_area_px": 50, "max_area_px": 50}, "max_area_px"),
        ({"min_distance_px": 0}, "min_distance_px"),
    ],
)
def test_nuclei_config_invalid_value_raises(kwargs, match):
    with pytest.raises(InvalidConfigError, match=match):
        make_config(NucleiConfig, "data_engineering.crops.nuclei", **kwargs)


def test_segment_nuclei_labels_match_the_table(disc_image):
    image = disc_image((80, 80), [*CENTRES[:3], (70.0, 70.0)], noise=20.0)
    image[2:4, 2:4] = 3000  # 4 px speck, below min_area_px: background in the labels
    labels = segment_nuclei(image, make_config(NucleiConfig, "data_engineering.crops.nuclei"))
    assert labels.dtype == np.int32 and labels.shape == image.shape
    table = nuclei_table(labels)
    assert list(table.columns) == ["y", "x", "area_px", "label"]
    assert len(table) == 4 and labels[2:4, 2:4].max() == 0
    for row in table.itertuples():
        ys, xs = np.nonzero(labels == row.label)
        assert len(ys) == row.area_px
        assert ys.mean() == pytest.approx(row.y) and xs.mean() == pytest.approx(row.x)
    pd.testing.assert_frame_equal(
        detect_nuclei(image, make_config(NucleiConfig, "data_engineering.crops.nuclei")),
        table[["y", "x", "area_px"]],
    )


def test_nuclei_table_of_empty_labels_is_empty():
    table = nuclei_table(np.zeros((8, 8), dtype=np.int32))
    assert table.empty and list(table.columns) == ["y", "x", "area_px", "label"]


@pytest.fixture
def blob_masks() -> list[np.ndarray]:
    """Random masks of blobs with holes, blobs touching the border and blobs meeting only diagonally."""
    from scipy import ndimage as ndi  # noqa: PLC0415

    rng = np.random.default_rng(3)
    masks = [ndi.gaussian_filter(rng.random((48, 56)), 1.5) > 0.52 for _ in range(6)]
    diagonal = np.zeros((8, 8), dtype=bool)
    diagonal[1:4, 1:4] = diagonal[4:7, 4:7] = True  # two squares meeting at a corner
    diagonal[2, 2] = False  # a hole
    return [*masks, diagonal, np.ones((5, 5), dtype=bool), np.zeros((5, 5), dtype=bool)]


def test_fill_holes_and_labelling_equal_the_library_calls_they_replace(blob_masks):
    from scipy import ndimage as ndi  # noqa: PLC0415
    from skimage.morphology import remove_small_objects  # noqa: PLC0415

    from micon.imaging.nuclei import _fill_holes, _label_large_objects  # noqa: PLC0415

    for mask in blob_masks:
        np.testing.assert_array_equal(_fill_holes(mask), ndi.binary_fill_holes(mask))
        for min_area in (1, 4, 12):
            labels, n = _label_large_objects(mask, min_area)
            expected, n_expected = ndi.label(remove_small_objects(mask, max_size=min_area - 1))
            assert n == n_expected
            np.testing.assert_array_equal(labels, expected)


def test_object_distance_equals_the_whole_field_distance_transform(blob_masks):
    from scipy import ndimage as ndi  # noqa: PLC0415

    from micon.imaging.nuclei import _object_distance  # noqa: PLC0415

    for mask in blob_masks[:-1]:  # an all-background field has no object
        labels, _ = ndi.label(mask)
        np.testing.assert_array_equal(
            _object_distance(labels, ndi.find_objects(labels)), ndi.distance_transform_edt(mask)
        )
