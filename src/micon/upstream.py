"""Name the pipeline to run first when a run reads outputs that no earlier run wrote.

Running ``kedro run --pipelines reporting`` before modeling makes Kedro fail at the first load with "Did not
find any versions for ...", naming neither the pipeline that writes the dataset nor what to run. Before the
first node, :func:`check_upstream` looks for the run's free inputs in their local files and, when some are
missing, raises :class:`MissingUpstreamError` listing each one that a registered pipeline writes, with the
pipelines that write it and the command to run them. Kedro has no such check (its runner reports only the
failed load), so it is written here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from kedro.io import MemoryDataset
from kedro.io.core import DatasetError
from kedro.pipeline import Pipeline

from micon.errors import MiconError

__all__ = ["MissingUpstreamError", "check_upstream", "missing_inputs", "producers"]


class MissingUpstreamError(MiconError, LookupError):
    """A run reads datasets that no earlier run wrote; the message names the pipelines to run first."""


def producers(pipelines: Mapping[str, Pipeline], *, skip: Collection[str] = ()) -> dict[str, list[str]]:
    """Return each dataset written by a registered pipeline -> the pipelines writing it, in registry order.

    Args:
        pipelines: The registered pipelines (``kedro.framework.project.pipelines``).
        skip: Pipelines to leave out: the composed runs (``__default__``, ``benchmark``, ...), which
            repeat their parts' outputs.
    """
    written: dict[str, list[str]] = {}
    for name, pipeline in pipelines.items():
        if name in skip:
            continue
        for dataset in sorted(pipeline.all_outputs()):
            written.setdefault(dataset, []).append(name)
    return written


def missing_inputs(pipeline: Pipeline, catalog: Any) -> list[str]:
    """Return the free inputs of ``pipeline`` stored in local files that do not exist.

    Parameters and in-memory datasets are left to Kedro, and so is anything stored behind a URL (a bucket):
    no network is touched. A dataset whose ``exists`` fails is left to Kedro's load too.
    """
    missing = []
    for name in sorted(pipeline.inputs()):
        if name.startswith("params:") or name == "parameters":
            continue
        dataset = catalog.get(name)
        if dataset is None or isinstance(dataset, MemoryDataset):
            continue
        path = _path(dataset)
        if path is None or urlsplit(path).scheme not in ("", "file"):
            continue
        try:
            exists = dataset.exists()
        except DatasetError:
            continue
        if not exists:
            missing.append(name)
    return missing


def check_upstream(
    pipeline: Pipeline,
    catalog: Any,
    registered: Callable[[], Mapping[str, Pipeline]],
    *,
    skip: Collection[str] = (),
    env: str | None = None,
    order: Sequence[str] = (),
) -> None:
    """Raise when inputs of the run that a registered pipeline writes have never been written.

    Args:
        pipeline: The pipeline about to run (after Kedro's filtering).
        catalog: The run's catalog.
        registered: Returns every registered pipeline; called only when an input is missing (a run of
            ``--pipelines reporting`` loads only that pipeline).
        skip: Registered pipelines that are composed runs (their parts are named instead).
        env: The run's environment, repeated in the suggested command (None: none given).
        order: Pipeline names in the order a whole run runs them (the suggestion lists them so).

    Raises:
        MissingUpstreamError: Names each missing dataset, where it was looked for, the pipelines that
            write it, and the command that runs them first (or the whole run). Missing inputs that no
            pipeline writes (a source's files) are left to Kedro's load error.
    """
    missing = missing_inputs(pipeline, catalog)
    if not missing:
        return
    written = producers(registered(), skip=skip)
    missing = [name for name in missing if name in written]
    if not missing:
        return
    rank = {name: i for i, name in enumerate(order)}
    needed: list[str] = []
    lines = []
    for name in missing:
        writers = sorted(written[name], key=lambda p: (rank.get(p, len(rank)), p))
        lines.append(f"  - {name} ({_path(catalog.get(name))}): written by {' or '.join(writers)}")
        if not set(writers) & set(needed):
            needed.append(writers[0])
    needed.sort(key=lambda p: (rank.get(p, len(rank)), p))
    flag = f" --env {env}" if env else ""
    raise MissingUpstreamError(
        f"this run reads {len(missing)} dataset(s) that no earlier run wrote:\n"
        + "\n".join(lines)
        + f"\nRun the pipeline(s) that write them first: `kedro run{flag} --pipelines {','.join(needed)}` "
        f"(or the whole run: `kedro run{flag}`), then this run again."
    )


def _path(dataset: Any) -> str | None:
    """Return where ``dataset`` is stored (its ``filepath``, ``path`` or ``root``), or None."""
    described = dataset._describe()  # Kedro's datasets expose their path only there
    path = described.get("filepath", described.get("path", described.get("root")))
    return None if path is None else str(path)
