"""Morgan (ECFP-like) bit fingerprints of SMILES as 0/1 uint8 arrays."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
from rdkit.Chem import rdFingerprintGenerator

from micon.chem.parse import parse_smiles
from micon.errors import InvalidConfigError


@functools.lru_cache(maxsize=16)
def _generator(radius: int, n_bits: int) -> rdFingerprintGenerator.FingerprintGenerator64:
    """Return a shared Morgan generator for one (radius, size)."""
    return rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)


def _check_arguments(radius: int, n_bits: int) -> None:
    """Raise InvalidConfigError for a negative radius or a non-positive size."""
    if isinstance(radius, bool) or not isinstance(radius, int) or radius < 0:
        raise InvalidConfigError(f"Morgan radius must be an int >= 0, got {radius!r}")
    if isinstance(n_bits, bool) or not isinstance(n_bits, int) or n_bits < 1:
        raise InvalidConfigError(f"Morgan n_bits must be an int >= 1, got {n_bits!r}")


def morgan_fingerprint(smiles: str, *, radius: int = 2, n_bits: int = 2048) -> np.ndarray:
    """Return the Morgan bit fingerprint of one SMILES.

    Args:
        smiles: A SMILES (normally a standardised one).
        radius: Morgan radius (2 gives ECFP4-like bits).
        n_bits: Fingerprint length.

    Returns:
        A ``(n_bits,)`` uint8 array of 0/1.

    Raises:
        InvalidSmilesError: RDKit cannot read the SMILES (the message quotes it).
        InvalidConfigError: ``radius`` < 0 or ``n_bits`` < 1.
    """
    _check_arguments(radius, n_bits)
    mol = parse_smiles(smiles)
    return _generator(radius, n_bits).GetFingerprintAsNumPy(mol).astype(np.uint8, copy=False)


def morgan_fingerprints(smiles_list: Sequence[str], *, radius: int = 2, n_bits: int = 2048) -> np.ndarray:
    """Return the Morgan bit fingerprints of many SMILES, one row each, in order.

    Args:
        smiles_list: SMILES strings.
        radius: Morgan radius.
        n_bits: Fingerprint length.

    Returns:
        A ``(len(smiles_list), n_bits)`` uint8 array of 0/1.

    Raises:
        InvalidSmilesError: A SMILES cannot be read (the message quotes it).
        InvalidConfigError: ``radius`` < 0 or ``n_bits`` < 1.
    """
    _check_arguments(radius, n_bits)
    out = np.zeros((len(smiles_list), n_bits), dtype=np.uint8)
    for i, smiles in enumerate(smiles_list):
        out[i] = morgan_fingerprint(smiles, radius=radius, n_bits=n_bits)
    return out


def tanimoto_similarity(fingerprints: np.ndarray) -> np.ndarray:
    r"""Return the pairwise Tanimoto similarity of bit fingerprints, :math:`|a \wedge b| / |a \vee b|`.

    Written on the bit arrays (one matrix product) rather than with RDKit's ``BulkTanimotoSimilarity``,
    which works on its own bit-vector objects one row at a time. Two empty fingerprints get similarity 1
    (identical), so the diagonal is always 1.

    Args:
        fingerprints: ``(G, n_bits)`` 0/1 array (e.g. from :func:`morgan_fingerprints`).

    Returns:
        A ``(G, G)`` float32 array in [0, 1].
    """
    bits = np.asarray(fingerprints, dtype=np.float32)
    both = bits @ bits.T
    counts = bits.sum(axis=1)
    either = counts[:, None] + counts[None, :] - both
    return np.where(either > 0, both / np.maximum(either, 1.0), 1.0).astype(np.float32)
