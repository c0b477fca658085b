"""docs/jump.md's design and cost tables are rendered from JUMP's metadata and the designs of conf/jump."""

from __future__ import annotations

import pandas as pd
import pytest

from micon import schema
from micon.errors import InvalidConfigError
from micon.render_jump_designs import BLOCKS, cost_table, design_counts, design_table, main
from tests.kedro_project import PROJECT_ROOT
from tests.shared_data import require_shared

DMSO = schema.DMSO_JCP2022


def _metadata() -> dict[str, pd.DataFrame]:
    """Two sources x 3 batches x 1 plate; each plate: 3 compounds, 2 DMSO wells; one POSCON plate."""
    plates, wells = [], []
    for source in ("source_a", "source_b"):
        for batch in range(3):
            plate = f"{source}_P{batch}"
            plates.append((source, f"{source}_B{batch}", plate, "TARGET2"))
            for i, compound in enumerate(["JCP2022_1", "JCP2022_2", "JCP2022_3", DMSO, DMSO]):
                wells.append((source, plate, f"A{i + 1:02d}", compound))
    plates.append(("source_a", "source_a_B0", "other", "POSCON8"))
    wells.append(("source_a", "other", "A01", "JCP2022_1"))
    compounds = pd.DataFrame(
        {
            schema.JCP2022: ["JCP2022_1", "JCP2022_2", "JCP2022_3", DMSO],
            schema.SMILES: ["CCO", "CCN", "CCC", "CS(C)=O"],
            schema.INCHIKEY: ["LFQSCWFLJHTTHZ-UHFFFAOYSA-N"] * 4,
        }
    )
    return {
        "plate": pd.DataFrame(plates, columns=[schema.SOURCE, schema.BATCH, schema.PLATE, schema.PLATE_TYPE]),
        "well": pd.DataFrame(wells, columns=[schema.SOURCE, schema.PLATE, schema.WELL, schema.JCP2022]),
        "compound": compounds,
    }


def _design(sites_per_well: int | None = 2) -> dict:
    return {
        "selection": {
            "plate_types": ["TARGET2"],
            "sources": None,
            "batches": None,
            "plates": None,
            "compounds": None,
            "sites_per_well": sites_per_well,
            "load_data_file": "load_data_with_illum.parquet",
        },
        "splits": {
            "seed": 0,
            "ood_sources": None,
            "n_ood_sources": 0,
            "test_batches_per_source": 1,
            "val_batches_per_source": 0,
            "ood_compound_fraction": 0.34,
            "ood_compounds": None,
        },
        "retrieval_splits": ["test", "ood_compound"],
    }


def test_design_table_counts_what_the_selection_keeps_and_the_split_holds_out():
    designs = {"small": _design()}
    row = design_table(design_counts(_metadata(), designs), designs).iloc[0]
    assert (row["plates"], row["batches"], row["sources"]) == (6, 6, 2)  # the POSCON8 plate is not kept
    assert (row["wells"], row["DMSO wells"], row["treated compounds"]) == (30, 12, 3)
    assert row["test batches"] == 2 and row["held-out sources"] == "none"
    assert row["held-out compounds"] == 1  # round(0.34 x 3)
    assert row["evaluated splits"] == "test, ood_compound"


def test_cost_table_counts_images_bytes_and_requests():
    counts = design_counts(_metadata(), {"small": _design(sites_per_well=2)})
    row = cost_table(counts, bytes_per_tiff=1e9).iloc[0]
    # 30 wells x 2 sites x 5 channels; per plate one load_data table and 5 illumination files
    assert row["images"] == "300" and row["read (GB)"] == "300"
    assert row["GET requests"] == f"{300 + 6 * 6}"


def test_a_design_keeping_every_site_is_refused():
    with pytest.raises(InvalidConfigError, match="sites_per_well"):
        design_counts(_metadata(), {"all": _design(sites_per_well=None)})


def test_docs_jump_blocks_are_up_to_date(monkeypatch):
    require_shared("jump/plate.csv.gz")
    require_shared("fields/phenix_field_BR00143976")
    monkeypatch.chdir(PROJECT_ROOT)
    text = (PROJECT_ROOT / "docs" / "jump.md").read_text()
    assert all(f"BEGIN rendered: {block}" in text for block in BLOCKS)
    assert main(["--check", "docs/jump.md"]) == 0
