from __future__ import annotations

import numpy as np
import pytest

from micon import schema
from micon.evaluation import (
    NormalizationConfig,
    RetrievalConfig,
    aggregate_to_wells,
    evaluate_profiles,
    normalize_profiles,
)


def test_data_engineering_tiny_screen_accounts_for_every_row(engineered, tiny_screen):
    catalog = engineered

    compounds = catalog.load("standardized_compounds")
    assert len(compounds) + len(catalog.load("standardization_quarantine")) == len(tiny_screen.compound_table)
    assert set(catalog.load("standardization_quarantine")[schema.QUARANTINE_REASON]) == {"invalid_smiles"}

    wells = catalog.load("well_metadata")
    assert len(wells) + len(catalog.load("well_join_quarantine")) == len(tiny_screen.well_table)
    sites = catalog.load("site_table")
    assert len(sites) + len(catalog.load("site_join_quarantine")) == len(tiny_screen.image_index)
    imaged_wells = sites[list(schema.WELL_KEY)].drop_duplicates()
    assert len(imaged_wells) + len(catalog.load("well_image_quarantine")) == len(wells)

    crop_index = catalog.load("crop_index")
    store = catalog.load("crop_store")
    crops = store.crops
    summary = catalog.load("site_summary")
    assert len(summary) + len(catalog.load("crop_extraction_quarantine")) == len(sites)
    assert store.channels == schema.CHANNELS  # the source profile's, recorded with the crops
    assert crops.dtype == np.uint16 and crops.shape == (len(crop_index), len(schema.CHANNELS), 24, 24)
    assert crop_index[schema.CROP_ID].tolist() == list(range(len(crop_index)))
    assert set(crop_index[schema.SPLIT]) <= set(schema.SPLITS)
    # DMSO crops exist on every plate
    assert crop_index.loc[crop_index[schema.IS_CONTROL], schema.PLATE].nunique() == len(
        tiny_screen.plate_table
    )


def test_data_engineering_crop_masks_align_with_crops(engineered):
    crops = engineered.load("crop_store").crops
    masks = engineered.load("crop_masks")
    assert masks.channels == ("Nuclei", "Cells")
    masks = masks.crops
    assert masks.dtype == np.uint16 and masks.shape == (len(crops), 2, *crops.shape[2:])
    assert set(np.unique(masks)) <= {0, 1}
    nucleus, cell = masks[:, 0].astype(bool), masks[:, 1].astype(bool)
    assert nucleus.any(axis=(1, 2)).all()
    assert not (nucleus & ~cell).any()  # every nucleus lies inside its cell
    # the crop is centred on its nucleus: the centre pixel's DNA is brighter than the crop's median
    centre = crops.shape[2] // 2
    dna = crops[:, schema.CHANNELS.index(schema.NUCLEAR_CHANNEL)].astype(float)
    assert (dna[:, centre, centre] > np.median(dna.reshape(len(dna), -1), axis=1)).mean() > 0.9


def test_data_engineering_cellprofiler_features_account_for_every_crop(engineered):
    crop_index = engineered.load("crop_index")
    features = engineered.load("cellprofiler.crop_embeddings")
    quarantine = engineered.load("cell_features_quarantine")
    assert len(features) + len(quarantine) == len(crop_index)
    assert set(features[schema.CROP_ID]).isdisjoint(quarantine[schema.CROP_ID])
    assert schema.metadata_columns(list(features.columns)) == list(crop_index.columns)
    values = features[schema.feature_columns(list(features.columns))]
    assert values.shape[1] > 500
    assert np.isfinite(values.to_numpy()).all()
    assert "Cells_Intensity_MeanIntensity_DNA" in values.columns
    assert set(quarantine[schema.QUARANTINE_REASON]) <= {"empty_compartment", "non_finite_features"}


@pytest.mark.slow
def test_cellprofiler_well_profiles_retrieve_their_compound(engineered, parameters):
    """The features carry the compounds' phenotypes: replicate wells find each other after MAD."""
    reporting = parameters["reporting"]
    wells = aggregate_to_wells(engineered.load("cellprofiler.crop_embeddings"), **reporting["aggregation"])
    normalization = {**reporting["normalization"], "steps": ["mad_robustize"]}
    profiles, _ = normalize_profiles(wells, NormalizationConfig(**normalization))
    retrieval = {**reporting["retrieval"], "null_size": 1000, "null_cache_dir": None}
    summary, _, _ = evaluate_profiles(profiles, RetrievalConfig(**retrieval))
    assert summary["NSB"]["top1"] > 0.4  # 0.61 at the time of writing (36 queries); chance is ~0.1
