"""An offline Cell Painting Gallery: a moto S3 server on 127.0.0.1 holding a tiny cpg0016 selection.

The bucket ``cellpainting-gallery`` gets the real cpg0016 key layout: per-plate load_data parquet at
``cpg0016-jump/{source}/workspace/load_data_csv/{batch}/{plate}/load_data_with_illum.parquet``, channel
TIFFs under ``cpg0016-jump/{source}/images/{batch}/images/{plate}__{measurement}/Images/`` and
illumination functions under ``cpg0016-jump/{source}/images/{batch}/illum/{plate}/``. BR00126114's
load_data is the real one (its two real rows kept as they are, rows for two more wells appended); the other
plates' tables follow it. The images are real fields (the 2 cpg0016 fields and the Bray et al. field, as
384x384 native-resolution centre crops); the illumination functions are synthetic (smooth, >= 1). The
metadata tables are the real rows of plate/well/compound.csv.gz for these plates and wells.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

from micon import schema
from micon.sources.jump.cpg0016 import load_data_key
from tests.shared_data import require_shared

BUCKET = "cellpainting-gallery"
GALLERY = f"s3://{BUCKET}/"
REAL_LOAD_DATA = "fields/cpg0016_BR00126114_load_data/test_BR00126114_load_data_with_illum.parquet"
FIELD_SIZE = 384

# (source, batch, plate): the first has the real load_data; all four have load_data and images.
PLATES_WITH_IMAGES: tuple[tuple[str, str, str], ...] = (
    ("source_4", "2021_08_23_Batch12", "BR00126114"),
    ("source_4", "2021_04_26_Batch1", "BR00121438"),
    ("source_3", "CP59", "JCPQC051"),
    ("source_3", "CP60", "JCPQC053"),
)
PLATE_WITHOUT_LOAD_DATA = ("source_4", "2021_05_10_Batch3", "BR00121436")
PLATE_WITHOUT_WELLS = ("source_9", "20210825_Run6", "GR00003394")  # TARGET2, absent from well.csv.gz
SELECTED_PLATES = [p[2] for p in (*PLATES_WITH_IMAGES, PLATE_WITHOUT_LOAD_DATA, PLATE_WITHOUT_WELLS)]
WELLS = ("A01", "A02", "A05", "A20", "B12")  # 1-octanol, quinine and 3 DMSO wells on every Target-2 plate
SITES = ("1", "2")  # load_data lists 2 sites per well; only site 1 is selected and uploaded
MISSING_IMAGE = ("source_4", "BR00121438", "A02", "1", "ER")  # this channel TIFF is not uploaded


@dataclass(frozen=True)
class Gallery:
    """What the emulator holds and where."""

    endpoint_url: str
    metadata_dir: Path
    illum: dict[tuple[str, str], np.ndarray]  # (plate, channel) -> illumination function
    fields: dict[tuple[str, str, str], np.ndarray]  # (plate, well, channel) -> raw site-1 image


def _real_fields() -> list[dict[str, np.ndarray]]:
    """Return the real fields as {channel: 384x384 uint16}: 2 cpg0016 fields, then the Bray field."""
    zarr = pytest.importorskip("zarr")
    stack = np.asarray(
        zarr.open(str(require_shared("fields/jump_cpg0016_two_sources/images.zarr")), mode="r")["images"]
    )
    channels = pd.read_csv(require_shared("fields/jump_cpg0016_two_sources/channels.csv"))["channel"].tolist()
    fields = [{ch: stack[site, i] for i, ch in enumerate(channels)} for site in range(stack.shape[0])]
    bray = require_shared("fields/bray2017_field")
    names = {"DNA": "Hoechst", "ER": "ERSyto", "RNA": "ERSytoBleed", "AGP": "Ph_golgi", "Mito": "Mito"}
    top, left = (520 - FIELD_SIZE) // 2, (696 - FIELD_SIZE) // 2
    fields.append(
        {
            ch: tifffile.imread(bray / f"{name}.tif")[top : top + FIELD_SIZE, left : left + FIELD_SIZE]
            for ch, name in names.items()
        }
    )
    return fields


def _illumination_function(plate_index: int, channel_index: int) -> np.ndarray:
    """A smooth vignetting-like function >= 1, as CellProfiler's rescaled illumination functions are."""
    y, x = np.mgrid[0:FIELD_SIZE, 0:FIELD_SIZE] / (FIELD_SIZE - 1) - 0.5
    strength = 0.2 + 0.05 * plate_index + 0.03 * channel_index
    return (1.0 + strength * (1.0 - 2.0 * (x**2 + y**2))).astype(np.float32)


