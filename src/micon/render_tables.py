"""Render the tables of the README and docs from a run's outputs, with the commit and command that made them.

Usage::

    uv run python -m micon.render_tables [--run-root R] [--version V] [--tag T] [--check] [FILE ...]

Every Markdown file named (default: ``README.md`` and ``docs/results.md``) may hold blocks::

    <!-- BEGIN rendered: synthetic-comparison -->
    ... replaced ...
    <!-- END rendered: synthetic-comparison -->

Each block is replaced by the table of that name (:data:`TABLES`), rendered from the latest run under the
run root whose reporting outputs are complete, followed by a line naming the run's version, its commit
(from ``run_provenance.json``, written by the same run) and this command. ``--check`` rewrites nothing
and exits 1 when a block differs from what the outputs give (a stale table).

A block may carry a tag, ``<!-- BEGIN rendered: benchmark-comparison@additive -->``: the same table, of
another run. Tagged blocks are rendered only when ``--tag`` names their tag, untagged ones only without
``--tag``, so one file can hold the tables of several runs (the benchmark's two treatment models), each
rendered from its own run: ``--version`` picks a run's save version instead of the latest.

Hand-written: no library renders a project's own versioned Kedro outputs into marked Markdown blocks.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from micon.errors import InvalidInputError
from micon.evaluation.glossary import FLOOR_METHODS, METHOD_LABELS, describe_metric, method_label
from micon.evaluation.report import format_markdown_table
from micon.project_parameters import parameter
from micon.provenance import commit_label
from micon.runs import RUNS_FOLDER
from micon.sources.synthetic.biology import TREATMENT_MODELS
from micon.tracking import flatten_params

__all__ = [
    "RUN_TABLES",
    "TABLES",
    "check_tag",
    "latest_run",
    "main",
    "render_file",
    "replace_block",
    "treatment_model",
]

_BLOCK = re.compile(
    r"(?P<begin><!-- BEGIN rendered: (?P<name>[\w-]+)(?:@(?P<tag>[\w-]+))? -->\n)(?P<body>.*?)"
    r"(?P<end><!-- END rendered: (?P=name)(?:@(?P=tag))? -->)",
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
    intervals: pd.DataFrame | None = None
    differences: pd.DataFrame | None = None
    diagnostics: pd.DataFrame | None = None
    manifest: dict | None = None


def _versions(path: Path) -> set[str]:
    """Return the save versions of a versioned dataset folder that hold their file (complete saves)."""
    if not path.is_dir():
        return set()
    return {v.name for v in path.iterdir() if (v / path.name).is_file()}


def latest_run(run_root: str | Path, version: str | None = None) -> RunOutputs:
    """Return the newest run (or run ``version``) whose comparison table and provenance were both written.

    A Kedro run saves every versioned dataset under one save version, so the files of one version come
    from the same run and the same code. The run's intervals, paired differences and diagnostics are
    read too where that version wrote them (None otherwise).

    Raises:
        InvalidInputError: No version holds both outputs, or ``version`` is not one of them (names the
            folder and the complete versions).
    """
    reporting = Path(run_root) / "08_reporting"
    table_dir, provenance_dir = reporting / "comparison_table.csv", reporting / "run_provenance.json"
    common = sorted(_versions(table_dir) & _versions(provenance_dir))
    if not common:
        raise InvalidInputError(
            f"no run under {reporting} wrote both comparison_table.csv and run_provenance.json; "
            "run `uv run kedro run` first"
        )
    if version is not None and version not in common:
        raise InvalidInputError(f"no complete run {version!r} under {reporting}; complete runs: {common}")
    version = version or common[-1]
    provenance = json.loads((provenance_dir / version / provenance_dir.name).read_text())
    comparison = pd.read_csv(table_dir / version / table_dir.name)

    def optional(name: str) -> pd.DataFrame | None:
        path = reporting / name / version / name
        return pd.read_csv(path) if path.is_file() else None

    manifest_file = Path(run_root) / RUNS_FOLDER / f"{version}.json"  # the run id is the save version

    return RunOutputs(
        Path(run_root),
        version,
        provenance,
        comparison,
        intervals=optional("metric_intervals.csv"),
        differences=optional("paired_differences.csv"),
        diagnostics=optional("diagnostics.csv"),
        manifest=json.loads(manifest_file.read_text()) if manifest_file.is_file() else None,
    )


def treatment_model(run: RunOutputs) -> str | None:
    """Return the synthetic treatment model a run used: its ``--params`` override, else conf/base's.

    None when the run left no manifest (``micon.runs``) to say which parameters it overrode.
    """
    if run.manifest is None:
        return None
    # Kedro nests `--params synthetic.treatment_model=additive` as {"synthetic": {"treatment_model": ...}}
    override = flatten_params(run.manifest.get("runtime_params") or {}).get("synthetic.treatment_model")
    return str(override) if override is not None else str(parameter("synthetic.treatment_model"))


def check_tag(run: RunOutputs, tag: str | None) -> None:
    """Refuse to render blocks tagged with a treatment model from a run of the other one.

    Raises:
        InvalidInputError: ``tag`` names a treatment model and the run's manifest says it used another.
    """
    if tag not in TREATMENT_MODELS:
        return
    used = treatment_model(run)
    if used is not None and used != tag:
        raise InvalidInputError(
            f"blocks tagged @{tag} need a run of synthetic.treatment_model={tag}; run {run.version} used "
            f"{used}; pick its version with --version"
        )


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


# The benchmark's headline metrics (metric_intervals / paired_differences names) and their headers.
BENCHMARK_METRICS: dict[str, str] = {
    "NSS_top1": "NSS top-1",
    "NSS_map_above_chance": "NSS mAP above chance",
    "NSL_top1": "NSL top-1",
    "MoA_NSS_top1": "MoA NSS top-1",
}
# The held-out breakdown: queries of each split (split_scenarios), and the held-out compounds' mAP.
HELD_OUT_METRICS: dict[str, str] = {
    "NSS_top1_test": "NSS top-1, held-out batches",
    "NSS_top1_ood_source": "NSS top-1, held-out source",
    "NSS_top1_ood_compound": "NSS top-1, held-out compounds",
    "NSS_map_above_chance_ood_compound": "NSS mAP above chance, held-out compounds",
}
BENCHMARK_CHAIN = "default"


def _cell(estimate: float, low: float, high: float) -> str:
    """``estimate [low, high]``; the estimate alone where the interval is undefined."""
    if pd.isna(estimate):
        return "n/a"
    if pd.isna(low) or pd.isna(high):
        return f"{estimate:.3f}"
    return f"{estimate:.3f} [{low:.3f}, {high:.3f}]"


def _require(table: pd.DataFrame | None, name: str, run: RunOutputs) -> pd.DataFrame:
    if table is None:
        raise InvalidInputError(
            f"run {run.version} under {run.run_root} wrote no {name}; the benchmark tables need a run of "
            "`uv run kedro run --env benchmark`"
        )
    return table


def _interval_table(run: RunOutputs, metrics: dict[str, str]) -> pd.DataFrame:
    intervals = _require(run.intervals, "metric_intervals.csv", run)
    chain = intervals.loc[intervals["chain"] == BENCHMARK_CHAIN]
    present = {m: h for m, h in metrics.items() if m in set(chain["metric"])}
    if not present:
        raise InvalidInputError(
            f"metric_intervals.csv of run {run.version} has none of {list(metrics)} under chain "
            f"{BENCHMARK_CHAIN!r}"
        )
    methods = _order(pd.DataFrame({"method": pd.unique(chain["method"])}))["method"]
    rows = []
    for method in methods:
        own = chain.loc[chain["method"] == method].set_index("metric")
        row = {"method": _label(method), "seeds": int(own["n_seeds"].max())}
        for metric, header in present.items():
            row[header] = (
                _cell(*own.loc[metric, ["estimate", "ci_low", "ci_high"]]) if metric in own.index else "n/a"
            )
        rows.append(row)
    return pd.DataFrame(rows)


def benchmark_comparison(run: RunOutputs) -> pd.DataFrame:
    """Every method under the default chain: mean and 95% interval (across seeds where trained)."""
    return _interval_table(run, BENCHMARK_METRICS)


def benchmark_held_out(run: RunOutputs) -> pd.DataFrame:
    """NSS retrieval of the held-out batches, the held-out source and the held-out compounds."""
    return _interval_table(run, HELD_OUT_METRICS)


def benchmark_differences(run: RunOutputs) -> pd.DataFrame:
    """MICON minus each peer, paired over compounds (and seeds), with its 95% interval and a verdict."""
    differences = _require(run.differences, "paired_differences.csv", run)
    chain = differences.loc[differences["chain"] == BENCHMARK_CHAIN]
    metrics = {**BENCHMARK_METRICS, **HELD_OUT_METRICS}
    metrics = {m: h for m, h in metrics.items() if m in set(chain["metric"])}
    peers = _order(pd.DataFrame({"method": pd.unique(chain["peer"])}))["method"]
    rows = []
    for peer in peers:
        own = chain.loc[chain["peer"] == peer].set_index("metric")
        row = {"MICON minus": _label(peer)}
        for metric, header in metrics.items():
            if metric not in own.index:
                row[header] = "n/a"
                continue
            diff, low, high = own.loc[metric, ["difference", "ci_low", "ci_high"]]
            verdict = (
                "" if pd.isna(low) else (" (higher)" if low > 0 else " (lower)" if high < 0 else " (n.d.)")
            )
            row[header] = _cell(diff, low, high) + verdict
        rows.append(row)
    return pd.DataFrame(rows)


def benchmark_diagnostics(run: RunOutputs) -> pd.DataFrame:
    """Per method (mean over seeds): effective rank of the embedding; MICON's generator sensitivity."""
    diagnostics = _require(run.diagnostics, "diagnostics.csv", run)
    columns = {
        "effective_rank": "effective rank",
        "embedding_dim": "dimension",
        "similarity_across_controls": "generated: cosine across controls",
        "similarity_across_molecules": "generated: cosine across molecules",
        "similarity_of_controls": "controls: own cosine",
    }
    present = [c for c in columns if c in diagnostics.columns]
    grouped = diagnostics.groupby("method", sort=False)[present].mean().reset_index()
    grouped.insert(1, "seeds", diagnostics.groupby("method", sort=False).size().to_numpy())
    shown = _order(grouped).rename(columns=columns)
    shown["method"] = shown["method"].map(_label)
    return shown


