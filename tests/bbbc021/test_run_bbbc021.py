"""Integration test: the bbbc021 pipeline runs in a KedroSession (``--env bbbc021``) on 18 real fields."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
from kedro.framework.project import pipelines
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from PIL import Image

from tests.kedro_project import PROJECT_ROOT, temporary_project
from tests.shared_data import require_shared

# Two compounds of each of three MoAs, in different weeks (so NSCB has answers); AZ-C has no SMILES.
COMPOUNDS = ("anisomycin", "emetine", "etoposide", "mitomycin C", "AZ-C", "AZ138")


@pytest.fixture
def tiny_bbbc021(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A temporary project (configuration only) and a shared-data folder with 18 of the subset's PNGs."""
    source = require_shared("bbbc021/fields_png_metadata.csv")
    metadata = pd.read_csv(source)
    metadata = metadata[metadata["compound"].isin(COMPOUNDS) & (metadata["site_inferred"] == 1)]
    lowest = metadata.groupby("compound")["concentration_uM"].transform("min")
    metadata = metadata[metadata["concentration_uM"] == lowest]
    shared = tmp_path / "shared"
    (shared / "bbbc021" / "fields_png").mkdir(parents=True)
    metadata.to_csv(shared / "bbbc021" / "fields_png_metadata.csv", index=False)
    for image_path in metadata["image_path"]:
        # copied, not linked: a link leaving the image root is refused (path confinement)
        shutil.copyfile(source.parent / image_path, shared / "bbbc021" / image_path)

    project = temporary_project(tmp_path / "project", monkeypatch)
    return project, shared


@pytest.mark.realdata
@pytest.mark.slow
def test_kedro_run_bbbc021_env_writes_moa_metrics(tiny_bbbc021: tuple[Path, Path]) -> None:
    project, shared = tiny_bbbc021
    runtime_params = {
        "shared_data": str(shared),
        "bbbc021_evaluation": {"moa": {"null_size": 100}},
        "modeling": {"embedding": {"accelerator": "cpu"}},
    }
    with KedroSession.create(project_path=project, env="bbbc021", runtime_params=runtime_params) as session:
        # The untrained encoder's branch: MICON needs plate-matched controls, which this subset lacks.
        session.run(pipeline_names=["bbbc021"], to_outputs=["untrained.bbbc021_metrics"])

    data = project / "data" / "bbbc021"
    assert len(list((data / "01_raw" / "images").rglob("*.tiff"))) == 18 * 3
    metrics_file = next((data / "08_reporting" / "untrained" / "bbbc021_metrics.json").rglob("*.json"))
    metrics = json.loads(metrics_file.read_text())
    assert metrics["n_treatments"] == 6
    assert metrics["n_wells"] == 18
    assert metrics["NSC_n_queries"] == 6
    assert metrics["NSCB_n_queries"] == 6
    for key in ("NSC", "NSCB", "replicate_map"):
        assert 0.0 <= metrics[key] <= 1.0
    well_metadata = pd.read_parquet(next((data / "03_primary" / "well_metadata.parquet").rglob("*.parquet")))
    held_out = well_metadata.loc[well_metadata["Metadata_Split"] == "ood_compound", "Metadata_JCP2022"]
    assert set(held_out) == {"AZ-C", "AZ138"}  # no public SMILES: kept for evaluation, not for training


