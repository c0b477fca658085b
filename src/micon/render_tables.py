"""Render the tables of the README and docs from a run's outputs, with the commit and command that made them.

Usage::

    uv run python -m micon.render_tables [--run-root data/synthetic] [--check] [FILE ...]

Every Markdown file named (default: ``README.md`` and ``docs/results.md``) may hold blocks::

    <!-- BEGIN rendered: synthetic-comparison -->
    ... replaced ...
    <!-- END rendered: synthetic-comparison -->

Each block is replaced by the table of that name (:data:`TABLES`), rendered from the latest run under the
run root whose reporting outputs are complete, followed by a line naming the run's version, its commit
(from ``run_provenance.json``, written by the same run) and this command. ``--check`` rewrites nothing
and exits 1 when a block differs from what the outputs give (a stale table).

Hand-written: no library renders a project's own versioned Kedro outputs into marked Markdown blocks.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from micon.errors import InvalidInputError
from micon.evaluation.glossary import FLOOR_METHODS, METHOD_LABELS, describe_metric, method_label
from micon.evaluation.report import format_markdown_table

__all__ = ["TABLES", "latest_run", "main", "render_file", "replace_block"]

_BLOCK = re.compile(
    r"(?P<begin><!-- BEGIN rendered: (?P<name>[\w-]+) -->\n)(?P<body>.*?)"
    r"(?P<end><!-- END rendered: (?P=name) -->)",
    re.DOTALL,
)
COMMAND = "uv run python -m micon.render_tables"


@dataclass(frozen=True)
class RunOutputs:
    """The reporting outputs of one run: its Kedro save version, provenance and tables."""

    run_root: Path
    version: str
    provenance: dict
    comparison: pd.DataFrame


def _versions(path: Path) -> set[str]:
    """Return the save versions of a versioned dataset folder that hold their file (complete saves)."""
    if not path.is_dir():
        return set()
    return {v.name for v in path.iterdir() if (v / path.name).is_file()}


def latest_run(run_root: str | Path) -> RunOutputs:
    """Return the newest run whose comparison table and provenance were both written (same save version).

    A Kedro run saves every versioned dataset under one save version, so the two files of one version come
    from the same run and the same code.

    Raises:
        InvalidInputError: No version holds both outputs (names the folder).
    """
    reporting = Path(run_root) / "08_reporting"
    table_dir, provenance_dir = reporting / "comparison_table.csv", reporting / "run_provenance.json"
    common = sorted(_versions(table_dir) & _versions(provenance_dir))
    if not common:
        raise InvalidInputError(
            f"no run under {reporting} wrote both comparison_table.csv and run_provenance.json; "
            "run `uv run kedro run` first"
        )
    version = common[-1]
    provenance = json.loads((provenance_dir / version / provenance_dir.name).read_text())
    comparison = pd.read_csv(table_dir / version / table_dir.name)
    return RunOutputs(Path(run_root), version, provenance, comparison)


def _label(method: str) -> str:
    """A row's readable name (``micon.evaluation.glossary``), floors marked as such."""
    return f"{method_label(method)} (floor)" if method in FLOOR_METHODS else method_label(method)


def _order(table: pd.DataFrame) -> pd.DataFrame:
    rank = {m: i for i, m in enumerate(METHOD_LABELS)}
    return table.sort_values("method", key=lambda s: s.map(lambda m: rank.get(m, len(rank))), kind="stable")


