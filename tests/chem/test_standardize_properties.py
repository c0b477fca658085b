"""Property-based tests (hypothesis) of SMILES standardisation: variants map to one parent, no raw error."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rdkit import Chem

from micon.chem import StandardizationConfig, standardize_smiles
from micon.chem.standardize import UnusualStructureError
from micon.errors import InvalidSmilesError
from tests.parameters import make_config

CONFIG = make_config(StandardizationConfig, "data_engineering.standardization")
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Drug-like parents with a basic amine (salts: HCl, HBr, mesylate; charged: protonated).
AMINES = (
    "CN(C)CCCN1c2ccccc2CCc2ccccc21",  # imipramine
    "CNCCC(Oc1ccc(C(F)(F)F)cc1)c1ccccc1",  # fluoxetine
    "CC(C)NCC(O)COc1cccc2ccccc12",  # propranolol
    "CN1CCN(C(c2ccccc2)c2ccc(Cl)cc2)CC1",  # chlorcyclizine
)
# Parents with a carboxylic acid (salts: Na+, K+; charged: carboxylate).
ACIDS = (
    "CC(=O)Oc1ccccc1C(=O)O",  # aspirin
    "CC(C)Cc1ccc(C(C)C(=O)O)cc1",  # ibuprofen
    "O=C(O)Cc1ccccc1Nc1c(Cl)cccc1Cl",  # diclofenac
)
_BASIC_AMINE = Chem.MolFromSmarts("[NX3;H0,H1,H2;!$(N-C=[O,S,N]);!$(N-a);!$(N-S(=O)=O)]")
_ACID = Chem.MolFromSmarts("C(=O)[OX2H1]")


def _shuffled(smiles: str, seed: int) -> str:
    mol = Chem.MolFromSmiles(smiles)
    order = list(range(mol.GetNumAtoms()))
    random.Random(seed).shuffle(order)
    return Chem.MolToSmiles(Chem.RenumberAtoms(mol, order), canonical=False)


def _charged(smiles: str, *, acid: bool) -> str:
    mol = Chem.RWMol(Chem.MolFromSmiles(smiles))
    if acid:
        atom = mol.GetAtomWithIdx(mol.GetSubstructMatch(_ACID)[2])
        atom.SetFormalCharge(-1)
        atom.SetNumExplicitHs(0)
    else:
        atom = mol.GetAtomWithIdx(mol.GetSubstructMatch(_BASIC_AMINE)[0])
        atom.SetNumExplicitHs(atom.GetTotalNumHs() + 1)
        atom.SetFormalCharge(1)
    atom.SetNoImplicit(True)
    Chem.SanitizeMol(mol)
    return Chem.MolToSmiles(mol)


@st.composite
def salt_variants(draw) -> tuple[str, str]:
    """Return ``(parent, variant)``: the variant a salt, charged form or another atom order of the parent."""
    acid = draw(st.booleans())
    parent = draw(st.sampled_from(ACIDS if acid else AMINES))
    form = draw(st.sampled_from(["neutral", "charged", "salt"]))
    core = parent if form == "neutral" else _charged(parent, acid=acid)
    core = _shuffled(core, draw(st.integers(0, 10_000)))
    if form == "salt":
        ion = draw(st.sampled_from(["[Na+]", "[K+]"] if acid else ["[Cl-]", "[Br-]", "CS(=O)(=O)[O-]"]))
        core = f"{ion}.{core}" if draw(st.booleans()) else f"{core}.{ion}"
    if draw(st.booleans()):
        core = f"{core}.O"  # a hydrate
    return parent, core


@SETTINGS
@given(salt_variants())
def test_standardize_smiles_salts_charges_and_atom_orders_map_to_the_parent(case):
    parent, variant = case
    assert standardize_smiles(variant, CONFIG) == standardize_smiles(parent, CONFIG)


_SMILES_ALPHABET = "CNOSPFClBrIcnos()[]=#@+-.123456789%HNa Pt"


@SETTINGS
@given(st.text(alphabet=_SMILES_ALPHABET, max_size=30))
def test_standardize_smiles_any_text_gives_a_molecule_or_an_invalid_smiles_error(text):
    try:
        result = standardize_smiles(text, CONFIG)
    except InvalidSmilesError as err:  # UnusualStructureError included: a reason, never a raw exception
        assert repr(text) in str(err)
        return
    assert result.smiles
    assert len(result.inchikey) == 27  # noqa: PLR2004


@SETTINGS
@given(st.sampled_from(AMINES + ACIDS), st.sampled_from(["[Pt]", "[Fe]", "[Cu]", "[Hg]", "[Sn]"]))
def test_standardize_smiles_organic_parent_bonded_to_a_metal_never_loses_it_silently(parent, metal):
    with_metal = f"{metal}{parent}"  # the metal bonded to the parent's first atom
    if Chem.MolFromSmiles(with_metal) is None:
        return
    try:
        standardize_smiles(with_metal, CONFIG)
    except UnusualStructureError as err:
        assert err.code == "contains_metal"
    else:
        raise AssertionError(f"{with_metal!r} was standardised without its metal")
