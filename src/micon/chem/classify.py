"""Tell an organic compound with counter-ions from entries that have no organic parent to keep.

Standardisation keeps the largest organic fragment, which is right for a hydrochloride or a sodium salt
but wrong for a metal complex (cisplatin would lose its platinum), an organometallic (ferrocene its iron),
an inorganic entry or a salt with no organic ion at all (``[Na+].[Cl-]`` would become chloride). RDKit's
``MetalDisconnector`` and ``LargestFragmentChooser`` do not say when that happens, so the entry is looked
at before they run. Hand-written because RDKit has no classifier of salts against metal complexes.
"""

from __future__ import annotations

from dataclasses import dataclass

from rdkit import Chem

__all__ = [
    "REASON_CONTAINS_METAL",
    "REASON_INORGANIC",
    "REASON_SALT_ONLY",
    "STRUCTURE_REASONS",
    "StructureProblem",
    "find_structure_problem",
]

REASON_CONTAINS_METAL = "contains_metal"
REASON_INORGANIC = "inorganic"
REASON_SALT_ONLY = "salt_only"
STRUCTURE_REASONS: tuple[str, ...] = (REASON_CONTAINS_METAL, REASON_INORGANIC, REASON_SALT_ONLY)

_CARBON = 6
# Alkali and alkaline-earth metals: in a drug entry they are counter-ions (Na+ of a carboxylate), whether
# written as a separate ion or bonded to a heteroatom (C(=O)O[Na]), which MetalDisconnector splits off.
_COUNTER_ION_METALS = frozenset({3, 11, 19, 37, 55, 12, 20, 38, 56})
_IONIC_PARTNERS = frozenset({7, 8, 9, 16, 17, 35, 53})  # N, O, F, S, Cl, Br, I
# Every metal (metalloids B, Si, Ge, As, Sb, Te are not: boronic acids and silanes are ordinary drugs).
_METALS = frozenset(
    {3, 4, 11, 12, 13, 19, 20, 37, 38, 55, 56, 87, 88}
    | set(range(21, 32))  # Sc..Ga
    | set(range(39, 51))  # Y..Sn
    | set(range(57, 85))  # La..Po (lanthanides, Hf..Hg, Tl, Pb, Bi, Po)
    | set(range(89, 119))  # actinides and heavier
)


@dataclass(frozen=True)
class StructureProblem:
    """Why an entry has no organic parent to keep.

    Attributes:
        code: One of :data:`STRUCTURE_REASONS`.
        detail: What was found (the elements and fragments).
    """

    code: str
    detail: str


def _is_counter_ion(atom: Chem.Atom) -> bool:
    """Return True for an alkali/alkaline-earth atom alone or bonded only to heteroatoms (an ionic bond)."""
    return atom.GetAtomicNum() in _COUNTER_ION_METALS and all(
        neighbour.GetAtomicNum() in _IONIC_PARTNERS for neighbour in atom.GetNeighbors()
    )


def find_structure_problem(mol: Chem.Mol) -> StructureProblem | None:
    """Return why a parsed entry has no organic parent to keep, or None for an ordinary compound or salt.

    In this order: ``contains_metal`` when an atom is a metal other than an alkali or alkaline-earth
    counter-ion (any transition or post-transition metal, or a counter-ion metal bonded to carbon, as in
    an organolithium); ``salt_only`` when no atom is carbon and the entry has several fragments or a
    charged atom (``[Na+].[Cl-]``, ``Cl.Cl``); ``inorganic`` when no atom is carbon otherwise (water,
    sulfuric acid).

    Args:
        mol: A sanitised molecule (:func:`~micon.chem.parse.parse_smiles`).

    Returns:
        The problem, or ``None`` when the entry has an organic fragment and only counter-ion metals.
    """
    atoms = list(mol.GetAtoms())
    metals = sorted({a.GetSymbol() for a in atoms if a.GetAtomicNum() in _METALS and not _is_counter_ion(a)})
    if metals:
        return StructureProblem(
            REASON_CONTAINS_METAL,
            f"holds metal(s) {metals} that are part of the compound (a complex or organometallic, not a "
            "counter-ion); keeping its largest organic fragment would drop them",
        )
    if any(a.GetAtomicNum() == _CARBON for a in atoms):
        return None
    n_fragments = len(Chem.GetMolFrags(mol))
    elements = sorted({a.GetSymbol() for a in atoms})
    if n_fragments > 1 or any(a.GetFormalCharge() for a in atoms):
        return StructureProblem(
            REASON_SALT_ONLY,
            f"is a salt without an organic ion ({n_fragments} fragment(s) of {elements}); there is no parent",
        )
    return StructureProblem(REASON_INORGANIC, f"has no carbon atom (elements {elements}): an inorganic entry")
