"""Cosine nearest-neighbour search: exact blocked search, projected two-stage search or a faiss HNSW graph."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from micon.errors import InvalidConfigError

logger = logging.getLogger(__name__)

SEARCH_MODES: tuple[str, ...] = ("auto", "exact", "projected", "hnsw")
# Lists probed by ProjectedIndex.rough_search, by default: its rows serve as evidence only (exact
# similarities of real rows), so this trades speed for how often the evidence suffices, never correctness.
ROUGH_PROBES = 16


@dataclass(frozen=True, kw_only=True)
class NeighbourSearchConfig:
    """How the nearest wells of each well are found.

    Attributes:
        mode: ``exact``: blocked brute force in float64 (on the GPU when torch sees CUDA), the
            reference values; ``projected``: an exhaustive faiss inner-product search on the unit rows
            projected to ``projection_dims`` principal directions fetches ``projection_candidates``
            candidates per query, re-ranked by their exact cosine (approximate, O(N^2) in the projected
            dimension); ``hnsw``: a faiss HNSW graph over float32 unit vectors (approximate,
            sub-quadratic); ``auto``: exact below ``approximate_min_wells`` wells, ``projected`` from it.
        approximate_min_wells: Wells from which ``auto`` switches to ``projected``, >= 2.
        projection_dims: Dimensions of the projection searched by ``projected``, >= 1 (the full
            dimension when the features have fewer).
        projection_candidates: Candidates per query that ``projected`` re-ranks exactly, >= 1 (raised
            to the number of neighbours asked for).
        hnsw_m: Links per node of the HNSW graph, >= 4.
        hnsw_ef_construction: Candidate list while the graph is built, >= hnsw_m.
        hnsw_ef_search: Candidate list per query (raised to the number of neighbours asked for), >= 1.
    """

    mode: Literal["auto", "exact", "projected", "hnsw"]
    approximate_min_wells: int
    projection_dims: int
    projection_candidates: int
    hnsw_m: int
    hnsw_ef_construction: int
    hnsw_ef_search: int

    def __post_init__(self) -> None:
        if self.mode not in SEARCH_MODES:
            raise InvalidConfigError(f"search mode must be one of {list(SEARCH_MODES)}, got {self.mode!r}")
        minimum = {
            "approximate_min_wells": 2,
            "projection_dims": 1,
            "projection_candidates": 1,
            "hnsw_m": 4,
            "hnsw_ef_construction": self.hnsw_m,
            "hnsw_ef_search": 1,
        }
        for name, low in minimum.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InvalidConfigError(f"search {name} must be an integer >= {low}, got {value!r}")

    def resolve(self, n: int) -> Literal["exact", "projected", "hnsw"]:
        """Return the mode used for ``n`` wells (``auto`` resolved)."""
        if self.mode == "auto":
            return "projected" if n >= self.approximate_min_wells else "exact"
        return self.mode


EXACT = NeighbourSearchConfig(
    mode="exact",
    approximate_min_wells=2,
    projection_dims=64,
    projection_candidates=128,
    hnsw_m=32,
    hnsw_ef_construction=80,
    hnsw_ef_search=128,
)
"""Exact search, the reference; what the evaluation functions use when given no configuration."""


def unit_rows(values: np.ndarray, dtype: type = np.float64) -> np.ndarray:
    """Return ``values`` scaled to unit L2 norm per row; an all-zero row stays zero (similarity 0).

    Computed in float64 one block of rows at a time, so a float32 result of 800k x 512 rows needs no
    float64 copy of the whole table.
    """
    values = np.asarray(values)
    unit = np.empty(values.shape, dtype=dtype)
    step = max(1, 2**22 // max(values.shape[1], 1))  # about 4M values (32 MB of float64) per block
    for start in range(0, len(values), step):
        block = np.asarray(values[start : start + step], dtype=np.float64)
        norms = np.linalg.norm(block, axis=1, keepdims=True)
        unit[start : start + step] = block / np.maximum(norms, np.finfo(np.float64).tiny)
    return unit


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
        config: Exact, projected or HNSW search.
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
    if config.resolve(n) != "exact":
        return approximate_index(values, config=config).search(np.arange(n), k)
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


def approximate_index(values: np.ndarray, *, config: NeighbourSearchConfig) -> ProjectedIndex | HnswIndex:
    """Return the approximate index of ``config``'s mode for ``values`` (``projected`` or ``hnsw``).

    Raises:
        InvalidConfigError: ``config`` resolves to exact search for these rows.
    """
    mode = config.resolve(len(values))
    if mode == "exact":
        raise InvalidConfigError(f"search mode {config.mode!r} is exact for {len(values)} rows: no index")
    return ProjectedIndex(values, config=config) if mode == "projected" else HnswIndex(values, config=config)


def projection_basis(unit: np.ndarray, dims: int) -> np.ndarray:
    """Return the ``(d, dims)`` orthonormal top eigenvectors of ``unit.T @ unit`` (uncentred PCA).

    Hand-written (an eigendecomposition of the d x d second-moment matrix): the projection has to keep
    inner products, ``(u P) . (v P)`` close to ``u . v``, and faiss' ``PCAMatrix`` and sklearn's
    ``PCA`` centre the rows first, which adds to each candidate's projected similarity a term of its
    own (its product with the mean) and so changes the ranking.
    """
    moment = np.asarray(unit.T @ unit, dtype=np.float64)
    _, vectors = np.linalg.eigh(moment)  # ascending eigenvalues
    return np.ascontiguousarray(vectors[:, ::-1][:, :dims], dtype=unit.dtype)


class ProjectedIndex:
    """Two-stage cosine search: exhaustive faiss inner-product search on a projection, exact re-rank.

    Stage one: the float32 unit rows are projected on their ``projection_dims`` principal directions
    (``projection_basis``) and ``faiss.knn`` (BLAS blocks and a heap per query, no index to build)
    fetches the ``projection_candidates`` most similar allowed rows of each query. Stage two: those
    candidates are ranked by their exact cosine in the full dimension (faiss'
    ``fvec_inner_products_by_idx``, the arithmetic that also scores replicate pairs). A true
    neighbour is missed only when its projected similarity falls below that of
    ``projection_candidates`` other rows: the benchmark prints the recall@10 against exact search,
    and ``sampled_recall`` checks it on the data at hand. The cost is that of exact search in
    ``projection_dims`` dimensions plus ``projection_candidates`` products per query in the full
    one. Only the selection of the allowed rows and the re-rank are written here; faiss searches.
    """

    def __init__(self, values: np.ndarray, *, config: NeighbourSearchConfig) -> None:
        self.unit = np.ascontiguousarray(unit_rows(values, np.float32))
        self.config = config
        dims = min(config.projection_dims, self.unit.shape[1])
        self.projected = np.ascontiguousarray(self.unit @ projection_basis(self.unit, dims))
        self._rough: tuple[object, object] | None = None  # rough_search's inverted file, built on first use
        logger.info(
            "projected search over %d rows (%d of %d dimensions)", len(self.unit), dims, self.unit.shape[1]
        )

    def search(
        self, rows: np.ndarray, k: int, *, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return up to ``k`` approximate nearest rows of each of ``rows`` (the row itself excluded).

        Args:
            rows: Query row numbers.
            k: Neighbours per query.
            allowed: Boolean mask over all rows; only these may be returned (None: all).

        Returns:
            ``(indices (len(rows), k) int64, similarities (len(rows), k) float64)``, most similar first
            by exact cosine (ties by lower row); -1 and -inf pad a list that has fewer than ``k``
            candidates.
        """
        import faiss

        rows = np.asarray(rows, dtype=np.int64)
        base = np.arange(len(self.unit)) if allowed is None else np.flatnonzero(allowed)
        fetch = min(max(self.config.projection_candidates, k) + 1, len(base))  # +1: the row itself
        found = np.full((len(rows), fetch), -1, dtype=np.int64)
        if fetch and len(rows):
            database = self.projected if allowed is None else self.projected[base]
            _, local = faiss.knn(self.projected[rows], database, fetch, metric=faiss.METRIC_INNER_PRODUCT)
            found = np.where(local >= 0, base[np.maximum(local, 0)], -1)
        found[found == rows[:, None]] = -1  # never its own neighbour
        sims = self.similarities(rows, found)
        if k < found.shape[1]:  # the k best (ties at the k-th place broken arbitrarily, as exact search)
            best = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            found, sims = np.take_along_axis(found, best, axis=1), np.take_along_axis(sims, best, axis=1)
        order = np.lexsort((np.where(found >= 0, found, np.iinfo(np.int64).max), -sims), axis=-1)
        indices = np.take_along_axis(found, order, axis=1)
        similarities = np.take_along_axis(sims, order, axis=1)
        if indices.shape[1] < k:  # fewer allowed rows than k
            pad = k - indices.shape[1]
            indices = np.pad(indices, ((0, 0), (0, pad)), constant_values=-1)
            similarities = np.pad(similarities, ((0, 0), (0, pad)), constant_values=-np.inf)
        return indices, similarities

    def rough_search(
        self, rows: np.ndarray, k: int, *, allowed: np.ndarray | None = None, probes: int = ROUGH_PROBES
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return up to ``k`` allowed rows *near* each of ``rows`` and their exact cosine; not the nearest.

        A faiss inverted-file index over the projection (``IndexIVFFlat``, about ``4 sqrt(N)`` lists
        trained on a seeded sample, built on first use) probed in ``probes`` lists, with the
        exclusion passed as an ``IDSelectorBitmap``. It costs a few hundred products per query
        instead of N, and misses many true neighbours, most of all when the exclusion removes the
        query's own neighbourhood (another source's wells lie in other lists). It is meant for
        evidence, not ranking: rows it returns are real rows with their exact similarity, so ``k``
        of them above a threshold prove that at least ``k`` rows lie above it.

        Returns:
            ``(indices (len(rows), k) int64, similarities (len(rows), k) float64)``, unordered; -1 and
            -inf where fewer were found; never the row itself.
        """
        import faiss

        rows = np.asarray(rows, dtype=np.int64)
        if self._rough is None:
            n, dims = self.projected.shape
            lists = max(1, min(int(4 * np.sqrt(n)), n // 8))
            quantizer = faiss.IndexFlatIP(dims)
            index = faiss.IndexIVFFlat(quantizer, dims, lists, faiss.METRIC_INNER_PRODUCT)
            index.cp.seed = 0
            index.cp.min_points_per_centroid = 5  # lists <= n / 8: no under-sampling warning
            sample = np.random.default_rng(0).choice(n, size=min(n, 64 * lists), replace=False)
            index.train(self.projected[np.sort(sample)])
            index.add(self.projected)
            self._rough = (quantizer, index)  # the quantizer must outlive the index
        params = faiss.SearchParametersIVF(nprobe=probes)
        if allowed is not None:
            bits = np.packbits(np.asarray(allowed, dtype=np.uint8), bitorder="little")
            params.sel = faiss.IDSelectorBitmap(len(allowed), faiss.swig_ptr(bits))
        _, found = self._rough[1].search(self.projected[rows], k + 1, params=params)
        found = found.astype(np.int64)
        found[found == rows[:, None]] = -1  # never its own neighbour
        return found, self.similarities(rows, found)

    def similarities(self, rows: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Return the exact cosine ``(len(rows), c) float64`` of each row with each of its candidates.

        faiss' ``fvec_inner_products_by_idx`` on the float32 unit rows (no gathered copies of the
        candidates); a candidate -1 gets -inf.
        """
        import faiss

        rows = np.asarray(rows, dtype=np.int64)
        candidates = np.ascontiguousarray(candidates, dtype=np.int64)
        out = np.empty(candidates.shape, dtype=np.float32)
        step = 4096
        for start in range(0, len(rows), step):
            chunk = slice(start, start + step)
            queries = np.ascontiguousarray(self.unit[rows[chunk]])
            ids = np.ascontiguousarray(candidates[chunk])
            block = np.empty(ids.shape, dtype=np.float32)
            faiss.fvec_inner_products_by_idx(
                faiss.swig_ptr(block),
                faiss.swig_ptr(queries),
                faiss.swig_ptr(self.unit),
                faiss.swig_ptr(ids),
                self.unit.shape[1],
                len(queries),
                ids.shape[1],
            )
            out[chunk] = block
        return out.astype(np.float64)

    def pair_similarities(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Return the cosine of each pair ``(left[i], right[i])``, by the arithmetic of ``similarities``."""
        return self.similarities(left, np.asarray(right)[:, None])[:, 0]


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

    def pair_similarities(self, left: np.ndarray, right: np.ndarray) -> np.ndarray:
        """Return the cosine of each pair ``(left[i], right[i])`` of the float32 unit rows."""
        return pair_similarities(self.unit, left, right)


def sampled_recall(
    index: ProjectedIndex | HnswIndex, k: int, *, n_queries: int = 256, seed: int = 0
) -> float:
    """Return the recall@k of ``index`` against exact search on a seeded sample of its rows, and log it.

    Costs ``n_queries`` exact rows (O(n_queries x N x d)): a check that the approximate search keeps
    its recall on the data at hand, not only on the benchmark's; below 0.99 a warning names the
    settings to raise.
    """
    n = len(index.unit)
    k = min(k, n - 1)
    rows = np.sort(np.random.default_rng(seed).choice(n, size=min(n_queries, n), replace=False))
    similarity = index.unit[rows] @ index.unit.T  # float32, as the index's own rows
    similarity[np.arange(len(rows)), rows] = -np.inf
    truth = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    recall = recall_at_k(index.search(rows, k)[0], truth)
    if recall < 0.99:
        logger.warning(
            "approximate search: recall@%d %.4f against exact search on %d sampled rows, under 0.99; "
            "raise projection_candidates / projection_dims (projected) or hnsw_ef_search (hnsw)",
            k,
            recall,
            len(rows),
        )
    else:
        logger.info(
            "approximate search: recall@%d %.4f against exact search on %d sampled rows", k, recall, len(rows)
        )
    return recall


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