def benchmark_run(run: RunOutputs) -> pd.DataFrame:
    """The run itself, from its manifest: command, overrides, status and wall time."""
    manifest = run.manifest
    if manifest is None:
        raise InvalidInputError(
            f"run {run.version} under {run.run_root} left no manifest under {RUNS_FOLDER}/"
        )
    overrides = manifest.get("runtime_params") or {}
    return pd.DataFrame(
        [
            {
                "run id": manifest.get("run_id", run.version),
                "command": manifest.get("command", "?"),
                "treatment model": treatment_model(run),
                "overrides": ", ".join(f"{k}={v}" for k, v in flatten_params(overrides).items()) or "none",
                "status": manifest.get("status", "?"),
                "wall time": f"{float(manifest.get('seconds', float('nan'))) / 60:.1f} min",
            }
        ]
    )


# The paper's questions (issue 11), each answered by MICON minus a peer on one metric of the default chain.
QUESTIONS: tuple[tuple[str, str, str], ...] = (
    ("Does the counterfactual term help (MICON vs PaCLR-only)?", "paclr", "NSS_top1"),
    ("Does the counterfactual term help (MICON vs PaCLR-only)?", "paclr", "NSS_map_above_chance"),
    ("Compounds as treatments vs direct alignment (CLIP-style)?", "clip", "NSS_top1"),
    ("Compounds as treatments vs direct alignment (CellCLIP-style)?", "cellclip", "NSS_top1"),
    ("Does a gain over PaCLR-only hold for the held-out source?", "paclr", "NSS_top1_ood_source"),
    ("Does a gain over PaCLR-only hold for the held-out compounds?", "paclr", "NSS_top1_ood_compound"),
    ("Does a gain over CLIP-style hold for the held-out source?", "clip", "NSS_top1_ood_source"),
    ("Does a gain over CLIP-style hold for the held-out compounds?", "clip", "NSS_top1_ood_compound"),
    ("Does a gain over CellCLIP-style hold for the held-out source?", "cellclip", "NSS_top1_ood_source"),
    ("Does a gain over CellCLIP-style hold for the held-out compounds?", "cellclip", "NSS_top1_ood_compound"),
)
KNOWN_TRUTH = "known_truth"


