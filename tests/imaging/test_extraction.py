import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.errors import InvalidConfigError, InvalidInputError, MissingColumnsError
from micon.imaging import CropExtractionConfig, NucleiConfig, extract_crop_table
from micon.sources.synthetic import SYNTHETIC_PROFILE
from tests.parameters import make_config, parameter

NUCLEI = parameter("data_engineering.crops.nuclei")
CELLS = parameter("data_engineering.crops.cells")
# The stains of the synthetic screen (its source profile): the five Cell Painting channels.
STAINS = {
    "channels": SYNTHETIC_PROFILE.channels,
    "nuclear_channel": SYNTHETIC_PROFILE.nuclear_channel,
    "cytoplasm_channels": SYNTHETIC_PROFILE.cytoplasm_channels,
}

SIZE = 64
CENTRES = [(16.0, 16.0), (16.0, 44.0), (44.0, 30.0), (3.0, 60.0)]  # the last is too close to the border


def _field(draw_discs, seed: int) -> np.ndarray:
    """Return a 5-channel field: discs on every channel, channel-specific intensities."""
    return np.stack(
        [
            draw_discs((SIZE, SIZE), CENTRES, foreground=1000 * (c + 2), noise=10.0, seed=seed + c)
            for c in range(5)
        ]
    )


def _site_row(well: str, site: str) -> dict:
    row = {
        schema.SOURCE: "source_1",
        schema.BATCH: "batch_1",
        schema.PLATE: "plate_1",
        schema.WELL: well,
        schema.SITE: site,
        schema.JCP2022: f"JCP2022_{well}",
        "Unrelated": "dropped",
    }
    for ch in schema.CHANNELS:
        row[schema.path_name_column(ch)] = "source_1/plate_1/"
        row[schema.file_name_column(ch)] = f"{well}_s{site}_{ch}.tiff"
    return row


def _key(well: str, site: str, ch: str) -> str:
    return f"source_1/plate_1/{well}_s{site}_{ch}.tiff"


def _store(wells_sites, fields) -> dict:
    images = {}
    for (well, site), field in zip(wells_sites, fields, strict=True):
        for c, ch in enumerate(schema.CHANNELS):
            images[_key(well, site, ch)] = lambda a=field[c]: a
    return images


def _raise_oserror():
    raise OSError("truncated TIFF")


@pytest.fixture
def good_sites(disc_image):
    wells_sites = [("A01", "1"), ("A01", "2"), ("B02", "1")]
    sites = pd.DataFrame([_site_row(w, s) for w, s in wells_sites])
    images = _store(wells_sites, [_field(disc_image, i) for i in range(len(wells_sites))])
    return sites, images


@pytest.fixture
def config() -> CropExtractionConfig:
    return make_config(
        CropExtractionConfig,
        "data_engineering.crops",
        crop_size_px=16,
        nuclei={**NUCLEI, "min_area_px": 20, "gaussian_sigma_px": 1.0},
    )


def test_extract_crop_table_good_sites_crops_and_index(good_sites, config):
    sites, images = good_sites
    result = extract_crop_table(sites, images, config, **STAINS)
    assert result.crops.shape == (9, 5, 16, 16)
    assert result.crops.dtype == np.uint16
    index = result.crop_index
    np.testing.assert_array_equal(index[schema.CROP_ID], np.arange(9))
    assert list(index.columns) == [
        schema.CROP_ID,
        schema.SOURCE,
        schema.BATCH,
        schema.PLATE,
        schema.WELL,
        schema.SITE,
        schema.JCP2022,
        schema.CELL_X,
        schema.CELL_Y,
    ]
    assert index[schema.WELL].tolist() == ["A01"] * 6 + ["B02"] * 3
    assert index[schema.SITE].tolist() == ["1"] * 3 + ["2"] * 3 + ["1"] * 3
    assert index[schema.JCP2022].tolist() == ["JCP2022_A01"] * 6 + ["JCP2022_B02"] * 3
    np.testing.assert_allclose(index[schema.CELL_Y].iloc[:3], [16.0, 16.0, 44.0], atol=1.0)
    np.testing.assert_allclose(index[schema.CELL_X].iloc[:3], [16.0, 44.0, 30.0], atol=1.0)
    assert result.quarantine.empty
    summary = result.site_summary
    assert summary[["n_nuclei", "n_border_skipped", "n_crops"]].to_numpy().tolist() == [[4, 1, 3]] * 3


