"""Crop store codecs on real crops: stored bytes per crop and read time, per zarr v3 compressor.

Usage: ``uv run python benchmarks/bench_crop_codecs.py [--crop-size 96] [--repeats 5] [--write-doc FILE]``.

Cuts ``--crop-size`` crops (5 channels, uint16) centred on the nuclei that ``segment_nuclei`` finds in
the real LZW-compressed 1080x1080 Phenix field (``fields/phenix_field_BR00143976`` under
``../shared/data`` or ``$MICON_SHARED_DATA``; exits with a message when it is absent), writes them as the
crop store writes a part (a zarr v3 array in chunks of ``DEFAULT_CHUNK_CROPS`` crops, one shard) into a
temporary folder with each compressor, and prints the bytes on disk per crop, the ratio to the raw
pixels and the time to read the part back (best of ``--repeats``, page cache warm). The crop store's
choice (``micon.datasets._crop_parts``) is the row marked ``store``. ``--write-doc FILE`` replaces the
block ``<!-- BEGIN rendered: crop-codecs -->`` of FILE with the table, the commit and this command.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import tifffile
import zarr
from scipy import ndimage as ndi
from zarr.codecs import BloscCodec, ZstdCodec

from micon.datasets._crop_parts import CROP_COMPRESSORS, DEFAULT_CHUNK_CROPS
from micon.evaluation.report import format_markdown_table
from micon.imaging.nuclei import NucleiConfig, segment_nuclei
from micon.project_parameters import make_config
from micon.render_tables import write_measured_block

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_segmentation import FIELD, PHENIX_CHANNEL  # noqa: E402 - the same field and channels

CODECS = {
    "none": None,
    "zstd level 0 (zarr's default)": ZstdCodec(level=0),
    "blosc lz4, byte shuffle": BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"),
    "blosc lz4, bit shuffle": BloscCodec(cname="lz4", clevel=5, shuffle="bitshuffle"),
    "blosc zstd 1, bit shuffle": BloscCodec(cname="zstd", clevel=1, shuffle="bitshuffle"),
}


def real_crops(size: int) -> np.ndarray:
    """Return ``(n, 5, size, size)`` uint16 crops centred on the Phenix field's nuclei."""
    field = np.stack(
        [tifffile.imread(FIELD / f"r03c03f03p01-ch{n}sk1fk1fl1.tiff") for n in PHENIX_CHANNEL.values()]
    )
    nuclei = segment_nuclei(
        field[list(PHENIX_CHANNEL).index("DNA")],
        make_config(NucleiConfig, "data_engineering.crops.nuclei", env="jump"),
    )
    half = size // 2
    centres = np.array(ndi.center_of_mass(nuclei > 0, nuclei, np.arange(1, nuclei.max() + 1)))
    centres = np.rint(centres).astype(int)
    inside = ((centres >= half) & (centres <= np.array(field.shape[1:]) - half)).all(axis=1)
    crops = np.stack([field[:, y - half : y + half, x - half : x + half] for y, x in centres[inside]])
    return crops[: len(crops) // DEFAULT_CHUNK_CROPS * DEFAULT_CHUNK_CROPS]  # whole chunks: no padding


def measure(crops: np.ndarray, repeats: int) -> pd.DataFrame:
    """Write ``crops`` with each codec, read them back; return one row per codec."""
    rows = []
    for name, codec in CODECS.items():
        with tempfile.TemporaryDirectory(prefix="bench_codecs_") as folder:
            array = zarr.create_array(
                store=folder,
                shape=crops.shape,
                dtype=crops.dtype,
                chunks=(DEFAULT_CHUNK_CROPS, *crops.shape[1:]),
                shards=(-(-len(crops) // DEFAULT_CHUNK_CROPS) * DEFAULT_CHUNK_CROPS, *crops.shape[1:]),
                compressors=codec,
                zarr_format=3,
            )
            array[...] = crops
            size = sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file())
            reader = zarr.open_array(folder, mode="r")
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                back = reader[:]
                times.append(time.perf_counter() - start)
            if not np.array_equal(back, crops):
                raise SystemExit(f"{name}: the crops read back differ from those written")
        rows.append(
            {
                "compressor": name + (" (store)" if repr(codec) == repr(CROP_COMPRESSORS) else ""),
                "bytes per crop": size / len(crops),
                "ratio to raw": crops.nbytes / size,
                "read (us per crop)": 1e6 * min(times) / len(crops),
            }
        )
    return pd.DataFrame(rows)


def main() -> None:
    """Cut the crops, measure every codec and print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--crop-size", type=int, default=96)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--write-doc", type=Path, default=None)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    if not FIELD.exists():
        sys.exit(f"the Phenix field is not at {FIELD} (../shared/data is absent): nothing to measure")
    crops = real_crops(args.crop_size)
    table = format_markdown_table(measure(crops, args.repeats), digits=2)
    print(f"{len(crops)} crops of 5 x {args.crop_size} x {args.crop_size} uint16 from the real Phenix field")  # noqa: T201
    print(table)  # noqa: T201
    if args.write_doc:
        write_measured_block(
            args.write_doc,
            "crop-codecs",
            table,
            command=" ".join(["uv run python benchmarks/bench_crop_codecs.py", *sys.argv[1:]]),
            root=Path(__file__).resolve().parents[1],
            details=f"{len(crops)} nucleus-centred crops of 5 x {args.crop_size} x {args.crop_size} uint16 "
            f"from the real Phenix field, chunks of {DEFAULT_CHUNK_CROPS} crops",
        )


if __name__ == "__main__":
    main()
