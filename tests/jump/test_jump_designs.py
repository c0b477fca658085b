"""The MICON designs of conf/jump/parameters_jump.yml applied to the real JUMP metadata tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from kedro.config import OmegaConfigLoader

from micon import schema
from micon.metadata.splits import SplitConfig, assign_splits
from micon.sources.jump.cpg0016 import JumpSelectionConfig, select_screen
from tests.shared_data import require_shared

CONF = Path(__file__).resolve().parents[2] / "conf"
POSITIVE_CONTROLS = {
    "JCP2022_037716", "JCP2022_025848", "JCP2022_046054", "JCP2022_035095",
    "JCP2022_064022", "JCP2022_050797", "JCP2022_012818", "JCP2022_085227",
}  # fmt: skip
pytestmark = pytest.mark.realdata


def _parameters(design: str) -> dict:
    loader = OmegaConfigLoader(
        conf_source=str(CONF),
        base_env="base",
        default_run_env="jump",
        runtime_params={"jump": {"design": design}},
    )
    return loader["parameters"]


@pytest.fixture(scope="module")
def jump_tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    read = {"dtype": str, "keep_default_na": False}
    return (
        pd.read_csv(require_shared("jump/plate.csv.gz"), **read),
        pd.read_csv(require_shared("jump/well.csv.gz"), **read),
        pd.read_csv(require_shared("jump/compound.csv.gz"), **read),
    )


def _design_wells(tables, design: str):
    params = _parameters(design)
    screen = select_screen(*tables, JumpSelectionConfig(**params["jump"]["selection"]))
    wells = screen.well_table.merge(screen.plate_table, on=[schema.SOURCE, schema.PLATE])
    splits = assign_splits(wells, SplitConfig(**params["data_engineering"]["splits"]))
    return screen, splits


def test_target2_design_holds_out_184_compounds_and_2_batches_per_source(jump_tables):
    screen, wells = _design_wells(jump_tables, "target2")
    assert set(screen.plate_table[schema.PLATE_TYPE]) == {"TARGET2"}
    assert screen.plate_table[schema.SOURCE].nunique() == 8  # sources with wells in the 2022-12 release
    assert wells[schema.JCP2022].nunique() == 302  # 301 treated compounds + DMSO
    assert wells.loc[wells[schema.SPLIT] == schema.SPLIT_OOD_COMPOUND, schema.JCP2022].nunique() == 184
    assert schema.SPLIT_OOD_SOURCE not in set(wells[schema.SPLIT])
    test_batches = (
        wells[wells[schema.SPLIT] == schema.SPLIT_TEST].groupby(schema.SOURCE)[schema.BATCH].nunique()
    )
    assert test_batches.to_dict() == dict.fromkeys(screen.plate_table[schema.SOURCE].unique(), 2)
    assert set(screen.quarantine[schema.QUARANTINE_REASON]) == {"plate_without_wells"}


def test_positive_control_design_holds_out_source_2(jump_tables):
    screen, wells = _design_wells(jump_tables, "positive_controls")
    assert set(wells[schema.JCP2022]) == POSITIVE_CONTROLS | {schema.DMSO_JCP2022}
    assert set(wells.loc[wells[schema.SPLIT] == schema.SPLIT_OOD_SOURCE, schema.SOURCE]) == {"source_2"}
    assert set(wells[schema.SPLIT]) == {schema.SPLIT_TRAIN, schema.SPLIT_TEST, schema.SPLIT_OOD_SOURCE}
    in_domain = wells[wells[schema.SOURCE] != "source_2"]
    test_batches = (
        in_domain[in_domain[schema.SPLIT] == schema.SPLIT_TEST].groupby(schema.SOURCE)[schema.BATCH].nunique()
    )
    assert set(test_batches) == {2}
