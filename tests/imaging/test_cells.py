import numpy as np
import pytest

from micon.errors import InvalidConfigError, InvalidImageError
from micon.imaging import CellsConfig, segment_cells
from micon.imaging.cells import cytoplasm_composite
from tests.parameters import make_config

SHAPE = (48, 80)


def _disc(centre, radius, shape=SHAPE):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - centre[0]) ** 2 + (xx - centre[1]) ** 2 <= radius**2


def _two_cells():
    """Two nuclei (labels 3 and 7) in cells of radius 12 whose stain touches between them."""
    nuclei = np.zeros(SHAPE, dtype=np.int32)
    nuclei[_disc((24, 24), 4)] = 3
    nuclei[_disc((24, 50), 4)] = 7
    stain = np.full(SHAPE, 50.0)
    stain[_disc((24, 24), 12) | _disc((24, 50), 12)] = 1000.0
    return nuclei, stain


def test_segment_cells_grows_each_nucleus_over_its_stain():
    nuclei, stain = _two_cells()
    cells = segment_cells(nuclei, stain, make_config(CellsConfig, "data_engineering.crops.cells"))
    assert cells.dtype == np.int32 and set(np.unique(cells)) == {0, 3, 7}
    assert (cells[nuclei > 0] == nuclei[nuclei > 0]).all()  # each nucleus inside its own cell
    far = ~(_disc((24, 24), 14) | _disc((24, 50), 14))
    assert (cells[far] == 0).all()  # background stays background (smoothing may add a 1-2 px rim)
    inside = _disc((24, 24), 10)
    assert (cells[inside & (np.mgrid[: SHAPE[0], : SHAPE[1]][1] < 33)] == 3).all()
    # the boundary between the touching cells runs where they meet (x = 37)
    row = cells[24]
    assert row[36] == 3 and row[38] == 7


def test_segment_cells_no_nuclei_gives_empty_labels():
    _, stain = _two_cells()
    cells = segment_cells(
        np.zeros(SHAPE, dtype=np.int32), stain, make_config(CellsConfig, "data_engineering.crops.cells")
    )
    assert not cells.any()


def test_segment_cells_flat_stain_keeps_the_nuclei():
    nuclei, _ = _two_cells()
    cells = segment_cells(
        nuclei, np.full(SHAPE, 5.0), make_config(CellsConfig, "data_engineering.crops.cells")
    )
    np.testing.assert_array_equal(cells, nuclei)


def test_cytoplasm_composite_puts_stains_on_one_scale():
    field = np.stack([np.full((4, 4), 10.0), np.full((4, 4), 1000.0), np.zeros((4, 4))])
    field[:, 0, 0] = [20.0, 2000.0, 0.0]
    composite = cytoplasm_composite(field, [0, 1])
    assert composite[1, 1] == pytest.approx(composite[1, 1])
    np.testing.assert_allclose(composite, cytoplasm_composite(field, [0]))
    assert np.isfinite(cytoplasm_composite(field, [2])).all()  # a blank stain is not divided by 0


@pytest.mark.parametrize(
    ("nuclei", "stain", "match"),
    [
        (np.zeros((4, 4), dtype=np.int32), np.zeros((4, 5)), "one shape"),
        (np.zeros((4, 4), dtype=float), np.zeros((4, 4)), "integer"),
        (np.zeros((4, 4), dtype=np.int32), np.full((4, 4), np.nan), "NaN"),
    ],
)
def test_segment_cells_bad_images_raise(nuclei, stain, match):
    with pytest.raises(InvalidImageError, match=match):
        segment_cells(nuclei, stain, make_config(CellsConfig, "data_engineering.crops.cells"))


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"gaussian_sigma_px": -1.0}, "gaussian_sigma_px"),
        ({"compactness": -1.0}, "compactness"),
        ({"threshold_correction": 0.0}, "threshold_correction"),
    ],
)
def test_cells_config_rejects_bad_values(changes, match):
    with pytest.raises(InvalidConfigError, match=match):
        make_config(CellsConfig, "data_engineering.crops.cells", **changes)
