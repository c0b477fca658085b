import pandas as pd
import pytest

from micon import schema

TREATED = [f"JCP2022_{i:06d}" for i in range(1, 21)]


def make_plates(n_sources: int = 3, n_batches: int = 4) -> pd.DataFrame:
    rows = []
    for s in range(n_sources):
        for b in range(n_batches):
            for p in range(2):
                rows.append((f"source_{s}", f"batch_{s}_{b}", f"plate_{s}_{b}_{p}", "COMPOUND"))
    return pd.DataFrame(rows, columns=[schema.SOURCE, schema.BATCH, schema.PLATE, schema.PLATE_TYPE])


def make_wells(plates: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for i, (source, plate) in enumerate(zip(plates[schema.SOURCE], plates[schema.PLATE], strict=True)):
        rows.append((source, plate, "A01", schema.DMSO_JCP2022))
        rows.append((source, plate, "A02", schema.DMSO_JCP2022))
        for k, well in enumerate(["B01", "B02", "B03", "B04"]):
            rows.append((source, plate, well, TREATED[(3 * i + k) % len(TREATED)]))
    return pd.DataFrame(rows, columns=[schema.SOURCE, schema.PLATE, schema.WELL, schema.JCP2022])


def make_compounds() -> pd.DataFrame:
    ids = [schema.DMSO_JCP2022, *TREATED]
    return pd.DataFrame(
        {
            schema.JCP2022: ids,
            schema.SMILES: ["CS(C)=O"] + ["C" * (i + 1) for i in range(len(TREATED))],
            schema.INCHIKEY: [f"KEY{i}" for i in range(len(ids))],
            schema.STANDARD_SMILES: ["C[S+](C)[O-]"] + ["C" * (i + 1) for i in range(len(TREATED))],
            schema.STANDARD_INCHIKEY: [f"STD{i}" for i in range(len(ids))],
        }
    )


@pytest.fixture
def plates() -> pd.DataFrame:
    return make_plates()


@pytest.fixture
def wells(plates) -> pd.DataFrame:
    return make_wells(plates)


@pytest.fixture
def compounds() -> pd.DataFrame:
    return make_compounds()