def _verdict(low: float, high: float) -> str:
    """What a paired interval of MICON minus a peer says."""
    if pd.isna(low) or pd.isna(high):
        return "no interval"
    return "MICON higher" if low > 0 else "MICON lower" if high < 0 else "no difference"


def benchmark_answers(run: RunOutputs) -> pd.DataFrame:
    """The paper's questions, each answered by a paired difference (MICON minus a peer) and its interval.

    "no difference" where the 95% interval contains 0. Questions whose peer or metric the run lacks are
    listed as "not in this run".
    """
    differences = _require(run.differences, "paired_differences.csv", run)
    chain = differences.loc[differences["chain"] == BENCHMARK_CHAIN].set_index(["peer", "metric"])
    headers = {**BENCHMARK_METRICS, **HELD_OUT_METRICS}
    rows = []
    for question, peer, metric in QUESTIONS:
        row = {"question": question, "metric": headers.get(metric, metric)}
        if (peer, metric) not in chain.index:
            row |= {"MICON minus peer [95% interval]": "n/a", "answer": "not in this run"}
        else:
            diff, low, high = chain.loc[(peer, metric), ["difference", "ci_low", "ci_high"]]
            row |= {"MICON minus peer [95% interval]": _cell(diff, low, high), "answer": _verdict(low, high)}
        rows.append(row)
    return pd.DataFrame(rows)


