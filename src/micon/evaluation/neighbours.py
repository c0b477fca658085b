"""Cosine nearest-neighbour search that grows as N: exact blocked search, or a faiss HNSW index."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from micon.errors import InvalidConfigError

logger = logging.getLogger(__name__)

SEARCH_MODES: tuple[str, ...] = ("auto", "exact", "hnsw")


@dataclass(frozen=True, kw_only=True)
class NeighbourSearchConfig:
    """How the nearest wells of each well are found.

    Attributes:
        mode: ``exact``: blocked brute force in float64 (on the GPU when torch sees CUDA), the
            reference values; ``hnsw``: a faiss HNSW graph over float32 unit vectors (approximate,
            sub-quadratic); ``auto``: exact up to ``approximate_min_wells`` wells, HNSW above.
        approximate_min_wells: Wells from which ``auto`` switches to HNSW, >= 2.
        hnsw_m: Links per node of the HNSW graph, >= 4.
        hnsw_ef_construction: Candidate list while the graph is built, >= hnsw_m.
        hnsw_ef_search: Candidate list per query (raised to the number of neighbours asked for), >= 1.
    """

    mode: Literal["auto", "exact", "hnsw"]
    approximate_min_wells: int
    hnsw_m: int
    hnsw_ef_construction: int
    hnsw_ef_search: int

    def __post_init__(self) -> None:
        if self.mode not in SEARCH_MODES:
            raise InvalidConfigError(f"search mode must be one of {list(SEARCH_MODES)}, got {self.mode!r}")
        minimum = {
            "approximate_min_wells": 2,
            "hnsw_m": 4,
            "hnsw_ef_construction": self.hnsw_m,
            "hnsw_ef_search": 1,
        }
        for name, low in minimum.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidConfigError(f"search {name} must be an integer >= {low}, got {value!r}")

    def resolve(self, n: int) -> Literal["exact", "hnsw"]:
        """Return the mode used for ``n`` wells (``auto`` resolved)."""
        if self.mode == "auto":
            return "hnsw" if n >= self.approximate_min_wells else "exact"
        return self.mode


EXACT = NeighbourSearchConfig(
    mode="exact", approximate_min_wells=2, hnsw_m=32, hnsw_ef_construction=80, hnsw_ef_search=128
)
"""Exact search, the reference; what the evaluation functions use when given no configuration."""


def unit_rows(values: np.ndarray, dtype: type = np.float64) -> np.ndarray:
    """Return ``values`` scaled to unit L2 norm per row; an all-zero row stays zero (similarity 0)."""
    values = np.asarray(values, dtype=np.float64)
    norms = np.linalg.norm(values, axis=1, keepdims=True)
    return (values / np.maximum(norms, np.finfo(np.float64).tiny)).astype(dtype, copy=False)


def similarity_blocks(
    unit: np.ndarray, *, block_cells: int, rows: np.ndarray | None = None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(query rows, cosine similarities (len(rows), n) float64)`` one block of queries at a time.

    The block holds about ``block_cells`` similarities, so memory stays bounded whatever n. The
    product runs in float64 on the GPU when torch is loaded and sees CUDA, else with numpy (BLAS);
    either way the values are those of ``unit[rows] @ unit.T``.

    Args:
        unit: ``(n, d)`` unit rows (``unit_rows``).
        block_cells: Similarities per block, >= 1.
        rows: Query rows (default all).
    """
    rows = np.arange(len(unit)) if rows is None else np.asarray(rows)
    block = max(1, block_cells // max(len(unit), 1))
    device_unit = _on_device(unit)
    for start in range(0, len(rows), block):
        chunk = rows[start : start + block]
        if device_unit is None:
            yield chunk, unit[chunk] @ unit.T
        else:
            index = sys.modules["torch"].as_tensor(chunk, device=device_unit.device)
            yield chunk, (device_unit[index] @ device_unit.T).cpu().numpy()


def nearest_neighbours(
    values: np.ndarray, k: int, *, config: NeighbourSearchConfig = EXACT, block_cells: int = 2**24
) -> tuple[np.ndarray, np.ndarray]:
    """Return each row's ``k`` most cosine-similar other rows, most similar first.

    Args:
        values: ``(n, d)`` finite features (normalised here).
        k: Neighbours per row, 1 <= k < n.
        config: Exact or HNSW search.
        block_cells: Similarities held at once by the exact search.

    Returns:
        ``(indices (n, k) int64, similarities (n, k) float64)``; a row is never its own neighbour.
        Exact ties at the k-th place are broken arbitrarily (as ``numpy.argpartition``).

    Raises:
        InvalidConfigError: ``k`` < 1 or >= n.
    """
    n = len(values)
    if not 1 <= k < n:
        raise InvalidConfigError(f"nearest neighbours need 1 <= k < number of rows ({n}), got k={k}")
    if config.resolve(n) == "hnsw":
        index = HnswIndex(values, config=config)
        return index.search(np.arange(n), k)
    unit = unit_rows(values)
    indices = np.empty((n, k), dtype=np.int64)
    similarities = np.empty((n, k), dtype=np.float64)
    for rows, block in similarity_blocks(unit, block_cells=block_cells):
        block[np.arange(len(rows)), rows] = -np.inf  # never its own neighbour
        top, top_sims = top_k_of_block(block, k)
        indices[rows], similarities[rows] = top, top_sims
    return indices, similarities


def top_k_of_block(block: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the ``k`` largest entries of each row of ``block`` (column indices, values), largest first."""
    if k < block.shape[1]:
        top = np.argpartition(-block, k - 1, axis=1)[:, :k]
    else:
        top = np.broadcast_to(np.arange(block.shape[1]), block.shape).copy()
    values = np.take_along_axis(block, top, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1), np.take_along_axis(values, order, axis=1)


class HnswIndex:
    """A faiss HNSW graph (inner product on float32 unit rows) over all rows, searched with filters.

    faiss is used as is; the only logic here is the per-query exclusion of rows (``allowed``), passed to
    faiss as an ``IDSelectorBitmap`` so that excluded rows are skipped during the graph walk rather
    than filtered afterwards.
    """

    def __init__(self, values: np.ndarray, *, config: NeighbourSearchConfig) -> None:
        import faiss

        self.unit = np.ascontiguousarray(unit_rows(values, np.float32))
        self.config = config
        self.index = faiss.IndexHNSWFlat(self.unit.shape[1], config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        self.index.hnsw.efConstruction = config.hnsw_ef_construction
        self.index.add(self.unit)
        logger.info("HNSW index over %d rows (M=%d)", len(self.unit), config.hnsw_m)

    def search(
        self, rows: np.ndarray, k: int, *, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return up to ``k`` approximate nearest rows of each of ``rows`` (the row itself excluded).

        Args:
            rows: Query row numbers.
            k: Neighbours per query.
            allowed: Boolean mask over all rows; only these may be returned (None: all).

        Returns:
            ``(indices (len(rows), k) int64, similarities (len(rows), k) float64)``, most similar first;
            -1 and -inf pad a list that has fewer than ``k`` candidates.
        """
        import faiss

        rows = np.asarray(rows, dtype=np.int64)
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(self.config.hnsw_ef_search, k + 1)
        if allowed is not None:
            bits = np.packbits(np.asarray(allowed, dtype=np.uint8), bitorder="little")
            selector = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bits))
            params.sel = selector
        similarities, indices = self.index.search(self.unit[rows], k + 1, params=params)
        indices = indices.astype(np.int64)
        similarities = similarities.astype(np.float64)
        # drop the query itself (wherever faiss placed it), else the (k+1)-th
        is_self = indices == rows[:, None]
        drop = np.where(is_self.any(axis=1), is_self.argmax(axis=1), k)
        keep = np.ones_like(is_self)
        keep[np.arange(len(rows)), drop] = False
        indices = indices[keep].reshape(len(rows), k)
        similarities = similarities[keep].reshape(len(rows), k)
        similarities[indices < 0] = -np.inf
        return indices, similarities


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Return the mean share of each row's true neighbours (``truth``) that ``found`` contains."""
    hits = [len(set(f[f >= 0].tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True)]
    return float(np.sum(hits) / truth.size)


def _on_device(unit: np.ndarray) -> object | None:
    """Return ``unit`` as a float64 CUDA tensor when torch is loaded and sees a GPU, else None (numpy).

    torch is not imported here: loading it takes seconds, and every process that has a GPU to use
    (the Kedro reporting pipeline, training) has loaded it already.
    """
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_available():
        return None
    return torch.as_tensor(unit, dtype=torch.float64, device="cuda")


def pair_similarities(unit: np.ndarray, left: Sequence[int], right: Sequence[int]) -> np.ndarray:
    """Return the cosine similarity of each pair ``(left[i], right[i])`` of unit rows."""
    left, right = np.asarray(left), np.asarray(right)
    out = np.empty(len(left), dtype=np.float64)
    step = 2**16
    for start in range(0, len(left), step):
        a, b = left[start : start + step], right[start : start + step]
        out[start : start + step] = np.einsum("ij,ij->i", unit[a], unit[b], dtype=np.float64)
    return out