def test_extract_crop_table_crop_rows_match_field_pixels(good_sites, config):
    sites, images = good_sites
    result = extract_crop_table(sites, images, config, **STAINS)
    row = result.crop_index.iloc[4]  # site A01/2, second nucleus
    field = np.stack([images[_key("A01", "2", ch)]() for ch in schema.CHANNELS])
    y, x = int(np.floor(row[schema.CELL_Y] + 0.5)), int(np.floor(row[schema.CELL_X] + 0.5))
    np.testing.assert_array_equal(result.crops[4], field[:, y - 8 : y + 8, x - 8 : x + 8])


def test_extract_crop_table_channel_order_follows_channels(good_sites):
    sites, images = good_sites
    config = make_config(CropExtractionConfig, "data_engineering.crops", crop_size_px=16)
    stains = {**STAINS, "channels": ("DNA", "AGP"), "cytoplasm_channels": ("AGP",)}
    result = extract_crop_table(sites, images, config, **stains)
    assert result.crops.shape[1] == 2
    dna = images[_key("A01", "1", "DNA")]()
    row = result.crop_index.iloc[0]
    y, x = int(np.floor(row[schema.CELL_Y] + 0.5)), int(np.floor(row[schema.CELL_X] + 0.5))
    np.testing.assert_array_equal(result.crops[0, 0], dna[y - 8 : y + 8, x - 8 : x + 8])


def test_extract_crop_table_max_cells_subsample_seeded(good_sites):
    sites, images = good_sites
    config = make_config(
        CropExtractionConfig, "data_engineering.crops", crop_size_px=16, max_cells_per_site=2, seed=3
    )
    first = extract_crop_table(sites, images, config, **STAINS)
    again = extract_crop_table(sites, images, config, **STAINS)
    assert len(first.crops) == 6
    assert first.site_summary["n_crops"].tolist() == [2, 2, 2]
    pd.testing.assert_frame_equal(first.crop_index, again.crop_index)
    np.testing.assert_array_equal(first.crops, again.crops)


def test_extract_crop_table_defective_sites_quarantined(config, disc_image):
    rows, fields, images = [], [], {}
    cases = {
        "A01": "ok",
        "A02": "missing_image",
        "A03": "unreadable_image",
        "A04": "shape_mismatch",
        "A05": "channel_count",
        "A06": "blank_channel",
        "A07": "no_cells",
        "A08": "not_finite",
        "A09": "wrong_dtype",
    }
    for i, (well, case) in enumerate(cases.items()):
        rows.append(_site_row(well, "1"))
        field = _field(disc_image, i)
        fields.append(field)
        images.update(_store([(well, "1")], [field]))
        if case == "missing_image":
            del images[_key(well, "1", "ER")]
        elif case == "unreadable_image":
            images[_key(well, "1", "Mito")] = _raise_oserror
        elif case == "shape_mismatch":
            images[_key(well, "1", "RNA")] = lambda: np.ones((SIZE, SIZE + 1), dtype=np.uint16)
        elif case == "channel_count":
            images[_key(well, "1", "AGP")] = lambda: np.ones((SIZE, SIZE, 3), dtype=np.uint16)
        elif case == "blank_channel":
            images[_key(well, "1", "ER")] = lambda: np.zeros((SIZE, SIZE), dtype=np.uint16)
        elif case == "no_cells":
            images[_key(well, "1", "DNA")] = lambda: disc_image((SIZE, SIZE), [(2.0, 2.0)], noise=5.0)
        elif case == "not_finite":
            images[_key(well, "1", "AGP")] = lambda: np.full((SIZE, SIZE), np.nan)
        elif case == "wrong_dtype":
            images[_key(well, "1", "AGP")] = lambda: np.full((SIZE, SIZE), "x")
    sites = pd.DataFrame(rows)
    result = extract_crop_table(sites, images, config, **STAINS)

    assert len(result.site_summary) + len(result.quarantine) == len(sites)
    assert result.site_summary[schema.WELL].tolist() == ["A01"]
    quarantine = result.quarantine.set_index(schema.WELL)
    assert list(result.quarantine.columns) == [*schema.SITE_KEY, "stage", "reason", "detail"]
    assert (result.quarantine["stage"] == "extract_crop_table").all()
    for well, case in cases.items():
        if case == "ok":
            continue
        assert quarantine.loc[well, "reason"] == case
        assert f"source_1/plate_1/{well}/1" in quarantine.loc[well, "detail"]
    assert _key("A02", "1", "ER") in quarantine.loc["A02", "detail"]
    assert "truncated TIFF" in quarantine.loc["A03", "detail"]
    assert _key("A03", "1", "Mito") in quarantine.loc["A03", "detail"]
    assert "RNA=(64, 65)" in quarantine.loc["A04", "detail"]
    assert "ER" in quarantine.loc["A06", "detail"]
    np.testing.assert_array_equal(result.crop_index[schema.CROP_ID], np.arange(len(result.crops)))
    assert set(result.crop_index[schema.WELL]) == {"A01"}


