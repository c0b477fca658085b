"""Write the tuning pipeline's selection into conf/base and its table into the docs.

Usage::

    uv run python -m micon.apply_tuning [--run-root data/benchmark]
        [--params conf/base/parameters_modeling.yml] [--doc docs/results.md] [--check]

Reads the newest tuning run under the run root whose ``tuning_selection`` and ``tuning_provenance`` were
both written (one Kedro save version), sets each method's ``modeling.methods.<method>.training.lr`` and every
temperature field of its ``objective`` in the parameters file (in place: comments and layout are kept, a
missing ``training`` block is added), checks that the file loads back with exactly those changes, and replaces
the block ``<!-- BEGIN rendered: tuning-search -->`` of the doc with the trials and the selection, the run's
version, commit and command. ``--check`` writes nothing and exits 1 when the file or the doc differ from what
the outputs give.

Hand-written: PyYAML drops comments on a round trip and no maintained YAML editor is a dependency here; the
edit touches only the named scalar lines and is verified by loading the result.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from micon.errors import InvalidInputError
from micon.evaluation.report import format_markdown_table
from micon.render_tables import replace_block
from micon.training.tuning import temperature_fields

__all__ = ["TuningRun", "latest_tuning", "main", "selected_values", "set_yaml_values"]

COMMAND = "uv run python -m micon.apply_tuning"
BLOCK = "tuning-search"


@dataclass(frozen=True)
class TuningRun:
    """The outputs of one tuning run: its save version, provenance, trials and selection."""

    run_root: Path
    version: str
    provenance: dict
    trials: pd.DataFrame
    selection: pd.DataFrame


def _versions(path: Path) -> set[str]:
    if not path.is_dir():
        return set()
    return {v.name for v in path.iterdir() if (v / path.name).is_file()}


def latest_tuning(run_root: str | Path) -> TuningRun:
    """Return the newest tuning run whose trials, selection and provenance were all written.

    Raises:
        InvalidInputError: No version holds all three (names the folder and the command to run).
    """
    folder = Path(run_root) / "06_models" / "tuning"
    paths = {
        name: folder / name
        for name in ("tuning_trials.csv", "tuning_selection.csv", "tuning_provenance.json")
    }
    common = sorted(set.intersection(*(_versions(p) for p in paths.values())))
    if not common:
        raise InvalidInputError(
            f"no tuning run under {folder} wrote its trials, selection and provenance; run "
            "`uv run kedro run --env benchmark --pipelines tuning` first"
        )
    version = common[-1]

    def read(name: str) -> Path:
        return paths[name] / version / name

    return TuningRun(
        Path(run_root),
        version,
        json.loads(read("tuning_provenance.json").read_text()),
        pd.read_csv(read("tuning_trials.csv")),
        pd.read_csv(read("tuning_selection.csv")),
    )


def selected_values(selection: pd.DataFrame, modeling: Mapping[str, Any]) -> dict[tuple[str, ...], float]:
    """Return the parameter paths and values the selection sets: per method its lr and temperatures.

    Raises:
        InvalidInputError: A selected method has no ``modeling.methods.<method>`` entry.
    """
    methods = modeling.get("methods") or {}
    updates: dict[tuple[str, ...], float] = {}
    for row in selection.itertuples(index=False):
        method = str(row.method)
        if method not in methods:
            raise InvalidInputError(f"selected method {method!r} has no modeling.methods.{method} entry")
        base = ("modeling", "methods", method)
        updates[(*base, "training", "lr")] = float(row.lr)
        for name in temperature_fields(methods[method].get("objective") or {}, method=method):
            updates[(*base, "objective", name)] = float(row.temperature)
    return updates


_KEY = re.compile(r"^(?P<indent> *)(?P<key>[\w.-]+):(?P<rest>.*)$")


def _block_end(lines: list[str], start: int, indent: int) -> int:
    """Return the index after the last line of the block whose header is ``lines[start]``."""
    end = start + 1
    while end < len(lines):
        line = lines[end]
        if line.strip() and not line.lstrip().startswith("#") and len(line) - len(line.lstrip()) <= indent:
            break
        end += 1
    return end


def _find(lines: list[str], key: str, start: int, end: int, indent: int) -> int | None:
    for i in range(start, end):
        match = _KEY.match(lines[i])
        if match and len(match["indent"]) == indent and match["key"] == key:
            return i
    return None


def _format(value: float) -> str:
    text = repr(float(value))
    return text if "e" in text or "." in text else text + ".0"


def set_yaml_values(text: str, updates: Mapping[tuple[str, ...], float]) -> str:
    """Return ``text`` with each path's scalar set, keeping comments; missing last keys are inserted.

    A path's parents down to the method must exist; a missing ``training`` block (or key) is added under its
    parent with the file's two-space indentation. The result is loaded and compared with the original tree
    plus the updates.

    Raises:
        InvalidInputError: A parent is missing, a target is not a scalar line, or the result does not load
            back to exactly the original values with the updates.
    """
    lines = text.splitlines()
    for path, value in updates.items():
        start, end, indent = 0, len(lines), 0
        for depth, key in enumerate(path):
            found = _find(lines, key, start, end, indent)
            last = depth == len(path) - 1
            if found is None:
                if depth < len(path) - 2:
                    raise InvalidInputError(f"{'.'.join(path[: depth + 1])} is not in the parameters file")
                insert = [f"{' ' * indent}{key}:" + (f" {_format(value)}" if last else "")]
                if not last:
                    insert.append(f"{' ' * (indent + 2)}{path[-1]}: {_format(value)}")
                lines[start:start] = insert
                break
            if last:
                match = _KEY.match(lines[found])
                rest = match["rest"]
                comment = rest[rest.index("#") :] if "#" in rest else ""
                value_text = rest.split("#", 1)[0].strip()
                if value_text in ("", "{}") or value_text.startswith(("[", "{")):
                    raise InvalidInputError(f"{'.'.join(path)} is not a scalar in the parameters file")
                new = f"{match['indent']}{key}: {_format(value)}"
                lines[found] = f"{new}  {comment}" if comment else new
                break
            header = _KEY.match(lines[found])
            if header["rest"].split("#", 1)[0].strip() not in ("",):
                if header["rest"].split("#", 1)[0].strip() == "{}" and depth == len(path) - 2:
                    # an empty flow mapping: open it as a block
                    lines[found] = f"{header['indent']}{key}:"
                else:
                    raise InvalidInputError(f"{'.'.join(path[: depth + 1])} is not a block mapping")
            start, end, indent = found + 1, _block_end(lines, found, indent), indent + 2
    new_text = "\n".join(lines) + ("\n" if text.endswith("\n") else "")
    _verify(text, new_text, updates)
    return new_text


def _verify(old: str, new: str, updates: Mapping[tuple[str, ...], float]) -> None:
    expected = yaml.safe_load(old)
    for path, value in updates.items():
        node = expected
        for key in path[:-1]:
            node = node.setdefault(key, {}) if isinstance(node, dict) else None
            if node is None:
                raise InvalidInputError(f"{'.'.join(path)}: a parent is not a mapping")
        node[path[-1]] = float(value)
    if yaml.safe_load(new) != expected:
        raise InvalidInputError("the edited parameters file does not load back to the selected values")


def render_search(run: TuningRun) -> str:
    """Return the Markdown block body: the selection, every trial, and the run's provenance line."""
    settings = run.provenance.get("tuning", {})
    selection = settings.get("selection", {})
    score = f"{selection.get('split', 'val')}_{selection.get('level', '?')}_{selection.get('metric', '?')}"
    trial_columns = [
        c
        for c in ("method", "trial", "lr", "temperature", "max_steps", score, "final_loss")
        if c in run.trials
    ]
    chosen = [c for c in ("method", "lr", "temperature", score, "n_trials") if c in run.selection]
    commit = (run.provenance.get("commit") or "unknown")[:12]
    dirty = " (with uncommitted changes)" if run.provenance.get("dirty") else ""
    return (
        f"Selected per method (highest `{score}` on the validation wells):\n\n"
        + format_markdown_table(run.selection[chosen], formats={"lr": "g"})
        + "\nEvery trial:\n\n"
        + format_markdown_table(run.trials[trial_columns], formats={"lr": "g"})
        + f"\n<sub>Rendered by `{COMMAND}` from `{run.run_root}/06_models/tuning/` version "
        f"`{run.version}`: run of commit `{commit}`{dirty}, `{run.provenance.get('command', '?')}`, finished "
        f"{run.provenance.get('finished_at', '?')}.</sub>\n"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Apply (or, with ``--check``, verify) the newest tuning selection."""
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--run-root", default="data/benchmark")
    parser.add_argument("--params", default="conf/base/parameters_modeling.yml")
    parser.add_argument("--doc", default="docs/results.md")
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale; write nothing")
    args = parser.parse_args(argv)
    run = latest_tuning(args.run_root)
    params_path, doc_path = Path(args.params), Path(args.doc)
    old_params = params_path.read_text()
    updates = selected_values(run.selection, yaml.safe_load(old_params)["modeling"])
    new_params = set_yaml_values(old_params, updates)
    old_doc = doc_path.read_text()
    new_doc = replace_block(old_doc, BLOCK, render_search(run))
    stale = [
        str(p)
        for p, old, new in ((params_path, old_params, new_params), (doc_path, old_doc, new_doc))
        if old != new
    ]
    if not args.check:
        for path, old, new in ((params_path, old_params, new_params), (doc_path, old_doc, new_doc)):
            if old != new:
                path.write_text(new)
    for path, value in updates.items():
        print(f"{'.'.join(path)} = {value:g}")  # noqa: T201 - a command-line tool's result
    verb = "stale" if args.check else "written"
    commit = run.provenance.get("commit")
    print(f"{verb}: {', '.join(stale) or 'none'} (tuning run {run.version}, commit {commit})")  # noqa: T201
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
