from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from micon import schema
from micon.errors import MissingColumnsError
from micon.sources.synthetic import (
    CURATED_COMPOUNDS,
    PHENOTYPE_PARAMETERS,
    SyntheticScreenConfig,
    compound_phenotypes,
    generate_compounds,
    parent_fingerprint,
)
from tests.parameters import make_config


def _table(smiles: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {schema.JCP2022: [f"JCP2022_9{i:05d}" for i in range(len(smiles))], schema.SMILES: smiles}
    )


def test_compound_phenotypes_generated_table_one_row_per_compound(tiny_config: SyntheticScreenConfig) -> None:
    compounds = generate_compounds(tiny_config)
    phenotypes = compound_phenotypes(compounds, tiny_config)
    assert phenotypes.index.name == schema.JCP2022
    assert phenotypes.index.tolist() == compounds[schema.JCP2022].tolist()
    assert list(phenotypes.columns) == list(PHENOTYPE_PARAMETERS)
    assert np.isfinite(phenotypes.to_numpy()).all()
    assert (phenotypes.abs().to_numpy() <= tiny_config.phenotype_strength).all()


def test_compound_phenotypes_dmso_and_invalid_smiles_are_untreated_zeros() -> None:
    table = pd.DataFrame(
        {
            schema.JCP2022: [schema.DMSO_JCP2022, "JCP2022_900001", "JCP2022_900002"],
            schema.SMILES: [schema.DMSO_SMILES, "C1CCCC", "C(C)(C)(C)(C)C"],
        }
    )
    phenotypes = compound_phenotypes(table, make_config(SyntheticScreenConfig, "synthetic"))
    assert (phenotypes.to_numpy() == 0.0).all()


def test_compound_phenotypes_salt_charged_tautomer_forms_equal_parent_phenotype() -> None:
    propranolol = "CC(C)NCC(O)COc1cccc2ccccc12"
    ibuprofen = "CC(C)Cc1ccc(C(C)C(=O)O)cc1"
    fluorouracil, lactim = "O=c1[nH]cc(F)c(=O)[nH]1", "Oc1ncc(F)c(O)n1"
    smiles = [
        propranolol, f"{propranolol}.Cl", "CC(C)[NH2+]CC(O)COc1cccc2ccccc12", "OC(COc1cccc2ccccc12)CNC(C)C",
        ibuprofen, "CC(C)Cc1ccc(C(C)C(=O)[O-])cc1.[Na+]", "CC(C)Cc1ccc(C(C)C(=O)[O-])cc1",
        fluorouracil, lactim,
    ]  # fmt: skip
    values = compound_phenotypes(_table(smiles), make_config(SyntheticScreenConfig, "synthetic")).to_numpy()
    for parent, forms in ((0, [1, 2, 3]), (4, [5, 6]), (7, [8])):
        for form in forms:
            np.testing.assert_array_equal(values[form], values[parent])
    assert np.abs(values[0] - values[4]).max() > 0.1


def test_compound_phenotypes_strength_scales_values_and_zero_gives_dmso() -> None:
    table = _table([c.smiles for c in CURATED_COMPOUNDS[:6]])
    unit = compound_phenotypes(
        table, make_config(SyntheticScreenConfig, "synthetic", phenotype_strength=1.0)
    ).to_numpy()
    double = compound_phenotypes(
        table, make_config(SyntheticScreenConfig, "synthetic", phenotype_strength=2.0)
    ).to_numpy()
    zero = compound_phenotypes(
        table, make_config(SyntheticScreenConfig, "synthetic", phenotype_strength=0.0)
    ).to_numpy()
    np.testing.assert_allclose(double, 2 * unit)
    assert (zero == 0).all()


def test_compound_phenotypes_most_compounds_clearly_visible() -> None:
    table = _table([c.smiles for c in CURATED_COMPOUNDS])
    values = compound_phenotypes(table, make_config(SyntheticScreenConfig, "synthetic")).to_numpy()
    assert (np.abs(values) > 0.5).mean() > 0.5
    assert (np.abs(values).max(axis=1) > 0.8).all()


def test_compound_phenotypes_similar_structures_have_closer_phenotypes() -> None:
    table = _table([c.smiles for c in CURATED_COMPOUNDS])
    values = compound_phenotypes(table, make_config(SyntheticScreenConfig, "synthetic")).to_numpy()
    bits = np.stack([parent_fingerprint(c.smiles) for c in CURATED_COMPOUNDS])
    shared = bits @ bits.T
    counts = bits.sum(axis=1)
    tanimoto = shared / (counts[:, None] + counts[None, :] - shared)
    pairs = list(itertools.combinations(range(len(values)), 2))
    similarity = np.array([tanimoto[i, j] for i, j in pairs])
    distance = np.array([np.linalg.norm(values[i] - values[j]) for i, j in pairs])
    # 18 phenotype dimensions cap the all-pairs rank correlation (~0.28 here); similar pairs are far closer.
    assert spearmanr(similarity, -distance).statistic > 0.2
    assert distance[similarity > 0.4].mean() < 0.7 * distance[similarity < 0.2].mean()


def test_compound_phenotypes_missing_smiles_column_raises_naming_it() -> None:
    with pytest.raises(MissingColumnsError, match=schema.SMILES):
        compound_phenotypes(
            pd.DataFrame({schema.JCP2022: ["JCP2022_900001"]}),
            make_config(SyntheticScreenConfig, "synthetic"),
        )


def test_parent_fingerprint_invalid_smiles_returns_none() -> None:
    assert parent_fingerprint("C1CCCC") is None
    assert parent_fingerprint("CCO").shape == (2048,)


def test_compound_phenotypes_fixed_across_config_seeds(
    make_config: Callable[..., SyntheticScreenConfig],
) -> None:
    table = _table([c.smiles for c in CURATED_COMPOUNDS[:4]])
    pd.testing.assert_frame_equal(
        compound_phenotypes(table, make_config(seed=0)), compound_phenotypes(table, make_config(seed=9))
    )