def _official_layout_from_pngs(shared: Path) -> Path:
    """Write the tiny subset's fields as official-layout TIFFs and BBBC021_v1_image.csv; return the root.

    The subset's metadata names each field's original per-channel TIFFs, so the official layout is
    rebuilt with real pixels (256x256, uint8) and real file names.
    """
    folder = shared / "bbbc021"
    metadata = pd.read_csv(folder / "fields_png_metadata.csv")
    root = shared / "official_images"
    rows = []
    for _, field in metadata.iterrows():
        rgb = np.asarray(Image.open(folder / field["image_path"]))
        path_name = f"{field['week']}/{field['plate']}"
        (root / path_name).mkdir(parents=True, exist_ok=True)
        row = {}
        for official, plane in (("DAPI", 2), ("Tubulin", 1), ("Actin", 0)):
            file_name = field[f"source_Image_FileName_{official}_inferred"]
            tifffile.imwrite(root / path_name / file_name, rgb[:, :, plane])
            row |= {f"Image_FileName_{official}": file_name, f"Image_PathName_{official}": path_name}
        rows.append(
            row
            | {
                "Image_Metadata_Plate_DAPI": field["plate"],
                "Image_Metadata_Well_DAPI": field["well"],
                "Replicate": field["replicate"],
                "Image_Metadata_Compound": field["compound"],
                "Image_Metadata_Concentration": field["concentration_uM"],
            }
        )
    pd.DataFrame(rows).to_csv(folder / "BBBC021_v1_image.csv", index=False)
    labels = metadata[["compound", "concentration_uM", "moa"]].drop_duplicates()
    labels.rename(columns={"concentration_uM": "concentration"}).to_csv(
        folder / "BBBC021_v1_moa.csv", index=False
    )
    smiles = (
        metadata[["compound", "smiles"]].drop_duplicates().rename(columns={"compound": "bbbc021_compound"})
    )
    smiles.to_csv(folder / "moa_compound_smiles.csv", index=False)
    return root


@pytest.mark.realdata
@pytest.mark.slow
def test_kedro_run_bbbc021_official_layout_reads_tiffs_in_place(tiny_bbbc021: tuple[Path, Path]) -> None:
    project, shared = tiny_bbbc021
    root = _official_layout_from_pngs(shared)
    runtime_params = {
        "shared_data": str(shared),
        "bbbc021_images": str(root),
        "bbbc021_evaluation": {"moa": {"null_size": 100}},
        "modeling": {"embedding": {"accelerator": "cpu"}},
    }
    with KedroSession.create(project_path=project, env="bbbc021", runtime_params=runtime_params) as session:
        session.run(pipeline_names=["bbbc021_official"], to_outputs=["untrained.bbbc021_metrics"])

    data = project / "data" / "bbbc021"
    assert not (data / "01_raw" / "images").exists()  # official TIFFs are read in place, not copied
    metrics_file = next((data / "08_reporting" / "untrained" / "bbbc021_metrics.json").rglob("*.json"))
    metrics = json.loads(metrics_file.read_text())
    assert metrics["n_treatments"] == 6
    assert metrics["n_wells"] == 18
    assert metrics["NSCB_n_queries"] == 6


def test_bbbc021_pipelines_are_not_in_default() -> None:
    bootstrap_project(PROJECT_ROOT)
    default_nodes = {node.name for node in pipelines["__default__"].nodes}
    assert "read_bbbc021_png_subset" not in default_nodes
    bbbc021_nodes = {node.name for node in pipelines["bbbc021"].nodes}
    assert {"read_bbbc021_png_subset", "extract_cell_crops", "collect_bbbc021_metrics"} <= bbbc021_nodes
    # The same data_engineering as every source: BBBC021's profile makes split_wells split by molecule.
    assert {node.name for node in pipelines["data_engineering"].nodes} <= bbbc021_nodes


def test_every_bbbc021_dataset_is_declared_and_produced_ones_versioned() -> None:
    bootstrap_project(PROJECT_ROOT)
    with KedroSession.create(project_path=PROJECT_ROOT, env="bbbc021") as session:
        catalog = session.load_context().catalog
    raw = set(pipelines["bbbc021_ingestion"].all_outputs())
    for name in ("bbbc021", "bbbc021_official"):
        datasets = sorted(n for n in pipelines[name].datasets() if not n.startswith("params:"))
        undeclared = [n for n in datasets if type(catalog.get(n)).__name__ == "MemoryDataset"]
        assert undeclared == [], name
        produced = set(pipelines[name].all_outputs()) - raw
        unversioned = [n for n in produced if getattr(catalog.get(n), "_version", None) is None]
        assert unversioned == [], name
        # Every dataset lives under data/bbbc021 (or is BBBC021 input), never in the default run's folders.
        described = {n: catalog.get(n)._describe() for n in datasets}
        elsewhere = [
            n for n, d in described.items() if "bbbc021" not in str(d.get("filepath", d.get("path")))
        ]
        assert elsewhere == [], name
