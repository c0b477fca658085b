import logging
import random
import re

import pandas as pd
import pytest
from rdkit import Chem

from micon import schema
from micon.chem import ParallelConfig, StandardizationConfig, standardize_compounds, standardize_smiles
from micon.chem.standardize import UnusualStructureError
from micon.contracts import ContractError
from micon.errors import InvalidConfigError, InvalidInputError, InvalidSmilesError, MissingColumnsError
from tests.parameters import make_config
from tests.shared_data import require_shared

CONFIG = make_config(StandardizationConfig, "data_engineering.standardization")
SERIAL = make_config(ParallelConfig, "data_engineering.standardization_parallel", n_jobs=1, progress=False)
ASPIRIN_INCHIKEY = "BSYNRYMUTXBXSQ-UHFFFAOYSA-N"


def _compounds(rows: list[tuple[str, object]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            schema.JCP2022: [r[0] for r in rows],
            schema.SMILES: [r[1] for r in rows],
            schema.INCHIKEY: ["" for _ in rows],
        }
    )


def test_standardize_smiles_sodium_salt_gives_parent_acid_inchikey():
    result = standardize_smiles("CC(=O)Oc1ccccc1C(=O)[O-].[Na+]", CONFIG)
    assert result.inchikey == ASPIRIN_INCHIKEY
    assert result.smiles == "CC(=O)Oc1ccccc1C(=O)O"


def test_standardize_smiles_hydrochloride_gives_free_base():
    salt = standardize_smiles("CN(C)CCCN1c2ccccc2CCc2ccccc21.Cl", CONFIG)  # imipramine HCl
    base = standardize_smiles("CN(C)CCCN1c2ccccc2CCc2ccccc21", CONFIG)
    assert salt == base
    assert "." not in salt.smiles


def test_standardize_smiles_charged_amine_gives_neutral_amine():
    assert standardize_smiles("C[NH+](C)C.[Cl-]", CONFIG).smiles == "CN(C)C"
    assert standardize_smiles("CC[NH3+]", CONFIG).smiles == "CCN"


def test_standardize_smiles_tautomers_give_same_molecule():
    hydroxypyridine = standardize_smiles("Oc1ccccn1", CONFIG)
    pyridone = standardize_smiles("O=c1cccc[nH]1", CONFIG)
    assert hydroxypyridine == pyridone


def test_standardize_smiles_random_atom_order_gives_same_canonical_smiles():
    mol = Chem.MolFromSmiles("CC(C)Cc1ccc(C(C)C(=O)O)cc1")  # ibuprofen
    rng = random.Random(0)
    expected = standardize_smiles(Chem.MolToSmiles(mol), CONFIG)
    for _ in range(5):
        order = list(range(mol.GetNumAtoms()))
        rng.shuffle(order)
        shuffled = Chem.MolToSmiles(Chem.RenumberAtoms(mol, order), canonical=False)
        assert standardize_smiles(shuffled, CONFIG) == expected


def test_standardize_smiles_stereo_kept_by_default_and_removed_on_request():
    smiles = "C[C@H](N)c1ccccc1"
    assert "@" in standardize_smiles(smiles, CONFIG).smiles
    flat = standardize_smiles(
        smiles, make_config(StandardizationConfig, "data_engineering.standardization", remove_stereo=True)
    )
    assert "@" not in flat.smiles
    assert flat.inchikey.split("-")[1] == "UHFFFAOYSA"


def test_standardize_smiles_tautomeric_stereocentre_loses_stereo():
    # RDKit's tautomer canonicaliser drops stereo on atoms that change between tautomers (alanine's
    # alpha carbon); documented on StandardizationConfig.canonical_tautomer.
    assert "@" not in standardize_smiles("C[C@H](N)C(=O)O", CONFIG).smiles


def test_standardize_smiles_dmso_gives_dmso_inchikey():
    assert standardize_smiles(schema.DMSO_SMILES, CONFIG).inchikey == "IAZDPXIOMUYVGZ-UHFFFAOYSA-N"


