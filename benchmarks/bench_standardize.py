"""Standardisation at JUMP scale: molecules/s serial vs parallel, and InChIKey agreement with JUMP.

Usage::

    uv run python benchmarks/bench_standardize.py [--sample N] [--n-jobs 2] [--seed 0]
        [--synthetic] [--no-agreement] [--details PATH] [--write-doc docs/results.md]

Reads ``jump/compound.csv.gz`` (5,641 real JUMP compounds with JUMP's InChIKey) from the shared data
folder (``$MICON_SHARED_DATA``, else ``../shared/data`` beside the repository); without it the script
says so and stops, unless ``--synthetic`` asks for the synthetic screen's compounds instead. Prints:

1. molecules/s standardising the table's SMILES in this process and with ``--n-jobs`` workers (the
   parallel time includes starting the workers), also per CPU-second (which a busy machine does not
   distort), whether both give identical results, and the time the rates imply for JUMP's 116,752
   compounds;
2. the agreement table: per perturbation kind (and as given), how many compounds it applied to, how
   many standardised, and the fraction whose standardised InChIKey equals JUMP's (full key and first
   block), over the compounds it applied to.

The whole table costs about 5.5 CPU-minutes (about 4 minutes on 2 free cores; 18 minutes on the shared
2-core machine at load 8-10); ``--sample N`` takes a seeded random subset (``--sample 1000``: about 1/5).
``--write-doc FILE`` replaces the block ``<!-- BEGIN rendered: standardize-jump -->`` of FILE with both
tables, the command and the commit (it needs the agreement table: not with ``--no-agreement``).
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import sys
import time
from pathlib import Path

import pandas as pd

from micon import schema
from micon.chem import (
    ParallelConfig,
    StandardizationConfig,
    inchikey_agreement,
    standardize_many,
    summarise_agreement,
)
from micon.evaluation.report import format_markdown_table
from micon.project_parameters import make_config
from micon.render_tables import write_measured_block

JUMP_COMPOUNDS = 116_752
COMPOUND_TABLE = Path("jump") / "compound.csv.gz"
BLOCK = "standardize-jump"


def cpu_seconds() -> float:
    """Return CPU seconds used by this process and its finished worker processes (load-independent)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def shared_data() -> Path:
    """Return the shared data folder, as tests/shared_data.py locates it."""
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    return Path(os.environ.get("MICON_SHARED_DATA", default))


def load_compounds(args: argparse.Namespace) -> tuple[pd.DataFrame, str] | None:
    """Return the compound table and its name, or None (after saying why) when there is none."""
    path = shared_data() / COMPOUND_TABLE
    if path.exists() and not args.synthetic:
        return pd.read_csv(path), f"JUMP compound table {path}"
    if not args.synthetic:
        print(f"skipped: {path} not found (set MICON_SHARED_DATA, or pass --synthetic)")
        return None
    from micon.sources.synthetic import SyntheticScreenConfig, generate_screen

    return generate_screen(
        make_config(SyntheticScreenConfig, "synthetic")
    ).compound_table, "synthetic screen compounds"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sample", type=int, default=None, help="compounds to draw at random (all if omitted)"
    )
    parser.add_argument("--n-jobs", type=int, default=2, help="worker processes of the parallel runs")
    parser.add_argument("--chunk-size", type=int, default=128, help="SMILES per worker task")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample and the perturbations")
    parser.add_argument("--synthetic", action="store_true", help="use the synthetic screen's compounds")
    parser.add_argument("--no-agreement", action="store_true", help="time standardisation only")
    parser.add_argument("--details", type=Path, default=None, help="write the per-compound table here (CSV)")
    parser.add_argument("--write-doc", type=Path, default=None, help=f"Markdown file with block {BLOCK}")
    args = parser.parse_args()
    if args.write_doc and args.no_agreement:
        parser.error("--write-doc renders the agreement table too: drop --no-agreement")
    logging.disable(logging.WARNING)

    loaded = load_compounds(args)
    if loaded is None:
        return 0
    compounds, name = loaded
    if args.sample is not None and args.sample < len(compounds):
        compounds = compounds.sample(n=args.sample, random_state=args.seed).reset_index(drop=True)
    print(f"{len(compounds):,} compounds from the {name}")

    config = make_config(StandardizationConfig, "data_engineering.standardization")
    smiles = compounds[schema.SMILES].dropna().tolist()
    serial = make_config(
        ParallelConfig, "data_engineering.standardization_parallel", n_jobs=1, progress=False
    )
    parallel = make_config(
        ParallelConfig,
        "data_engineering.standardization_parallel",
        n_jobs=args.n_jobs,
        chunk_size=args.chunk_size,
        progress=False,
    )
    rows = []
    outcomes = {}
    for label, run in (("serial (1 process)", serial), (f"parallel ({args.n_jobs} processes)", parallel)):
        start, cpu_start = time.perf_counter(), cpu_seconds()
        outcomes[label] = standardize_many(smiles, config, run)
        seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu_start
        rows.append((label, len(smiles), seconds, cpu, len(smiles) / seconds, len(smiles) / cpu))
    columns = ["run", "n_smiles", "wall_s", "cpu_s", "molecules_per_s", "molecules_per_cpu_s"]
    throughput = pd.DataFrame(rows, columns=columns)
    throughput["minutes_for_116,752"] = JUMP_COMPOUNDS / throughput["molecules_per_s"] / 60
    print(throughput.to_string(index=False, float_format=lambda v: f"{v:,.1f}"))
    per_cpu_s = throughput["molecules_per_cpu_s"].iloc[0]
    print(
        f"on idle cores (from the serial CPU time): 116,752 compounds take about "
        f"{JUMP_COMPOUNDS / per_cpu_s / 60:.1f} CPU-minutes, i.e. "
        + ", ".join(f"{JUMP_COMPOUNDS / per_cpu_s / 60 / n:.1f} min on {n} cores" for n in (2, 8, 16))
    )
    first, second = outcomes.values()
    print(f"parallel results identical to serial: {first == second}")

    if args.no_agreement:
        return 0
    start = time.perf_counter()
    details = inchikey_agreement(compounds, config, parallel, seed=args.seed)
    seconds = time.perf_counter() - start
    summary = summarise_agreement(details)
    print(f"\nInChIKey agreement with JUMP's key ({seconds:.0f} s, seed {args.seed}; fractions of n_applied)")
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.details is not None:
        details.to_csv(args.details, index=False)
        print(f"per-compound table written to {args.details}")
    if args.write_doc:
        tables = (
            format_markdown_table(throughput, digits=1).rstrip("\n")
            + f"\n\nInChIKey agreement with JUMP's key (seed {args.seed}; fractions of `n_applied`):\n\n"
            + format_markdown_table(summary, digits=4)
        )
        write_measured_block(
            args.write_doc,
            BLOCK,
            tables,
            command=" ".join(["uv run python benchmarks/bench_standardize.py", *sys.argv[1:]]),
            root=Path(__file__).resolve().parents[1],
            details=f"{len(compounds):,} compounds of "
            + ("the synthetic screen" if args.synthetic else f"JUMP's {COMPOUND_TABLE.as_posix()}")
            + f"; parallel results identical to serial: {first == second}",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