def benchmark_truth_gap(run: RunOutputs) -> pd.DataFrame:
    """How close each row comes to the known truth: its headline metrics as a share of the truth's.

    Shares of the means (the intervals of each row are in the comparison table); the floors show where
    the benchmark's bottom lies, so a share reads between the floor's and 1.
    """
    intervals = _require(run.intervals, "metric_intervals.csv", run)
    chain = intervals.loc[intervals["chain"] == BENCHMARK_CHAIN]
    means = chain.pivot_table(index="method", columns="metric", values="estimate", aggfunc="first")
    if KNOWN_TRUTH not in means.index:
        raise InvalidInputError(f"run {run.version} has no {KNOWN_TRUTH} row to compare with")
    metrics = [m for m in ("NSS_top1", "NSS_map_above_chance", "MoA_NSS_top1") if m in means.columns]
    truth = means.loc[KNOWN_TRUTH, metrics]
    rows = []
    for method in _order(pd.DataFrame({"method": means.index}))["method"]:
        if method == KNOWN_TRUTH:
            continue
        row = {"method": _label(method)}
        for metric in metrics:
            share = means.loc[method, metric] / truth[metric] if truth[metric] else float("nan")
            row[f"{BENCHMARK_METRICS.get(metric, metric)}: share of known truth"] = (
                "n/a" if pd.isna(share) else f"{share:.2f}"
            )
        rows.append(row)
    return pd.DataFrame(rows)


# Tables built from a whole run (intervals, differences, diagnostics), not only its comparison table.
RUN_TABLES: dict[str, Callable[[RunOutputs], pd.DataFrame]] = {
    "benchmark-run": benchmark_run,
    "benchmark-comparison": benchmark_comparison,
    "benchmark-held-out": benchmark_held_out,
    "benchmark-differences": benchmark_differences,
    "benchmark-diagnostics": benchmark_diagnostics,
    "benchmark-answers": benchmark_answers,
    "benchmark-truth-gap": benchmark_truth_gap,
}

TABLES: dict[str, Callable[[pd.DataFrame], pd.DataFrame]] = {
    "synthetic-replicate": synthetic_replicate,
    "synthetic-mechanism": synthetic_mechanism,
    "synthetic-headline": synthetic_headline,
}


def render_block(name: str, run: RunOutputs) -> str:
    """Return the Markdown of table ``name`` for ``run``, with its provenance line."""
    if name in RUN_TABLES:
        table = RUN_TABLES[name](run)
        source = "08_reporting"
    elif name in TABLES:
        table = TABLES[name](run.comparison)
        source = "08_reporting/comparison_table.csv"
    else:
        raise InvalidInputError(f"no rendered table named {name!r}; known: {sorted({*TABLES, *RUN_TABLES})}")
    commit = run.provenance.get("commit") or "unknown"
    dirty = " (with uncommitted changes)" if run.provenance.get("dirty") else ""
    return (
        format_markdown_table(table)
        + f"\n<sub>Rendered by `{COMMAND}` from `{run.run_root}/{source}` (version `{run.version}`): run of "
        f"commit `{commit[:12]}`{dirty}, `{run.provenance.get('command', '?')}`, "
        f"finished {run.provenance.get('finished_at', '?')}.</sub>\n"
    )


