"""Molecular graphs for GNN encoders: SMILES -> ``torch_geometric.data.Data`` with one-hot features.

We do not use ``torch_geometric.utils.from_smiles``: it stores integer category indices (a ``long``
``x`` of 9 columns and a 3-column ``edge_attr``) that a model must embed itself, it indexes a fixed
vocabulary with ``list.index`` (an atom outside it, e.g. degree > 10, raises a bare ValueError), and it
silently turns an unreadable SMILES into an empty graph. Here features are float32 one-hots with an
"other" slot per category, so they feed a ``GINEConv`` directly, and a bad SMILES raises
InvalidSmilesError.

Atom features (``ATOM_FEATURE_DIM`` columns, in this order): element (``ELEMENTS`` + other), heavy-atom
degree (0-5, other), formal charge (-2..+2, other), total H count (0-3, 4 or more), hybridisation
(S, SP, SP2, SP3, SP3D, SP3D2, other), chirality tag (none, CW, CCW, other), aromatic, in ring.
Bond features (``BOND_FEATURE_DIM`` columns): bond type (single, double, triple, aromatic; all zero for
other types), conjugated, in ring, stereo (none, other).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from rdkit import Chem
from torch_geometric.data import Data

from micon.chem.parse import parse_smiles

ELEMENTS: tuple[str, ...] = ("B", "C", "N", "O", "F", "Si", "P", "S", "Cl", "Se", "Br", "I")
_ATOMIC_NUMBERS: tuple[int, ...] = tuple(Chem.GetPeriodicTable().GetAtomicNumber(e) for e in ELEMENTS)
_DEGREES: tuple[int, ...] = (0, 1, 2, 3, 4, 5)
_CHARGES: tuple[int, ...] = (-2, -1, 0, 1, 2)
_HYDROGENS: tuple[int, ...] = (0, 1, 2, 3)  # the extra slot means 4 or more
_HYBRIDISATIONS: tuple[Chem.HybridizationType, ...] = (
    Chem.HybridizationType.S,
    Chem.HybridizationType.SP,
    Chem.HybridizationType.SP2,
    Chem.HybridizationType.SP3,
    Chem.HybridizationType.SP3D,
    Chem.HybridizationType.SP3D2,
)
_CHIRALITIES: tuple[Chem.ChiralType, ...] = (
    Chem.ChiralType.CHI_UNSPECIFIED,
    Chem.ChiralType.CHI_TETRAHEDRAL_CW,
    Chem.ChiralType.CHI_TETRAHEDRAL_CCW,
)
_BOND_TYPES: tuple[Chem.BondType, ...] = (
    Chem.BondType.SINGLE,
    Chem.BondType.DOUBLE,
    Chem.BondType.TRIPLE,
    Chem.BondType.AROMATIC,
)

ATOM_FEATURE_DIM: int = (
    len(_ATOMIC_NUMBERS)
    + 1
    + len(_DEGREES)
    + 1
    + len(_CHARGES)
    + 1
    + len(_HYDROGENS)
    + 1
    + len(_HYBRIDISATIONS)
    + 1
    + len(_CHIRALITIES)
    + 1
    + 2
)
BOND_FEATURE_DIM: int = len(_BOND_TYPES) + 2 + 2


def _one_hot(value: object, choices: Sequence[object], *, other: bool = True) -> list[float]:
    """Return a one-hot of ``value`` over ``choices``, plus a trailing "other" slot if ``other``."""
    hot = [1.0 if value == c else 0.0 for c in choices]
    if other:
        hot.append(0.0 if any(hot) else 1.0)
    return hot


def _atom_features(atom: Chem.Atom) -> list[float]:
    """Return one atom's feature row (length ``ATOM_FEATURE_DIM``)."""
    return [
        *_one_hot(atom.GetAtomicNum(), _ATOMIC_NUMBERS),
        *_one_hot(atom.GetDegree(), _DEGREES),
        *_one_hot(atom.GetFormalCharge(), _CHARGES),
        *_one_hot(atom.GetTotalNumHs(), _HYDROGENS),
        *_one_hot(atom.GetHybridization(), _HYBRIDISATIONS),
        *_one_hot(atom.GetChiralTag(), _CHIRALITIES),
        float(atom.GetIsAromatic()),
        float(atom.IsInRing()),
    ]


def _bond_features(bond: Chem.Bond) -> list[float]:
    """Return one bond's feature row (length ``BOND_FEATURE_DIM``)."""
    has_stereo = bond.GetStereo() != Chem.BondStereo.STEREONONE
    return [
        *_one_hot(bond.GetBondType(), _BOND_TYPES, other=False),
        float(bond.GetIsConjugated()),
        float(bond.IsInRing()),
        0.0 if has_stereo else 1.0,
        1.0 if has_stereo else 0.0,
    ]


def molecule_graph(smiles: str) -> Data:
    """Return the heavy-atom graph of a SMILES with one-hot atom and bond features.

    Args:
        smiles: A SMILES (normally a standardised one).

    Returns:
        ``Data`` with ``x`` float32 ``(n_atoms, ATOM_FEATURE_DIM)``, ``edge_index`` int64
        ``(2, 2 * n_bonds)`` holding each bond in both directions (bond k at columns 2k and 2k+1),
        ``edge_attr`` float32 ``(2 * n_bonds, BOND_FEATURE_DIM)`` and ``smiles``. A molecule without
        bonds gives ``edge_index`` of shape ``(2, 0)``.

    Raises:
        InvalidSmilesError: RDKit cannot read the SMILES (the message quotes it).
    """
    mol = parse_smiles(smiles)
    x = np.asarray([_atom_features(a) for a in mol.GetAtoms()], dtype=np.float32)
    sources: list[int] = []
    targets: list[int] = []
    bond_rows: list[list[float]] = []
    for bond in mol.GetBonds():
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        features = _bond_features(bond)
        sources += [i, j]
        targets += [j, i]
        bond_rows += [features, features]
    edge_index = torch.tensor([sources, targets], dtype=torch.long).reshape(2, -1)
    edge_attr = torch.tensor(bond_rows, dtype=torch.float32).reshape(-1, BOND_FEATURE_DIM)
    return Data(x=torch.from_numpy(x), edge_index=edge_index, edge_attr=edge_attr, smiles=smiles)
