"""What all of cpg0016 would cost: per-unit measurements on this machine, extrapolated to the screen's size.

Usage::

    uv run python benchmarks/bench_cpg0016_cost.py --evaluation-log LOG [LOG ...] [--sites 20]
        [--workers 64] [--write-doc docs/performance.md]

Three measurements, each made here and multiplied by the size of cpg0016 (its site and plate counts read
from ``../shared/data/jump/cpg0016_site_count.csv``, or under ``$MICON_SHARED_DATA``):

- **Extraction**: ``--sites`` sites of the real, LZW-compressed 1080x1080 Phenix field of
  ``fields/phenix_field_BR00143976`` (the same five images for every site, read from disk each time)
  go through the jump environment's extraction as a ``kedro run`` makes it
  (``extract_crops_to_store`` in one process): the file store reads and decodes each TIFF,
  :class:`~micon.imaging.illumination.CorrectedFields` divides it by an illumination function (a smooth
  synthetic one per channel: the real ``Illum*.npy`` files are not in the shared data; the division
  costs the same), nuclei are found, cells grown, crops cut and written to a crop and a mask store
  (zarr v3, compressed as the stores compress them). Printed: CPU seconds per site (all threads of the
  process), crops per site and stored bytes per crop (the two stores' files on disk over the crops).
- **Evaluation**: the ``retrieval`` and ``map`` rows at the largest size that ``--evaluation-log`` (the
  printed output of ``benchmarks/bench_evaluation_scale.py``) holds: NR, NSB and NSS top-1..10 retrieval
  and replicate mAP of one method under one chain; multiplied by the methods of ``modeling.methods`` and
  the chains of ``reporting.normalization.chains`` (jump environment). Normalisation, aggregation, batch
  effects and annotation consistency are not part of it.
- **Training**: not measured on a machine without a CUDA device (``benchmarks/bench_loader.py`` measures
  it where one is present); the row says so.

The extraction is one field repeated: real JUMP sites vary in cell count (the crops per site printed here
are this field's, capped by ``max_cells_per_site``), so the extrapolation is an order of magnitude, not a
quote. ``--write-doc FILE`` replaces the block ``<!-- BEGIN rendered: cpg0016-cost -->`` of FILE with the
table, the commit and this command.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

import fsspec
import numpy as np
import pandas as pd
import tifffile

from micon import schema
from micon.datasets import CropStoreWriter
from micon.datasets._crop_parts import CROP_COMPRESSORS
from micon.datasets.file_store_dataset import FileStore
from micon.evaluation.report import format_markdown_table
from micon.imaging.extraction import CropExtractionConfig
from micon.imaging.illumination import corrected_image_loaders
from micon.imaging.parallel_extraction import ExtractionClusterConfig, extract_crops_to_store
from micon.project_parameters import load_parameters, make_config
from micon.render_tables import write_measured_block
from micon.sources.jump.cpg0016 import JUMP_PROFILE

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_evaluation_scale import read_logs  # noqa: E402 - the evaluation benchmark's printed rows
from bench_segmentation import FIELD, PHENIX_CHANNEL, SHARED_DATA  # noqa: E402 - the same field and channels

PROJECT = Path(__file__).resolve().parents[1]
SITE_COUNTS = SHARED_DATA / "jump/cpg0016_site_count.csv"
BLOCK = "cpg0016-cost"
WELLS_PER_PLATE = 384


def write_field_folder(folder: Path) -> dict[str, str]:
    """Copy the Phenix field's five channels and write an illumination function per channel into ``folder``.

    Returns:
        Image key -> illumination key (keys relative to ``folder``).
    """
    (folder / "images").mkdir(parents=True)
    (folder / "illum").mkdir()
    illum_key_of = {}
    for i, (channel, number) in enumerate(PHENIX_CHANNEL.items()):
        image_key = f"images/ch{number}.tiff"
        shutil.copyfile(FIELD / f"r03c03f03p01-ch{number}sk1fk1fl1.tiff", folder / image_key)
        # a smooth vignetting >= 1 (brightest off-centre, per channel), as CellProfiler's rescaled functions
        shape = tifffile.imread(folder / image_key).shape
        yy, xx = np.mgrid[: shape[0], : shape[1]] / max(shape)
        illum = 1.0 + (yy - 0.4 - 0.05 * i) ** 2 + (xx - 0.6) ** 2
        np.save(folder / f"illum/Illum{channel}.npy", illum.astype(np.float32))
        illum_key_of[image_key] = f"illum/Illum{channel}.npy"
    return illum_key_of


def site_table(n_sites: int) -> pd.DataFrame:
    """Return ``n_sites`` sites (plates of 384), every one pointing at the same five channel images."""
    site = np.arange(n_sites)
    table = pd.DataFrame(
        {
            schema.SOURCE: "source_4",
            schema.BATCH: "batch_1",
            schema.PLATE: np.char.add("plate_", (site // WELLS_PER_PLATE).astype(str)),
            schema.WELL: np.char.add("W", (site % WELLS_PER_PLATE).astype(str)),
            schema.SITE: "1",
        }
    )
    for channel, number in PHENIX_CHANNEL.items():
        table[schema.path_name_column(channel)] = "images"
        table[schema.file_name_column(channel)] = f"ch{number}.tiff"
    return table


def measure_extraction(n_sites: int) -> dict[str, float]:
    """Extract ``n_sites`` copies of the real field as the jump environment does; return per-site figures."""
    config = make_config(CropExtractionConfig, "data_engineering.crops", env="jump")
    cluster = make_config(ExtractionClusterConfig, "data_engineering.extraction", env="jump", n_workers=0)
    with tempfile.TemporaryDirectory(prefix="bench_cpg0016_") as tmp:
        folder = Path(tmp)
        illum_key_of = write_field_folder(folder / "field")
        store = FileStore(fsspec.filesystem("file"), str(folder / "field"), root_url=str(folder), local=True)
        sites = site_table(n_sites)
        keys = {
            schema.image_key(
                sites.at[0, schema.path_name_column(ch)], sites.at[0, schema.file_name_column(ch)]
            )
            for ch in JUMP_PROFILE.channels
        }
        missing = keys - set(illum_key_of)
        if missing:
            raise SystemExit(f"image keys {sorted(missing)} are not the ones written: check schema.image_key")
        fields = corrected_image_loaders(illum_key_of, store.read_array)
        writers = [
            CropStoreWriter(protocol="file", path=str(folder / name), options={})
            for name in ("crops", "masks")
        ]
        cpu, wall = time.process_time(), time.perf_counter()
        stored = extract_crops_to_store(
            sites,
            fields,
            config,
            cluster,
            channels=JUMP_PROFILE.channels,
            nuclear_channel=JUMP_PROFILE.nuclear_channel,
            cytoplasm_channels=JUMP_PROFILE.cytoplasm_channels,
            crops_writer=writers[0],
            masks_writer=writers[1],
        )
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        n_crops = len(stored.crop_index)
        stored_bytes = sum(
            f.stat().st_size for name in ("crops", "masks") for f in (folder / name).rglob("*") if f.is_file()
        )
    return {
        "cpu_s_per_site": cpu / n_sites,
        "wall_s_per_site": wall / n_sites,
        "crops_per_site": n_crops / n_sites,
        "bytes_per_crop": stored_bytes / max(n_crops, 1),
        "crop_size_px": config.crop_size_px,
    }


def evaluation_rows(logs: list[Path]) -> tuple[int, dict[str, dict]]:
    """Return the largest size with both a ``retrieval`` and a ``map`` row in ``logs``, and those rows."""
    rows, _ = read_logs(logs)
    done = {(r["stage"], r["wells"]): r for r in rows if "wall_s" in r}
    sizes = sorted({w for (s, w) in done if s == "retrieval" and ("map", w) in done})
    if not sizes:
        raise SystemExit(f"{[str(p) for p in logs]} hold no size with both a retrieval and a map row")
    size = sizes[-1]
    return size, {stage: done[(stage, size)] for stage in ("retrieval", "map")}


def cost_table(
    extraction: dict[str, float], size: int, evaluation: dict[str, dict], workers: int
) -> pd.DataFrame:
    """Return the extrapolation: one row per stage, measured unit cost and cpg0016's total."""
    counts = pd.read_csv(SITE_COUNTS)
    n_sites, n_plates = int(counts["n_sites"].sum()), len(counts)
    params = load_parameters("jump")
    n_methods = len(params["modeling"]["methods"])
    n_chains = len(params["reporting"]["normalization"]["chains"])
    cpu_hours = n_sites * extraction["cpu_s_per_site"] / 3600
    n_crops = n_sites * extraction["crops_per_site"]
    eval_s = evaluation["retrieval"]["wall_s"] + evaluation["map"]["wall_s"]
    eval_cpu = evaluation["retrieval"]["cpu_s"] + evaluation["map"]["cpu_s"]
    peak = max(evaluation["retrieval"]["peak_rss_gib"], evaluation["map"]["peak_rss_gib"])
    px = int(extraction["crop_size_px"])
    return pd.DataFrame(
        [
            {
                "stage": "extraction (read LZW TIFFs, illumination, nuclei, cells, crops, stores)",
                "measured here": f"{extraction['cpu_s_per_site']:.3f} CPU s per site "
                f"({extraction['crops_per_site']:.1f} crops per site)",
                "cpg0016": f"{n_sites:,} sites on {n_plates:,} plates",
                "extrapolated": f"{cpu_hours:,.0f} CPU-hours; {cpu_hours / workers:,.1f} h on "
                f"{workers} workers if they scale linearly",
            },
            {
                "stage": f"crop store ({px} px, uint16, blosc {CROP_COMPRESSORS.cname.value}) "
                "and mask store (bool)",
                "measured here": f"{extraction['bytes_per_crop']:,.0f} bytes per crop",
                "cpg0016": f"{n_crops:,.0f} crops",
                "extrapolated": f"{n_crops * extraction['bytes_per_crop'] / 1e12:,.1f} TB",
            },
            {
                "stage": "evaluation (NR, NSB, NSS top-1..10 retrieval + replicate mAP) per method and chain",
                "measured here": f"{eval_s:,.0f} s wall ({eval_cpu:,.0f} CPU s), peak {peak:.1f} GiB, "
                f"at {size:,} wells",
                "cpg0016": f"{size:,} wells x {n_methods} methods x {n_chains} chains",
                "extrapolated": f"{eval_s * n_methods * n_chains / 3600:,.1f} h on one 2-core machine",
            },
            {
                "stage": "training",
                "measured here": "not measured (no CUDA device on this machine)",
                "cpg0016": "-",
                "extrapolated": "-",
            },
        ]
    )


def main() -> None:
    """Measure, extrapolate, print (and optionally write) the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--evaluation-log", type=Path, nargs="+", required=True)
    parser.add_argument("--sites", type=int, default=20, help="copies of the real field to extract")
    parser.add_argument("--workers", type=int, default=64, help="extraction workers of the wall-time column")
    parser.add_argument("--write-doc", type=Path, default=None)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    for needed in (FIELD, SITE_COUNTS):
        if not needed.exists():
            sys.exit(f"{needed} is absent (../shared/data): nothing to measure")
    size, evaluation = evaluation_rows(args.evaluation_log)
    extraction = measure_extraction(args.sites)
    table = format_markdown_table(cost_table(extraction, size, evaluation, args.workers))
    print(table)  # noqa: T201 - the benchmark's output
    if args.write_doc:
        write_measured_block(
            args.write_doc,
            BLOCK,
            table,
            command=" ".join(["uv run python benchmarks/bench_cpg0016_cost.py", *sys.argv[1:]]),
            root=PROJECT,
            details=f"extraction: {args.sites} copies of the real Phenix field, one process, wall "
            f"{extraction['wall_s_per_site']:.3f} s per site",
        )


if __name__ == "__main__":
    main()
