"""Extraction at scale: peak memory against the number of sites, and sites/s with 1 and 2 Dask workers.

Usage: ``uv run python benchmarks/bench_extraction_scale.py [--memory-sites 1000 10000] [--speed-sites 1000]
[--write-doc docs/performance.md]``.

The sites are synthetic 5-channel fields of discs (``--field-px`` square, ``--cells`` cells each), drawn
on demand by the task that reads them, so the benchmark needs no data folder and the fields themselves
cost no memory. The crop and mask stores are written to a temporary folder, part by part, as the
data_engineering node writes them (:func:`micon.imaging.parallel_extraction.extract_crops_to_store`).

- **Memory**: each size runs in a fresh process, in-process (``n_workers: 0``: all the work in that
  process), and reports that process's peak resident memory (``ru_maxrss``): a store written part by part
  keeps it flat; only the small per-site tables grow with the sites.
- **Speed**: a local Dask cluster of 1, then 2, worker processes (one thread each) is started and warmed
  (each worker imports the extraction once), then the same sites are timed; start-up is reported apart.
  On a machine shared with other work, the ratio measures what the other work left free as well.

``--write-doc FILE`` replaces the block ``<!-- BEGIN rendered: extraction-scale -->`` of FILE with the
tables, the commit and this command.
"""

from __future__ import annotations

import argparse
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
from micon.datasets import CropStoreWriter
from micon.evaluation.report import format_markdown_table
from micon.imaging.extraction import CropExtractionConfig
from micon.imaging.parallel_extraction import ExtractionClusterConfig, extract_crops_to_store
from micon.project_parameters import make_config
from micon.render_tables import write_measured_block
from micon.sources.synthetic import SYNTHETIC_PROFILE

PROJECT = Path(__file__).resolve().parents[1]
BLOCK = "extraction-scale"
SITES_PER_PLATE = 384
STAINS = {
    "channels": SYNTHETIC_PROFILE.channels,
    "nuclear_channel": SYNTHETIC_PROFILE.nuclear_channel,
    "cytoplasm_channels": SYNTHETIC_PROFILE.cytoplasm_channels,
}


class DiscField:
    """Loader of one channel of a synthetic site: ``cells`` bright discs on a noisy background (picklable)."""

    def __init__(self, site: int, channel: int, size: int, cells: int) -> None:
        """Describe the image; it is drawn when called."""
        self.site, self.channel, self.size, self.cells = site, channel, size, cells

    def __call__(self) -> np.ndarray:
        """Draw the image (the same for the same site and channel)."""
        rng = np.random.default_rng([self.site, 0])
        centres = rng.uniform(12, self.size - 12, size=(self.cells, 2))
        noise = np.random.default_rng([self.site, self.channel + 1]).normal(0, 20, (self.size, self.size))
        yy, xx = np.mgrid[: self.size, : self.size]
        image = np.full((self.size, self.size), 200.0) + noise
        for cy, cx in centres:
            image[(yy - cy) ** 2 + (xx - cx) ** 2 <= 25] = 1500 * (self.channel + 2)
        return np.clip(np.rint(image), 0, 65535).astype(np.uint16)


class DiscFields(dict):
    """Image key -> :class:`DiscField` of every site, made on lookup (no memory per site until asked)."""

    def __init__(self, n_sites: int, size: int, cells: int) -> None:
        """Describe the screen's images."""
        super().__init__()
        self.n_sites, self.size, self.cells = n_sites, size, cells

    def _parse(self, key: str) -> tuple[int, int] | None:
        name = key.rsplit("/", 1)[-1]
        site, _, channel = name.removesuffix(".tiff").partition("_")
        if not site.startswith("s") or channel not in schema.CHANNELS:
            return None
        return int(site[1:]), list(schema.CHANNELS).index(channel)

    def __contains__(self, key: object) -> bool:
        parsed = isinstance(key, str) and self._parse(key)
        return bool(parsed) and 0 <= parsed[0] < self.n_sites

    def __getitem__(self, key: str) -> DiscField:
        parsed = self._parse(key)
        if not parsed or not 0 <= parsed[0] < self.n_sites:
            raise KeyError(key)
        return DiscField(parsed[0], parsed[1], self.size, self.cells)


