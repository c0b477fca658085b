"""BBBC021 benchmark: the whole ``--env bbbc021`` run, then NSC, NSCB and replicate mAP per method.

Usage::

    uv run python benchmarks/bench_bbbc021.py [--methods micon,untrained] [--max-steps 300]
        [--shared-data ../shared/data]

It ingests the 660-field PNG subset of ``<shared-data>/bbbc021``, cuts the crops once, then trains (or
builds) and evaluates each method in its own Kedro session, so one failing method is reported and the
others still run. Outputs are versioned under ``data/bbbc021/``. Without the shared data it prints the
reason and exits 0 (a user's fresh clone has none).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

from kedro.framework.project import pipelines
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PIPELINE = "bbbc021"
UPSTREAM_OUTPUTS = ("crop_store", "crop_index")
# (metric, column header, format)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("NSC", "NSC", ".3f"),
    ("NSCB", "NSCB", ".3f"),
    ("replicate_map", "rep. mAP", ".3f"),
    ("replicate_fraction_retrieved", "rep. retr.", ".3f"),
    ("NSC_n_queries", "NSC n", "d"),
    ("NSCB_n_queries", "NSCB n", "d"),
)


def _run(runtime_params: dict, **run_args: object) -> None:
    with KedroSession.create(
        project_path=PROJECT_ROOT, env="bbbc021", runtime_params=runtime_params
    ) as session:
        session.run(pipeline_names=[PIPELINE], **run_args)


def _load_metrics(method: str, runtime_params: dict) -> dict[str, float]:
    with KedroSession.create(
        project_path=PROJECT_ROOT, env="bbbc021", runtime_params=runtime_params
    ) as session:
        return session.load_context().catalog.load(f"{method}.bbbc021_metrics")


def main() -> None:
    default_shared = os.environ.get("MICON_SHARED_DATA", str(PROJECT_ROOT.parent / "shared" / "data"))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--methods", default=None, help="comma-separated methods (default: every one)")
    parser.add_argument("--max-steps", type=int, default=None, help="training steps per trained method")
    parser.add_argument("--shared-data", default=default_shared, help="folder holding bbbc021/")
    args = parser.parse_args()
    shared = Path(args.shared_data).resolve()
    if not (shared / "bbbc021" / "fields_png_metadata.csv").exists():
        print(f"SKIPPED: BBBC021 subset not found at {shared / 'bbbc021'} (pass --shared-data)")  # noqa: T201
        return

    os.chdir(PROJECT_ROOT)
    bootstrap_project(PROJECT_ROOT)
    pipeline = pipelines[PIPELINE]
    available = sorted(
        o.removesuffix(".bbbc021_metrics") for o in pipeline.all_outputs() if o.endswith(".bbbc021_metrics")
    )
    methods = args.methods.split(",") if args.methods else available
    unknown = sorted(set(methods) - set(available))
    if unknown:
        parser.error(f"unknown method(s) {unknown}; the bbbc021 pipeline evaluates {available}")
    runtime_params: dict = {"shared_data": str(shared)}
    if args.max_steps is not None:
        runtime_params["modeling"] = {"training": {"max_steps": args.max_steps}}
    logging.getLogger("kedro").setLevel(logging.WARNING)

    start = time.perf_counter()
    _run(runtime_params, to_outputs=list(UPSTREAM_OUTPUTS))
    upstream_s = time.perf_counter() - start
    upstream = {n.name for n in pipeline.to_outputs(*UPSTREAM_OUTPUTS).nodes}
    rows = []
    for method in methods:
        nodes = [
            n.name for n in pipeline.to_outputs(f"{method}.bbbc021_metrics").nodes if n.name not in upstream
        ]
        start = time.perf_counter()
        try:
            _run(runtime_params, node_names=nodes)
            metrics = _load_metrics(method, runtime_params)
            rows.append((method, time.perf_counter() - start, metrics, ""))
        except Exception as exc:  # a failing method is reported; the others still run
            rows.append((method, time.perf_counter() - start, {}, f"{type(exc).__name__}: {exc}"[:160]))

    print(f"\nBBBC021 PNG subset ({shared / 'bbbc021'}); ingestion + crops {upstream_s:.0f} s")  # noqa: T201
    print(f"{'method':<12}" + "".join(f"{h:>11}" for _, h, _ in COLUMNS) + f"{'seconds':>10}")  # noqa: T201
    for method, seconds, metrics, error in rows:
        if error:
            print(f"{method:<12} FAILED after {seconds:.0f} s: {error}")  # noqa: T201
            continue
        cells = "".join(f"{metrics[key]:>11{fmt}}" for key, _, fmt in COLUMNS)
        print(f"{method:<12}{cells}{seconds:>10.0f}")  # noqa: T201


if __name__ == "__main__":
    main()
