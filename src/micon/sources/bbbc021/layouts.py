"""Read BBBC021 (official per-channel TIFF layout or the 256-px PNG subset) into the project's raw tables.

Both layouts give the same four tables as a JUMP screen (plates, wells, compounds, a load_data image
index with ``FileName_Orig{ch}``/``PathName_Orig{ch}`` per channel of ``schema.BBBC021_CHANNELS``),
so the crop extraction downstream is shared. BBBC021 specifics: one source (one lab), batch = week,
the compound name is the compound id (``schema.JCP2022``), wells carry ``schema.MOA`` and
``schema.CONCENTRATION``; only some compounds have a public SMILES.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
import pandas as pd

from micon import schema
from micon.errors import InvalidInputError
from micon.profile import SourceProfile
from micon.quarantine import require_columns

logger = logging.getLogger(__name__)

SOURCE_NAME = "bbbc021"
PLATE_TYPE = "COMPOUND"
DMSO_NAME = "DMSO"
# Channels of the official file columns (Image_FileName_{name}) and their project names.
OFFICIAL_CHANNELS: dict[str, str] = {"DAPI": "DNA", "Tubulin": "Tubulin", "Actin": "Actin"}
# Channel of each RGB plane of a subset PNG (pharmbio/kensert_CNN_lab stores (Actin, Tubulin, DNA)).
PNG_RGB_CHANNELS: tuple[str, ...] = ("Actin", "Tubulin", "DNA")

# BBBC021 (both layouts): 3 channels; the PNG subset has no DMSO images (each plate was normalised to its
# DMSO wells by its provider), so MICON pairs treated crops with crops of another compound of the plate;
# only some compounds have a public SMILES, so wells split by whether the molecule is known, and a well is a
# compound at a concentration.
BBBC021_PROFILE = SourceProfile(
    name=SOURCE_NAME,
    channels=schema.BBBC021_CHANNELS,
    nuclear_channel=schema.NUCLEAR_CHANNEL,
    cytoplasm_channels=("Tubulin", "Actin"),
    control_compound=DMSO_NAME,
    controls="same_plate",
    split_policy="molecule_known",
    well_annotations=(schema.CONCENTRATION, schema.MOA),
)

_OFFICIAL_COLUMNS: tuple[str, ...] = (
    *(f"Image_{kind}_{name}" for name in OFFICIAL_CHANNELS for kind in ("FileName", "PathName")),
    "Image_Metadata_Plate_DAPI",
    "Image_Metadata_Well_DAPI",
    "Image_Metadata_Compound",
    "Image_Metadata_Concentration",
)
_MOA_COLUMNS: tuple[str, ...] = ("compound", "concentration", "moa")
_SMILES_COLUMNS: tuple[str, ...] = ("bbbc021_compound", "smiles")
_PNG_COLUMNS: tuple[str, ...] = (
    "image_path",
    "compound",
    "concentration_uM",
    "moa",
    "plate",
    "week",
    "well",
    "site_inferred",
    "smiles",
)
_SITE_IN_FILE = re.compile(r"_s(\d+)_")


@dataclass(frozen=True)
class Bbbc021Tables:
    """BBBC021 metadata in the project's raw layout.

    Attributes:
        plate_table: One row per plate: ``schema.PLATE_KEY`` + ``Metadata_PlateType``.
        well_table: One row per well: ``schema.WELL_KEY``, ``schema.JCP2022`` (compound name),
            ``schema.CONCENTRATION`` (float, µM) and ``schema.MOA`` (missing where unlabelled).
        compound_table: One row per compound: ``schema.JCP2022``, ``schema.SMILES`` (missing where no
            public structure is known), ``schema.INCHIKEY``.
        image_index: One row per site: ``schema.SITE_KEY``, ``schema.BATCH`` and the file columns of
            ``schema.BBBC021_CHANNELS``.
    """

    plate_table: pd.DataFrame
    well_table: pd.DataFrame
    compound_table: pd.DataFrame
    image_index: pd.DataFrame


def _require_rows(table: pd.DataFrame, columns: tuple[str, ...], *, table_name: str) -> None:
    require_columns(table, columns, table_name=table_name)
    if table.empty:
        raise InvalidInputError(f"{table_name} is empty")


def _blank_to_na(values: pd.Series) -> pd.Series:
    """Return strings with blanks as missing values."""
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def _tables(sites: pd.DataFrame, smiles: pd.Series) -> Bbbc021Tables:
    """Split one row per site (all metadata columns present) into the four raw tables."""
    plate_table = sites.loc[:, list(schema.PLATE_KEY)].drop_duplicates().reset_index(drop=True)
    plate_table[schema.PLATE_TYPE] = PLATE_TYPE
    well_columns = [*schema.WELL_KEY, schema.JCP2022, schema.CONCENTRATION, schema.MOA]
    well_table = sites.loc[:, well_columns].drop_duplicates().reset_index(drop=True)
    compounds = pd.Series(sorted(sites[schema.JCP2022].unique()), dtype="string")
    compound_smiles = compounds.map(smiles).astype("string")
    compound_smiles[compounds == DMSO_NAME] = schema.DMSO_SMILES
    compound_table = pd.DataFrame(
        {schema.JCP2022: compounds, schema.SMILES: compound_smiles, schema.INCHIKEY: pd.NA}
    ).astype("string")
    file_columns = [
        col
        for ch in schema.BBBC021_CHANNELS
        for col in (schema.file_name_column(ch), schema.path_name_column(ch))
    ]
    image_index = sites.loc[:, [*schema.SITE_KEY, schema.BATCH, *file_columns]].reset_index(drop=True)
    logger.info(
        "BBBC021: %d plates, %d wells, %d sites, %d compounds (%d with SMILES), %d wells with an MoA",
        len(plate_table),
        len(well_table),
        len(image_index),
        len(compound_table),
        int(compound_table[schema.SMILES].notna().sum()),
        int(well_table[schema.MOA].notna().sum()),
    )
    return Bbbc021Tables(plate_table, well_table, compound_table, image_index)


def read_official_layout(
    images: pd.DataFrame, moa: pd.DataFrame, compound_smiles: pd.DataFrame
) -> Bbbc021Tables:
    """Read the official BBBC021 metadata (``BBBC021_v1_image.csv``, ``BBBC021_v1_moa.csv``).

    The site number is parsed from the DAPI file name (``G10_s1_w1...tif``: site 1), the week
    (batch) is the first folder of ``Image_PathName_DAPI``; each channel's file and folder become
    ``FileName_Orig{ch}``/``PathName_Orig{ch}`` with DAPI renamed DNA, so the per-channel TIFFs are
    read in place from the BBBC021 root. A (compound, concentration) absent from the MoA table has no
    MoA; DMSO gets ``schema.DMSO_SMILES``.

    Args:
        images: ``BBBC021_v1_image.csv``: one row per field.
        moa: ``BBBC021_v1_moa.csv``: ``compound``, ``concentration``, ``moa``.
        compound_smiles: ``bbbc021_compound`` and ``smiles`` (blank where unknown).

    Returns:
        The four raw tables.

    Raises:
        MissingColumnsError: A table lacks a needed column.
        InvalidInputError: A table is empty, or a DAPI file name carries no ``_s<site>_``.
    """
    _require_rows(images, _OFFICIAL_COLUMNS, table_name="BBBC021 image table")
    _require_rows(moa, _MOA_COLUMNS, table_name="BBBC021 MoA table")
    require_columns(compound_smiles, _SMILES_COLUMNS, table_name="BBBC021 compound SMILES table")
    site = images["Image_FileName_DAPI"].astype("string").str.extract(_SITE_IN_FILE, expand=False)
    if site.isna().any():
        first = images.loc[site.isna(), "Image_FileName_DAPI"].iloc[0]
        raise InvalidInputError(
            f"BBBC021 image table: DAPI file name {first!r} carries no site ('_s<number>_'); "
            f"{int(site.isna().sum())} such row(s)"
        )
    sites = pd.DataFrame(
        {
            schema.SOURCE: SOURCE_NAME,
            schema.BATCH: images["Image_PathName_DAPI"].astype("string").str.split("/").str[0],
            schema.PLATE: images["Image_Metadata_Plate_DAPI"].astype("string"),
            schema.WELL: images["Image_Metadata_Well_DAPI"].astype("string"),
            schema.SITE: site,
            schema.JCP2022: images["Image_Metadata_Compound"].astype("string"),
            schema.CONCENTRATION: images["Image_Metadata_Concentration"].astype("float64"),
        }
    )
    for official, channel in OFFICIAL_CHANNELS.items():
        sites[schema.file_name_column(channel)] = images[f"Image_FileName_{official}"].astype("string")
        sites[schema.path_name_column(channel)] = images[f"Image_PathName_{official}"].astype("string")
    labels = moa.loc[:, list(_MOA_COLUMNS)].drop_duplicates(["compound", "concentration"])
    labels = labels.rename(columns={"compound": schema.JCP2022, "concentration": schema.CONCENTRATION})
    labels = labels.astype({schema.JCP2022: "string", schema.CONCENTRATION: "float64"})
    # Concentrations are compared as written in the two files (e.g. 0.003 and 0.003000).
    sites[schema.CONCENTRATION] = sites[schema.CONCENTRATION].round(9)
    labels[schema.CONCENTRATION] = labels[schema.CONCENTRATION].round(9)
    sites = sites.merge(labels, on=[schema.JCP2022, schema.CONCENTRATION], how="left")
    sites = sites.rename(columns={"moa": schema.MOA})
    sites[schema.MOA] = _blank_to_na(sites[schema.MOA])
    smiles = _smiles_by_compound(compound_smiles["bbbc021_compound"], compound_smiles["smiles"])
    return _tables(sites, smiles)


def read_png_subset(png_metadata: pd.DataFrame) -> Bbbc021Tables:
    """Read the metadata of the 256-px PNG subset (``fields_png_metadata.csv``).

    Each PNG holds one field with RGB = ``PNG_RGB_CHANNELS``; in the image index every channel's
    file is ``<png stem>_<channel>.tiff`` in folder ``<week>/<plate>``, the per-channel TIFFs that
    :func:`png_channel_loaders` produces from it.

    Args:
        png_metadata: One row per PNG: ``image_path``, ``compound``, ``concentration_uM``, ``moa``,
            ``plate``, ``week``, ``well``, ``site_inferred``, ``smiles``.

    Returns:
        The four raw tables.

    Raises:
        MissingColumnsError: A needed column is absent.
        InvalidInputError: The table is empty.
    """
    _require_rows(png_metadata, _PNG_COLUMNS, table_name="BBBC021 PNG metadata")
    folder = png_metadata["week"].astype("string") + "/" + png_metadata["plate"].astype("string")
    stem = png_metadata["image_path"].astype("string").map(lambda p: PurePosixPath(p).stem)
    sites = pd.DataFrame(
        {
            schema.SOURCE: SOURCE_NAME,
            schema.BATCH: png_metadata["week"].astype("string"),
            schema.PLATE: png_metadata["plate"].astype("string"),
            schema.WELL: png_metadata["well"].astype("string"),
            schema.SITE: png_metadata["site_inferred"].astype("Int64").astype("string"),
            schema.JCP2022: png_metadata["compound"].astype("string"),
            schema.CONCENTRATION: png_metadata["concentration_uM"].astype("float64"),
            schema.MOA: _blank_to_na(png_metadata["moa"]),
        }
    )
    for channel in schema.BBBC021_CHANNELS:
        sites[schema.file_name_column(channel)] = stem + f"_{channel}.tiff"
        sites[schema.path_name_column(channel)] = folder
    smiles = _smiles_by_compound(png_metadata["compound"], png_metadata["smiles"])
    return _tables(sites, smiles)


def _smiles_by_compound(compounds: pd.Series, smiles: pd.Series) -> pd.Series:
    """Return compound -> SMILES for the compounds with a non-blank SMILES.

    Raises:
        InvalidInputError: A compound is listed with two different SMILES.
    """
    table = pd.DataFrame({"compound": compounds.astype("string"), "smiles": _blank_to_na(smiles)})
    table = table.dropna().drop_duplicates()
    repeated = table["compound"].duplicated(keep=False)
    if repeated.any():
        raise InvalidInputError(
            f"compound {table.loc[repeated, 'compound'].iloc[0]!r} is listed with different SMILES "
            f"{table.loc[repeated, 'smiles'].tolist()}"
        )
    return table.set_index("compound")["smiles"]


def png_channel_loaders(
    image_index: pd.DataFrame, png_fields: Mapping[str, Callable[[], object]]
) -> dict[str, Callable[[], np.ndarray]]:
    """Return a lazy loader of every channel image of the PNG subset, keyed as the image index names it.

    Args:
        image_index: The image index of :func:`read_png_subset`.
        png_fields: PNG file stem (``bbbc021v1_0``) -> loader of that PNG (anything ``np.asarray``
            turns into ``(H, W, 3)`` uint8, e.g. a PIL image).

    Returns:
        ``schema.image_key(PathName_Orig{ch}, FileName_Orig{ch})`` -> loader of the ``(H, W)``
        uint8 plane of channel ``ch``. A site whose PNG is not in ``png_fields`` gets no loaders
        (the crop extraction quarantines it as ``missing_image``).

    Raises:
        MissingColumnsError: The image index lacks a file column.
    """
    columns = [
        col
        for ch in schema.BBBC021_CHANNELS
        for col in (schema.file_name_column(ch), schema.path_name_column(ch))
    ]
    require_columns(image_index, columns, table_name="BBBC021 image index")
    loaders: dict[str, Callable[[], np.ndarray]] = {}
    n_missing = 0
    for _, row in image_index.iterrows():
        for channel in schema.BBBC021_CHANNELS:
            file_name = str(row[schema.file_name_column(channel)])
            stem = file_name.removesuffix(f"_{channel}.tiff")
            if stem not in png_fields:
                n_missing += 1
                continue
            key = schema.image_key(row[schema.path_name_column(channel)], file_name)
            loaders[key] = _plane_loader(png_fields[stem], PNG_RGB_CHANNELS.index(channel), stem)
    if n_missing:
        logger.warning("%d channel images have no PNG in the subset folder", n_missing)
    return loaders


def _plane_loader(load_png: Callable[[], object], plane: int, stem: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        rgb = np.asarray(load_png())
        if rgb.ndim != 3 or rgb.shape[2] != len(PNG_RGB_CHANNELS):  # noqa: PLR2004
            raise InvalidInputError(f"PNG {stem!r} has shape {rgb.shape}; expected (H, W, 3) RGB")
        return np.ascontiguousarray(rgb[:, :, plane])

    return load
