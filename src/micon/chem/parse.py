"""Parse SMILES into RDKit molecules, turning RDKit's logged complaints into InvalidSmilesError."""

from __future__ import annotations

import re

from rdkit import Chem, rdBase

from micon.errors import InvalidSmilesError

_TIMESTAMP = re.compile(r"^\[\d{2}:\d{2}:\d{2}\]\s*")


def rdkit_reason(messages: str) -> str:
    """Return RDKit's captured log text as one line: timestamps dropped, repeated lines removed.

    Args:
        messages: Text captured with ``rdBase.CaptureErrorLog``.

    Returns:
        The distinct non-empty lines joined by ``"; "``, or ``"no reason given by RDKit"``.
    """
    lines: list[str] = []
    for raw in messages.splitlines():
        line = _TIMESTAMP.sub("", raw).strip()
        if line and line not in lines:
            lines.append(line)
    return "; ".join(lines) if lines else "no reason given by RDKit"


def parse_smiles(smiles: str) -> Chem.Mol:
    """Return the sanitised RDKit molecule of a SMILES, without RDKit writing to stderr.

    Args:
        smiles: A SMILES string.

    Returns:
        The sanitised molecule (at least one atom).

    Raises:
        InvalidSmilesError: ``smiles`` is not a string, is empty, cannot be parsed or cannot be
            sanitised; the message quotes the SMILES and RDKit's reason.
    """
    if not isinstance(smiles, str):
        raise InvalidSmilesError(f"SMILES {smiles!r} is not a string (got {type(smiles).__name__})")
    if not smiles.strip():
        raise InvalidSmilesError(f"SMILES {smiles!r} is empty")
    with rdBase.BlockLogs(), rdBase.CaptureErrorLog() as log:
        mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise InvalidSmilesError(f"RDKit cannot read SMILES {smiles!r}: {rdkit_reason(log.messages)}")
    if mol.GetNumAtoms() == 0:
        raise InvalidSmilesError(f"SMILES {smiles!r} has no atoms")
    return mol