def test_extract_crop_table_all_quarantined_empty_crops(good_sites, config):
    sites, _ = good_sites
    result = extract_crop_table(sites, {}, config, **STAINS)
    assert result.crops.shape == (0, 5, 16, 16)
    assert result.crop_index.empty
    assert schema.CROP_ID in result.crop_index.columns
    assert result.site_summary.empty
    assert (result.quarantine["reason"] == "missing_image").all()
    assert len(result.quarantine) == len(sites)


def test_extract_crop_table_missing_column_raises(good_sites, config):
    sites, images = good_sites
    with pytest.raises(MissingColumnsError, match="FileName_OrigDNA"):
        extract_crop_table(sites.drop(columns=["FileName_OrigDNA"]), images, config, **STAINS)


def test_extract_crop_table_duplicate_site_raises(good_sites, config):
    sites, images = good_sites
    with pytest.raises(InvalidInputError, match="A01"):
        extract_crop_table(pd.concat([sites, sites.iloc[:1]]), images, config, **STAINS)


def test_extract_crop_table_empty_sites_raises(good_sites, config):
    sites, images = good_sites
    with pytest.raises(InvalidInputError, match="empty"):
        extract_crop_table(sites.iloc[:0], images, config, **STAINS)


def test_extract_crop_table_cell_stain_not_among_channels_raises(good_sites, config):
    sites, images = good_sites
    with pytest.raises(InvalidInputError, match="RNA"):
        extract_crop_table(sites, images, config, **{**STAINS, "channels": ("DNA", "AGP")})


def test_extract_crop_table_no_nuclear_channel_raises(good_sites, config):
    sites, images = good_sites
    with pytest.raises(InvalidInputError, match="DNA"):
        extract_crop_table(sites, images, config, **{**STAINS, "channels": ("AGP", "ER", "RNA")})


