"""Column names, channel order and identifiers shared by every stage: the one home of these literals."""

from __future__ import annotations

from collections.abc import Sequence

# JUMP metadata columns (cpg0016 naming).
SOURCE = "Metadata_Source"
BATCH = "Metadata_Batch"
PLATE = "Metadata_Plate"
PLATE_TYPE = "Metadata_PlateType"
WELL = "Metadata_Well"
SITE = "Metadata_Site"
JCP2022 = "Metadata_JCP2022"
SMILES = "Metadata_SMILES"
INCHIKEY = "Metadata_InChIKey"

# Columns the project derives.
STANDARD_SMILES = "Metadata_StandardSMILES"
STANDARD_INCHIKEY = "Metadata_StandardInChIKey"
IS_CONTROL = "Metadata_IsControl"
SPLIT = "Metadata_Split"
CROP_ID = "Metadata_CropID"
CELL_X = "Metadata_CellX"
CELL_Y = "Metadata_CellY"
CELL_COUNT = "Metadata_CellCount"
# The DMSO wells a well is normalised against: "<source>/<plate>", or "<source>/<batch>" for a plate left
# with too few usable controls after image QC and kept on its batch's (data_engineering.controls).
CONTROL_GROUP = "Metadata_ControlGroup"
# Plates with the same compound-to-well map share a layout (MorphoHELM's NSL level).
PLATE_LAYOUT = "Metadata_PlateLayout"

# Cell Painting channels, in the order arrays are stored (as on disk in JUMP and in the MICON reference code).
# A run's id: the Kedro session id, also the save version of its versioned datasets
# (kedro.io.core.generate_timestamp, e.g. 2026-12-01T19.05.33.123Z): it sorts by time, a safe folder name.
RUN_ID_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}\.\d{2}\.\d{2}\.\d{3}Z$"

CHANNELS: tuple[str, ...] = ("AGP", "DNA", "ER", "Mito", "RNA")
NUCLEAR_CHANNEL = "DNA"

# BBBC021 (Caie et al. 2010): MCF-7 fields in 3 channels, compounds at several concentrations, MoA labels.
BBBC021_CHANNELS: tuple[str, ...] = ("DNA", "Tubulin", "Actin")
MOA = "Metadata_MoA"
CONCENTRATION = "Metadata_Concentration_uM"

# The negative control of JUMP cpg0016.
DMSO_JCP2022 = "JCP2022_033924"
DMSO_SMILES = "CS(C)=O"

# Split labels carried in SPLIT.
SPLIT_TRAIN = "train"
SPLIT_VAL = "val"
SPLIT_TEST = "test"
SPLIT_OOD_SOURCE = "ood_source"
SPLIT_OOD_COMPOUND = "ood_compound"
SPLITS: tuple[str, ...] = (SPLIT_TRAIN, SPLIT_VAL, SPLIT_TEST, SPLIT_OOD_SOURCE, SPLIT_OOD_COMPOUND)

# Quarantine columns added to an item's key columns.
QUARANTINE_STAGE = "stage"
QUARANTINE_REASON = "reason"
QUARANTINE_DETAIL = "detail"

EMBEDDING_PREFIX = "emb_"

PLATE_KEY: tuple[str, ...] = (SOURCE, BATCH, PLATE)
WELL_KEY: tuple[str, ...] = (SOURCE, PLATE, WELL)
SITE_KEY: tuple[str, ...] = (SOURCE, PLATE, WELL, SITE)


def file_name_column(channel: str) -> str:
    """Return the load_data column holding a channel's image file name."""
    return f"FileName_Orig{channel}"


def path_name_column(channel: str) -> str:
    """Return the load_data column holding a channel's image folder."""
    return f"PathName_Orig{channel}"


def illum_file_name_column(channel: str) -> str:
    """Return the load_data column holding a channel's illumination-function file name (JUMP ``.npy``)."""
    return f"FileName_Illum{channel}"


def illum_path_name_column(channel: str) -> str:
    """Return the load_data column holding a channel's illumination-function folder."""
    return f"PathName_Illum{channel}"


def image_key(path_name: str, file_name: str) -> str:
    """Return the key of one channel image: its folder and file name joined by '/'.

    The same key names a partition of the image store in the catalog, so the image index and the
    store agree on how an image is found.
    """
    return f"{str(path_name).rstrip('/')}/{file_name}"


def embedding_columns(dim: int) -> list[str]:
    """Return the names of ``dim`` embedding feature columns: ``emb_0000`` ... ."""
    return [f"{EMBEDDING_PREFIX}{i:04d}" for i in range(dim)]


def feature_columns(columns: Sequence[str]) -> list[str]:
    """Return the columns that are features, i.e. not ``Metadata_*``, in their given order."""
    return [c for c in columns if not str(c).startswith("Metadata_")]


def metadata_columns(columns: Sequence[str]) -> list[str]:
    """Return the ``Metadata_*`` columns in their given order."""
    return [c for c in columns if str(c).startswith("Metadata_")]