def _chain_table(comparison: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """One row per method, one column group per chain: ``columns`` shown by their readable names."""
    present = {c: describe_metric(c).label for c in columns if c in comparison.columns}
    if not present:
        raise InvalidInputError(f"the comparison table has none of the columns {list(columns)}")
    rows = _order(comparison)
    shown = rows.loc[:, ["method", *(["chain"] if "chain" in rows.columns else []), *present]]
    shown = shown.rename(columns=present)
    shown["method"] = shown["method"].map(_label)
    return shown


def synthetic_replicate(comparison: pd.DataFrame) -> pd.DataFrame:
    """Replicate retrieval per method and chain (raw means, default chain, JUMP recipe)."""
    return _chain_table(
        comparison,
        [
            "NR_top1",
            "NR_map",
            "NSB_top1",
            "NSB_map",
            "NSS_top1",
            "NSS_map",
            "NSS_map_above_chance",
            "NSL_top1",
            "NSL_map",
        ],
    )


def synthetic_mechanism(comparison: pd.DataFrame) -> pd.DataFrame:
    """Mechanism retrieval (another compound of the same MoA) per method and chain."""
    return _chain_table(
        comparison,
        [
            "MoA_NR_top1",
            "MoA_NR_map",
            "MoA_NSS_top1",
            "MoA_NSS_map",
        ],
    )


def synthetic_headline(comparison: pd.DataFrame) -> pd.DataFrame:
    """The README's summary: every row under the default chain."""
    default = comparison[comparison["chain"] == "default"] if "chain" in comparison.columns else comparison
    return _chain_table(
        default,
        [
            "NSB_top1",
            "NSS_top1",
            "NSS_map",
            "NSS_map_above_chance",
            "NSL_top1",
            "MoA_NSS_map",
        ],
    ).drop(columns="chain", errors="ignore")


TABLES: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "synthetic-replicate": synthetic_replicate,
    "synthetic-mechanism": synthetic_mechanism,
    "synthetic-headline": synthetic_headline,
}


def render_block(name: str, run: RunOutputs) -> str:
    """Return the Markdown of table ``name`` for ``run``, with its provenance line."""
    try:
        build = TABLES[name]
    except KeyError as exc:
        raise InvalidInputError(f"no rendered table named {name!r}; known: {sorted(TABLES)}") from exc
    commit = run.provenance.get("commit") or "unknown"
    dirty = " (with uncommitted changes)" if run.provenance.get("dirty") else ""
    return (
        format_markdown_table(build(run.comparison))
        + f"\n<sub>Rendered by `{COMMAND}` from `{run.run_root}/08_reporting/comparison_table.csv/"
        f"{run.version}`: run of commit `{commit[:12]}`{dirty}, `{run.provenance.get('command', '?')}`, "
        f"finished {run.provenance.get('finished_at', '?')}.</sub>\n"
    )


def replace_block(text: str, name: str, body: str) -> str:
    """Return ``text`` with the body of its rendered block ``name`` replaced by ``body``.

    Raises:
        InvalidInputError: ``text`` has no block of that name.
    """
    found = False

    def substitute(match: re.Match[str]) -> str:
        nonlocal found
        if match["name"] != name:
            return match[0]
        found = True
        return match["begin"] + body + match["end"]

    new = _BLOCK.sub(substitute, text)
    if not found:
        raise InvalidInputError(
            f"no block '<!-- BEGIN rendered: {name} -->' ... '<!-- END rendered: {name} -->'"
        )
    return new


def render_file(path: str | Path, run: RunOutputs) -> tuple[str, str]:
    """Return ``(old text, new text)`` of a Markdown file with every rendered block replaced."""
    old = Path(path).read_text()
    new = _BLOCK.sub(
        lambda m: m["begin"] + render_block(m["name"], run) + m["end"] if m["name"] in TABLES else m[0], old
    )
    return old, new


def main(argv: Sequence[str] | None = None) -> int:
    """Render (or, with ``--check``, verify) the marked tables of the given Markdown files."""
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", default=["README.md", "docs/results.md"])
    parser.add_argument("--run-root", default="data/synthetic")
    parser.add_argument("--check", action="store_true", help="exit 1 if a block is stale; write nothing")
    args = parser.parse_args(argv)
    run = latest_run(args.run_root)
    stale = []
    for path in args.files:
        old, new = render_file(path, run)
        if old != new:
            stale.append(path)
            if not args.check:
                Path(path).write_text(new)
    verb = "stale" if args.check else "rendered"
    print(  # noqa: T201 - a command-line tool's result
        f"{verb}: {', '.join(stale) or 'none'} (run {run.version}, commit {run.provenance.get('commit')})"
    )
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
