"""Compound chemistry: SMILES parsing and standardisation, Morgan fingerprints, molecular graphs.

Knows nothing of Kedro; imports only RDKit, numpy, pandas, torch/torch_geometric and micon's
schema, errors and quarantine.
"""

from micon.chem.fingerprints import morgan_fingerprint, morgan_fingerprints
from micon.chem.graph import ATOM_FEATURE_DIM, BOND_FEATURE_DIM, ELEMENTS, molecule_graph
from micon.chem.parse import parse_smiles
from micon.chem.standardize import (
    StandardizationConfig,
    StandardizedMolecule,
    standardize_compounds,
    standardize_smiles,
)

__all__ = [
    "ATOM_FEATURE_DIM",
    "BOND_FEATURE_DIM",
    "ELEMENTS",
    "StandardizationConfig",
    "StandardizedMolecule",
    "molecule_graph",
    "morgan_fingerprint",
    "morgan_fingerprints",
    "parse_smiles",
    "standardize_compounds",
    "standardize_smiles",
]
