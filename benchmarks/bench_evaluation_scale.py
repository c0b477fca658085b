"""Evaluation at JUMP scale: wall time and peak memory per stage at 10k, 100k and 800k wells.

Usage::

    uv run python benchmarks/bench_evaluation_scale.py [--sizes 10000 100000 800000] [--features 512]
        [--search auto|exact|projected|hnsw] [--stages retrieval map batch_knn silhouette consistency]
        [--null-size 10000] [--recall-queries 2000] [--write-doc]

Synthetic well profiles with JUMP-like metadata (seeded): plates of 384 wells with 28 DMSO wells,
8 plates per batch, 12 sources; each compound has 5 replicate wells scattered over random plates (so
NSB and NSS have positives); 10% of the compounds carry one of 50 MoA annotations. A profile is a
32-d latent state (compound effect for a third of the compounds, plus source, batch and plate
offsets) mapped to ``--features`` dimensions, plus noise.

Each stage runs in its own process (so its peak RSS, ``ru_maxrss``, and its CPU seconds over all
threads, which a shared machine distorts less than wall time, are its own; the RSS includes the
generated table, about ``N x features x 12`` bytes) on the parameters of conf/base
(``reporting.retrieval``) except ``--search`` and ``--null-size``:

- ``retrieval``: NR, NSB and NSS top-1..10 replicate retrieval, one search for the three levels
  (``retrieve_replicates_at_levels``); with an approximate search the note gives the recall@10 of
  its neighbour lists against exact search on ``--recall-queries`` sampled treated queries, at NR
  (all wells) and at NSS (the search restricted to the other sources' wells, as the NSS ranks use);
- ``map``: copairs replicate mAP against same-plate DMSO at NR, NSB and NSS, the three levels in one
  call as the reporting pipeline makes it (``replicate_map_at_levels``);
- ``batch_knn``: the source and batch kNN accuracy (k = batch_knn_k), one shared search;
- ``silhouette``: the source and batch silhouette on a seeded sample of ``silhouette_sample_size``
  wells (an estimate above that size);
- ``consistency``: annotation mAP over the annotated wells (``annotation_map``), O(A^2 d) for A
  annotated wells.

``--write-doc`` writes the table into docs/performance.md between the ``evaluation-scale`` markers,
with the commit and command that produced it. ``--render-from LOG`` renders (and with ``--write-doc``
writes) the table from the rows runs printed to ``LOG ...`` (in order, naming each run's command), e.g.
when a long run was stopped part-way, or to put the 800k rows of a run of two stages beside another.
The machine is shared: times are wall-clock.
"""

from __future__ import annotations

import argparse
import ast
import json
import logging
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from micon import schema
from micon.evaluation import (
    RetrievalConfig,
    annotation_map,
    replicate_map_at_levels,
    retrieve_replicates_at_levels,
    summarise_retrieval,
)
from micon.evaluation.batch_effects import knn_label_accuracy, label_silhouette
from micon.evaluation.neighbours import approximate_index, nearest_neighbours, recall_at_k
from micon.project_parameters import make_config
from micon.provenance import commit_label

STAGES = ("retrieval", "map", "batch_knn", "silhouette", "consistency")
LEVELS = {"NR": (), "NSB": (schema.BATCH,), "NSS": (schema.SOURCE,)}
WELLS_PER_PLATE, DMSO_PER_PLATE, PLATES_PER_BATCH, N_SOURCES, REPLICATES = 384, 28, 8, 12, 5
DOC = Path(__file__).resolve().parents[1] / "docs" / "performance.md"
BEGIN, END = "<!-- BEGIN evaluation-scale -->", "<!-- END evaluation-scale -->"
COMMAND = "# command:"  # the line that names a run's command in its printed output


