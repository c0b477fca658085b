"""BBBC021 benchmark: the whole ``--env bbbc021`` run, then NSC, NSCB and replicate mAP per method.

Usage::

    uv run python benchmarks/bench_bbbc021.py [--methods micon,untrained] [--max-steps 300]
        [--shared-data ../shared/data] [--write-doc docs/results.md]

It ingests the 660-field PNG subset of ``<shared-data>/bbbc021``, cuts the crops once, then trains (or
builds) and evaluates each method in its own Kedro session, so one failing method is reported and the
others still run. Outputs are versioned under ``data/bbbc021/``. Without the shared data it prints the
reason and exits 0 (a user's fresh clone has none). ``--write-doc FILE`` replaces the block
``<!-- BEGIN rendered: bbbc021-methods -->`` of FILE with the table, the command and the commit; it
refuses when a method failed (a table with a missing row is not written).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import pandas as pd
from kedro.framework.project import pipelines
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from micon.evaluation.glossary import method_label
from micon.evaluation.report import format_markdown_table
from micon.render_tables import write_measured_block

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PIPELINE = "bbbc021"
UPSTREAM_OUTPUTS = ("crop_store", "crop_index")
BLOCK = "bbbc021-methods"
# (metric, column header)
COLUMNS: tuple[tuple[str, str], ...] = (
    ("NSC", "NSC"),
    ("NSCB", "NSCB"),
    ("replicate_map", "replicate mAP"),
    ("replicate_fraction_retrieved", "replicate fraction retrieved"),
    ("NSC_n_queries", "NSC treatments"),
    ("NSCB_n_queries", "NSCB treatments"),
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
    parser.add_argument("--write-doc", type=Path, default=None, help=f"Markdown file with block {BLOCK}")
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
    failed = [(method, seconds, error) for method, seconds, _, error in rows if error]
    for method, seconds, error in failed:
        print(f"{method} FAILED after {seconds:.0f} s: {error}")  # noqa: T201
    table = pd.DataFrame(
        [
            {
                "method": method_label(method),
                **{header: metrics[key] for key, header in COLUMNS},
                **{header: int(metrics[key]) for key, header in COLUMNS if key.endswith("_n_queries")},
                "seconds": round(seconds),
            }
            for method, seconds, metrics, error in rows
            if not error
        ]
    )
    markdown = format_markdown_table(table) if not table.empty else "(no method finished)"
    print(markdown)  # noqa: T201
    if args.write_doc:
        if failed:
            sys.exit(f"not writing {args.write_doc}: {len(failed)} method(s) failed")
        write_measured_block(
            args.write_doc,
            BLOCK,
            markdown,
            command=" ".join(["uv run python benchmarks/bench_bbbc021.py", *sys.argv[1:]]),
            root=PROJECT_ROOT,
            details=f"ingestion + crops {upstream_s:.0f} s; seconds: each method's training (or building) "
            "and evaluation in its own Kedro session",
        )


if __name__ == "__main__":
    main()
