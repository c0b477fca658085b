from __future__ import annotations

from itertools import combinations

import pandas as pd
import pytest
from rdkit import Chem, DataStructs, rdBase
from rdkit.Chem import rdFingerprintGenerator

from micon.chem.standardize import StandardizationConfig, standardize_smiles
from micon.sources.synthetic import LIBRARY, PROGRAMS, SyntheticScreenConfig, generate_compound_annotations
from micon.sources.synthetic.compounds import is_active
from tests.parameters import make_config

BASE = make_config(SyntheticScreenConfig, "synthetic", env="base")


def _fingerprint(smiles: str) -> DataStructs.ExplicitBitVect:
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    return generator.GetFingerprint(Chem.MolFromSmiles(smiles))


def test_library_at_least_60_compounds_over_8_active_mechanisms() -> None:
    assert len(LIBRARY) >= 60
    active = [c for c in LIBRARY if is_active(c, BASE)]
    assert len({c.moa for c in active}) >= 8
    assert len({c.program for c in active}) >= 8
    assert {c.program for c in LIBRARY} <= set(PROGRAMS)


def test_library_every_smiles_parses_with_a_stable_distinct_inchikey() -> None:
    standardization = make_config(StandardizationConfig, "data_engineering.standardization", env="base")
    keys = []
    for compound in LIBRARY:
        with rdBase.BlockLogs():
            mol = Chem.MolFromSmiles(compound.smiles)
        assert mol is not None, compound.name
        key = Chem.MolToInchiKey(mol)
        # The written parent's key is the key data engineering's standardisation computes.
        assert standardize_smiles(compound.smiles, standardization).inchikey == key, compound.name
        keys.append(key)
    assert len(set(keys)) == len(keys)


def test_library_mechanisms_hold_structurally_unrelated_members() -> None:
    by_program: dict[str, list] = {}
    for compound in LIBRARY:
        if is_active(compound, BASE):
            by_program.setdefault(compound.program, []).append(compound)
    unrelated = 0
    for members in by_program.values():
        fingerprints = [_fingerprint(c.smiles) for c in members]
        similarities = [DataStructs.TanimotoSimilarity(a, b) for a, b in combinations(fingerprints, 2)]
        if similarities and min(similarities) < 0.3:
            unrelated += 1
    assert unrelated >= 8


def test_library_analogue_series_hold_inactive_or_otherwise_acting_members() -> None:
    table = pd.DataFrame(
        [(c.family, c.program, is_active(c, BASE)) for c in LIBRARY], columns=["family", "program", "active"]
    )
    mixed = table.groupby("family").agg(active=("active", "nunique"), programs=("program", "nunique"))
    assert ((mixed["active"] > 1) | (mixed["programs"] > 1)).sum() >= 3


@pytest.mark.parametrize(("env", "min_active"), [("base", 8), ("benchmark", 16)])
def test_generate_compound_annotations_default_screen_at_least_half_inactive(
    env: str, min_active: int
) -> None:
    config = make_config(SyntheticScreenConfig, "synthetic", env=env)
    annotations = generate_compound_annotations(config)
    screened = annotations[annotations["name"] != "DMSO"]
    assert (~screened["is_active"]).mean() >= 0.5
    assert screened["is_active"].sum() >= min_active
    assert annotations["Metadata_MoA"].notna().all()


@pytest.mark.parametrize("fraction", [0.5, 0.8])
def test_generate_compound_annotations_inactive_fraction_honoured(fraction: float) -> None:
    config = make_config(SyntheticScreenConfig, "synthetic", env="base", inactive_fraction=fraction)
    annotations = generate_compound_annotations(config)
    valid = annotations[annotations["has_valid_smiles"] & (annotations["name"] != "DMSO")]
    assert (~valid["is_active"]).sum() >= fraction * config.n_compounds
