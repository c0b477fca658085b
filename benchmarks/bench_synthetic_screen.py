"""Can the default synthetic screen rank representations? Replicate retrieval of four floors and ceilings.

Usage: ``OMP_NUM_THREADS=2 uv run python benchmarks/bench_synthetic_screen.py [--env benchmark]
[--skip-cellprofiler] [--write-doc docs/synthetic.md]``.
The default screen (conf/base ``synthetic``) is generated in-process, run through standardisation,
metadata joins and crop extraction as data engineering does, and profiled four ways:

- ``truth``: each well's known mean latent state (``SyntheticScreen.well_truth``), the ceiling;
- ``intensity``: raw per-cell intensity statistics (mean, sd, 10/50/90th percentile per channel inside
  the cell mask, ``micon.imaging.intensity_statistics``), a floor;
- ``untrained``: the randomly initialised image encoder of conf/base (``modeling.model``), the floor
  a trained method must beat;
- ``cellprofiler``: the CellProfiler-style features of conf/base (``data_engineering.cell_features``).

Each is aggregated to wells (conf/base ``reporting.aggregation``) and scored by ``evaluate_profiles``
with conf/base ``reporting.retrieval`` on raw well means (no normalisation), every treated well of every
split a query. The screen can rank methods when the untrained encoder's NSS top-1 and mAP are well
below the truth's (<= 0.6x) and CellProfiler sits clearly above the untrained floor. ``--write-doc FILE``
replaces the block ``<!-- BEGIN rendered: synthetic-profiles -->`` of FILE with both views in one table,
the command and the commit.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from micon import schema
from micon.chem.parallel import ParallelConfig
from micon.chem.standardize import StandardizationConfig, standardize_compounds
from micon.evaluation import (
    NormalizationConfig,
    RetrievalConfig,
    aggregate_to_wells,
    evaluate_profiles,
    normalize_profiles,
    reference_well_profiles,
)
from micon.evaluation.report import format_markdown_table
from micon.imaging.cell_features import CellFeaturesConfig, measure_cell_features
from micon.imaging.extraction import CropExtractionConfig, extract_crop_table
from micon.imaging.intensity_statistics import measure_intensity_statistics
from micon.metadata.joins import join_well_metadata
from micon.metadata.load_data import join_image_index
from micon.metadata.splits import SplitConfig, assign_splits
from micon.project_parameters import make_config, parameter
from micon.render_tables import write_measured_block
from micon.sources.synthetic import (
    CELL_COUNT_COLUMN,
    SYNTHETIC_PROFILE,
    SyntheticScreenConfig,
    generate_screen,
)
from micon.training.methods import build_model_config
from micon.training.runner import build_untrained_checkpoint, embed_crops

SCENARIOS = ("NR", "NSB", "NSS", "NSL")
BLOCK = "synthetic-profiles"


def score(wells: pd.DataFrame, retrieval: RetrievalConfig) -> dict[str, float]:
    """Return top-1 and mAP per scenario of raw well profiles."""
    metrics, _, _ = evaluate_profiles(wells, retrieval)
    row: dict[str, float] = {}
    for scenario in SCENARIOS:
        row[f"{scenario}_top1"] = metrics[scenario]["top1"]
        row[f"{scenario}_map"] = metrics[scenario]["map"]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip-cellprofiler", action="store_true", help="skip the slowest profile")
    parser.add_argument("--seed", type=int, default=None, help="override the screen seed")
    parser.add_argument("--dump", default=None, help="folder to write each well-profile table to (parquet)")
    parser.add_argument(
        "--env", default="base", help="environment whose screen is drawn (benchmark: full size)"
    )
    parser.add_argument("--write-doc", type=Path, default=None, help=f"Markdown file with block {BLOCK}")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    np.seterr(all="ignore")
    start = time.perf_counter()
    overrides = {} if args.seed is None else {"seed": args.seed}
    config = make_config(SyntheticScreenConfig, "synthetic", env=args.env, **overrides)
    screen = generate_screen(config)
    compounds, _ = standardize_compounds(
        screen.compound_table,
        make_config(StandardizationConfig, "data_engineering.standardization"),
        make_config(ParallelConfig, "data_engineering.standardization_parallel", progress=False),
    )
    wells, _ = join_well_metadata(screen.plate_table, screen.well_table, compounds, profile=SYNTHETIC_PROFILE)
    wells = assign_splits(wells, make_config(SplitConfig, "data_engineering.splits"))
    sites, _ = join_image_index(screen.image_index, wells, channels=SYNTHETIC_PROFILE.channels)
    extraction = extract_crop_table(
        sites,
        screen.fields,
        make_config(CropExtractionConfig, "data_engineering.crops"),
        channels=SYNTHETIC_PROFILE.channels,
        nuclear_channel=SYNTHETIC_PROFILE.nuclear_channel,
        cytoplasm_channels=SYNTHETIC_PROFILE.cytoplasm_channels,
    )
    crops, masks, index = extraction.crops, extraction.masks, extraction.crop_index
    n_cells = int(screen.well_truth[CELL_COUNT_COLUMN].sum())
    n_active = int(screen.compound_annotations["is_active"].sum())
    n_screened = config.n_compounds + config.n_invalid_compounds
    screen_line = (
        f"{len(screen.plate_table)} plates, {len(screen.well_table)} wells, "
        f"{len(screen.image_index)} sites, {n_cells:,} cells drawn, {len(index):,} crops extracted; "
        f"{n_active} of {n_screened} compounds active"
    )
    print(f"screen: {screen_line} ({time.perf_counter() - start:.0f} s)")  # noqa: T201
    aggregation = parameter("reporting.aggregation")
    splits = tuple(sorted(set(wells[schema.SPLIT])))
    retrieval = make_config(RetrievalConfig, "reporting.retrieval", splits=splits, null_size=1000)
    metadata = [c for c in index.columns if c.startswith("Metadata_")]

    # the truth on the wells that have crops, with their metadata: as the report scores it
    profiles = {"truth": reference_well_profiles(screen.well_truth, index)}

    stats = measure_intensity_statistics(crops, masks, index, channels=SYNTHETIC_PROFILE.channels)
    profiles["intensity"] = aggregate_to_wells(stats, **aggregation)

    modeling = parameter("modeling")
    untrained = build_model_config("untrained", modeling["model"], channels=SYNTHETIC_PROFILE.channels)
    checkpoint = build_untrained_checkpoint(untrained, method="untrained", seed=0)
    embedding = {**modeling["embedding"], "channels": SYNTHETIC_PROFILE.channels}
    embeddings = embed_crops(checkpoint, crops, index, **embedding)
    profiles["untrained"] = aggregate_to_wells(embeddings, **aggregation)

    if not args.skip_cellprofiler:
        features = measure_cell_features(
            crops,
            masks,
            index[metadata],
            make_config(CellFeaturesConfig, "data_engineering.cell_features"),
            channels=SYNTHETIC_PROFILE.channels,
            progress=lambda iterable, **_: iterable,
        ).features
        profiles["cellprofiler"] = aggregate_to_wells(features, **aggregation)

    if args.dump:
        Path(args.dump).mkdir(parents=True, exist_ok=True)
        for name, table in profiles.items():
            table.to_parquet(Path(args.dump) / f"{name}.parquet")
    # Diagnostic view: features of arbitrary scale (CellProfiler's pixel areas next to texture
    # contrasts) dominate a raw cosine; per-plate DMSO robust MAD after the variant-feature filter
    # (the first steps of every profiling chain) shows whether the phenotype is in them at all.
    mad = make_config(
        NormalizationConfig,
        "reporting.normalization",
        chains={"MAD": ["variance_filter", "mad_robustize"]},
    )
    views = (
        ("raw", "raw well means (no normalisation)", lambda table: table),
        (
            "MAD",
            "diagnostic: variant-feature filter + plate DMSO robust MAD",
            lambda t: normalize_profiles(t, mad, chain="MAD")[0],
        ),
    )
    tables = []
    for view, title, transform in views:
        rows = [{"profile": name, **score(transform(table), retrieval)} for name, table in profiles.items()]
        result = pd.DataFrame(rows).set_index("profile")
        for metric in ("NSS_top1", "NSS_map"):
            result[f"{metric} / truth"] = result[metric] / result.loc["truth", metric]
        print(f"\n{title}")  # noqa: T201
        print(result.to_string(float_format=lambda v: f"{v:.3f}"))  # noqa: T201
        tables.append(result.reset_index().assign(view=view))
    seconds = time.perf_counter() - start
    print(f"total {seconds:.0f} s")  # noqa: T201
    if args.write_doc:
        table = pd.concat(tables, ignore_index=True)
        table = table[["view", *[c for c in table.columns if c != "view"]]]
        write_measured_block(
            args.write_doc,
            BLOCK,
            format_markdown_table(table),
            command=" ".join(["uv run python benchmarks/bench_synthetic_screen.py", *sys.argv[1:]]),
            root=Path(__file__).resolve().parents[1],
            details=f"screen of `--env {args.env}`, seed {config.seed}: {screen_line}; {seconds:.0f} s",
        )


if __name__ == "__main__":
    main()
