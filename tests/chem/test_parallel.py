import functools
import pickle

import pandas as pd
import pytest

from micon import schema
from micon.chem import (
    ParallelConfig,
    StandardizationConfig,
    StandardizationFailure,
    StandardizedMolecule,
    standardize_compounds,
    standardize_many,
)
from micon.chem.parallel import available_cores, map_in_chunks
from micon.errors import InvalidConfigError
from tests.parameters import make_config

CONFIG = make_config(StandardizationConfig, "data_engineering.standardization")
SERIAL = make_config(ParallelConfig, "data_engineering.standardization_parallel", n_jobs=1, progress=False)
# Chunks of 2 over 2 workers: the pool really starts and every worker gets several chunks.
TWO_WORKERS = make_config(
    ParallelConfig, "data_engineering.standardization_parallel", n_jobs=2, chunk_size=2, progress=False
)
MIXED = [
    "CC(=O)Oc1ccccc1C(=O)[O-].[Na+]",
    "C1CC(",
    "CN(C)CCCN1c2ccccc2CCc2ccccc21.Cl",
    "c1cccc1",
    "Oc1ccccn1",
    "CS(C)=O",
    "C(C)(C)(C)(C)C",
    "CC(=O)Oc1ccccc1C(=O)[O-].[Na+]",
    "O=c1cccc[nH]1",
]


def test_standardize_many_parallel_equals_serial_in_order_and_writes_no_rdkit_log(capfd):
    serial = standardize_many(MIXED, CONFIG, SERIAL)
    parallel = standardize_many(MIXED, CONFIG, TWO_WORKERS)
    assert parallel == serial
    assert [type(r) for r in serial] == [
        StandardizedMolecule,
        StandardizationFailure,
        StandardizedMolecule,
        StandardizationFailure,
        StandardizedMolecule,
        StandardizedMolecule,
        StandardizationFailure,
        StandardizedMolecule,
        StandardizedMolecule,
    ]
    assert "'C1CC('" in serial[1].reason and "syntax error" in serial[1].reason
    assert "kekulize" in serial[3].reason.lower()
    assert "valence" in serial[6].reason.lower()
    assert serial[0] == serial[7]
    assert serial[4] == serial[8]  # tautomers
    assert capfd.readouterr().err == ""  # RDKit's complaints stay in the reasons, in workers too


def test_standardize_compounds_parallel_gives_identical_tables():
    compounds = pd.DataFrame(
        {
            schema.JCP2022: [f"JCP2022_{i:06d}" for i in range(len(MIXED))] + ["JCP2022_999999"],
            schema.SMILES: [*MIXED, None],
            schema.INCHIKEY: "",
        }
    )
    serial = standardize_compounds(compounds, CONFIG, SERIAL)
    parallel = standardize_compounds(compounds, CONFIG, TWO_WORKERS)
    for left, right in zip(serial, parallel, strict=True):
        pd.testing.assert_frame_equal(left, right)
    accepted, quarantined = parallel
    assert len(accepted) + len(quarantined) == len(compounds)
    assert quarantined[schema.QUARANTINE_REASON].value_counts().to_dict() == {
        "invalid_smiles": 3,
        "missing_smiles": 1,
    }


def test_map_in_chunks_keeps_order_for_any_chunking():
    items = list(range(23))
    function = functools.partial(pow, exp=2)
    expected = [i**2 for i in items]
    for chunk_size in (1, 5, 23, 100):
        parallel = make_config(
            ParallelConfig,
            "data_engineering.standardization_parallel",
            n_jobs=1,
            chunk_size=chunk_size,
            progress=False,
        )
        assert map_in_chunks(function, items, parallel, description="square") == expected


def test_map_in_chunks_empty_input_gives_empty_list():
    assert map_in_chunks(str, [], TWO_WORKERS, description="nothing") == []


@pytest.mark.parametrize(
    ("n_jobs", "chunk_size", "n_items", "expected"),
    [(4, 10, 25, 3), (2, 10, 25, 2), (4, 10, 10, 1), (4, 10, 0, 1), (1, 1, 100, 1)],
)
def test_parallel_config_worker_count_is_at_most_one_per_chunk(n_jobs, chunk_size, n_items, expected):
    assert (
        make_config(
            ParallelConfig, "data_engineering.standardization_parallel", n_jobs=n_jobs, chunk_size=chunk_size
        ).worker_count(n_items)
        == expected
    )


def test_parallel_config_default_uses_every_available_core():
    assert (
        make_config(
            ParallelConfig, "data_engineering.standardization_parallel", n_jobs=None, chunk_size=1
        ).worker_count(10_000)
        == available_cores()
    )


def test_configs_survive_pickling_for_spawned_workers():
    for config in (CONFIG, TWO_WORKERS):
        assert pickle.loads(pickle.dumps(config)) == config


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_jobs": 0},
        {"n_jobs": 1.5},
        {"n_jobs": True},
        {"chunk_size": 0},
        {"chunk_size": None},
        {"progress": 1},
    ],
)
def test_parallel_config_bad_value_raises_naming_it(kwargs):
    with pytest.raises(InvalidConfigError, match=next(iter(kwargs))):
        make_config(ParallelConfig, "data_engineering.standardization_parallel", **kwargs)