def replace_block(text: str, name: str, body: str) -> str:
    """Return ``text`` with the body of its rendered block ``name`` (``table@tag`` for a tagged one) replaced.

    Raises:
        InvalidInputError: ``text`` has no block of that name.
    """
    found = False

    def substitute(match: re.Match[str]) -> str:
        nonlocal found
        if match["name"] + (f"@{match['tag']}" if match["tag"] else "") != name:
            return match[0]
        found = True
        return match["begin"] + body + match["end"]

    new = _BLOCK.sub(substitute, text)
    if not found:
        raise InvalidInputError(
            f"no block '<!-- BEGIN rendered: {name} -->' ... '<!-- END rendered: {name} -->'"
        )
    return new


def render_blocks(files: Sequence[str | Path], bodies: Mapping[str, str], *, check: bool) -> int:
    """Replace each named block of each Markdown file by its body, or with ``check`` only report stale files.

    Prints the files rendered (or stale) and returns the exit status of a render command: 1 when
    ``check`` finds a stale file, else 0.

    Raises:
        InvalidInputError: A file lacks one of the blocks.
    """
    stale = []
    for path in files:
        old = Path(path).read_text()
        new = old
        for name, body in bodies.items():
            new = replace_block(new, name, body)
        if old != new:
            stale.append(str(path))
            if not check:
                Path(path).write_text(new)
    verb = "stale" if check else "rendered"
    print(f"{verb}: {', '.join(stale) or 'none'}")  # noqa: T201 - a command-line tool's result
    return 1 if check and stale else 0


def write_measured_block(
    path: str | Path,
    name: str,
    tables: str,
    *,
    command: str,
    root: str | Path,
    details: str = "",
) -> None:
    """Replace block ``name`` of Markdown file ``path`` with a benchmark's ``tables`` and their provenance.

    The provenance line names ``command`` (the command line that measured them), the commit of the
    git work tree at ``root`` (``micon.provenance.commit_label``: marked when tracked files differ), the
    machine's CPU count and its load average at the end, then ``details``. The file is rewritten only
    when it holds the block.

    Raises:
        InvalidInputError: The file has no block of that name.
    """
    path = Path(path)
    line = (
        f"<sub>Rendered by `{command}` at commit `{commit_label(root)}` on {os.cpu_count()} CPU cores "
        f"(load average {os.getloadavg()[0]:.1f} at the end){'; ' + details if details else ''}.</sub>\n"
    )
    path.write_text(replace_block(path.read_text(), name, tables.rstrip("\n") + "\n" + line))


def render_file(path: str | Path, run: RunOutputs, tag: str | None = None) -> tuple[str, str]:
    """Return ``(old text, new text)`` of a Markdown file with every rendered block of ``tag`` replaced.

    Untagged blocks when ``tag`` is None; blocks named after no table are left as they are.
    """
    old = Path(path).read_text()
    known = {*TABLES, *RUN_TABLES}

    def substitute(match: re.Match[str]) -> str:
        if match["name"] not in known or match["tag"] != tag:
            return match[0]
        return match["begin"] + render_block(match["name"], run) + match["end"]

    return old, _BLOCK.sub(substitute, old)


def main(argv: Sequence[str] | None = None) -> int:
    """Render (or, with ``--check``, verify) the marked tables of the given Markdown files."""
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", default=["README.md", "docs/results.md"])
    parser.add_argument("--run-root", default="data/synthetic")
    parser.add_argument("--version", help="the run's save version (default: the latest complete run)")
    parser.add_argument("--tag", help="render the blocks tagged @TAG (default: the untagged blocks)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a block is stale; write nothing")
    args = parser.parse_args(argv)
    run = latest_run(args.run_root, args.version)
    check_tag(run, args.tag)
    stale = []
    for path in args.files:
        old, new = render_file(path, run, args.tag)
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
