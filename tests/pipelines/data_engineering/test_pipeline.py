from __future__ import annotations

import numpy as np
import pandas as pd
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
    assert masks.dtype == np.bool_ and masks.shape == (len(crops), 2, *crops.shape[2:])
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
def test_cellprofiler_well_profiles_retrieve_their_compound(engineered, parameters, tiny_screen):
    """The features carry the active compounds' phenotypes: replicate wells find each other after MAD."""
    reporting = parameters["reporting"]
    wells = aggregate_to_wells(engineered.load("cellprofiler.crop_embeddings"), **reporting["aggregation"])
    normalization = {**reporting["normalization"], "chains": {"mad": ["mad_robustize"]}}
    profiles, _ = normalize_profiles(wells, NormalizationConfig(**normalization), chain="mad")
    # Inactive compounds look like DMSO by construction: only the active ones can be retrieved.
    annotations = tiny_screen.compound_annotations
    active = set(annotations.loc[annotations["is_active"], schema.JCP2022])
    profiles = profiles[profiles[schema.IS_CONTROL] | profiles[schema.JCP2022].isin(active)]
    splits = sorted(set(profiles.loc[~profiles[schema.IS_CONTROL], schema.SPLIT]))
    retrieval = {**reporting["retrieval"], "null_size": 1000, "null_cache_dir": None, "splits": splits}
    summary, _, _ = evaluate_profiles(profiles, RetrievalConfig(**retrieval))
    # At the time of writing (5 active compounds, 30 queries): NSB top-3 0.83 (chance ~0.45), top-1 0.37
    # (chance ~0.17); mAP 0.68.
    assert summary["NSB"]["top3"] > 0.65
    assert summary["NSB"]["top1"] > 0.25


def test_data_engineering_plates_short_of_dmso_after_image_qc_quarantined_before_modeling(
    tiny_screen, parameters, tmp_path
):
    """Image QC leaves two plates with 0 and 1 usable DMSO wells: data_engineering quarantines them
    (too_few_controls), so the plate intensity references modeling fits no longer raise NoControlsError."""
    from kedro.runner import SequentialRunner

    from micon.datasets import CropStoreWriter
    from micon.imaging.intensity import fit_plate_intensity_references
    from micon.pipelines.data_engineering import create_pipeline
    from micon.sources.synthetic import SYNTHETIC_PROFILE
    from tests.pipelines.conftest import add_parameters, kept_catalog

    index = tiny_screen.image_index
    wells = tiny_screen.well_table
    dmso = wells[wells[schema.JCP2022] == schema.DMSO_JCP2022]
    plates = sorted(dmso[schema.PLATE].unique())[:2]
    # plate 0 loses every DMSO field, plate 1 all but one: their images are missing from the store
    broken = pd.concat(
        [dmso[dmso[schema.PLATE] == plates[0]], dmso[dmso[schema.PLATE] == plates[1]].iloc[1:]]
    )
    hit = index.merge(broken[list(schema.WELL_KEY)], on=list(schema.WELL_KEY))
    lost = {
        schema.image_key(r[schema.path_name_column("DNA")], r[schema.file_name_column("DNA")])
        for _, r in hit.iterrows()
    }
    fields = {key: loader for key, loader in tiny_screen.fields.items() if key not in lost}

    pipeline = create_pipeline().to_nodes("extract_cell_crops")
    inputs = {
        "plate_table": tiny_screen.plate_table,
        "well_table": wells,
        "compound_table": tiny_screen.compound_table,
        "image_index": index,
        "field_images": fields,
        "crop_store_writer": CropStoreWriter(protocol="file", path=f"{tmp_path}/crop_store", options={}),
        "crop_masks_writer": CropStoreWriter(protocol="file", path=f"{tmp_path}/crop_masks", options={}),
        "source_profile": SYNTHETIC_PROFILE.to_dict(),
    }
    catalog = kept_catalog(inputs, sorted(pipeline.all_outputs()))
    add_parameters(catalog, parameters)
    SequentialRunner().run(pipeline, catalog)

    crop_index = catalog.load("crop_index")
    quarantine = catalog.load("crop_extraction_quarantine")
    too_few = quarantine[quarantine["reason"] == "too_few_controls"]
    assert set(too_few[schema.PLATE]) == set(plates)
    assert not set(plates) & set(crop_index[schema.PLATE])
    assert len(catalog.load("site_summary")) + len(quarantine) == len(catalog.load("site_table"))
    usable = crop_index[crop_index[schema.IS_CONTROL]].groupby(schema.PLATE)[schema.WELL].nunique()
    assert (usable >= parameters["data_engineering"]["controls"]["min_wells_per_plate"]).all()
    store = catalog.load("crop_store")
    references = fit_plate_intensity_references(store.crops, crop_index, background_quantile=0.1)
    assert len(references) == crop_index[schema.PLATE].nunique()
