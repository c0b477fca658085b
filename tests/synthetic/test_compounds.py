from __future__ import annotations

import re
from collections.abc import Callable

import pandas as pd
from rdkit import Chem, rdBase

from micon import schema
from micon.sources.synthetic import (
    LIBRARY,
    SyntheticScreenConfig,
    generate_compound_annotations,
    generate_compounds,
    parent_inchikey,
)
from tests.parameters import make_config

PARENT_KEYS = {parent_inchikey(c.smiles) for c in LIBRARY}


def _parses(smiles: str) -> bool:
    with rdBase.BlockLogs():
        return Chem.MolFromSmiles(smiles) is not None


def _raw_inchikey(smiles: str) -> str:
    with rdBase.BlockLogs():
        return Chem.MolToInchiKey(Chem.MolFromSmiles(smiles))


def test_library_every_parent_valid_and_distinct() -> None:
    assert len(LIBRARY) >= 60
    assert all(_parses(c.smiles) for c in LIBRARY)
    assert len(PARENT_KEYS) == len(LIBRARY)
    # Curated tautomers are the same molecule written differently.
    for c in LIBRARY:
        if c.tautomer_smiles is not None:
            assert parent_inchikey(c.tautomer_smiles) == parent_inchikey(c.smiles), c.name
            assert Chem.CanonSmiles(c.tautomer_smiles) != Chem.CanonSmiles(c.smiles), c.name


def test_generate_compounds_default_config_returns_expected_rows_and_columns() -> None:
    config = make_config(SyntheticScreenConfig, "synthetic", env="base")
    table = generate_compounds(config)
    assert list(table.columns) == [schema.JCP2022, schema.SMILES, schema.INCHIKEY]
    assert len(table) == config.n_compounds + config.n_invalid_compounds + 1
    assert table[schema.JCP2022].is_unique
    dmso = table[table[schema.JCP2022] == schema.DMSO_JCP2022]
    assert dmso[schema.SMILES].tolist() == [schema.DMSO_SMILES]
    assert dmso[schema.INCHIKEY].tolist() == [parent_inchikey(schema.DMSO_SMILES)]
    others = table[table[schema.JCP2022] != schema.DMSO_JCP2022][schema.JCP2022]
    assert all(re.fullmatch(r"JCP2022_9\d{5}", jcp) for jcp in others)


def test_generate_compounds_same_seed_identical_other_seed_different(
    make_config: Callable[..., SyntheticScreenConfig],
) -> None:
    first = generate_compounds(make_config(seed=3))
    pd.testing.assert_frame_equal(first, generate_compounds(make_config(seed=3)))
    assert not first.equals(generate_compounds(make_config(seed=4)))


def test_generate_compounds_invalid_smiles_unparseable_with_empty_inchikey(
    make_config: Callable[..., SyntheticScreenConfig],
) -> None:
    table = generate_compounds(make_config(n_invalid_compounds=3))
    invalid = table[~table[schema.SMILES].map(_parses)]
    assert len(invalid) == 3
    assert (invalid[schema.INCHIKEY] == "").all()
    valid = table[table[schema.SMILES].map(_parses)]
    assert (valid[schema.INCHIKEY].str.len() == 27).all()


def test_generate_compounds_salt_and_charged_forms_resolve_to_parent_inchikey(
    make_config: Callable[..., SyntheticScreenConfig],
) -> None:
    config = make_config(n_compounds=12, n_salt_forms=3, n_charged_forms=3, n_noncanonical_forms=2)
    table = generate_compounds(config)
    treated = table[(table[schema.JCP2022] != schema.DMSO_JCP2022) & (table[schema.INCHIKEY] != "")]
    assert len(treated) == 12
    assert set(treated[schema.INCHIKEY]) <= PARENT_KEYS
    # The stated key is the neutral parent's: standardising the written form gives it back.
    assert (treated[schema.SMILES].map(parent_inchikey) == treated[schema.INCHIKEY]).all()
    salts = treated[treated[schema.SMILES].str.contains(".", regex=False)]
    charged = treated[
        ~treated[schema.SMILES].str.contains(".", regex=False)
        & treated[schema.SMILES].str.contains(r"\[NH\d?\+\]|\[O-\]", regex=True)
        & ~treated[schema.SMILES].str.contains("[N+](=O)[O-]", regex=False)
    ]
    assert len(salts) == 3
    assert len(charged) == 3
    # Without standardisation the salt / charged SMILES would not give the parent's key.
    for frame in (salts, charged):
        assert (frame[schema.SMILES].map(_raw_inchikey) != frame[schema.INCHIKEY]).all()


def test_generate_compounds_noncanonical_forms_differ_from_curated_smiles(
    make_config: Callable[..., SyntheticScreenConfig],
) -> None:
    config = make_config(n_compounds=10, n_salt_forms=0, n_charged_forms=0, n_noncanonical_forms=4)
    table = generate_compounds(config)
    curated = {c.smiles for c in LIBRARY}
    valid = table[(table[schema.INCHIKEY] != "") & (table[schema.JCP2022] != schema.DMSO_JCP2022)]
    rewritten = valid[~valid[schema.SMILES].isin(curated)]
    assert len(rewritten) == 4
    assert (rewritten[schema.SMILES].map(parent_inchikey) == rewritten[schema.INCHIKEY]).all()


def test_generate_compounds_parents_drawn_by_family_include_similar_pairs() -> None:
    # the benchmark's full-size screen (64 compounds); the default run's 24 hold fewer families twice
    table = generate_compounds(make_config(SyntheticScreenConfig, "synthetic", env="benchmark"))
    family_of = {parent_inchikey(c.smiles): c.family for c in LIBRARY}
    families = pd.Series([family_of[k] for k in table[schema.INCHIKEY] if k in family_of])
    assert (families.value_counts() >= 2).sum() >= 3


def test_generate_compound_annotations_rows_align_with_compound_table(
    make_config: Callable[..., SyntheticScreenConfig],
) -> None:
    config = make_config(n_invalid_compounds=2)
    table, annotations = generate_compounds(config), generate_compound_annotations(config)
    assert list(annotations[schema.JCP2022]) == list(table[schema.JCP2022])
    assert list(annotations.columns[:2]) == [schema.JCP2022, schema.MOA]
    invalid = ~table[schema.SMILES].map(_parses)
    assert (~annotations.loc[invalid.to_numpy(), "has_valid_smiles"]).all()
    assert annotations.loc[~invalid.to_numpy(), "has_valid_smiles"].all()
    assert annotations[schema.MOA].iloc[-1] == "DMSO"
    # The invalid rows stand for real library drugs (a registration error), with their mechanism.
    assert annotations.loc[invalid.to_numpy(), schema.MOA].isin({c.moa for c in LIBRARY}).all()
