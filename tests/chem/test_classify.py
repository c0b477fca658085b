import pytest

from micon.chem.classify import find_structure_problem
from micon.chem.parse import parse_smiles


@pytest.mark.parametrize(
    ("smiles", "code"),
    [
        ("N.N.Cl[Pt]Cl", "contains_metal"),  # cisplatin: no carbon, but the metal comes first
        ("[Fe+2].c1cc[cH-]c1.c1cc[cH-]c1", "contains_metal"),  # ferrocene, ionic form
        ("CCCC[Li]", "contains_metal"),  # organolithium: the alkali metal is bonded to carbon
        ("C[Sn](C)(C)Cl", "contains_metal"),  # organotin
        ("[Cu+2].CC(=O)[O-].CC(=O)[O-]", "contains_metal"),  # copper acetate: the copper is the agent
        ("[Na+].[Cl-]", "salt_only"),
        ("Cl.Cl", "salt_only"),
        ("[NH4+].[Cl-]", "salt_only"),
        ("O", "inorganic"),
        ("OS(=O)(=O)O", "inorganic"),
    ],
)
def test_find_structure_problem_unusual_entry_gives_its_reason(smiles, code):
    problem = find_structure_problem(parse_smiles(smiles))
    assert problem is not None
    assert problem.code == code


@pytest.mark.parametrize(
    "smiles",
    [
        "CC(=O)Oc1ccccc1C(=O)[O-].[Na+]",  # sodium carboxylate: Na+ is a counter-ion
        "CC(=O)Oc1ccccc1C(=O)O[Na]",  # the same salt with the ionic bond drawn
        "[Ca+2].CC(=O)[O-].CC(=O)[O-]",
        "CN(C)CCCN1c2ccccc2CCc2ccccc21.Cl",  # hydrochloride
        "CS(=O)(=O)O.CN(C)CCCN1c2ccccc2CCc2ccccc21",  # mesylate
        "OB(O)c1ccccc1",  # boron is a metalloid
        "CS(C)=O",
    ],
)
def test_find_structure_problem_organic_compound_or_salt_gives_none(smiles):
    assert find_structure_problem(parse_smiles(smiles)) is None
