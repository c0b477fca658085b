"""Render docs/jump.md's design and cost tables from the JUMP metadata and the designs of conf/jump.

Usage::

    uv run python -m micon.render_jump_designs [--metadata-dir DIR] [--field-dir DIR] [--check] [FILE ...]

Every Markdown file named (default: ``docs/jump.md``) may hold the blocks ``jump-designs`` and
``jump-costs`` (``<!-- BEGIN rendered: jump-designs -->`` ... ``<!-- END rendered: jump-designs -->``).
For each design of ``jump.designs`` (conf/jump), the JUMP ``plate.csv.gz``, ``well.csv.gz`` and
``compound.csv.gz`` of ``--metadata-dir`` go through the jump environment's own selection
(``micon.sources.jump.select_screen``) and split (``micon.metadata.splits.assign_splits``), and the
tables count what the design keeps and holds out and what reading its images costs: 5 channel TIFFs per
site, at the mean size of the 5 Cell Painting channel TIFFs in ``--field-dir`` (a real cpg0016 field), and
the GET requests (each image, and per plate its load_data table and one illumination file per channel).
``--check`` rewrites nothing and exits 1 when a block is stale.

Hand-written: the tables are the project's own designs applied to JUMP's metadata; the block syntax is
``micon.render_tables``'.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from micon import schema
from micon.errors import InvalidConfigError
from micon.evaluation.report import format_markdown_table
from micon.metadata.splits import SplitConfig, assign_splits
from micon.project_parameters import load_parameters
from micon.render_tables import render_blocks
from micon.sources.jump import JumpSelectionConfig, select_screen

__all__ = ["BLOCKS", "cost_table", "design_counts", "design_table", "main"]

COMMAND = "uv run python -m micon.render_jump_designs"
BLOCKS = ("jump-designs", "jump-costs")
METADATA_FILES = ("plate.csv.gz", "well.csv.gz", "compound.csv.gz")
CHANNELS_PER_SITE = 5
# Per plate: its load_data table and one illumination-correction file per channel.
FILES_PER_PLATE = 1 + CHANNELS_PER_SITE
_SHARED = Path(os.environ.get("MICON_SHARED_DATA", Path(__file__).resolve().parents[3] / "shared" / "data"))
DEFAULT_METADATA_DIR = _SHARED / "jump"
# The real Phenix field's Cell Painting channels (ch1 is brightfield, not read).
DEFAULT_FIELD_DIR = _SHARED / "fields" / "phenix_field_BR00143976" / "images" / "orig"
FIELD_CHANNEL_FILES = tuple(f"r03c03f03p01-ch{c}sk1fk1fl1.tiff" for c in range(2, 7))


def _design_counts(metadata: Mapping[str, pd.DataFrame], design: Mapping) -> dict[str, object]:
    """Return what one design keeps (plates, batches, sources, wells, compounds) and holds out."""
    selection = JumpSelectionConfig(**design["selection"])
    if selection.sites_per_well is None:
        raise InvalidConfigError(
            f"design selection {selection}: keeping every site gives no fixed site count; set sites_per_well"
        )
    screen = select_screen(metadata["plate"], metadata["well"], metadata["compound"], selection)
    wells = screen.well_table.merge(
        screen.plate_table[[schema.SOURCE, schema.PLATE, schema.BATCH]], on=[schema.SOURCE, schema.PLATE]
    )
    wells = assign_splits(wells, SplitConfig(**design["splits"]))
    is_dmso = wells[schema.JCP2022] == schema.DMSO_JCP2022
    split = wells[schema.SPLIT]
    held_out = ", ".join(sorted(wells.loc[split == schema.SPLIT_OOD_SOURCE, schema.SOURCE].unique()))
    return {
        "plates": len(screen.plate_table),
        "batches": screen.plate_table[schema.BATCH].nunique(),
        "sources": screen.plate_table[schema.SOURCE].nunique(),
        "wells": len(wells),
        "DMSO wells": int(is_dmso.sum()),
        "treated compounds": wells.loc[~is_dmso, schema.JCP2022].nunique(),
        "held-out sources": held_out or "none",
        "test batches": wells.loc[split == schema.SPLIT_TEST, schema.BATCH].nunique(),
        "held-out compounds": wells.loc[split == schema.SPLIT_OOD_COMPOUND, schema.JCP2022].nunique(),
        "sites": len(wells) * selection.sites_per_well,
        "sites per well": selection.sites_per_well,
    }


def design_counts(
    metadata: Mapping[str, pd.DataFrame], designs: Mapping[str, Mapping]
) -> dict[str, dict[str, object]]:
    """Return, per design name, what the design keeps and holds out (selection and split run once)."""
    return {name: _design_counts(metadata, design) for name, design in designs.items()}


def design_table(counts: Mapping[str, Mapping], designs: Mapping[str, Mapping]) -> pd.DataFrame:
    """Return one row per design: its plate types and what it keeps, splits and evaluates."""
    return pd.DataFrame(
        [
            {
                "design": name,
                "plate types": ", ".join(design["selection"]["plate_types"]),
                **{k: v for k, v in counts[name].items() if k not in ("sites", "sites per well")},
                "evaluated splits": ", ".join(design["retrieval_splits"]),
            }
            for name, design in designs.items()
        ]
    )


def cost_table(counts: Mapping[str, Mapping], bytes_per_tiff: float) -> pd.DataFrame:
    """Return one row per design: sites, images, bytes read and GET requests."""
    rows = []
    for name, design in counts.items():
        images = design["sites"] * CHANNELS_PER_SITE
        rows.append(
            {
                "design": name,
                "sites per well": design["sites per well"],
                "sites": f"{design['sites']:,}",
                "images": f"{images:,}",
                "read (GB)": f"{images * bytes_per_tiff / 1e9:,.0f}",
                "GET requests": f"{images + design['plates'] * FILES_PER_PLATE:,}",
            }
        )
    return pd.DataFrame(rows)


def _read_metadata(metadata_dir: Path) -> dict[str, pd.DataFrame]:
    missing = [name for name in METADATA_FILES if not (metadata_dir / name).exists()]
    if missing:
        raise FileNotFoundError(f"JUMP metadata {missing} not found in {metadata_dir} (pass --metadata-dir)")
    return {name.split(".")[0]: pd.read_csv(metadata_dir / name) for name in METADATA_FILES}


def _bytes_per_tiff(field_dir: Path) -> float:
    paths = [field_dir / name for name in FIELD_CHANNEL_FILES]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise FileNotFoundError(f"the real field's channel TIFFs {missing} are absent (pass --field-dir)")
    return sum(p.stat().st_size for p in paths) / len(paths)


def render_bodies(metadata_dir: Path, field_dir: Path) -> dict[str, str]:
    """Return the body of each block: its table and a line naming the inputs and this command."""
    designs = load_parameters("jump")["jump"]["designs"]
    counts = design_counts(_read_metadata(metadata_dir), designs)
    bytes_per_tiff = _bytes_per_tiff(field_dir)
    source = f"the JUMP metadata ({', '.join(METADATA_FILES)}) and the designs of conf/jump"
    return {
        "jump-designs": format_markdown_table(design_table(counts, designs))
        + f"\n<sub>Rendered by `{COMMAND}` from {source}.</sub>\n",
        "jump-costs": format_markdown_table(cost_table(counts, bytes_per_tiff))
        + f"\n<sub>Rendered by `{COMMAND}` from {source}; {bytes_per_tiff / 1e6:.2f} MB per TIFF, the mean "
        f"of the 5 Cell Painting channel TIFFs (LZW, 1080 x 1080 uint16) of the real cpg0016 field "
        f"`{field_dir.parent.parent.name}`; other microscopes write other sizes.</sub>\n",
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Render (or, with ``--check``, verify) the JUMP design and cost blocks of the given Markdown files."""
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", default=["docs/jump.md"])
    parser.add_argument("--metadata-dir", type=Path, default=DEFAULT_METADATA_DIR)
    parser.add_argument("--field-dir", type=Path, default=DEFAULT_FIELD_DIR)
    parser.add_argument("--check", action="store_true", help="exit 1 if a block is stale; write nothing")
    args = parser.parse_args(argv)
    return render_blocks(args.files, render_bodies(args.metadata_dir, args.field_dir), check=args.check)


if __name__ == "__main__":
    sys.exit(main())