def site_table(n_sites: int) -> pd.DataFrame:
    """Return ``n_sites`` sites on plates of 384."""
    site = np.arange(n_sites)
    plate = np.char.add("plate_", (site // SITES_PER_PLATE).astype(str))
    table = pd.DataFrame(
        {
            schema.SOURCE: "source_1",
            schema.BATCH: "batch_1",
            schema.PLATE: plate,
            schema.WELL: np.char.add("W", (site % SITES_PER_PLATE).astype(str)),
            schema.SITE: "1",
        }
    )
    for ch in schema.CHANNELS:
        table[schema.path_name_column(ch)] = "synthetic/"
        table[schema.file_name_column(ch)] = [f"s{i}_{ch}.tiff" for i in site]
    return table


def run(n_sites: int, cluster: ExtractionClusterConfig, args: argparse.Namespace) -> tuple[int, float]:
    """Extract ``n_sites`` into a temporary store; return the crop count and the seconds it took."""
    config = make_config(CropExtractionConfig, "data_engineering.crops")
    with tempfile.TemporaryDirectory(prefix="bench_extraction_") as folder:
        writers = [CropStoreWriter(protocol="file", path=f"{folder}/{name}", options={}) for name in "cm"]
        start = time.perf_counter()
        stored = extract_crops_to_store(
            site_table(n_sites),
            DiscFields(n_sites, args.field_px, args.cells),
            config,
            cluster,
            **STAINS,
            crops_writer=writers[0],
            masks_writer=writers[1],
        )
        return len(stored.crop_index), time.perf_counter() - start


def cluster_config(**overrides: object) -> ExtractionClusterConfig:
    """The conf/base extraction settings with ``overrides``."""
    return make_config(ExtractionClusterConfig, "data_engineering.extraction", **overrides)


def memory_child(n_sites: int, args: argparse.Namespace) -> None:
    """Run one size in this process and print its peak resident memory as JSON."""
    n_crops, seconds = run(n_sites, cluster_config(n_workers=0), args)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"sites": n_sites, "crops": n_crops, "seconds": seconds, "peak_mib": peak_mib}))  # noqa: T201


def memory_rows(args: argparse.Namespace) -> list[dict[str, object]]:
    """Run each size of ``--memory-sites`` in a fresh process; return its row."""
    rows = []
    for n_sites in args.memory_sites:
        command = [sys.executable, __file__, "--memory-child", str(n_sites), "--field-px", str(args.field_px)]
        out = subprocess.run(
            command + ["--cells", str(args.cells)], check=True, capture_output=True, text=True
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(
            {
                "sites": result["sites"],
                "crops": result["crops"],
                "peak RSS (MiB)": round(result["peak_mib"]),
                "sites/s (1 process)": result["sites"] / result["seconds"],
            }
        )
    return rows


def speed_rows(args: argparse.Namespace) -> list[dict[str, object]]:
    """Time ``--speed-sites`` sites on a warmed local cluster of 1, then 2, worker processes."""
    from distributed import Client, LocalCluster  # noqa: PLC0415

    rows = []
    for n_workers in (1, 2):
        start = time.perf_counter()
        with (
            LocalCluster(
                n_workers=n_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.WARNING,
            ) as local,
            Client(local) as client,
        ):
            address = local.scheduler_address
            client.run(lambda: __import__("micon.imaging.parallel_extraction"))  # warm every worker
            startup = time.perf_counter() - start
            cluster = cluster_config(scheduler_address=address, sites_per_part=args.sites_per_part)
            run(2 * n_workers * args.sites_per_part, cluster, args)  # warm the tasks' code paths
            n_crops, seconds = run(args.speed_sites, cluster, args)
        rows.append(
            {
                "Dask workers": n_workers,
                "sites": args.speed_sites,
                "crops": n_crops,
                "seconds": seconds,
                "sites/s": args.speed_sites / seconds,
                "cluster start-up (s)": startup,
            }
        )
    rows[1]["speed-up vs 1"] = rows[1]["sites/s"] / rows[0]["sites/s"]
    rows[0]["speed-up vs 1"] = 1.0
    return rows


def main() -> None:
    """Parse arguments, run the measurements, print (and optionally write) the tables."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--memory-sites", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--speed-sites", type=int, default=1000)
    parser.add_argument("--sites-per-part", type=int, default=64)
    parser.add_argument("--field-px", type=int, default=96)
    parser.add_argument("--cells", type=int, default=8)
    parser.add_argument("--write-doc", type=Path, default=None)
    parser.add_argument(
        "--block",
        default=BLOCK,
        help="the rendered block of --write-doc's file to replace (default %(default)s)",
    )
    parser.add_argument("--memory-child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    if args.memory_child is not None:
        memory_child(args.memory_child, args)
        return
    memory = pd.DataFrame(memory_rows(args))
    speed = pd.DataFrame(speed_rows(args)) if args.speed_sites else pd.DataFrame()
    tables = [format_markdown_table(t) for t in (memory, speed) if not t.empty]
    print("\n".join(tables))  # noqa: T201
    if args.write_doc:
        write_measured_block(
            args.write_doc,
            args.block,
            "\n".join(tables),
            command=" ".join(["uv run python benchmarks/bench_extraction_scale.py", *sys.argv[1:]]),
            root=PROJECT,
            details=f"a shared machine; fields {args.field_px}x{args.field_px} px, {args.cells} cells each",
        )


if __name__ == "__main__":
    main()
