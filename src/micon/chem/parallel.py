"""Apply a per-molecule function to many items in chunks over worker processes, keeping input order.

RDKit holds the GIL during standardisation, so threads do not help; processes do. Chunks amortise the
cost of sending work to a process. Workers are *spawned* (a fresh interpreter) rather than forked:
forking a process that runs threads (Kedro's ThreadRunner, tqdm's monitor, torch's pools) can deadlock,
spawn behaves the same on Linux, macOS and Windows, and it works inside a Kedro ParallelRunner worker
(its processes are not daemonic, so they may start their own). A spawned worker imports the function's
module afresh, so the function must be importable at module level (or a ``functools.partial`` of one)
and its arguments picklable. Only ``concurrent.futures`` is used: ``executor.map`` already returns
results in input order, and joblib would add nothing here but another dependency path.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from tqdm.auto import tqdm

from micon.errors import InvalidConfigError

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass(frozen=True, kw_only=True)
class ParallelConfig:
    """How many processes share the work and how it is cut.

    Attributes:
        n_jobs: Worker processes; ``None`` uses every core this process may run on. With 1, or when
            all items fit in one chunk, the work runs in this process (no pool is started).
        chunk_size: Items sent to a worker at a time (larger chunks cost less overhead, smaller
            ones balance the load better and update the progress bar more often).
        progress: Show a tqdm progress bar counting items.
    """

    n_jobs: int | None
    chunk_size: int
    progress: bool

    def __post_init__(self) -> None:
        for name in ("n_jobs", "chunk_size"):
            value = getattr(self, name)
            if value is None and name == "n_jobs":
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidConfigError(f"ParallelConfig.{name} must be an int >= 1, got {value!r}")
        if not isinstance(self.progress, bool):
            raise InvalidConfigError(f"ParallelConfig.progress must be a bool, got {self.progress!r}")

    def worker_count(self, n_items: int) -> int:
        """Return how many processes ``n_items`` items need: at most one per chunk, and 1 for none."""
        cores = self.n_jobs if self.n_jobs is not None else available_cores()
        n_chunks = -(-n_items // self.chunk_size)
        return max(1, min(cores, n_chunks))


def available_cores() -> int:
    """Return the number of cores this process may run on (its CPU affinity where the OS reports it)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _apply_to_chunk(function: Callable[[Item], Result], chunk: Sequence[Item]) -> list[Result]:
    """Return ``function`` applied to each item of ``chunk`` (runs in a worker)."""
    return [function(item) for item in chunk]


def map_in_chunks(
    function: Callable[[Item], Result],
    items: Sequence[Item],
    parallel: ParallelConfig,
    *,
    description: str,
) -> list[Result]:
    """Return ``[function(item) for item in items]``, computed in chunks over worker processes.

    The result is the same, in the same order, whatever ``n_jobs`` and ``chunk_size`` are.

    Args:
        function: A module-level function (or a ``functools.partial`` of one) of one item; it should
            catch the errors it expects and return them as values, since any exception it raises
            stops the whole map.
        items: The inputs, in order.
        parallel: Worker count, chunk size and progress bar.
        description: Label of the progress bar (e.g. ``"standardise SMILES"``).

    Returns:
        One result per item, in the order of ``items``.
    """
    items = list(items)
    chunks = [items[i : i + parallel.chunk_size] for i in range(0, len(items), parallel.chunk_size)]
    n_workers = parallel.worker_count(len(items))
    results: list[Result] = []
    with tqdm(total=len(items), desc=description, unit="mol", disable=not parallel.progress) as bar:
        if n_workers == 1:
            for chunk in chunks:
                results.extend(_apply_to_chunk(function, chunk))
                bar.update(len(chunk))
            return results
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=n_workers, mp_context=context) as executor:
            for chunk, chunk_results in zip(
                chunks, executor.map(_apply_to_chunk, [function] * len(chunks), chunks), strict=True
            ):
                results.extend(chunk_results)
                bar.update(len(chunk))
    return results