def test_crop_extraction_config_nested_dict_builds_nuclei_config():
    config = make_config(
        CropExtractionConfig,
        "data_engineering.crops",
        nuclei={**NUCLEI, "min_area_px": 30, "split_touching": False},
    )
    assert config.nuclei == make_config(
        NucleiConfig, "data_engineering.crops.nuclei", min_area_px=30, split_touching=False
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"crop_size_px": 0}, InvalidConfigError, "crop_size_px"),
        ({"max_cells_per_site": 0}, InvalidConfigError, "max_cells_per_site"),
        ({"seed": -1}, InvalidConfigError, "seed"),
        ({"nuclei": {**NUCLEI, "min_area_px": 0}}, InvalidConfigError, "min_area_px"),
        ({"nuclei": {**NUCLEI, "bogus": 1}}, TypeError, "bogus"),
        ({"nuclei": 3}, InvalidConfigError, "nuclei"),
        ({"cells": {**CELLS, "compactness": -1}}, InvalidConfigError, "compactness"),
        ({"cells": 3}, InvalidConfigError, "cells"),
    ],
)
def test_crop_extraction_config_invalid_value_raises(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_config(CropExtractionConfig, "data_engineering.crops", **kwargs)


def _neighbours_site(draw_discs):
    """One site of two nuclei 10 px apart inside cytoplasm discs of radius 9 that touch."""
    centres = [(30.0, 25.0), (30.0, 37.0)]
    dna = draw_discs((SIZE, SIZE), centres, radius=4.0, noise=10.0)
    cytoplasm = draw_discs((SIZE, SIZE), centres, radius=9.0, foreground=2000, noise=10.0, seed=1)
    field = np.stack([dna if ch == "DNA" else cytoplasm for ch in schema.CHANNELS])
    sites = pd.DataFrame([_site_row("A01", "1")])
    return sites, _store([("A01", "1")], [field]), field


def test_extract_crop_table_masks_hold_only_the_centre_cell(disc_image):
    sites, images, field = _neighbours_site(disc_image)
    result = extract_crop_table(
        sites, images, make_config(CropExtractionConfig, "data_engineering.crops", crop_size_px=24), **STAINS
    )
    assert result.crops.shape == (2, 5, 24, 24)
    assert result.masks.shape == (2, 2, 24, 24) and result.masks.dtype == np.uint16
    nucleus, cell = result.masks[:, 0].astype(bool), result.masks[:, 1].astype(bool)
    assert not (nucleus & ~cell).any()  # cytoplasm = cell - nucleus is well defined
    dna = result.crops[:, schema.CHANNELS.index("DNA")]
    for i in range(2):
        assert nucleus[i, 12, 12] and cell[i, 12, 12]  # the crop's centre is its own nucleus
        bright = dna[i] > 1000
        assert (bright & ~nucleus[i]).sum() > 10  # part of the neighbour's nucleus is in the crop...
        assert not (nucleus[i] & (np.abs(np.arange(24) - 12) > 6)[None, :]).any()  # ...not in its mask
        assert 0.9 * np.pi * 4**2 < nucleus[i].sum() < 1.3 * np.pi * 4**2
        assert cell[i].sum() > 3 * nucleus[i].sum()
    # the two cells meet halfway: the left cell's mask stops before the right nucleus's column
    left = int(np.argmin(result.crop_index[schema.CELL_X]))
    assert not cell[left][:, 12 + 10 :].any()


def test_extract_crop_table_subsample_keeps_masks_aligned(disc_image):
    sites, images, _ = _neighbours_site(disc_image)
    full = extract_crop_table(
        sites, images, make_config(CropExtractionConfig, "data_engineering.crops", crop_size_px=24), **STAINS
    )
    one = extract_crop_table(
        sites,
        images,
        make_config(
            CropExtractionConfig, "data_engineering.crops", crop_size_px=24, max_cells_per_site=1, seed=1
        ),
        **STAINS,
    )
    kept = int(
        np.flatnonzero(np.isclose(full.crop_index[schema.CELL_X], one.crop_index[schema.CELL_X].iloc[0]))[0]
    )
    np.testing.assert_array_equal(one.crops[0], full.crops[kept])
    np.testing.assert_array_equal(one.masks[0], full.masks[kept])


def test_extract_crop_table_image_linked_out_of_the_root_quarantined_without_its_content(
    config, disc_image, tmp_path
):
    """A channel image that is a link out of the image folder: quarantined, its target never read or shown."""
    import tifffile  # noqa: PLC0415

    from micon.datasets import ConfinedPartitionedDataset, TiffImageDataset  # noqa: PLC0415

    root = tmp_path / "images"
    wells_sites = [("A01", "1"), ("A02", "1"), ("A03", "1")]
    for i, (well, site) in enumerate(wells_sites):
        for c, ch in enumerate(schema.CHANNELS):
            path = root / _key(well, site, ch)
            path.parent.mkdir(parents=True, exist_ok=True)
            tifffile.imwrite(path, _field(disc_image, i)[c])
    (tmp_path / "secret.tiff").write_bytes(b"root:x:0:0:secret-line\n")
    linked = root / _key("A02", "1", "Mito")
    linked.unlink()
    linked.symlink_to(tmp_path / "secret.tiff")
    fake = root / _key("A03", "1", "ER")  # inside the root but not a TIFF: unreadable, bytes not quoted
    fake.write_bytes(b"root:x:0:0:secret-line\n")
    images = ConfinedPartitionedDataset(path=str(root), dataset={"type": TiffImageDataset}).load()
    sites = pd.DataFrame([_site_row(w, s) for w, s in wells_sites])

    result = extract_crop_table(sites, images, config, **STAINS)

    quarantine = result.quarantine.set_index(schema.WELL)
    assert result.site_summary[schema.WELL].tolist() == ["A01"]
    assert quarantine.loc["A02", "reason"] == "path_outside_root"
    assert quarantine.loc["A03", "reason"] == "unreadable_image"
    assert _key("A02", "1", "Mito") in quarantine.loc["A02", "detail"]
    assert not quarantine["detail"].str.contains("root:x|secret|b'").any()