def test_standardize_smiles_steps_off_keep_salt():
    config = make_config(
        StandardizationConfig,
        "data_engineering.standardization",
        cleanup=False,
        largest_fragment=False,
        uncharge=False,
        canonical_tautomer=False,
    )
    assert "." in standardize_smiles("CCN.Cl", config).smiles


@pytest.mark.parametrize(
    ("smiles", "reason"),
    [
        ("C1CC(", "syntax error"),
        ("c1cccc1", "kekulize"),
        ("C(C)(C)(C)(C)C", "valence"),
        ("", "empty"),
    ],
)
def test_standardize_smiles_invalid_smiles_raises_with_smiles_and_reason(smiles, reason):
    with pytest.raises(InvalidSmilesError, match=reason) as info:
        standardize_smiles(smiles, CONFIG)
    assert repr(smiles) in str(info.value)


def test_standardize_smiles_invalid_smiles_writes_nothing_to_stderr(capfd):
    with pytest.raises(InvalidSmilesError):
        standardize_smiles("C1CC(", CONFIG)
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize(
    "kwargs", [{"cleanup": 1}, {"max_tautomers": 0}, {"max_tautomers": 2.5}, {"canonical_tautomer": None}]
)
def test_standardization_config_bad_value_raises(kwargs):
    with pytest.raises(InvalidConfigError, match=next(iter(kwargs))):
        make_config(StandardizationConfig, "data_engineering.standardization", **kwargs)


def test_standardize_compounds_mixed_table_partitions_rows(caplog):
    compounds = _compounds(
        [
            ("JCP2022_000001", "CC(=O)Oc1ccccc1C(=O)[O-].[Na+]"),
            (schema.DMSO_JCP2022, schema.DMSO_SMILES),
            ("JCP2022_000002", "C1CC("),
            ("JCP2022_000003", None),
            ("JCP2022_000004", "  "),
            ("JCP2022_000005", "CCO"),
            ("JCP2022_000005", "CCN"),
            ("JCP2022_000006", "CCC"),
            ("JCP2022_000006", "CCC"),
        ]
    )
    with caplog.at_level(logging.INFO, logger="micon.chem.standardize"):
        accepted, quarantined = standardize_compounds(compounds, CONFIG, SERIAL)
    assert len(accepted) + len(quarantined) == len(compounds)
    assert list(accepted[schema.JCP2022]) == ["JCP2022_000001", schema.DMSO_JCP2022, "JCP2022_000006"]
    assert accepted.loc[0, schema.STANDARD_INCHIKEY] == ASPIRIN_INCHIKEY
    assert {schema.STANDARD_SMILES, schema.STANDARD_INCHIKEY, schema.INCHIKEY} <= set(accepted.columns)
    reasons = quarantined.groupby(schema.QUARANTINE_REASON)[schema.JCP2022].apply(list).to_dict()
    assert reasons == {
        "invalid_smiles": ["JCP2022_000002"],
        "missing_smiles": ["JCP2022_000003", "JCP2022_000004"],
        "duplicate_compound_id": ["JCP2022_000005", "JCP2022_000005", "JCP2022_000006"],
    }
    invalid = quarantined[quarantined[schema.QUARANTINE_REASON] == "invalid_smiles"]
    assert "'C1CC('" in invalid[schema.QUARANTINE_DETAIL].iloc[0]
    assert set(quarantined[schema.QUARANTINE_STAGE]) == {"standardize_compounds"}
    assert "3 accepted" in caplog.text


def test_standardize_compounds_all_valid_gives_empty_quarantine():
    accepted, quarantined = standardize_compounds(_compounds([("JCP2022_000001", "CCO")]), CONFIG, SERIAL)
    assert len(accepted) == 1
    assert quarantined.empty
    assert list(quarantined.columns) == [schema.JCP2022, schema.SMILES, "stage", "reason", "detail"]


def test_standardize_compounds_input_not_mutated():
    compounds = _compounds([("JCP2022_000001", "CCO")])
    before = compounds.copy()
    standardize_compounds(compounds, CONFIG, SERIAL)
    pd.testing.assert_frame_equal(compounds, before)


