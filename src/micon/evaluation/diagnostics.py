"""Diagnostics of an embedding beside its retrieval scores: how many dimensions it really uses."""

from __future__ import annotations

import numpy as np
import pandas as pd

from micon import schema
from micon.errors import InvalidFeaturesError, InvalidInputError


def effective_rank(matrix: np.ndarray) -> float:
    """Return the effective rank of ``matrix`` (Roy & Vetterli 2007): ``exp`` of the entropy of its spectrum.

    With singular values ``s``, ``p = s / sum(s)`` and ``erank = exp(-sum(p log p))`` (``0 log 0 = 0``):
    1 for a rank-1 matrix, ``min(n, d)`` when every singular value is equal. The matrix is used as given
    (not centred), as RankMe (Garrido et al. 2023) does for embeddings. Hand-written with numpy's SVD:
    the formula is one line and no maintained library exposes it.

    Args:
        matrix: ``(n, d)`` finite values.

    Raises:
        InvalidInputError: ``matrix`` is not 2-D, is empty or all zero.
        InvalidFeaturesError: A value is NaN or inf.
    """
    matrix = np.asarray(matrix, dtype=np.float64)
    if matrix.ndim != 2 or matrix.size == 0:
        raise InvalidInputError(f"effective rank needs a non-empty 2-D matrix, got shape {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise InvalidFeaturesError("effective rank: the matrix has NaN or inf values")
    singular = np.linalg.svd(matrix, compute_uv=False)
    total = singular.sum()
    if total <= 0:
        raise InvalidInputError("effective rank: the matrix is all zero")
    p = singular[singular > 0] / total
    return float(np.exp(-np.sum(p * np.log(p))))


def embedding_rank(profiles: pd.DataFrame) -> dict[str, float]:
    """Return the effective rank of the well profiles' feature columns (every well, DMSO included).

    The well profiles (crop embeddings averaged per well, before normalisation) are what the
    retrieval is scored on, so their rank is the diagnostic reported beside the scores.

    Returns:
        ``{"effective_rank", "embedding_dim", "n_wells", "relative_rank"}`` (``relative_rank`` =
        effective rank / min(wells, dimensions)).

    Raises:
        InvalidInputError: The profiles have no feature column or no well.
    """
    features = schema.feature_columns(profiles.columns)
    if not features or profiles.empty:
        raise InvalidInputError(
            f"embedding rank needs wells with feature columns; got {len(profiles)} wells, "
            f"{len(features)} features"
        )
    rank = effective_rank(profiles[features].to_numpy(dtype=np.float64))
    return {
        "effective_rank": rank,
        "embedding_dim": len(features),
        "n_wells": len(profiles),
        "relative_rank": rank / min(len(profiles), len(features)),
    }


__all__ = ["effective_rank", "embedding_rank"]
