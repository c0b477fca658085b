"""Wall time of the default ``kedro run`` and of each of its stages, printed as a table.

Usage: ``uv run python benchmarks/bench_default_run.py [--env ENV] [--keep] [--log INFO_LOG]``.

The project's configuration (``conf/`` without ``conf/local``, ``pyproject.toml``) is copied into a
temporary folder and ``kedro run`` runs there in a subprocess of this environment's Python, so the run
writes its data under that folder and reuses no earlier output (nor the copairs null cache of an earlier
run's data folder). Per-node times come from the timestamps Kedro logs (``Running node`` / ``Completed
node`` in the run's ``info.log``); each node is put in the stage (pipeline of the composition,
``micon.pipelines.compositions``) it belongs to. The table also gives the time before the first node
(imports, parameter validation, pipeline creation), the peak resident memory of the run and the machine's
load average, which the times depend on (a shared machine). ``--log`` prints the same table from the
``info.log`` of a run made elsewhere (e.g. in a fresh clone under ``/usr/bin/time -v``) without running
anything; its start-up and wall time are then those of the log.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import pandas as pd

from micon.pipelines.compositions import COMPOSITIONS, DEFAULT
from micon.session import MiconSession  # noqa: F401  (the project's session: fail early if it is broken)

PROJECT_ROOT = Path(__file__).resolve().parents[1]
_STAMP = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}) - .*?(Running|Completed) node: ([\w.]+)")


def stage_of_nodes(composition: str) -> dict[str, str]:
    """Return ``{node name: pipeline part}`` of a composition's parts, as ``compose`` builds them."""
    spec = COMPOSITIONS[composition]
    stages: dict[str, str] = {}
    for part in spec.pipelines:
        module = importlib.import_module(f"micon.pipelines.{part}")
        for node in module.create_pipeline(**spec.options.get(part, {})).nodes:
            stages[node.name] = part
    return stages


def log_span(log: Path) -> tuple[dt.datetime, dt.datetime]:
    """Return the first and last timestamps of a Kedro ``info.log``."""
    stamps = [
        dt.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
        for line in log.read_text(encoding="utf8", errors="replace").splitlines()
        if re.match(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3} ", line)
    ]
    return stamps[0], stamps[-1]


def node_times(log: Path) -> list[tuple[str, float, dt.datetime]]:
    """Return ``(node name, seconds, start)`` per node, from a Kedro ``info.log`` of a sequential run."""
    started: dt.datetime | None = None
    times = []
    for line in log.read_text(encoding="utf8", errors="replace").splitlines():
        match = _STAMP.match(line)
        if not match:
            continue
        stamp = dt.datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")
        if match.group(2) == "Running":
            started = stamp
        elif started is not None:
            times.append((match.group(3), (stamp - started).total_seconds(), started))
            started = None
    return times


def copy_project(root: Path) -> None:
    """Copy what ``kedro run`` reads (configuration, pyproject, telemetry consent) into ``root``."""
    shutil.copy(PROJECT_ROOT / "pyproject.toml", root / "pyproject.toml")
    telemetry = PROJECT_ROOT / ".telemetry"
    if telemetry.exists():
        shutil.copy(telemetry, root / ".telemetry")
    shutil.copytree(PROJECT_ROOT / "conf", root / "conf", ignore=shutil.ignore_patterns("local"))
    (root / "conf" / "local").mkdir()
    (root / "src").mkdir()


def run(env: str | None, keep: bool) -> tuple[Path, dt.datetime, float, str]:
    """Run ``kedro run`` in a temporary copy of the project; return its log, launch time, wall and notes."""
    root = Path(tempfile.mkdtemp(prefix="micon_default_run_"))
    copy_project(root)
    command = [sys.executable, "-m", "kedro", "run", *(["--env", env] if env else [])]
    load_before = os.getloadavg()
    start = time.perf_counter()
    launched = dt.datetime.now()
    completed = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    load_after = os.getloadavg()
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout[-5000:] + completed.stderr[-5000:])
        raise SystemExit(f"kedro run failed with exit status {completed.returncode}; project in {root}")
    peak_rss_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    log = Path(tempfile.mkdtemp(prefix="micon_default_run_log_")) / "info.log"
    shutil.copy(root / "info.log", log)
    if keep:
        print(f"project kept in {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    notes = (
        f"peak RSS {peak_rss_gib:.2f} GiB; {os.cpu_count()} CPUs; load average (1 min) before "
        f"{load_before[0]:.2f}, after {load_after[0]:.2f}"
    )
    return log, launched, wall, notes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--env", default=None, help="Kedro environment (default: none, the default run)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project and print its path")
    parser.add_argument("--log", type=Path, default=None, help="summarise this run's info.log; run nothing")
    args = parser.parse_args()
    composition = args.env if args.env in COMPOSITIONS else DEFAULT
    stages = stage_of_nodes(composition)
    if args.log is None:
        log, launched, wall, notes = run(args.env, args.keep)
    else:
        log = args.log
        launched, last = log_span(log)
        wall = (last - launched).total_seconds()
        notes = f"from {log} (times of its log: start-up counts from the first line)"
    times = node_times(log)

    per_stage: dict[str, float] = defaultdict(float)
    per_node: dict[str, float] = defaultdict(float)
    for name, seconds, _ in times:
        stage = stages.get(name, "?")
        per_stage[stage] += seconds
        per_node[f"{stage}: {name.split('.')[-1]}"] += seconds
    first_node = (times[0][2] - launched).total_seconds() if times else float("nan")
    rows = [("start-up (imports, validation, pipelines)", first_node)]
    rows += [(stage, per_stage[stage]) for stage in COMPOSITIONS[composition].pipelines]
    nodes = sum(seconds for _, seconds, _ in times)
    rows += [("other (loading node inputs, exit)", wall - first_node - nodes), ("total (wall)", wall)]
    table = pd.DataFrame(rows, columns=["stage", "seconds"])
    print(f"kedro run{' --env ' + args.env if args.env else ''} ({composition}), {len(times)} nodes")
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.1f}"))
    print()
    slowest = pd.Series(per_node).sort_values(ascending=False).head(12)
    print("slowest nodes (summed over methods and chains), seconds:")
    print(slowest.to_string(float_format=lambda v: f"{v:,.1f}"))
    print()
    print(notes)


if __name__ == "__main__":
    main()
