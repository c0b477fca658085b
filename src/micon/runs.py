"""One run, one identity: the run id that ties a ``kedro run``'s outputs, training logs and MLflow run.

A run's id is its Kedro session id, which Kedro also uses as the save version of every versioned dataset
the run writes (``<filepath>/<run_id>/<name>``). At the end of a successful run the project hook
(:class:`micon.hooks.RunTrackingHooks`) writes a manifest, ``<run_root>/runs/<run_id>.json``: the run id,
its commit, command, pipelines, status and the versioned datasets it saved; and then moves the pointer
``<run_root>/runs/latest.json`` onto it. A failed run writes its manifest with ``"status": "failed"`` and
leaves ``latest.json`` where it was, so "the latest run" always means a complete one rather than the newest
version of each dataset taken separately.

Read a run back with :func:`micon.session.load_run_outputs` (``"latest"`` or a run id), or hand its versions
to Kedro: ``kedro run --load-versions <load_versions_option(...)>``. While a run is in progress, nodes find
its id (and its MLflow run, when tracking is on) with :func:`current_run`.

Kedro-free: the hook and :mod:`micon.session` hand it paths and records.

Hand-written: Kedro shares a save version across one run's datasets but keeps no record of which datasets a
run wrote nor a pointer to the last complete run, and no library does this for Kedro's versioned datasets.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from micon import schema
from micon.errors import InvalidInputError

__all__ = [
    "LATEST",
    "RUNS_FOLDER",
    "RunContext",
    "current_run",
    "load_versions",
    "load_versions_option",
    "manifest_path",
    "read_manifest",
    "saved_output",
    "set_current_run",
    "write_manifest",
]

RUNS_FOLDER = "runs"
LATEST = "latest"
RUN_ID_PATTERN = re.compile(schema.RUN_ID_PATTERN)


@dataclass(frozen=True, kw_only=True)
class RunContext:
    """The identity of the run in progress, as nodes see it.

    Attributes:
        run_id: The Kedro session id, also the save version of every versioned dataset of the run.
        tracking_uri: The MLflow tracking URI of the run; None when tracking is off.
        experiment_name: The MLflow experiment of the run; None when tracking is off.
        mlflow_run_id: The run's (parent) MLflow run; training runs are its children. None when off.
    """

    run_id: str
    tracking_uri: str | None = None
    experiment_name: str | None = None
    mlflow_run_id: str | None = None


_CURRENT: RunContext | None = None


def set_current_run(run: RunContext | None) -> None:
    """Set (or clear, with None) the run in progress in this process; called by the project hook."""
    global _CURRENT  # noqa: PLW0603 - one run per process at a time, as Kedro's session
    _CURRENT = run


def current_run() -> RunContext | None:
    """Return the run in progress in this process, or None outside a ``kedro run`` (tests, notebooks).

    Set by the project hook before the first node and cleared after the last, in the process that runs the
    session (Kedro's sequential and thread runners; a ParallelRunner's worker processes do not see it).
    """
    return _CURRENT


def manifest_path(run_root: str | Path, run_id: str = LATEST) -> Path:
    """Return the path of a run's manifest (or of the ``latest`` pointer) under ``run_root``."""
    if run_id != LATEST and not RUN_ID_PATTERN.match(run_id):
        raise InvalidInputError(
            f"run id {run_id!r} is not a Kedro save version like 2026-12-01T19.05.33.123Z"
        )
    return Path(run_root) / RUNS_FOLDER / f"{run_id}.json"


def _write_json(path: Path, record: Mapping[str, Any]) -> None:
    """Write ``record`` to ``path`` atomically (a reader sees the old file or the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(record, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def write_manifest(run_root: str | Path, manifest: Mapping[str, Any], *, latest: bool) -> Path:
    """Write a run's manifest ``<run_root>/runs/<run_id>.json``; with ``latest``, point ``latest.json`` at it.

    ``latest.json`` is a copy of the manifest (not a link: it works on every filesystem), written after the
    run's own file, each atomically.

    Returns:
        The path of the run's manifest.
    """
    path = manifest_path(run_root, manifest["run_id"])
    _write_json(path, manifest)
    if latest:
        _write_json(manifest_path(run_root, LATEST), manifest)
    return path


def read_manifest(run_id: str = LATEST, *, run_root: str | Path) -> dict[str, Any]:
    """Return the manifest of run ``run_id`` (``"latest"``: the last successful run) under ``run_root``.

    Raises:
        InvalidInputError: No such manifest (names the path).
    """
    path = manifest_path(run_root, run_id)
    if not path.is_file():
        known = sorted(p.stem for p in path.parent.glob("*.json")) if path.parent.is_dir() else []
        raise InvalidInputError(f"no run manifest {path}; runs recorded there: {known or 'none'}")
    return json.loads(path.read_text())


def load_versions(
    run_id: str = LATEST, *, run_root: str | Path, names: Iterable[str] | None = None
) -> dict[str, str]:
    """Return ``{dataset: version}`` of the versioned datasets run ``run_id`` saved (all, or ``names``).

    Raises:
        InvalidInputError: No such run; the run failed; or a name in ``names`` was not saved by the run.
    """
    manifest = read_manifest(run_id, run_root=run_root)
    if manifest.get("status") != "success":
        raise InvalidInputError(
            f"run {manifest['run_id']} did not complete (status {manifest.get('status')!r}); its outputs "
            "are partial. Pass its versions by hand if you mean to read them"
        )
    saved = manifest["datasets"]
    wanted = list(saved) if names is None else list(names)
    missing = [name for name in wanted if name not in saved]
    if missing:
        raise InvalidInputError(
            f"run {manifest['run_id']} saved no versioned {missing}; it saved {sorted(saved)}"
        )
    return {name: saved[name]["version"] for name in wanted}


def load_versions_option(
    run_id: str = LATEST, *, run_root: str | Path, names: Iterable[str] | None = None
) -> str:
    """Return the value of ``kedro run --load-versions`` that reads run ``run_id``'s versions of ``names``."""
    return ",".join(
        f"{name}:{version}" for name, version in load_versions(run_id, run_root=run_root, names=names).items()
    )


def saved_output(name: str, run_id: str = LATEST, *, run_root: str | Path) -> tuple[str, str]:
    """Return ``(run id, path)`` of the version of dataset ``name`` a run saved.

    With ``"latest"``: the newest successful run that saved ``name`` (the latest run may have run other
    pipelines, e.g. modeling alone, and written no report); with a run id: that run, which must have
    succeeded and saved it.

    Raises:
        InvalidInputError: No such run, the run failed or did not save ``name``, or (latest) no
            successful run saved it (names the runs folder and the pipeline to run).
    """
    if run_id != LATEST:
        load_versions(run_id, run_root=run_root, names=[name])
        return run_id, read_manifest(run_id, run_root=run_root)["datasets"][name]["path"]
    folder = Path(run_root) / RUNS_FOLDER
    ids = sorted((p.stem for p in folder.glob("*.json") if RUN_ID_PATTERN.match(p.stem)), reverse=True)
    for candidate in ids:
        manifest = read_manifest(candidate, run_root=run_root)
        if manifest.get("status") == "success" and name in manifest.get("datasets", {}):
            return candidate, manifest["datasets"][name]["path"]
    raise InvalidInputError(
        f"no successful run under {folder} saved {name!r} ({len(ids)} runs recorded); run the pipeline "
        "that writes it first (the report: `uv run kedro run`, or `--pipelines reporting` after modeling)"
    )
