import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.errors import InvalidConfigError, NoControlsError
from micon.imaging import CropExtractionConfig, extract_crop_table
from micon.imaging.controls import ControlsConfig, count_plate_controls, enforce_plate_controls
from tests.imaging.conftest import draw_discs
from tests.parameters import make_config

SIZE = 48
STAINS = {"channels": schema.CHANNELS, "nuclear_channel": "DNA", "cytoplasm_channels": ("AGP", "RNA")}
CROPS = make_config(CropExtractionConfig, "data_engineering.crops", crop_size_px=12)
FIELD = np.stack(
    [
        draw_discs(
            (SIZE, SIZE), [(12, 12), (30, 34), (36, 12)], foreground=2000 + 500 * c, noise=20.0, seed=c
        )
        for c in range(5)
    ]
)
# plate -> (batch, usable DMSO wells, DMSO wells whose images are missing)
PLATES = {"p1": ("b1", 3, 0), "p2": ("b1", 1, 2), "p3": ("b2", 1, 2)}


def _screen() -> tuple[pd.DataFrame, dict]:
    rows, images = [], {}
    for plate, (batch, n_good, n_broken) in PLATES.items():
        wells = [(f"D{i}", True, i < n_good) for i in range(n_good + n_broken)] + [("T1", False, True)]
        for well, is_control, has_image in wells:
            row = {
                schema.SOURCE: "s",
                schema.BATCH: batch,
                schema.PLATE: plate,
                schema.WELL: well,
                schema.SITE: "1",
                schema.IS_CONTROL: is_control,
            }
            for c, ch in enumerate(schema.CHANNELS):
                row[schema.path_name_column(ch)] = plate
                row[schema.file_name_column(ch)] = f"{well}_{ch}"
                if has_image:
                    images[f"{plate}/{well}_{ch}"] = lambda a=FIELD[c]: a
            rows.append(row)
    return pd.DataFrame(rows), images


@pytest.fixture(scope="module")
def extracted():
    sites, images = _screen()
    return sites, extract_crop_table(sites, images, CROPS, **STAINS)


def _config(**kwargs) -> ControlsConfig:
    return make_config(ControlsConfig, "data_engineering.controls", **kwargs)


def test_count_plate_controls_listed_and_usable(extracted):
    sites, extraction = extracted
    counts = count_plate_controls(sites, extraction.crop_index).set_index(schema.PLATE)
    assert counts["n_listed_control_wells"].to_dict() == {"p1": 3, "p2": 3, "p3": 3}
    assert counts["n_usable_control_wells"].to_dict() == {"p1": 3, "p2": 1, "p3": 1}


def test_enforce_plate_controls_quarantine_plate_moves_its_sites_and_crops(extracted):
    sites, extraction = extracted
    result = enforce_plate_controls(extraction, sites, _config(too_few="quarantine_plate"))

    assert set(result.crop_index[schema.PLATE]) == {"p1"}
    assert result.crop_index[schema.CROP_ID].tolist() == list(range(len(result.crops)))
    assert len(result.crops) == len(result.masks) == len(result.crop_index)
    np.testing.assert_array_equal(
        result.crops, extraction.crops[(extraction.crop_index[schema.PLATE] == "p1").to_numpy()]
    )
    assert len(result.site_summary) + len(result.quarantine) == len(sites)
    moved = result.quarantine[result.quarantine["reason"] == "too_few_controls"]
    assert set(moved[schema.PLATE]) == {"p2", "p3"}
    assert len(moved) == 4  # one usable DMSO site and one treated site per plate
    assert (
        "plate p2 (source s, batch b1) has 1 usable DMSO well(s) after image QC (3 listed)"
        in moved["detail"].iloc[0]
    )
    assert "fewer than the 3 needed" in moved["detail"].iloc[0]
    assert set(result.crop_index[schema.CONTROL_GROUP]) == {"s/p1"}


def test_enforce_plate_controls_batch_fallback_keeps_plate_on_its_batch(extracted):
    sites, extraction = extracted
    result = enforce_plate_controls(extraction, sites, _config(too_few="batch_controls"))

    groups = result.crop_index.groupby(schema.PLATE)[schema.CONTROL_GROUP].unique().map(list).to_dict()
    assert groups == {"p1": ["s/p1"], "p2": ["s/b1"]}  # p3's batch b2 has 1 DMSO well: quarantined anyway
    assert set(result.quarantine.loc[result.quarantine["reason"] == "too_few_controls", schema.PLATE]) == {
        "p3"
    }
    assert len(result.site_summary) + len(result.quarantine) == len(sites)


def test_enforce_plate_controls_no_plate_left_raises_naming_plates_and_counts(extracted):
    sites, extraction = extracted
    with pytest.raises(
        NoControlsError, match=r"plate p1 \(source s, batch b1\): 3 usable of 3 listed"
    ) as info:
        enforce_plate_controls(extraction, sites, _config(min_wells_per_plate=4))
    assert "plate p3 (source s, batch b2): 1 usable of 3 listed" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "match"), [({"min_wells_per_plate": 0}, "min_wells"), ({"too_few": "ignore"}, "too_few")]
)
def test_controls_config_bad_value_raises(kwargs, match):
    with pytest.raises(InvalidConfigError, match=match):
        _config(**kwargs)
