"""Nucleus detection and cell growth on a real 1080x1080 Phenix field: s/field per stage, before and now.

Usage: ``uv run python benchmarks/bench_segmentation.py [--repeats N]``. Reads the LZW-compressed Phenix
field of ``../shared/data/fields/phenix_field_BR00143976`` (or under ``$MICON_SHARED_DATA``; exits with a
message when it is absent) and times, in one run, each stage as the plain scikit-image / SciPy calls the
project made before (the *reference*: ``binary_fill_holes``, ``remove_small_objects`` + a second ``label``,
a whole-field ``distance_transform_edt``, the whole field converted to float64 for the composite) against
the project's functions (``micon.imaging.nuclei.segment_nuclei``, ``micon.imaging.cells``). The best of
``--repeats`` runs is printed per stage (the machine may be shared), with the ratio, and whether the
project's label images equal the reference's pixel for pixel. Settings: the jump environment's
(``conf/jump/parameters_data_engineering.yml`` over ``conf/base``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tifffile
from scipy import ndimage as ndi
from skimage.feature import peak_local_max
from skimage.filters import gaussian, sobel, threshold_otsu
from skimage.morphology import remove_small_objects
from skimage.segmentation import watershed

from micon.imaging.cells import CellsConfig, cytoplasm_composite, segment_cells
from micon.imaging.nuclei import NucleiConfig, segment_nuclei
from micon.project_parameters import make_config

SHARED_DATA = Path(
    os.environ.get("MICON_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")
)
FIELD = SHARED_DATA / "fields/phenix_field_BR00143976/images/orig"
# Phenix channel of each JUMP channel (shared data README): ch5 DNA, ch2 ER, ch3 AGP, ch4 Mito, ch6 RNA.
PHENIX_CHANNEL = {"AGP": 3, "DNA": 5, "ER": 2, "Mito": 4, "RNA": 6}
CHANNELS = ("AGP", "DNA", "ER", "Mito", "RNA")
CYTOPLASM = (CHANNELS.index("AGP"), CHANNELS.index("RNA"))


def reference_nuclei(dna: np.ndarray, config: NucleiConfig) -> np.ndarray:
    """The detection as the project made it before: the same steps, as plain library calls."""
    image = dna.astype(np.float64)
    smoothed = gaussian(image, sigma=config.gaussian_sigma_px, preserve_range=True)
    mask = ndi.binary_fill_holes(smoothed > threshold_otsu(smoothed))
    mask = remove_small_objects(mask, max_size=config.min_area_px - 1)
    labels, _ = ndi.label(mask)
    distance = ndi.distance_transform_edt(mask)
    peaks = peak_local_max(distance, min_distance=config.min_distance_px, labels=labels, exclude_border=False)
    markers = np.zeros(labels.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1, dtype=np.int32)
    split = watershed(-distance, markers, mask=mask)
    unflooded = mask & (split == 0)
    if unflooded.any():
        split[unflooded] = labels[unflooded] + split.max()
    split = split.astype(np.int32)
    areas = np.bincount(split.ravel())
    allowed = (areas >= config.min_area_px) & (areas <= config.max_area_px)
    allowed[0] = False
    return np.where(allowed[split], split, 0).astype(np.int32)


def reference_composite(field: np.ndarray) -> np.ndarray:
    """The composite as before: the whole field converted to float64, then the planes picked."""
    planes = np.asarray(field, dtype=np.float64)[list(CYTOPLASM)]
    scale = np.percentile(planes.reshape(len(planes), -1), 99.0, axis=1)
    scale[scale <= 0] = 1.0
    return (planes / scale[:, None, None]).mean(axis=0)


def reference_cells(nuclei: np.ndarray, cytoplasm: np.ndarray, config: CellsConfig) -> np.ndarray:
    """Cell growth as before (unchanged in the project: the compact watershed keeps its cost)."""
    smoothed = gaussian(cytoplasm, sigma=config.gaussian_sigma_px)
    foreground = (nuclei > 0) | (smoothed > config.threshold_correction * threshold_otsu(smoothed))
    cells = watershed(sobel(smoothed), markers=nuclei, mask=foreground, compactness=config.compactness)
    return cells.astype(np.int32)


def best_of(repeats: int, run: Callable[[], np.ndarray]) -> tuple[float, np.ndarray]:
    """Return the shortest of ``repeats`` wall times of ``run`` and its last result."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="runs per stage; the fastest is printed")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    if not FIELD.exists():
        sys.exit(f"the Phenix field is not at {FIELD} (../shared/data is absent): nothing to measure")
    field = np.stack(
        [tifffile.imread(FIELD / f"r03c03f03p01-ch{PHENIX_CHANNEL[ch]}sk1fk1fl1.tiff") for ch in CHANNELS]
    )
    dna = field[CHANNELS.index("DNA")]
    nuclei_config = make_config(NucleiConfig, "data_engineering.crops.nuclei", env="jump")
    cells_config = make_config(CellsConfig, "data_engineering.crops.cells", env="jump")

    rows = []
    t_ref, ref_nuclei = best_of(args.repeats, lambda: reference_nuclei(dna, nuclei_config))
    t_new, new_nuclei = best_of(args.repeats, lambda: segment_nuclei(dna, nuclei_config))
    rows.append(("nucleus detection", t_ref, t_new, np.array_equal(ref_nuclei, new_nuclei)))
    t_ref, ref_comp = best_of(args.repeats, lambda: reference_composite(field))
    t_new, new_comp = best_of(args.repeats, lambda: cytoplasm_composite(field, CYTOPLASM))
    rows.append(("cytoplasm composite", t_ref, t_new, np.array_equal(ref_comp, new_comp)))
    t_ref, ref_cells = best_of(args.repeats, lambda: reference_cells(new_nuclei, new_comp, cells_config))
    t_new, new_cells = best_of(args.repeats, lambda: segment_cells(new_nuclei, new_comp, cells_config))
    rows.append(("cell growth (watershed)", t_ref, t_new, np.array_equal(ref_cells, new_cells)))
    total = ("nuclei + cells", sum(r[1] for r in rows), sum(r[2] for r in rows), all(r[3] for r in rows))

    print(
        f"Phenix field {field.shape[1]}x{field.shape[2]}, {len(np.unique(new_nuclei)) - 1} nuclei; "
        f"best of {args.repeats} runs, one process"
    )
    print("| stage | reference s/field | project s/field | speed-up | labels identical |")
    print("|---|---|---|---|---|")
    for name, ref, new, same in (*rows, total):
        print(f"| {name} | {ref:.3f} | {new:.3f} | {ref / new:.2f}x | {'yes' if same else 'NO'} |")


if __name__ == "__main__":
    main()
