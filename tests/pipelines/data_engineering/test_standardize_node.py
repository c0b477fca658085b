"""The standardisation node under Kedro's runners, with its SMILES spread over 2 spawned workers."""

from __future__ import annotations

import pandas as pd
import pytest
from kedro.io import DataCatalog, MemoryDataset, SharedMemoryDataCatalog
from kedro.pipeline import Node, Pipeline
from kedro.runner import ParallelRunner, SequentialRunner

from micon import schema
from micon.pipelines.data_engineering.nodes import standardize_compound_table
from tests.parameters import parameter

STEPS = parameter("data_engineering.standardization")
# Chunks of 2 over 2 workers, so the pool really starts inside the runner.
TWO_WORKERS = {**parameter("data_engineering.standardization_parallel"), "n_jobs": 2, "chunk_size": 2}


def _compounds() -> pd.DataFrame:
    smiles = ["CC(=O)Oc1ccccc1C(=O)[O-].[Na+]", "C1CC(", "CCN.Cl", "Oc1ccccn1", "c1cccc1", "CS(C)=O", None]
    return pd.DataFrame(
        {
            schema.JCP2022: [f"JCP2022_{i:06d}" for i in range(len(smiles))],
            schema.SMILES: smiles,
            schema.INCHIKEY: "",
        }
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("runner", "catalog_class"), [(SequentialRunner, DataCatalog), (ParallelRunner, SharedMemoryDataCatalog)]
)
def test_standardize_node_runs_its_worker_pool_under_kedro_runners(runner, catalog_class):
    pipeline = Pipeline(
        [
            Node(
                standardize_compound_table,
                ["compound_table", "params:standardization", "params:standardization_parallel"],
                ["standardized_compounds", "standardization_quarantine"],
            )
        ]
    )
    catalog = catalog_class(
        {
            "compound_table": MemoryDataset(_compounds()),
            "params:standardization": MemoryDataset(STEPS),
            "params:standardization_parallel": MemoryDataset(TWO_WORKERS),
        }
    )
    # The outputs are free (not in the catalog), so the runner returns them; ParallelRunner's shared
    # memory lives as long as the runner, so it is kept until they are loaded.
    kedro_runner = runner()
    outputs = kedro_runner.run(pipeline, catalog)
    accepted, quarantined = (
        outputs[name].load() for name in ("standardized_compounds", "standardization_quarantine")
    )
    assert accepted[schema.JCP2022].tolist() == [
        "JCP2022_000000",
        "JCP2022_000002",
        "JCP2022_000003",
        "JCP2022_000005",
    ]
    assert quarantined[schema.QUARANTINE_REASON].tolist() == [
        "missing_smiles",
        "invalid_smiles",
        "invalid_smiles",
    ]
