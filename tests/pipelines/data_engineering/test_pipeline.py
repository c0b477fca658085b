from __future__ import annotations

import numpy as np

from micon import schema


def test_data_engineering_tiny_screen_accounts_for_every_row(engineered, tiny_screen):
    catalog = engineered

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
    # DMSO crops exist on every plate
    assert crop_index.loc[crop_index[schema.IS_CONTROL], schema.PLATE].nunique() == len(
        tiny_screen.plate_table
    )