def make_wells(n_wells: int, n_features: int, seed: int = 0) -> pd.DataFrame:
    """Return ``n_wells`` synthetic well profiles (metadata + ``emb_*`` float32 columns), seeded."""
    rng = np.random.default_rng(seed)
    n_plates = max(1, round(n_wells / WELLS_PER_PLATE))
    plate = np.minimum(np.arange(n_wells) // WELLS_PER_PLATE, n_plates - 1)
    batch = plate // PLATES_PER_BATCH
    n_batches = int(batch.max()) + 1
    source = np.arange(n_batches)[batch] % N_SOURCES
    position = np.arange(n_wells) - plate * WELLS_PER_PLATE
    is_control = position % (WELLS_PER_PLATE // DMSO_PER_PLATE) == 0
    n_treated = int((~is_control).sum())
    n_compounds = max(2, n_treated // REPLICATES)
    compound = np.full(n_wells, -1)
    compound[~is_control] = rng.permutation(np.arange(n_treated) % n_compounds)
    latent = 32
    effect = rng.normal(size=(n_compounds, latent)) * (rng.random(n_compounds) < 1 / 3)[:, None] * 1.5
    state = (
        np.where(is_control[:, None], 0.0, effect[np.maximum(compound, 0)])
        + rng.normal(size=(N_SOURCES, latent))[source] * 1.0
        + rng.normal(size=(n_batches, latent))[batch] * 0.5
        + rng.normal(size=(n_plates, latent))[plate] * 0.3
        + rng.normal(size=(n_wells, latent)) * 0.5
    )
    projection = rng.normal(size=(latent, n_features)) / np.sqrt(latent)
    features = np.empty((n_wells, n_features), dtype=np.float32)
    for start in range(0, n_wells, 65_536):  # row blocks: float64 temporaries of 800k x 512 would be 10 GB
        block = slice(start, start + 65_536)
        n_block = len(features[block])
        features[block] = state[block] @ projection + rng.normal(size=(n_block, n_features)) * 0.3
    moa = np.where(rng.random(n_compounds) < 0.1, rng.integers(0, 50, n_compounds), -1)
    well_moa = np.where(is_control, -1, moa[np.maximum(compound, 0)])
    table = pd.DataFrame(
        {
            schema.SOURCE: pd.Categorical([f"source_{s:02d}" for s in source]),
            schema.BATCH: pd.Categorical([f"batch_{b:04d}" for b in batch]),
            schema.PLATE: pd.Categorical([f"plate_{p:05d}" for p in plate]),
            schema.WELL: pd.Categorical([f"W{w:03d}" for w in position]),
            schema.JCP2022: np.where(is_control, schema.DMSO_JCP2022, [f"JCP_{c:06d}" for c in compound]),
            schema.IS_CONTROL: is_control,
            "Metadata_MoA": np.where(well_moa >= 0, [f"moa_{m:02d}" for m in well_moa], None),
        }
    )
    columns = schema.embedding_columns(n_features)
    return pd.concat([table, pd.DataFrame(features, columns=columns)], axis=1)


def run_stage(stage: str, n_wells: int, n_features: int, search: str, null_size: int, n_recall: int) -> dict:
    """Run one stage on fresh synthetic wells in this process; return its row of the table."""
    wells = make_wells(n_wells, n_features)
    features = schema.feature_columns(wells.columns)
    config = make_config(RetrievalConfig, "reporting.retrieval")
    config = make_config(
        RetrievalConfig,
        "reporting.retrieval",
        search={**vars(config.search), "mode": search},
        null_size=null_size,
    )
    mode = config.search.resolve(int((~wells[schema.IS_CONTROL]).sum()))
    note = ""
    cpu_start = time.process_time()
    start = time.perf_counter()
    if stage == "retrieval":
        tables = retrieve_replicates_at_levels(
            wells, features, levels=LEVELS, ks=config.ks, search=config.search
        )
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        note = ", ".join(
            f"{level} top10 {summarise_retrieval(t, [10])['top10']:.3f}" for level, t in tables.items()
        )
        if mode != "exact" and n_recall:
            recall = _recall(wells, features, config, n_recall)
            note += "; recall@10 " + ", ".join(f"{level} {r:.4f}" for level, r in recall.items())
            note += f" ({n_recall} queries, {_settings(config, mode)})"
    elif stage == "map":
        # a single batch or source: no positive at that level (NaN)
        levels = {level: c for level, c in LEVELS.items() if all(wells[x].nunique() > 1 for x in c)}
        with tempfile.TemporaryDirectory() as cache:
            tables = replicate_map_at_levels(
                wells, features, levels=levels, null_size=config.null_size, seed=config.seed, cache_dir=cache
            )
        maps = {level: float("nan") for level in LEVELS}
        maps |= {level: table[1]["mean_average_precision"].mean() for level, table in tables.items()}
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        note = ", ".join(f"{level} mAP {m:.3f}" for level, m in maps.items())
        mode = "pairs"  # no neighbour search: copairs' pairs
    elif stage == "batch_knn":
        values = wells[features].to_numpy(dtype=np.float64)
        neighbours, _ = nearest_neighbours(values, config.batch_knn_k, config=config.search)
        accuracy = {
            c: knn_label_accuracy(values, wells[c].astype(str), k=config.batch_knn_k, neighbours=neighbours)
            for c in (schema.SOURCE, schema.BATCH)
        }
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        note = ", ".join(f"{c.removeprefix('Metadata_')} {a:.3f}" for c, a in accuracy.items())
        mode = config.search.resolve(len(values))
    elif stage == "silhouette":
        values = wells[features].to_numpy(dtype=np.float64)
        size = config.silhouette_sample_size
        scores = {
            c: label_silhouette(values, wells[c].astype(str), sample_size=size, seed=config.seed)
            for c in (schema.SOURCE, schema.BATCH)
        }
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        mode = f"sample {size}" if size is not None and size < len(values) else "all wells"
        note = ", ".join(f"{c.removeprefix('Metadata_')} {s:.3f}" for c, s in scores.items())
    else:
        with tempfile.TemporaryDirectory() as cache:
            _, table = annotation_map(
                wells,
                features,
                annotation_column="Metadata_MoA",
                null_size=config.null_size,
                seed=config.seed,
                cache_dir=cache,
            )
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        n_annotated = int(wells["Metadata_MoA"].notna().sum())
        mode = "exact"
        note = f"{n_annotated} annotated wells, mAP {table['mean_average_precision'].mean():.3f}"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
    return {
        "stage": stage,
        "wells": n_wells,
        "features": n_features,
        "search": mode,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "peak_rss_gib": round(peak, 2),
        "note": note,
    }


def _settings(config: RetrievalConfig, mode: str) -> str:
    """Return the settings of the approximate search ``mode`` as the note names them."""
    search = config.search
    if mode == "projected":
        return f"{search.projection_dims} dims, {search.projection_candidates} candidates"
    return f"ef_search {search.hnsw_ef_search}"


def _recall(
    wells: pd.DataFrame, features: list[str], config: RetrievalConfig, n_queries: int
) -> dict[str, float]:
    """Return the recall@10 of the approximate neighbour lists against exact search, NR and NSS.

    Over sampled treated wells, as the retrieval stage searches them: NR over all treated wells, NSS
    restricted to the wells of the other sources (one restricted search per source).
    """
    treated = wells.loc[~wells[schema.IS_CONTROL]]
    source = pd.factorize(treated[schema.SOURCE])[0]
    rows = np.random.default_rng(1).choice(len(treated), size=min(n_queries, len(treated)), replace=False)
    index = approximate_index(treated[features].to_numpy(dtype=np.float32), config=config.search)
    unit = index.unit  # the float32 unit rows, as sampled_recall: no float64 copy of 800k x 512
    truth = {"NR": [], "NSS": []}
    for start in range(0, len(rows), 250):  # blocks: 2,000 x 800k similarities would be 6 GiB
        block = rows[start : start + 250]
        similarity = unit[block] @ unit.T
        similarity[np.arange(len(block)), block] = -np.inf
        # copies: a slice would keep each block's whole (250, N) int64 argpartition alive (25 GB at 800k)
        truth["NR"].append(np.argpartition(-similarity, 9, axis=1)[:, :10].copy())
        similarity[source[block][:, None] == source[None, :]] = -np.inf
        truth["NSS"].append(np.argpartition(-similarity, 9, axis=1)[:, :10].copy())
    found, _ = index.search(rows, 10)
    recall = {"NR": recall_at_k(found, np.concatenate(truth["NR"]))}
    if len(np.unique(source)) > 1:
        found = np.empty((len(rows), 10), dtype=np.int64)
        for s in np.unique(source[rows]):
            group = source[rows] == s
            found[group] = index.search(rows[group], 10, allowed=source != s)[0]
        recall["NSS"] = recall_at_k(found, np.concatenate(truth["NSS"]))
    return recall


def _markdown(rows: list[dict]) -> str:
    """Return ``rows`` as a Markdown table (columns of the first complete row)."""
    columns = ["stage", "wells", "features", "search", "wall_s", "cpu_s", "peak_rss_gib", "note"]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def read_logs(logs: list[Path]) -> tuple[list[dict], list[str]]:
    """Return the table rows and the commands that runs of this script printed to ``logs``, in order."""
    rows, commands = [], []
    for log in logs:
        lines = log.read_text().splitlines()
        rows += [ast.literal_eval(line) for line in lines if line.startswith("{'stage'")]
        commands += [line.removeprefix(COMMAND).strip() for line in lines if line.startswith(COMMAND)]
    return rows, commands


def write_doc(table: str, command: str) -> None:
    """Replace the text between the evaluation-scale markers of docs/performance.md with ``table``.

    ``command`` says what produced it (Markdown, e.g. a command in backticks).
    """
    body = f"{BEGIN}\nCommit `{commit_label(DOC.parent)}`, {command}:\n\n{table}\n{END}"
    text = DOC.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{DOC} lacks the markers {BEGIN} / {END}")
    before, rest = text.split(BEGIN, 1)
    DOC.write_text(before + body + rest.split(END, 1)[1])


def main() -> None:
    """Run every stage at every size (one process each) and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 800_000])
    parser.add_argument("--features", type=int, default=512)
    parser.add_argument("--search", choices=["auto", "exact", "projected", "hnsw"], default="auto")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--null-size", type=int, default=10_000)
    parser.add_argument("--recall-queries", type=int, default=2000)
    parser.add_argument("--write-doc", action="store_true")
    parser.add_argument(
        "--render-from", type=Path, nargs="+", help="runs' printed output: render their rows, in order"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.render_from:
        rows, commands = read_logs(args.render_from)
        table = _markdown(rows)
        print(table)  # noqa: T201 - the benchmark's output
        if args.write_doc:
            made_by = ", ".join(f"`{c}`" for c in commands) or "a run of this script"
            names = " ".join(log.name for log in args.render_from)
            write_doc(table, f"{made_by} (rows rendered with `--render-from {names}`)")
        return
    if args.child:
        stage, n_wells = args.child.split(":")
        row = run_stage(stage, int(n_wells), args.features, args.search, args.null_size, args.recall_queries)
        print(json.dumps(row))  # noqa: T201 - read by the parent process
        return
    logging.basicConfig(level=logging.WARNING)
    command = "uv run python benchmarks/bench_evaluation_scale.py " + " ".join(sys.argv[1:])
    print(COMMAND, command.replace(" --write-doc", ""), flush=True)  # noqa: T201 - for --render-from
    rows = []
    for n_wells in args.sizes:
        for stage in args.stages:
            child = [sys.executable, __file__, *sys.argv[1:], "--child", f"{stage}:{n_wells}"]
            child = [a for a in child if a != "--write-doc"]
            done = subprocess.run(child, capture_output=True, text=True, check=False)
            if done.returncode:
                rows.append({"stage": stage, "wells": n_wells, "note": f"failed: {done.stderr[-300:]!r}"})
            else:
                rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)  # noqa: T201 - progress of a long benchmark
    table = _markdown(rows)
    print(table)  # noqa: T201 - the benchmark's output
    if args.write_doc:
        write_doc(table, f"`{command}`")


if __name__ == "__main__":
    main()
