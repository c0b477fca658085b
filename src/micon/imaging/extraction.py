"""Turn an image index of sites into a crop table: one multi-channel crop and its cell masks per nucleus."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from micon import schema
from micon.errors import InvalidConfigError, InvalidInputError
from micon.imaging.cells import CellsConfig, cytoplasm_composite, segment_cells
from micon.imaging.crops import crop_origins, extract_crops
from micon.imaging.nuclei import (
    NUCLEUS_LABEL,
    NUCLEUS_X,
    NUCLEUS_Y,
    NucleiConfig,
    nuclei_table,
    segment_nuclei,
)
from micon.imaging.plausibility import (
    REASON_IMPLAUSIBLE_NUCLEI,
    NucleusPlausibilityConfig,
    check_nucleus_statistics,
    measure_nuclei,
    screen_outliers,
)
from micon.imaging.qc import (
    FieldQcConfig,
    check_channel_shapes,
    check_field,
    check_saturation,
    conform_channel_dtype,
)
from micon.progress import progress as show_progress
from micon.quarantine import finish_stage, make_quarantine, require_columns

logger = logging.getLogger(__name__)

STAGE = "extract_crop_table"
REASON_MISSING_IMAGE = "missing_image"
REASON_UNREADABLE_IMAGE = "unreadable_image"
REASON_PATH_OUTSIDE_ROOT = "path_outside_root"
_BYTES_LITERAL = re.compile(r"""(?<![\w])b(?:'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")
_MAX_DETAIL_MESSAGE = 200
REASON_NO_CELLS = "no_cells"

N_NUCLEI = "n_nuclei"
N_BORDER_SKIPPED = "n_border_skipped"
N_CROPS = "n_crops"

# Planes of the crop mask store, in order: the centre cell's nucleus and its whole cell.
MASK_NUCLEUS = "Nuclei"
MASK_CELL = "Cells"
MASK_PLANES: tuple[str, ...] = (MASK_NUCLEUS, MASK_CELL)


@dataclass(frozen=True, kw_only=True)
class CropExtractionConfig:
    """How crops are cut from each site.

    Attributes:
        crop_size_px: Side of the square crop, >= 1 (MICON uses crops around single cells).
        max_cells_per_site: At most this many crops per site, drawn at random (by ``seed``) among
            the nuclei whose crop fits; ``None`` keeps every one.
        seed: Seed of the per-site subsample; site ``i`` of the input draws from
            ``np.random.default_rng([seed, i])``, so the result does not depend on processing order.
        nuclei: Nucleus detection settings; a mapping (as read from parameters) is turned into a
            :class:`NucleiConfig`.
        cells: How each nucleus is grown into its cell for the crop masks; a mapping is turned
            into a :class:`~micon.imaging.cells.CellsConfig`.
        qc: The dtype policy and saturation limit of channel images; a mapping is turned into a
            :class:`~micon.imaging.qc.FieldQcConfig`.
        plausibility: When the objects of the nuclear channel count as nuclei; a mapping is turned into
            a :class:`~micon.imaging.plausibility.NucleusPlausibilityConfig`.
    """

    crop_size_px: int
    max_cells_per_site: int | None
    seed: int
    nuclei: NucleiConfig
    cells: CellsConfig
    qc: FieldQcConfig
    plausibility: NucleusPlausibilityConfig

    def __post_init__(self) -> None:
        for name, kind in (("qc", FieldQcConfig), ("plausibility", NucleusPlausibilityConfig)):
            value = getattr(self, name)
            if isinstance(value, Mapping):
                object.__setattr__(self, name, kind(**value))
            elif not isinstance(value, kind):
                raise InvalidConfigError(
                    f"CropExtractionConfig.{name} must be a {kind.__name__} or a mapping, "
                    f"got {type(value).__name__}"
                )
        if isinstance(self.cells, Mapping):
            object.__setattr__(self, "cells", CellsConfig(**self.cells))
        if not isinstance(self.cells, CellsConfig):
            raise InvalidConfigError(
                "CropExtractionConfig.cells must be a CellsConfig or a mapping, "
                f"got {type(self.cells).__name__}"
            )
        if isinstance(self.nuclei, Mapping):
            object.__setattr__(self, "nuclei", NucleiConfig(**self.nuclei))
        if not isinstance(self.nuclei, NucleiConfig):
            raise InvalidConfigError(
                "CropExtractionConfig.nuclei must be a NucleiConfig or a mapping, "
                f"got {type(self.nuclei).__name__}"
            )
        if self.crop_size_px < 1:
            raise InvalidConfigError(
                f"CropExtractionConfig.crop_size_px must be >= 1, got {self.crop_size_px}"
            )
        if self.max_cells_per_site is not None and self.max_cells_per_site < 1:
            raise InvalidConfigError(
                f"CropExtractionConfig.max_cells_per_site must be >= 1 or None, got {self.max_cells_per_site}"
            )
        if self.seed < 0:
            raise InvalidConfigError(f"CropExtractionConfig.seed must be >= 0, got {self.seed}")


@dataclass(frozen=True)
class CropExtraction:
    """The result of :func:`extract_crop_table`.

    Attributes:
        crop_index: One row per crop: ``Metadata_CropID`` (0..N-1, row of ``crops``), every
            ``Metadata_*`` column of its site, ``Metadata_CellX``, ``Metadata_CellY``.
        crops: ``(N, C, S, S)`` uint16, channels in the requested order; None when the crops were
            written to a store (``Metadata_CropID`` is then the crop's row in the store).
        masks: ``(N, 2, S, S)`` uint16, row ``i`` the masks of crop ``i``'s centre cell (1 inside,
            0 elsewhere, neighbours included): plane 0 its nucleus, plane 1 its whole cell
            (:data:`MASK_PLANES`); the cytoplasm is the cell minus the nucleus. None as ``crops``.
        quarantine: One row per rejected site: ``schema.SITE_KEY`` + stage, reason, detail.
        site_summary: One row per accepted site: ``schema.SITE_KEY`` + ``n_nuclei``,
            ``n_border_skipped`` (nuclei too close to the border), ``n_crops``.
    """

    crop_index: pd.DataFrame
    crops: np.ndarray | None
    masks: np.ndarray | None
    quarantine: pd.DataFrame
    site_summary: pd.DataFrame


class _SiteRejected(Exception):
    """A site is unusable: carries its quarantine reason and detail (internal control flow only)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _site_label(row: pd.Series) -> str:
    return "site " + "/".join(str(row[c]) for c in schema.SITE_KEY)


def _load_field(
    row: pd.Series,
    field_images: Mapping[str, Callable[[], np.ndarray]],
    channels: Sequence[str],
    label: str,
    qc: FieldQcConfig,
) -> np.ndarray:
    """Load and stack a site's channel images into ``(C, H, W)``; raise _SiteRejected when it cannot."""
    keys = {
        ch: schema.image_key(row[schema.path_name_column(ch)], row[schema.file_name_column(ch)])
        for ch in channels
    }
    missing = [f"{ch}: '{key}'" for ch, key in keys.items() if key not in field_images]
    if missing:
        raise _SiteRejected(
            REASON_MISSING_IMAGE, f"{label}: image(s) not in the image store: {', '.join(missing)}"
        )
    images: dict[str, np.ndarray] = {}
    for ch, key in keys.items():
        try:
            images[ch] = np.asarray(field_images[key]())
        except Exception as exc:  # IO boundary: a loader may fail in any way; the site is quarantined
            # A store refusing a path that leaves its root says so (``quarantine_reason``).
            reason = getattr(exc, "quarantine_reason", None) or REASON_UNREADABLE_IMAGE
            raise _SiteRejected(
                reason, f"{label}: channel {ch} image '{key}' could not be read: {_describe_error(exc)}"
            ) from exc
    problem = check_channel_shapes(images, key=label)
    if problem:
        raise _SiteRejected(*problem)
    for ch, key in keys.items():
        converted, problem = conform_channel_dtype(images[ch], qc, key=f"{label}: channel {ch} image '{key}'")
        if problem:
            raise _SiteRejected(*problem)
        images[ch] = converted
    return np.stack([images[ch] for ch in channels])


def _describe_error(exc: BaseException) -> str:
    """Return ``"<Type>: <message>"`` with byte literals (a file's first bytes, as readers quote them) cut.

    A path that is not the image it claims (a link to another file) must not leak that file's content
    into the quarantine table.
    """
    message = _BYTES_LITERAL.sub("<bytes>", str(exc)).replace("\n", " ")
    if len(message) > _MAX_DETAIL_MESSAGE:
        message = message[: _MAX_DETAIL_MESSAGE - 3] + "..."
    return f"{type(exc).__name__}: {message}"


def _process_site(  # noqa: PLR0913
    row: pd.Series,
    position: int,
    field_images: Mapping[str, Callable[[], np.ndarray]],
    config: CropExtractionConfig,
    channels: Sequence[str],
    nuclear_index: int,
    cytoplasm_indices: Sequence[int],
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame, dict[str, int], float]:
    """Return one site's crops, masks, kept centroids, counts and median nucleus area; raise _SiteRejected."""
    label = _site_label(row)
    stacked = _load_field(row, field_images, channels, label, config.qc)
    problem = check_field(stacked, expected_channels=len(channels), key=label, channels=channels) or (
        check_saturation(stacked, max_fraction=config.qc.max_saturated_fraction, key=label, channels=channels)
    )
    if problem:
        raise _SiteRejected(*problem)
    nucleus_labels = segment_nuclei(stacked[nuclear_index], config.nuclei)
    nuclei = nuclei_table(nucleus_labels)
    statistics = measure_nuclei(stacked[nuclear_index], nucleus_labels)
    problem = check_nucleus_statistics(statistics, config.plausibility, key=label)
    if problem:
        raise _SiteRejected(*problem)
    crops, kept = extract_crops(stacked, nuclei, crop_size_px=config.crop_size_px)
    n_border = len(nuclei) - len(kept)
    if len(kept) == 0:
        raise _SiteRejected(
            REASON_NO_CELLS,
            f"{label}: no crop fits: {len(nuclei)} nuclei detected on {channels[nuclear_index]}, "
            f"{n_border} too close to the border of the {stacked.shape[1]}x{stacked.shape[2]} field for "
            f"{config.crop_size_px}-px crops",
        )
    if config.max_cells_per_site is not None and len(kept) > config.max_cells_per_site:
        rng = np.random.default_rng([config.seed, position])
        chosen = np.sort(rng.choice(len(kept), size=config.max_cells_per_site, replace=False))
        crops, kept = crops[chosen], kept.iloc[chosen].reset_index(drop=True)
    cytoplasm = cytoplasm_composite(stacked, cytoplasm_indices)
    cell_labels = segment_cells(nucleus_labels, cytoplasm, config.cells)
    masks = centre_cell_masks(nucleus_labels, cell_labels, kept, crop_size_px=config.crop_size_px)
    counts = {N_NUCLEI: len(nuclei), N_BORDER_SKIPPED: n_border, N_CROPS: len(kept)}
    return crops, masks, kept, counts, statistics.area_px


def centre_cell_masks(
    nucleus_labels: np.ndarray, cell_labels: np.ndarray, nuclei: pd.DataFrame, *, crop_size_px: int
) -> np.ndarray:
    """Cut the nucleus and cell masks of each crop's own cell, leaving its neighbours out.

    Args:
        nucleus_labels: ``(H, W)`` nucleus label image of the field.
        cell_labels: ``(H, W)`` cell label image, each cell labelled as its nucleus.
        nuclei: The cropped nuclei, ``y``, ``x`` and ``label`` columns; every crop must fit in the
            field (as the rows :func:`~micon.imaging.crops.extract_crops` keeps).
        crop_size_px: Side of the square crop.

    Returns:
        ``(n, 2, S, S)`` uint16 of 0/1: plane 0 the nucleus, plane 1 the cell (:data:`MASK_PLANES`).
    """
    rows, cols = crop_origins(nuclei, crop_size_px=crop_size_px)
    offsets = np.arange(crop_size_px)
    window_rows = (rows[:, None] + offsets[None, :])[:, :, None]  # (n, S, 1)
    window_cols = (cols[:, None] + offsets[None, :])[:, None, :]  # (n, 1, S)
    own = nuclei[NUCLEUS_LABEL].to_numpy(dtype=np.int64)[:, None, None]
    nucleus = nucleus_labels[window_rows, window_cols] == own
    cell = cell_labels[window_rows, window_cols] == own
    return np.stack([nucleus, cell], axis=1).astype(np.uint16)


def validate_extraction_inputs(
    sites: pd.DataFrame, channels: Sequence[str], nuclear_channel: str, cytoplasm_channels: Sequence[str]
) -> None:
    """Refuse a site table or channel choice :func:`extract_crop_table` cannot work with (see its Raises)."""
    if len(channels) == 0:
        raise InvalidInputError("extract_crop_table: channels is empty")
    if nuclear_channel not in channels:
        raise InvalidInputError(
            f"extract_crop_table: channels {list(channels)} lack the nuclear channel {nuclear_channel!r}"
        )
    missing_stains = [ch for ch in cytoplasm_channels if ch not in channels]
    if missing_stains or not cytoplasm_channels:
        raise InvalidInputError(
            f"extract_crop_table: cell segmentation channels {list(cytoplasm_channels)} must be among the "
            f"channels {list(channels)}"
        )
    image_columns = [
        col for ch in channels for col in (schema.file_name_column(ch), schema.path_name_column(ch))
    ]
    require_columns(sites, [*schema.SITE_KEY, *image_columns], table_name="sites")
    if sites.empty:
        raise InvalidInputError("extract_crop_table: the site table is empty")
    duplicated = sites.duplicated(list(schema.SITE_KEY))
    if duplicated.any():
        first = sites.loc[duplicated, list(schema.SITE_KEY)].iloc[0].tolist()
        raise InvalidInputError(
            f"extract_crop_table: {int(duplicated.sum())} duplicated site(s) in the site table, first {first}"
        )


def extract_crop_table(
    sites: pd.DataFrame,
    field_images: Mapping[str, Callable[[], np.ndarray]],
    config: CropExtractionConfig,
    *,
    channels: Sequence[str],
    nuclear_channel: str,
    cytoplasm_channels: Sequence[str],
) -> CropExtraction:
    """Detect nuclei and their cells in every site; cut one multi-channel crop and its masks per nucleus.

    For each site, the image of channel ``ch`` is
    ``field_images[schema.image_key(PathName_Orig{ch}, FileName_Orig{ch})]()``; the 2-D images are
    stacked in ``channels`` order, checked (:func:`~micon.imaging.qc.check_field`), nuclei are found
    on ``nuclear_channel`` and crops that fit inside the field are kept (optionally a seeded
    random subsample). Each nucleus is grown into its cell over the ``cytoplasm_channels`` stains
    (:func:`~micon.imaging.cells.segment_cells`) and the crop's masks keep only its own nucleus and
    cell (:func:`centre_cell_masks`). A defective site goes to quarantine with reason ``missing_image``,
    ``unreadable_image``, ``channel_count``, ``shape_mismatch``, ``wrong_dtype`` (a dtype other than
    uint16 that ``config.qc.dtype_conversion`` does not convert), ``out_of_range``, ``not_finite``,
    ``blank_channel``, ``saturated``, ``no_cells``, ``no_real_nuclei`` (the objects of the nuclear channel
    are noise or a gradient, :mod:`~micon.imaging.plausibility`) or ``implausible_nuclei`` (nuclei far
    larger or smaller than the screen's); the detail names the site and the image key. Sites run one
    after the other, in one process (about 70 sites/s, 1,100 crops/s, for 5x160x160 uint16
    fields read from TIFFs on one core, before cell growth was added; growing the cells costs about
    as much again as finding the nuclei, ~13 ms per site).

    Args:
        sites: One row per site: ``schema.SITE_KEY`` columns, any other ``Metadata_*`` columns
            (carried into the crop index) and ``FileName_Orig{ch}``/``PathName_Orig{ch}`` per channel.
        field_images: Image key -> loader of that 2-D image (the lazy loaders a Kedro
            ``PartitionedDataset`` gives).
        config: Crop size, subsampling and nucleus detection settings.
        channels: Channel names in stacking order (the source profile's).
        nuclear_channel: The channel nuclei are found on (one of ``channels``).
        cytoplasm_channels: The stains whose composite outlines the cells (among ``channels``).

    Returns:
        A :class:`CropExtraction`; every input site is in exactly one of ``site_summary`` and
        ``quarantine``.

    Raises:
        MissingColumnsError: ``sites`` lacks a key or image column (names it).
        InvalidInputError: ``sites`` is empty or has duplicated site keys, or ``channels`` lacks
            the nuclear or a cytoplasm channel.
    """
    validate_extraction_inputs(sites, channels, nuclear_channel, cytoplasm_channels)
    results = run_sites(
        sites,
        np.arange(len(sites)),
        field_images,
        config,
        channels=channels,
        nuclear_channel=nuclear_channel,
        cytoplasm_channels=cytoplasm_channels,
        progress=True,
    )
    n_channels = len(channels)
    crops = (
        np.concatenate(results.crop_blocks, axis=0)
        if results.crop_blocks
        else np.zeros((0, n_channels, config.crop_size_px, config.crop_size_px), dtype=np.uint16)
    )
    masks = (
        np.concatenate(results.mask_blocks, axis=0)
        if results.mask_blocks
        else np.zeros((0, len(MASK_PLANES), config.crop_size_px, config.crop_size_px), dtype=np.uint16)
    )
    n_per_site = np.array([len(block) for block in results.crop_blocks], dtype=np.int64)
    rows = np.arange(len(crops), dtype=np.int64)
    kept, crop_index, quarantine, site_summary = finish_extraction(
        sites, [(results, rows, n_per_site)], config
    )
    if len(kept) != len(crops):  # a site far from the screen's nucleus size lost its crops
        crops, masks = crops[kept], masks[kept]
    crop_index[schema.CROP_ID] = np.arange(len(crop_index), dtype=np.int64)
    return CropExtraction(
        crop_index=crop_index, crops=crops, masks=masks, quarantine=quarantine, site_summary=site_summary
    )


@dataclass
class SiteResults:
    """What :func:`run_sites` found on a run of sites (per accepted site: one entry of each list).

    Attributes:
        crop_blocks: ``(n_i, C, S, S)`` uint16 crops of each accepted site.
        mask_blocks: ``(n_i, 2, S, S)`` uint16 masks of each accepted site.
        centroids: ``(n_i, 2)`` float64 ``x, y`` of each accepted site's crops.
        accepted_positions: Positions (rows of the whole site table) of the accepted sites.
        summaries: Counts of each accepted site (``n_nuclei``, ``n_border_skipped``, ``n_crops``).
        areas: Median nucleus area of each accepted site.
        rejected_positions: Positions of the rejected sites.
        reasons: Quarantine reason of each rejected site.
        details: Quarantine detail of each rejected site.
    """

    crop_blocks: list[np.ndarray] = field(default_factory=list)
    mask_blocks: list[np.ndarray] = field(default_factory=list)
    centroids: list[np.ndarray] = field(default_factory=list)
    accepted_positions: list[int] = field(default_factory=list)
    summaries: list[dict[str, int]] = field(default_factory=list)
    areas: list[float] = field(default_factory=list)
    rejected_positions: list[int] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    def without_pixels(self) -> SiteResults:
        """Return these results without crops and masks (what travels back from a worker)."""
        return replace(self, crop_blocks=[], mask_blocks=[])


def run_sites(  # noqa: PLR0913
    sites: pd.DataFrame,
    positions: Sequence[int] | np.ndarray,
    field_images: Mapping[str, Callable[[], np.ndarray]],
    config: CropExtractionConfig,
    *,
    channels: Sequence[str],
    nuclear_channel: str,
    cytoplasm_channels: Sequence[str],
    progress: bool = False,
) -> SiteResults:
    """Process ``sites`` one after the other (row ``i`` is site ``positions[i]`` of the whole screen).

    The per-site work of :func:`extract_crop_table`, without the screen-wide checks
    (:func:`finish_extraction`); a site's random subsample depends on its position only, so splitting
    a screen into runs of sites gives the crops one run would.

    Returns:
        The :class:`SiteResults` of the run.
    """
    nuclear_index = list(channels).index(nuclear_channel)
    cytoplasm_indices = [list(channels).index(ch) for ch in cytoplasm_channels]
    results = SiteResults()
    rows = zip(positions, (row for _, row in sites.iterrows()), strict=True)
    if progress:
        rows = show_progress(rows, total=len(sites), desc=STAGE, logger=logger, unit="site")
    for position, row in rows:
        try:
            crops, masks, kept, counts, area = _process_site(
                row, int(position), field_images, config, channels, nuclear_index, cytoplasm_indices
            )
        except _SiteRejected as rejection:
            results.rejected_positions.append(int(position))
            results.reasons.append(rejection.reason)
            results.details.append(rejection.detail)
            continue
        results.crop_blocks.append(crops)
        results.mask_blocks.append(masks)
        results.centroids.append(kept[[NUCLEUS_X, NUCLEUS_Y]].to_numpy(dtype=np.float64))
        results.accepted_positions.append(int(position))
        results.summaries.append(counts)
        results.areas.append(area)
    return results


def finish_extraction(
    sites: pd.DataFrame,
    runs: Sequence[tuple[SiteResults, np.ndarray, np.ndarray]],
    config: CropExtractionConfig,
) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Apply the screen-wide nucleus-size check to runs of sites and build the crop index and tables.

    Args:
        sites: The whole site table.
        runs: Per run of sites: its :class:`SiteResults` (pixels may be dropped), the store row of each
            of its crops (in site order), and the crop count of each accepted site.
        config: The plausibility settings.

    Returns:
        ``(kept, crop_index, quarantine, site_summary)``: ``kept`` the store rows of the crops kept (a
        field far from the screen's nucleus size loses its crops), ``crop_index`` one row per kept crop
        with ``Metadata_CropID`` = its store row, ``quarantine`` and ``site_summary`` as
        :class:`CropExtraction`'s; every site is in exactly one of the two.
    """
    positions = [p for results, _, _ in runs for p in results.accepted_positions]
    areas = [a for results, _, _ in runs for a in results.areas]
    summaries = [s for results, _, _ in runs for s in results.summaries]
    centroid_blocks = [c for results, _, _ in runs for c in results.centroids]
    n_per_site = np.concatenate([n for _, _, n in runs]) if runs else np.zeros(0, dtype=np.int64)
    rows = np.concatenate([r for _, r, _ in runs]) if runs else np.zeros(0, dtype=np.int64)
    rejected = [p for results, _, _ in runs for p in results.rejected_positions]
    reasons = [r for results, _, _ in runs for r in results.reasons]
    details = [d for results, _, _ in runs for d in results.details]

    # Against the screen's own distribution: a field whose nuclei are far larger or smaller than the rest.
    outliers, screen_area = screen_outliers(areas, config.plausibility)
    for i in np.flatnonzero(outliers)[::-1]:  # last first, as the screen has always listed them
        rejected.append(positions[i])
        reasons.append(REASON_IMPLAUSIBLE_NUCLEI)
        details.append(
            f"{_site_label(sites.iloc[positions[i]])}: median nucleus area {areas[i]:.0f} px is more than "
            f"{config.plausibility.max_area_ratio_to_screen:g}x away from the screen's median "
            f"{screen_area:.0f} px"
        )
    keep_site = ~outliers
    keep_crop = np.repeat(keep_site, n_per_site)
    kept_positions = np.asarray(positions, dtype=np.int64)[keep_site]
    centroids = (
        np.concatenate([c for c, k in zip(centroid_blocks, keep_site, strict=True) if k])
        if keep_site.any()
        else np.zeros((0, 2))
    )
    metadata = schema.metadata_columns(list(sites.columns))
    index_rows = np.repeat(kept_positions, n_per_site[keep_site])
    crop_index = sites.iloc[index_rows].loc[:, list(metadata)].reset_index(drop=True)
    crop_index[schema.CELL_X] = centroids[:, 0]
    crop_index[schema.CELL_Y] = centroids[:, 1]
    kept = rows[keep_crop]
    crop_index.insert(0, schema.CROP_ID, kept.astype(np.int64))
    site_summary = sites.iloc[kept_positions].loc[:, list(schema.SITE_KEY)].reset_index(drop=True)
    for col in (N_NUCLEI, N_BORDER_SKIPPED, N_CROPS):
        site_summary[col] = np.array(
            [counts[col] for counts, k in zip(summaries, keep_site, strict=True) if k], dtype=np.int64
        )
    rejects = [
        make_quarantine(
            sites.iloc[rejected],
            schema.SITE_KEY,
            stage=STAGE,
            reason=pd.Series(reasons, dtype="object"),
            detail=pd.Series(details, dtype="object"),
        )
    ]
    _, quarantine = finish_stage(STAGE, len(sites), site_summary, rejects, schema.SITE_KEY, log=logger)
    if len(crop_index) != len(kept):
        raise InvalidInputError(
            f"{STAGE}: {len(crop_index)} index rows for {len(kept)} crops; this is a bug in the stage"
        )
    logger.info("%s: %d crops from %d sites", STAGE, len(crop_index), len(site_summary))
    return kept, crop_index, quarantine, site_summary
