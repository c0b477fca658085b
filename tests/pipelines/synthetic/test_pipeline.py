from __future__ import annotations

from kedro.runner import SequentialRunner

from micon import schema
from micon.pipelines.synthetic import create_pipeline
from micon.sources.synthetic import truth_columns
from tests.pipelines.conftest import add_parameters, kept_catalog


def test_synthetic_pipeline_writes_raw_contract_truth_and_annotations(parameters) -> None:
    pipeline = create_pipeline()
    catalog = kept_catalog({}, sorted(pipeline.all_outputs()))
    add_parameters(catalog, parameters)
    SequentialRunner().run(pipeline, catalog)

    wells = catalog.load("well_table")
    truth = catalog.load("synthetic_well_truth")
    annotations = catalog.load("synthetic_compound_annotations")
    assert len(truth) == len(wells)
    assert set(truth_columns()) <= set(truth.columns)
    assert set(annotations[schema.JCP2022]) == set(catalog.load("compound_table")[schema.JCP2022])
    assert schema.MOA in wells.columns
    assert catalog.load("source_profile")["well_annotations"] == [schema.MOA]