def test_standardize_compounds_missing_column_raises_naming_it():
    compounds = _compounds([("JCP2022_000001", "CCO")]).drop(columns=schema.INCHIKEY)
    with pytest.raises(MissingColumnsError, match=schema.INCHIKEY):
        standardize_compounds(compounds, CONFIG, SERIAL)


def test_standardize_compounds_empty_table_raises():
    with pytest.raises(InvalidInputError, match="empty"):
        standardize_compounds(_compounds([]), CONFIG, SERIAL)


@pytest.mark.realdata
def test_standardize_compounds_jump_sample_agrees_with_jump_inchikeys():
    path = require_shared("jump/compound.csv.gz")
    compounds = pd.read_csv(path).dropna(subset=[schema.SMILES]).head(300)
    accepted, quarantined = standardize_compounds(
        compounds,
        CONFIG,
        make_config(ParallelConfig, "data_engineering.standardization_parallel", n_jobs=1, progress=False),
    )
    assert len(accepted) + len(quarantined) == 300
    agreement = (accepted[schema.STANDARD_INCHIKEY] == accepted[schema.INCHIKEY]).sum() / 300
    assert agreement >= 0.95, f"InChIKey agreement with JUMP {agreement:.3f} < 0.95"


@pytest.mark.parametrize(
    ("smiles", "code"),
    [("N.N.Cl[Pt]Cl", "contains_metal"), ("[Na+].[Cl-]", "salt_only"), ("O", "inorganic")],
)
def test_standardize_smiles_unusual_entry_raises_with_its_code(smiles, code):
    with pytest.raises(UnusualStructureError, match=re.escape(repr(smiles))) as info:
        standardize_smiles(smiles, CONFIG)
    assert info.value.code == code


def test_standardize_smiles_keep_whole_keeps_the_metal():
    config = make_config(
        StandardizationConfig, "data_engineering.standardization", unusual_entries="keep_whole"
    )
    assert "Pt" in standardize_smiles("N.N.Cl[Pt]Cl", config).smiles
    assert standardize_smiles("[Na+].[Cl-]", config).smiles == "[Cl-].[Na+]"


def test_standardize_smiles_sodium_carboxylate_is_a_salt_not_a_metal_entry():
    assert standardize_smiles("CC(=O)Oc1ccccc1C(=O)O[Na]", CONFIG).inchikey == ASPIRIN_INCHIKEY


def test_standardize_compounds_unusual_and_unidentified_entries_quarantined_with_reasons():
    compounds = _compounds(
        [
            ("JCP2022_000001", "N.N.Cl[Pt]Cl"),
            ("JCP2022_000002", "[Na+].[Cl-]"),
            ("JCP2022_000003", "O"),
            (float("nan"), "CCO"),
            ("   ", "CCN"),
            ("JCP2022_000004", "CCC.Cl"),
        ]
    )
    accepted, quarantined = standardize_compounds(compounds, CONFIG, SERIAL)
    assert list(accepted[schema.JCP2022]) == ["JCP2022_000004"]
    assert accepted[schema.STANDARD_SMILES].tolist() == ["CCC"]
    reasons = dict(zip(quarantined[schema.SMILES], quarantined[schema.QUARANTINE_REASON], strict=True))
    assert reasons == {
        "N.N.Cl[Pt]Cl": "contains_metal",
        "[Na+].[Cl-]": "salt_only",
        "O": "inorganic",
        "CCO": "invalid_identifier",
        "CCN": "invalid_identifier",
    }
    assert len(accepted) + len(quarantined) == len(compounds)


def test_standardize_compounds_ids_normalised_to_stripped_text():
    compounds = _compounds([(" JCP2022_000001 ", "CCO")])
    accepted, _ = standardize_compounds(compounds, CONFIG, SERIAL)
    assert accepted[schema.JCP2022].tolist() == ["JCP2022_000001"]


def test_standardize_compounds_non_text_smiles_raises_naming_table_column_and_row():
    compounds = _compounds([("JCP2022_000001", "CCO"), ("JCP2022_000002", 5)])
    with pytest.raises(ContractError, match=r"compound_table: column Metadata_SMILES .* row\(s\) 1"):
        standardize_compounds(compounds, CONFIG, SERIAL)
