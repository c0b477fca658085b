"""Compound chemistry: SMILES parsing and standardisation, perturbations, Morgan fingerprints, graphs.

Knows nothing of Kedro; imports only RDKit, numpy, pandas, tqdm, torch/torch_geometric and micon's
schema, errors and quarantine. The graph names (which need torch) load on first use, so that a
process spawned to standardise SMILES does not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from micon.chem.agreement import inchikey_agreement, summarise_agreement
from micon.chem.fingerprints import morgan_fingerprint, morgan_fingerprints
from micon.chem.parallel import ParallelConfig
from micon.chem.parse import parse_smiles
from micon.chem.perturb import PERTURBATION_KINDS, Perturbation, perturb_smiles
from micon.chem.standardize import (
    StandardizationConfig,
    StandardizationFailure,
    StandardizedMolecule,
    standardize_compounds,
    standardize_many,
    standardize_smiles,
)

if TYPE_CHECKING:
    from micon.chem.graph import ATOM_FEATURE_DIM, BOND_FEATURE_DIM, ELEMENTS, molecule_graph

_LAZY_GRAPH_NAMES = frozenset({"ATOM_FEATURE_DIM", "BOND_FEATURE_DIM", "ELEMENTS", "molecule_graph"})


def __getattr__(name: str) -> Any:
    """Load the torch-dependent graph names on first access (PEP 562)."""
    if name in _LAZY_GRAPH_NAMES:
        return getattr(importlib.import_module("micon.chem.graph"), name)
    raise AttributeError(f"module 'micon.chem' has no attribute {name!r}")


__all__ = [
    "ATOM_FEATURE_DIM",
    "BOND_FEATURE_DIM",
    "ELEMENTS",
    "PERTURBATION_KINDS",
    "ParallelConfig",
    "Perturbation",
    "StandardizationConfig",
    "StandardizationFailure",
    "StandardizedMolecule",
    "inchikey_agreement",
    "molecule_graph",
    "morgan_fingerprint",
    "morgan_fingerprints",
    "parse_smiles",
    "perturb_smiles",
    "standardize_compounds",
    "standardize_many",
    "standardize_smiles",
    "summarise_agreement",
]
