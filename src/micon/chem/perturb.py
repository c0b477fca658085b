"""Rewrite a SMILES as the same compound in another form, to test that standardisation undoes it.

Five kinds, each a form a vendor or a database may give for one compound:

- ``salt``: an acid (carboxylic, sulfonic or phosphonic) becomes its sodium or potassium salt
  (deprotonated, with the cation: charge-balanced); any other compound gets a neutral acid fragment
  (HCl, HBr, trifluoroacetic acid or methanesulfonic acid), as hydrochlorides and TFA salts are written.
- ``solvent``: a solvate: water, ethanol or methanol added as a second fragment (not DMSO: it is the
  negative control, so a DMSO fragment would turn any compound into a mixture with the control).
- ``charged``: one basic aliphatic amine protonated or one acid group deprotonated, without a
  counter-ion; not applicable to a compound with neither.
- ``random_order``: the same molecule written from a random atom order (``Chem.RenumberAtoms``, then
  non-canonical SMILES); not applicable when every order gives the input text (e.g. one atom).
- ``tautomer``: a tautomer from RDKit's ``TautomerEnumerator`` that is neither the canonical one nor
  the input's own form; not applicable when the molecule has no other tautomer.

Every choice (the fragment, the site, the order, the tautomer) comes from a ``random.Random`` seeded by
the seed, the kind and the SMILES, so a perturbation is the same in any process and any run. RDKit has
no function that writes these forms; the chemistry is a few SMARTS patterns and atom edits.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from dataclasses import dataclass

from rdkit import Chem, rdBase
from rdkit.Chem.MolStandardize import rdMolStandardize

from micon.chem.parse import parse_smiles
from micon.errors import UnknownNameError

PERTURBATION_KINDS: tuple[str, ...] = ("salt", "solvent", "charged", "random_order", "tautomer")

# The acidic oxygen of a neutral carboxylic, sulfonic or phosphonic acid.
_ACIDIC_OXYGEN = Chem.MolFromSmarts("[OX2H1;+0]-[$([CX3]=O),$([SX4](=O)=O),$([PX4]=O)]")
# A neutral aliphatic amine that is basic: not an amide, sulfonamide, carbamate, aniline, enamine,
# hydrazine, hydroxylamine, amidine or N-oxide (their lone pair is delocalised or taken).
_BASIC_AMINE = Chem.MolFromSmarts(
    "[NX3;+0;!$(N-a);!$(N-[#6,#15,#16]=[#7,#8,#16]);!$(N-[#7,#8]);!$(N-C=[#6,#7]);!$(N-S(=O)=O);!$(N-C#N)]"
)
_ACID_SALT_CATIONS: tuple[str, ...] = ("[Na+]", "[K+]")
_NEUTRAL_ACIDS: dict[str, str] = {
    "hydrochloride": "Cl",
    "hydrobromide": "Br",
    "trifluoroacetate": "O=C(O)C(F)(F)F",
    "mesylate": "CS(=O)(=O)O",
}
_SOLVENTS: dict[str, str] = {"water": "O", "ethanol": "CCO", "methanol": "CO"}
# Only one alternative tautomer is needed, so a small bound keeps enumeration cheap on large molecules.
_MAX_TAUTOMERS = 64
_RANDOM_ORDER_TRIES = 10


@dataclass(frozen=True, kw_only=True)
class Perturbation:
    """A compound rewritten in another form, or why it cannot be.

    Attributes:
        kind: One of ``PERTURBATION_KINDS``.
        smiles: The perturbed SMILES, or None where the kind does not apply to the compound.
        detail: What was done (e.g. ``"added trifluoroacetate"``), or why it does not apply.
    """

    kind: str
    smiles: str | None
    detail: str

    @property
    def applied(self) -> bool:
        """True when the kind applied and ``smiles`` holds the perturbed SMILES."""
        return self.smiles is not None


def _with_fragment(smiles: str, fragment: str, rng: random.Random) -> str:
    """Return ``smiles`` with ``fragment`` written before or after it."""
    return f"{fragment}.{smiles}" if rng.random() < 0.5 else f"{smiles}.{fragment}"


def _salt(mol: Chem.Mol, rng: random.Random) -> tuple[str | None, str]:
    acidic = [match[0] for match in mol.GetSubstructMatches(_ACIDIC_OXYGEN)]
    if acidic:
        cation = rng.choice(_ACID_SALT_CATIONS)
        anion = Chem.RWMol(mol)
        atom = anion.GetAtomWithIdx(rng.choice(acidic))
        atom.SetFormalCharge(-1)
        atom.SetNumExplicitHs(0)
        atom.SetNoImplicit(True)
        Chem.SanitizeMol(anion)
        smiles = _with_fragment(Chem.MolToSmiles(anion), cation, rng)
        return smiles, f"acid deprotonated, {cation} added"
    name = rng.choice(sorted(_NEUTRAL_ACIDS))
    return _with_fragment(Chem.MolToSmiles(mol), _NEUTRAL_ACIDS[name], rng), f"added {name}"


def _solvent(mol: Chem.Mol, rng: random.Random) -> tuple[str | None, str]:
    name = rng.choice(sorted(_SOLVENTS))
    return _with_fragment(Chem.MolToSmiles(mol), _SOLVENTS[name], rng), f"added {name}"


def _charged(mol: Chem.Mol, rng: random.Random) -> tuple[str | None, str]:
    sites = [(match[0], +1) for match in mol.GetSubstructMatches(_BASIC_AMINE)]
    sites += [(match[0], -1) for match in mol.GetSubstructMatches(_ACIDIC_OXYGEN)]
    if not sites:
        return None, "no basic aliphatic amine and no acid group"
    index, charge = rng.choice(sites)
    ion = Chem.RWMol(mol)
    atom = ion.GetAtomWithIdx(index)
    atom.SetNumExplicitHs(atom.GetTotalNumHs() + charge)
    atom.SetNoImplicit(True)
    atom.SetFormalCharge(charge)
    Chem.SanitizeMol(ion)
    what = "basic amine protonated" if charge > 0 else "acid deprotonated"
    return Chem.MolToSmiles(ion), f"{what} (atom {index})"


def _random_order(mol: Chem.Mol, rng: random.Random) -> tuple[str | None, str]:
    written = {Chem.MolToSmiles(mol)}
    order = list(range(mol.GetNumAtoms()))
    for _ in range(_RANDOM_ORDER_TRIES):
        rng.shuffle(order)
        smiles = Chem.MolToSmiles(Chem.RenumberAtoms(mol, order), canonical=False)
        if smiles not in written:
            return smiles, "atoms renumbered at random"
    return None, f"{_RANDOM_ORDER_TRIES} random atom orders all gave the canonical SMILES"


@functools.lru_cache(maxsize=1)
def _enumerator() -> rdMolStandardize.TautomerEnumerator:
    enumerator = rdMolStandardize.TautomerEnumerator()
    enumerator.SetMaxTautomers(_MAX_TAUTOMERS)
    return enumerator


def _tautomer(mol: Chem.Mol, rng: random.Random) -> tuple[str | None, str]:
    enumerator = _enumerator()
    tautomers = list(enumerator.Enumerate(mol))
    if len(tautomers) < 2:
        return None, "no other tautomer"
    excluded = {Chem.MolToSmiles(mol), Chem.MolToSmiles(enumerator.PickCanonical(tautomers))}
    others = sorted({Chem.MolToSmiles(t) for t in tautomers} - excluded)
    if not others:
        return None, "no tautomer other than the input and the canonical one"
    return rng.choice(others), f"one of {len(others)} other tautomers"


_PERTURBERS: dict[str, Callable[[Chem.Mol, random.Random], tuple[str | None, str]]] = {
    "salt": _salt,
    "solvent": _solvent,
    "charged": _charged,
    "random_order": _random_order,
    "tautomer": _tautomer,
}


def perturb_smiles(smiles: str, kind: str, *, seed: int = 0) -> Perturbation:
    """Return the compound of ``smiles`` written in another form of the given kind.

    Args:
        smiles: A valid SMILES.
        kind: One of ``PERTURBATION_KINDS`` (see the module docstring).
        seed: Picks the fragment, site, atom order or tautomer; with the kind and SMILES it fixes the result.

    Returns:
        The perturbed SMILES and what was done, or ``smiles=None`` and why the kind does not apply.

    Raises:
        UnknownNameError: ``kind`` is not a known perturbation.
        InvalidSmilesError: RDKit cannot read ``smiles``.

    Examples:
        >>> perturb_smiles("CC(=O)Oc1ccccc1C(=O)O", "salt").detail
        'acid deprotonated, [Na+] added'
    """
    if kind not in _PERTURBERS:
        raise UnknownNameError(f"unknown perturbation {kind!r}; known: {list(PERTURBATION_KINDS)}")
    mol = parse_smiles(smiles)
    rng = random.Random(f"{seed}|{kind}|{smiles}")
    with rdBase.BlockLogs():
        perturbed, detail = _PERTURBERS[kind](mol, rng)
    return Perturbation(kind=kind, smiles=perturbed, detail=detail)
