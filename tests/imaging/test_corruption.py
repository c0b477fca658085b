"""Corruption suite: every broken field becomes one quarantine row with its reason, never a crop.

Fields are written as TIFFs in ``tmp_path`` and read back with tifffile, as the image store reads them;
real-looking fields (blob cells drawn here, and real BBBC021 fields when ``../shared/data`` has them)
must still pass: a false quarantine of real cells is worse than a miss.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

from micon import schema
from micon.imaging import CropExtractionConfig, extract_crop_table
from tests.imaging.conftest import draw_discs
from tests.parameters import make_config, parameter
from tests.shared_data import require_shared

SIZE = 96
CHANNELS = schema.CHANNELS
STAINS = {"channels": CHANNELS, "nuclear_channel": "DNA", "cytoplasm_channels": ("AGP", "RNA")}
CONFIG = make_config(CropExtractionConfig, "data_engineering.crops", crop_size_px=16)


def _cells(seed: int, *, n: int = 12, foreground: int = 3000, background: int = 150) -> np.ndarray:
    """Return a uint16 field of ``n`` blob cells with camera noise, as a real-looking DNA image."""
    rng = np.random.default_rng(seed)
    centres = [(rng.uniform(10, SIZE - 10), rng.uniform(10, SIZE - 10)) for _ in range(n)]
    radius = rng.uniform(4.0, 6.0)
    return draw_discs(
        (SIZE, SIZE),
        centres,
        radius=radius,
        background=background,
        foreground=foreground,
        noise=30.0,
        seed=seed,
    )


def _field(seed: int) -> dict[str, np.ndarray]:
    dna = _cells(seed)
    rng = np.random.default_rng(seed + 100)
    others = {ch: (dna // 2 + rng.integers(100, 400, size=dna.shape)).astype(np.uint16) for ch in CHANNELS}
    return {**others, "DNA": dna}


def _corrupt(case: str, field: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, object]:
    """Return the channel images of ``case``: arrays, or ``bytes`` to write as a file as they are."""
    yy, xx = np.mgrid[:SIZE, :SIZE]
    out: dict[str, object] = dict(field)
    if case == "truncated":
        out["DNA"] = "truncate"
    elif case == "zero_byte":
        out["ER"] = b""
    elif case == "float_0_1":
        out["DNA"] = (field["DNA"] / 65535.0).astype(np.float32)
    elif case == "uint8":
        out["Mito"] = (field["Mito"] // 257).astype(np.uint8)
    elif case == "wrong_shape":
        out["RNA"] = field["RNA"][:, : SIZE - 8]
    elif case == "rgb_plane":
        out["AGP"] = np.stack([field["AGP"]] * 3, axis=-1)
    elif case == "blank":
        out["DNA"] = np.zeros((SIZE, SIZE), dtype=np.uint16)
    elif case == "saturated":
        dna = field["DNA"].copy()
        dna[: SIZE * 2 // 3] = 65535
        out["DNA"] = dna
    elif case == "noise_only":
        out["DNA"] = np.clip(rng.normal(1000, 100, (SIZE, SIZE)), 0, None).astype(np.uint16)
    elif case == "shot_noise":
        out["DNA"] = rng.poisson(15, (SIZE, SIZE)).astype(np.uint16)
    elif case == "gradient_only":
        out["DNA"] = (100 + 25 * xx).astype(np.uint16)
    elif case == "gradient_with_noise":
        out["DNA"] = np.clip(100 + 25 * yy + rng.normal(0, 30, (SIZE, SIZE)), 0, None).astype(np.uint16)
    return out


EXPECTED = {
    "truncated": "unreadable_image",
    "zero_byte": "unreadable_image",
    "float_0_1": "wrong_dtype",
    "uint8": "wrong_dtype",
    "wrong_shape": "shape_mismatch",
    "rgb_plane": "channel_count",
    "blank": "blank_channel",
    "saturated": "saturated",
    "noise_only": "no_real_nuclei",
    "shot_noise": "no_real_nuclei",
    "gradient_only": "no_real_nuclei",
    "gradient_with_noise": "no_real_nuclei",
}


def _write_site(root: Path, well: str, images: dict[str, object]) -> dict:
    row = {schema.SOURCE: "s1", schema.BATCH: "b1", schema.PLATE: "p1", schema.WELL: well, schema.SITE: "1"}
    for ch, image in images.items():
        path = root / f"{well}_{ch}.tiff"
        if isinstance(image, bytes):
            path.write_bytes(image)
        elif isinstance(image, str):  # a valid TIFF cut short, as a killed copy leaves it
            tifffile.imwrite(path, np.zeros((SIZE, SIZE), dtype=np.uint16) + 7)
            path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])
        else:
            tifffile.imwrite(path, image)
        row[schema.path_name_column(ch)] = str(root)
        row[schema.file_name_column(ch)] = path.name
    return row


def _loaders(sites: pd.DataFrame) -> dict:
    keys = {
        schema.image_key(row[schema.path_name_column(ch)], row[schema.file_name_column(ch)])
        for _, row in sites.iterrows()
        for ch in CHANNELS
    }
    return {key: (lambda k=key: tifffile.imread(k)) for key in keys}


def test_extract_crop_table_corrupt_fields_each_one_quarantine_row_with_reason_no_crop(tmp_path):
    rng = np.random.default_rng(0)
    rows = [_write_site(tmp_path, "A01", _field(0))]
    wells = {}
    for i, case in enumerate(EXPECTED):
        well = f"B{i + 1:02d}"
        wells[well] = case
        rows.append(_write_site(tmp_path, well, _corrupt(case, _field(i + 1), rng)))
    sites = pd.DataFrame(rows)

    result = extract_crop_table(sites, _loaders(sites), CONFIG, **STAINS)

    assert result.site_summary[schema.WELL].tolist() == ["A01"]
    assert set(result.crop_index[schema.WELL]) == {"A01"}
    assert len(result.crops) == len(result.crop_index) > 0
    reasons = dict(zip(result.quarantine[schema.WELL], result.quarantine["reason"], strict=True))
    assert reasons == {well: EXPECTED[case] for well, case in wells.items()}
    assert len(result.site_summary) + len(result.quarantine) == len(sites)
    details = dict(zip(result.quarantine[schema.WELL], result.quarantine["detail"], strict=True))
    for well, case in wells.items():
        assert f"s1/p1/{well}/1" in details[well], case


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"foreground": 600, "background": 150},  # dim nuclei, 15x the noise
        {"n": 3},  # a sparse field
        {"n": 40},  # a crowded one: touching nuclei
    ],
)
def test_extract_crop_table_real_looking_blob_fields_pass(kwargs):
    sites, images = [], {}
    for seed in range(4):
        well = f"A{seed + 1:02d}"
        row = {
            schema.SOURCE: "s1",
            schema.BATCH: "b1",
            schema.PLATE: "p1",
            schema.WELL: well,
            schema.SITE: "1",
        }
        field = _field(seed)
        field["DNA"] = _cells(seed, **kwargs)
        for ch in CHANNELS:
            row[schema.path_name_column(ch)] = "p1"
            row[schema.file_name_column(ch)] = f"{well}_{ch}"
            images[f"p1/{well}_{ch}"] = lambda a=field[ch]: a
        sites.append(row)
    result = extract_crop_table(pd.DataFrame(sites), images, CONFIG, **STAINS)
    assert result.quarantine.empty, result.quarantine["detail"].tolist()


def test_extract_crop_table_converts_other_dtypes_only_when_told():
    field = _field(0)
    field["DNA"] = (field["DNA"] / 65535.0).astype(np.float32)
    field["Mito"] = (field["Mito"] // 257).astype(np.uint8)
    row = {schema.SOURCE: "s1", schema.BATCH: "b1", schema.PLATE: "p1", schema.WELL: "A01", schema.SITE: "1"}
    for ch in CHANNELS:
        row[schema.path_name_column(ch)] = "p1"
        row[schema.file_name_column(ch)] = ch
    images = {f"p1/{ch}": (lambda a=field[ch]: a) for ch in CHANNELS}
    config = make_config(
        CropExtractionConfig,
        "data_engineering.crops",
        crop_size_px=16,
        qc={"dtype_conversion": {"float32": "rescale", "uint8": "rescale"}, "max_saturated_fraction": 0.1},
    )
    result = extract_crop_table(pd.DataFrame([row]), images, config, **STAINS)
    assert result.quarantine.empty
    dna = result.crops[:, CHANNELS.index("DNA")]
    assert dna.dtype == np.uint16 and dna.max() > 2000  # rescaled, not cast to zeros


@pytest.mark.realdata
def test_extract_crop_table_real_bbbc021_fields_pass():
    from PIL import Image

    from micon import project_parameters

    folder = require_shared("bbbc021/fields_png")
    config = project_parameters.make_config(CropExtractionConfig, "data_engineering.crops", env="bbbc021")
    channels = ("DNA", "Tubulin", "Actin")
    rows, images = [], {}
    for path in sorted(folder.glob("*.png"))[:40:4]:
        rgb = np.asarray(Image.open(path))  # RGB = Actin, Tubulin, DNA
        row = {
            schema.SOURCE: "bbbc021",
            schema.BATCH: "w",
            schema.PLATE: "p",
            schema.WELL: path.stem,
            schema.SITE: "1",
        }
        for ch, plane in zip(channels, (2, 1, 0), strict=True):
            row[schema.path_name_column(ch)] = "p"
            row[schema.file_name_column(ch)] = f"{path.stem}_{ch}"
            images[f"p/{path.stem}_{ch}"] = lambda a=rgb[..., plane]: a
        rows.append(row)
    result = extract_crop_table(
        pd.DataFrame(rows),
        images,
        config,
        channels=channels,
        nuclear_channel="DNA",
        cytoplasm_channels=("Tubulin", "Actin"),
    )
    assert result.quarantine.empty, result.quarantine["detail"].tolist()
    assert len(result.crops) > 0


@pytest.mark.realdata
def test_extract_crop_table_real_jump_and_bray_fields_pass():
    import zarr

    from micon import project_parameters

    config = project_parameters.make_config(CropExtractionConfig, "data_engineering.crops", env="jump")
    store = zarr.open(str(require_shared("fields/jump_cpg0016_two_sources/images.zarr")), mode="r")["images"]
    bray = require_shared("fields/bray2017_field")
    fields = [
        {ch: np.asarray(store[site, c]) for c, ch in enumerate(CHANNELS)} for site in range(store.shape[0])
    ]
    files = {"AGP": "Ph_golgi", "DNA": "Hoechst", "ER": "ERSyto", "Mito": "Mito", "RNA": "ERSytoBleed"}
    fields.append({ch: tifffile.imread(bray / f"{name}.tif") for ch, name in files.items()})
    rows, images = [], {}
    for i, field in enumerate(fields):
        row = {
            schema.SOURCE: "real",
            schema.BATCH: "b",
            schema.PLATE: "p",
            schema.WELL: f"W{i}",
            schema.SITE: "1",
        }
        for ch in CHANNELS:
            row[schema.path_name_column(ch)] = "p"
            row[schema.file_name_column(ch)] = f"W{i}_{ch}"
            images[f"p/W{i}_{ch}"] = lambda a=field[ch]: a
        rows.append(row)
    result = extract_crop_table(pd.DataFrame(rows), images, config, **STAINS)
    assert result.quarantine.empty, result.quarantine["detail"].tolist()
    assert set(result.site_summary[schema.WELL]) == {f"W{i}" for i in range(len(fields))}


def test_extract_crop_table_nuclei_far_larger_than_the_screens_implausible_no_crop():
    config = make_config(
        CropExtractionConfig,
        "data_engineering.crops",
        crop_size_px=16,
        plausibility={
            **parameter("data_engineering.crops.plausibility"),
            "min_sites_for_screen_check": 5,
        },
    )
    rows, images = [], {}
    for i in range(7):
        field = _field(i)
        if i == 6:  # blobs 9x the area of the screen's other nuclei: debris or an out-of-focus field
            field["DNA"] = draw_discs(
                (SIZE, SIZE),
                [(30, 30), (66, 62)],
                radius=15,
                background=150,
                foreground=3000,
                noise=30.0,
                seed=i,
            )
        row = {
            schema.SOURCE: "s1",
            schema.BATCH: "b1",
            schema.PLATE: "p1",
            schema.WELL: f"A{i:02d}",
            schema.SITE: "1",
        }
        for ch in CHANNELS:
            row[schema.path_name_column(ch)] = "p1"
            row[schema.file_name_column(ch)] = f"A{i:02d}_{ch}"
            images[f"p1/A{i:02d}_{ch}"] = lambda a=field[ch]: a
        rows.append(row)
    result = extract_crop_table(pd.DataFrame(rows), images, config, **STAINS)
    assert result.quarantine[schema.WELL].tolist() == ["A06"]
    assert result.quarantine["reason"].tolist() == ["implausible_nuclei"]
    assert "A06" not in set(result.crop_index[schema.WELL])
    assert result.crop_index[schema.CROP_ID].tolist() == list(range(len(result.crops)))
