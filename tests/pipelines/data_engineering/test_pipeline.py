from __future__ import annotations

import numpy as np
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from micon import schema
from micon.pipelines.data_engineering import create_pipeline
from tests.pipelines.conftest import add_parameters, kept_catalog


def _catalog(tiny_screen, parameters) -> DataCatalog:
    pipeline = create_pipeline()
    inputs = {
        "plate_table": tiny_screen.plate_table,
        "well_table": tiny_screen.well_table,
        "compound_table": tiny_screen.compound_table,
        "image_index": tiny_screen.image_index,
        "field_images": tiny_screen.fields,
    }
    catalog = kept_catalog(inputs, sorted(pipeline.all_outputs()))
    add_parameters(catalog, parameters)
    return catalog


def test_data_engineering_tiny_screen_accounts_for_every_row(tiny_screen, parameters):
    catalog = _catalog(tiny_screen, parameters)
    SequentialRunner().run(create_pipeline(), catalog)

    compounds = catalog.load("standardized_compounds")
    assert len(compounds) + len(catalog.load("standardization_quarantine")) == len(tiny_screen.compound_table)
    assert set(catalog.load("standardization_quarantine")[schema.QUARANTINE_REASON]) == {"invalid_smiles"}

    wells = catalog.load("well_metadata")
    assert len(wells) + len(catalog.load("well_join_quarantine")) == len(tiny_screen.well_table)
    sites = catalog.load("site_table")
    assert len(sites) + len(catalog.load("site_join_quarantine")) == len(tiny_screen.image_index)

    crop_index = catalog.load("crop_index")
    crops = catalog.load("crop_store")
    summary = catalog.load("site_summary")
    assert len(summary) + len(catalog.load("crop_extraction_quarantine")) == len(sites)
    assert crops.dtype == np.uint16 and crops.shape == (len(crop_index), len(schema.CHANNELS), 24, 24)
    assert crop_index[schema.CROP_ID].tolist() == list(range(len(crop_index)))
    assert set(crop_index[schema.SPLIT]) <= set(schema.SPLITS)
    # every accepted compound reaches the crops, and DMSO crops exist on every plate
    assert crop_index.loc[crop_index[schema.IS_CONTROL], schema.PLATE].nunique() == len(tiny_screen.plate_table)