def _load_data(real: pd.DataFrame, source: str, batch: str, plate: str) -> pd.DataFrame:
    """The plate's load_data: the real table's layout, its rows for BR00126114 kept as they are."""
    template = real.iloc[0]
    channel_number = {
        ch: re.search(r"-ch(\d)", template[schema.file_name_column(ch)]).group(1) for ch in schema.CHANNELS
    }
    if plate == template[schema.PLATE]:
        image_path = template[schema.path_name_column("DNA")]
    else:
        measurement = f"{plate}__2021-06-01T10_00_00-Measurement1"  # Phenix export folder, as the real one
        image_path = f"{GALLERY}cpg0016-jump/{source}/images/{batch}/images/{measurement}/Images/"
    illum_path = f"{GALLERY}cpg0016-jump/{source}/images/{batch}/illum/{plate}"
    rows = [real] if plate == template[schema.PLATE] else []
    for well in WELLS:
        for site in SITES:
            if plate == template[schema.PLATE] and well == template[schema.WELL]:
                continue
            row = template.copy()
            row[[schema.PLATE, schema.WELL, schema.SITE, schema.SOURCE, schema.BATCH]] = [
                plate,
                well,
                site,
                source,
                batch,
            ]
            r, c = ord(well[0]) - ord("A") + 1, int(well[1:])
            for ch in schema.CHANNELS:
                row[schema.file_name_column(ch)] = (
                    f"r{r:02d}c{c:02d}f{int(site):02d}p01-ch{channel_number[ch]}sk1fk1fl1.tiff"
                )
                row[schema.path_name_column(ch)] = image_path
                row[schema.illum_file_name_column(ch)] = f"{plate}_Illum{ch}.npy"
                row[schema.illum_path_name_column(ch)] = illum_path
            rows.append(row.to_frame().T)
    return pd.concat(rows, ignore_index=True).astype("str")


def _metadata_subset(directory: Path) -> None:
    """Write the real plate/well/compound rows of the selected plates and wells as gzip CSVs."""
    directory.mkdir(parents=True, exist_ok=True)
    plates = pd.read_csv(require_shared("jump/plate.csv.gz"), dtype=str, keep_default_na=False)
    plates = plates[plates[schema.PLATE].isin(SELECTED_PLATES)]
    assert len(plates) == len(SELECTED_PLATES)
    wells = pd.read_csv(require_shared("jump/well.csv.gz"), dtype=str, keep_default_na=False)
    wells = wells[wells[schema.PLATE].isin(SELECTED_PLATES) & wells[schema.WELL].isin(WELLS)]
    compounds = pd.read_csv(require_shared("jump/compound.csv.gz"), dtype=str, keep_default_na=False)
    compounds = compounds[compounds[schema.JCP2022].isin(wells[schema.JCP2022])]
    for name, table in (("plate", plates), ("well", wells), ("compound", compounds)):
        table.to_csv(directory / f"{name}.csv.gz", index=False)


def _tiff_bytes(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, image)
    return buffer.getvalue()


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _key(path_name: str, file_name: str) -> str:
    return schema.image_key(path_name, file_name).removeprefix(GALLERY)


@pytest.fixture(scope="session")
def jump_gallery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gallery]:
    """Start the S3 emulator, fill it, and stop it after the session."""
    real = pd.read_parquet(require_shared(REAL_LOAD_DATA))
    fields = _real_fields()
    pytest.importorskip("moto")
    import boto3
    from moto.server import ThreadedMotoServer

    with pytest.MonkeyPatch.context() as env:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "NO_PROXY": "127.0.0.1",
        }.items():
            env.setenv(name, value)
        for name in (
            "AWS_PROFILE",
            "AWS_ENDPOINT_URL",
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "http_proxy",
            "https_proxy",
        ):
            env.delenv(name, raising=False)
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        try:
            host, port = server.get_host_and_port()
            endpoint_url = f"http://{host}:{port}"
            s3 = boto3.client("s3", endpoint_url=endpoint_url, region_name="us-east-1")
            s3.create_bucket(Bucket=BUCKET, ACL="public-read")  # read anonymously, as the real one

            def put(*, Key: str, Body: bytes) -> None:  # noqa: N803 (boto3's argument names)
                s3.put_object(Bucket=BUCKET, Key=Key, Body=Body, ACL="public-read")

            illum: dict[tuple[str, str], np.ndarray] = {}
            raw: dict[tuple[str, str, str], np.ndarray] = {}
            for p, (source, batch, plate) in enumerate(PLATES_WITH_IMAGES):
                table = _load_data(real, source, batch, plate)
                buffer = io.BytesIO()
                table.to_parquet(buffer, index=False)
                put(Key=load_data_key(source, batch, plate), Body=buffer.getvalue())
                for c, ch in enumerate(schema.CHANNELS):
                    illum[plate, ch] = _illumination_function(p, c)
                    first = table.iloc[0]
                    key = _key(
                        first[schema.illum_path_name_column(ch)], first[schema.illum_file_name_column(ch)]
                    )
                    put(Key=key, Body=_npy_bytes(illum[plate, ch]))
                for _, row in table[table[schema.SITE] == "1"].iterrows():
                    well = row[schema.WELL]
                    field = fields[(WELLS.index(well) + p) % len(fields)]
                    for ch in schema.CHANNELS:
                        if (source, plate, well, "1", ch) == MISSING_IMAGE:
                            continue
                        raw[plate, well, ch] = field[ch]
                        key = _key(row[schema.path_name_column(ch)], row[schema.file_name_column(ch)])
                        put(Key=key, Body=_tiff_bytes(field[ch]))
            metadata_dir = tmp_path_factory.mktemp("jump_metadata")
            _metadata_subset(metadata_dir)
            yield Gallery(endpoint_url, metadata_dir, illum, raw)
        finally:
            server.stop()
