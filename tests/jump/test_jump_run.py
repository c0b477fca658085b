"""The JUMP environment end to end against the S3 emulator: `kedro run --env jump` through a KedroSession."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.pipelines.jump_ingestion.nodes import read_jump_fields_in_place
from micon.session import MiconSession
from micon.training.methods import list_methods
from tests.jump.conftest import MISSING_IMAGE, PLATE_WITHOUT_LOAD_DATA, PLATE_WITHOUT_WELLS, SELECTED_PLATES
from tests.kedro_project import temporary_project
from tests.parameters import parameter

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


@pytest.fixture
def jump_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the project's configuration in a temporary folder, so data/ is written there."""
    return temporary_project(tmp_path, monkeypatch)


def _runtime_params(gallery) -> dict:
    return {
        "modeling": parameter("modeling"),  # the test environment's small models and budget
        "jump_s3_endpoint_url": gallery.endpoint_url,
        "jump_metadata_dir": str(gallery.metadata_dir),
        "jump": {
            "designs": {
                "target2": {
                    "selection": {"plates": SELECTED_PLATES},
                    "splits": {"test_batches_per_source": 1, "ood_compound_fraction": 0.5},
                }
            }
        },
        "data_engineering": {"crops": {"crop_size_px": 64, "max_cells_per_site": 8}},
    }


def test_jump_env_runs_from_the_gallery_to_the_retrieval_report(jump_gallery, jump_project: Path) -> None:
    params = _runtime_params(jump_gallery)
    with MiconSession.create(project_path=jump_project, env="jump", runtime_params=params) as session:
        session.run()  # a bare `kedro run --env jump`: the jump composition
    with MiconSession.create(project_path=jump_project, env="jump", runtime_params=params) as session:
        catalog = session.load_context().catalog

    plates = catalog.load("plate_table")
    assert set(plates[schema.PLATE]) == set(SELECTED_PLATES) - {PLATE_WITHOUT_WELLS[2]}
    selection_quarantine = catalog.load("jump_selection_quarantine")
    assert selection_quarantine[[schema.PLATE, schema.QUARANTINE_REASON]].values.tolist() == [
        [PLATE_WITHOUT_WELLS[2], "plate_without_wells"]
    ]
    load_data_quarantine = catalog.load("jump_load_data_quarantine")
    assert load_data_quarantine[[schema.PLATE, schema.QUARANTINE_REASON]].values.tolist() == [
        [PLATE_WITHOUT_LOAD_DATA[2], "missing_load_data"]
    ]
    site_quarantine = catalog.load("jump_site_quarantine")
    assert site_quarantine[[*schema.SITE_KEY, schema.QUARANTINE_REASON]].values.tolist() == [
        [*MISSING_IMAGE[:4], "missing_image"]
    ]

    image_index = catalog.load("image_index")
    assert len(image_index) == 4 * 5 - 1  # 4 plates with images x 5 wells x site 1, less the missing one
    assert set(image_index[schema.SITE]) == {"1"}
    real_site = image_index[(image_index[schema.PLATE] == "BR00126114") & (image_index[schema.WELL] == "A01")]
    assert real_site[schema.path_name_column("DNA")].item() == (
        "cpg0016-jump/source_4/images/2021_08_23_Batch12/images/BR00126114__2021-09-01T15_39_48-Measurement1/Images"
    )

    # Ingestion wrote tables only; the fields are read from the gallery and corrected on the fly.
    assert not (jump_project / "data" / "jump" / "01_raw" / "images").exists()
    field_images = read_jump_fields_in_place(image_index, catalog.load("jump_gallery"))
    assert len(field_images) == 5 * len(image_index)
    row = real_site.iloc[0]
    for ch in ("DNA", "Mito"):
        stored = field_images[
            schema.image_key(row[schema.path_name_column(ch)], row[schema.file_name_column(ch)])
        ]()
        raw = jump_gallery.fields["BR00126114", "A01", ch].astype(np.float64)
        expected = np.clip(np.rint(raw / jump_gallery.illum["BR00126114", ch]), 0, 65535).astype(np.uint16)
        assert stored.dtype == np.uint16
        np.testing.assert_array_equal(stored, expected)

    well_metadata = catalog.load("well_metadata")
    assert set(well_metadata[schema.SPLIT]) <= {
        schema.SPLIT_TRAIN,
        schema.SPLIT_TEST,
        schema.SPLIT_OOD_COMPOUND,
    }
    assert schema.SPLIT_TEST in set(well_metadata[schema.SPLIT])
    site_summary = catalog.load("site_summary")
    extraction_quarantine = catalog.load("crop_extraction_quarantine")
    assert len(site_summary) + len(extraction_quarantine) == len(image_index)
    crop_index = catalog.load("crop_index")
    crops = catalog.load("crop_store")
    assert crops.shape == (len(crop_index), 5, 64, 64) and len(crop_index) > 0
    assert set(crop_index[schema.PLATE]) <= set(image_index[schema.PLATE])
    counts = pd.Series(crop_index[schema.PLATE]).value_counts()
    assert (counts > 0).all()

    metrics = catalog.load("retrieval_metrics")
    assert set(metrics) == set(list_methods())
