import pytest
from rdkit import Chem

from micon.chem import PERTURBATION_KINDS, StandardizationConfig, perturb_smiles, standardize_smiles
from micon.errors import InvalidSmilesError, UnknownNameError
from tests.parameters import make_config

CONFIG = make_config(StandardizationConfig, "data_engineering.standardization")
ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
ASPIRIN_INCHIKEY = "BSYNRYMUTXBXSQ-UHFFFAOYSA-N"
IMIPRAMINE = "CN(C)CCCN1c2ccccc2CCc2ccccc21"  # a tertiary aliphatic amine, no acid, no tautomer
PARACETAMOL = "CC(=O)Nc1ccc(O)cc1"  # an amide and a phenol: neither basic amine nor acid group
PYRIDONE = "O=c1cccc[nH]1"  # the 2-hydroxypyridine / 2-pyridone pair


def _charge(smiles: str) -> int:
    return Chem.GetFormalCharge(Chem.MolFromSmiles(smiles))


def test_salt_of_acid_is_a_charge_balanced_sodium_or_potassium_salt_with_the_parent_key():
    for seed in range(6):
        salt = perturb_smiles(ASPIRIN, "salt", seed=seed)
        assert salt.applied
        fragments = set(salt.smiles.split("."))
        assert fragments & {"[Na+]", "[K+]"}
        assert "CC(=O)Oc1ccccc1C(=O)[O-]" in fragments
        assert _charge(salt.smiles) == 0
        assert standardize_smiles(salt.smiles, CONFIG).inchikey == ASPIRIN_INCHIKEY


def test_salt_of_non_acid_adds_a_neutral_acid_fragment_and_standardises_back():
    parent = standardize_smiles(IMIPRAMINE, CONFIG)
    added = set()
    for seed in range(12):
        salt = perturb_smiles(IMIPRAMINE, "salt", seed=seed)
        fragments = salt.smiles.split(".")
        assert len(fragments) == 2 and Chem.CanonSmiles(IMIPRAMINE) in fragments
        added |= set(fragments) - {Chem.CanonSmiles(IMIPRAMINE)}
        assert standardize_smiles(salt.smiles, CONFIG) == parent
    assert added <= {"Cl", "Br", "O=C(O)C(F)(F)F", "CS(=O)(=O)O"}
    assert len(added) >= 2  # the seed picks among them


def test_solvent_adds_water_ethanol_or_methanol_never_dmso():
    parent = standardize_smiles(PARACETAMOL, CONFIG)
    added = set()
    for seed in range(12):
        solvate = perturb_smiles(PARACETAMOL, "solvent", seed=seed)
        added |= set(solvate.smiles.split(".")) - {PARACETAMOL}
        assert standardize_smiles(solvate.smiles, CONFIG) == parent
    assert added == {"O", "CCO", "CO"}


def test_charged_protonates_a_basic_amine():
    ion = perturb_smiles(IMIPRAMINE, "charged")
    assert ion.smiles == "C[NH+](C)CCCN1c2ccccc2CCc2ccccc21"
    assert _charge(ion.smiles) == 1
    assert standardize_smiles(ion.smiles, CONFIG) == standardize_smiles(IMIPRAMINE, CONFIG)


def test_charged_deprotonates_an_acid():
    ion = perturb_smiles(ASPIRIN, "charged")
    assert ion.smiles == "CC(=O)Oc1ccccc1C(=O)[O-]"
    assert standardize_smiles(ion.smiles, CONFIG).inchikey == ASPIRIN_INCHIKEY


def test_charged_picks_either_site_of_a_zwitterion_former():
    gaba = "NCCCC(=O)O"
    charges = {_charge(perturb_smiles(gaba, "charged", seed=seed).smiles) for seed in range(12)}
    assert charges == {-1, 1}


@pytest.mark.parametrize(
    "smiles", [PARACETAMOL, "c1ccccc1", "CC(=O)N(C)C", "CNS(=O)(=O)c1ccccc1", "Nc1ccccc1"]
)
def test_charged_does_not_apply_without_basic_amine_or_acid(smiles):
    ion = perturb_smiles(smiles, "charged")
    assert not ion.applied
    assert ion.smiles is None
    assert "no basic aliphatic amine" in ion.detail


def test_random_order_is_the_same_molecule_written_differently():
    smiles = "C[C@H](N)c1ccc(Cl)cc1"
    for seed in range(5):
        shuffled = perturb_smiles(smiles, "random_order", seed=seed)
        assert shuffled.smiles != smiles
        assert Chem.CanonSmiles(shuffled.smiles) == Chem.CanonSmiles(smiles)  # stereo kept


def test_random_order_does_not_apply_to_one_atom():
    assert not perturb_smiles("C", "random_order").applied


def test_tautomer_differs_as_smiles_but_standardises_to_the_same_canonical_tautomer():
    tautomer = perturb_smiles(PYRIDONE, "tautomer")
    assert tautomer.applied
    canonical = standardize_smiles(PYRIDONE, CONFIG)
    assert Chem.CanonSmiles(tautomer.smiles) not in {Chem.CanonSmiles(PYRIDONE), canonical.smiles}
    assert standardize_smiles(tautomer.smiles, CONFIG) == canonical


def test_tautomer_does_not_apply_without_another_tautomer():
    tautomer = perturb_smiles(IMIPRAMINE, "tautomer")
    assert not tautomer.applied
    assert tautomer.detail == "no other tautomer"


@pytest.mark.parametrize("kind", PERTURBATION_KINDS)
def test_perturbation_is_deterministic_by_seed(kind):
    smiles = "CC(=O)Nc1ccc(OCCN(C)C)cc1C(=O)O"
    assert perturb_smiles(smiles, kind, seed=3) == perturb_smiles(smiles, kind, seed=3)
    results = {perturb_smiles(smiles, kind, seed=seed).smiles for seed in range(8)}
    assert len(results) >= 2  # the seed matters


def test_unknown_kind_raises_listing_known_kinds():
    with pytest.raises(UnknownNameError, match="'isotope'.*salt"):
        perturb_smiles(ASPIRIN, "isotope")


def test_invalid_smiles_raises():
    with pytest.raises(InvalidSmilesError, match="C1CC"):
        perturb_smiles("C1CC(", "salt")
