"""Render the sizes of the default run and of the benchmark run, read from their parameter files.

Usage::

    uv run python -m micon.render_run_sizes [--check] [FILE ...]

Every Markdown file named (default: ``docs/synthetic.md``) may hold a block
``<!-- BEGIN rendered: run-sizes -->`` ... ``<!-- END rendered: run-sizes -->``; its body is replaced by
a table of the synthetic screen's layout and the training budget of ``conf/base`` (``kedro run``) and
``conf/benchmark`` (``kedro run --env benchmark``), with the methods each composition trains
(``micon.pipelines.compositions``). ``--check`` rewrites nothing and exits 1 when a block is stale.

Hand-written: the table is the project's own parameters; the block syntax is ``micon.render_tables``'.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import pandas as pd

from micon.evaluation.report import format_markdown_table
from micon.pipelines.compositions import BENCHMARK, COMPOSITIONS, DEFAULT
from micon.project_parameters import load_parameters
from micon.render_tables import render_blocks

__all__ = ["BLOCK", "main", "run_sizes"]

BLOCK = "run-sizes"
COMMAND = "uv run python -m micon.render_run_sizes"
# The runs compared: column label -> (Kedro environment, composition).
RUNS: dict[str, tuple[str, str]] = {
    "default (`kedro run`)": ("base", DEFAULT),
    "benchmark (`kedro run --env benchmark`)": (BENCHMARK, BENCHMARK),
}


def _trained_methods(composition: str) -> str:
    """Return the trained methods of a composition's modeling part, comma-separated."""
    # Imported here: the method registry imports torch, which rendering the layout rows does not need.
    from micon.training.methods import get_method, list_methods  # noqa: PLC0415

    methods = COMPOSITIONS[composition].options.get("modeling", {}).get("methods")
    trained = [m for m in (methods or list_methods()) if get_method(m).kind == "trained"]
    return ", ".join(trained)


def _seeds(composition: str) -> tuple[int | None, ...]:
    """Return the training seeds of a composition (one run with the configured seed when it names none)."""
    return tuple(COMPOSITIONS[composition].options.get("modeling", {}).get("seeds") or (None,))


def run_sizes() -> pd.DataFrame:
    """Return one row per size (plates, compounds, wells, sites, steps, methods), one column per run."""
    columns = {}
    for label, (env, composition) in RUNS.items():
        params = load_parameters(env)
        screen, training = params["synthetic"], params["modeling"]["training"]
        n_plates = screen["n_sources"] * screen["n_batches_per_source"] * screen["n_plates_per_batch"]
        per_plate = screen["n_compounds"] + screen["n_invalid_compounds"] + screen["n_dmso_wells_per_plate"]
        n_sites = n_plates * per_plate * screen["sites_per_well"]
        columns[label] = {
            "sources x batches x plates": (
                f"{screen['n_sources']} x {screen['n_batches_per_source']} x {screen['n_plates_per_batch']}"
            ),
            "compounds (+ unparseable) per plate": (
                f"{screen['n_compounds']} (+ {screen['n_invalid_compounds']})"
            ),
            "inactive fraction": f"{screen['inactive_fraction']:g}",
            "DMSO wells per plate": str(screen["n_dmso_wells_per_plate"]),
            "wells": str(n_plates * per_plate),
            "sites (fields) of": f"{n_sites:,} ({screen['field_size_px']} px)",
            "cells per reference field (mean)": f"{screen['mean_cells_per_field']:g}",
            "training steps per method": f"{training['max_steps']:,}",
            "trained methods": _trained_methods(composition),
            "seeds per trained method": str(len(_seeds(composition))),
            "tuning (trials x steps per method)": (
                f"{params['tuning']['n_trials']} x {params['tuning']['max_steps']:,}"
                if "tuning" in COMPOSITIONS[composition].pipelines
                else "none (conf/base values)"
            ),
        }
    return pd.DataFrame(columns).rename_axis("").reset_index()


def render_body() -> str:
    """Return the block's body: the table and a line naming the parameter files and this command."""
    files = ", ".join(f"conf/{env}" for env, _ in RUNS.values())
    return (
        format_markdown_table(run_sizes())
        + f"\n<sub>Rendered by `{COMMAND}` from the parameters of {files}.</sub>\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Render (or, with ``--check``, verify) the run-sizes block of the given Markdown files."""
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", default=["docs/synthetic.md"])
    parser.add_argument("--check", action="store_true", help="exit 1 if a block is stale; write nothing")
    args = parser.parse_args(argv)
    return render_blocks(args.files, {BLOCK: render_body()}, check=args.check)


if __name__ == "__main__":
    sys.exit(main())
