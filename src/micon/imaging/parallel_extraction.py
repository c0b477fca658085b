"""Extract a screen's crops as dask.distributed tasks, each writing its own part of the crop store.

The screen is cut into parts (a plate's sites, at most ``sites_per_part`` at a time); each part is one
task that reads its fields, finds the cells, and writes its crops and masks as one part of each store
(through the writers it is given, e.g. ``micon.datasets.CropStoreWriter``), returning only its small
tables. A worker thus holds one part's crops at a time, whatever the size of the screen, and no writer
shares anything with another: the parts become the stores' content when the caller commits them. The
screen-wide check (nucleus size against the screen's) and the crop index are made afterwards from the
returned tables (:func:`~micon.imaging.extraction.finish_extraction`).

The tasks run on a ``distributed.LocalCluster`` started here, on an existing cluster (a scheduler
address: Kubernetes, SLURM through dask-jobqueue, a cloud), or, with ``n_workers: 0``, one after the
other in this process (tests, and screens under ``min_sites_for_local_cluster``: no cluster start-up).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from micon import schema
from micon.errors import InvalidConfigError
from micon.imaging.extraction import (
    STAGE,
    CropExtractionConfig,
    SiteResults,
    finish_extraction,
    run_sites,
    validate_extraction_inputs,
)

logger = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_DIGEST_BYTES = 16


class PartWriter(Protocol):
    """Writes one part of a store and returns what commits it (``micon.datasets.CropStoreWriter``)."""

    def write_part(self, name: str, crops: np.ndarray) -> Any:
        """Write ``crops`` ``(n, C, S, S)`` as part ``name``; return its record (with a ``count``)."""


@dataclass(frozen=True, kw_only=True)
class ExtractionClusterConfig:
    """Where and how the parts of an extraction run.

    Attributes:
        n_workers: Worker processes of the ``LocalCluster`` started for the run; 0 runs the parts one
            after the other in this process (no Dask). Ignored with ``scheduler_address``.
        threads_per_worker: Threads of each local worker (>= 1).
        scheduler_address: Address of an existing Dask scheduler (``tcp://host:8786``) to run on
            instead; its workers must reach the fields and the crop store.
        sites_per_part: Most sites per part (task and store part), >= 1; a part never spans two plates.
        progress_every_sites: Log a progress line each time this many more sites are done (>= 1).
        min_sites_for_local_cluster: A screen of fewer sites runs in this process even when
            ``n_workers`` > 0 (>= 0): starting local worker processes, each importing the extraction,
            costs seconds, more than a small screen's sites take (the default run's 240 sites).
    """

    n_workers: int
    threads_per_worker: int
    scheduler_address: str | None
    sites_per_part: int
    progress_every_sites: int
    min_sites_for_local_cluster: int

    def __post_init__(self) -> None:
        for name, low in (
            ("n_workers", 0),
            ("threads_per_worker", 1),
            ("sites_per_part", 1),
            ("min_sites_for_local_cluster", 0),
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < low:
                raise InvalidConfigError(
                    f"ExtractionClusterConfig.{name} must be an int >= {low}, got {value!r}"
                )
        if not isinstance(self.progress_every_sites, int) or self.progress_every_sites < 1:
            raise InvalidConfigError(
                "ExtractionClusterConfig.progress_every_sites must be an int >= 1, "
                f"got {self.progress_every_sites!r}"
            )
        if self.scheduler_address is not None and (
            not isinstance(self.scheduler_address, str) or not self.scheduler_address.strip()
        ):
            raise InvalidConfigError(
                "ExtractionClusterConfig.scheduler_address must be null or an address such as "
                f"'tcp://scheduler:8786', got {self.scheduler_address!r}"
            )


@dataclass(frozen=True)
class SitePart:
    """A run of one plate's sites, processed as one task and stored as one part.

    Attributes:
        name: Unique, path-safe name (``<index>-<plate>-<k>``), the name of its store parts.
        positions: Rows of the site table, in order.
    """

    name: str
    positions: np.ndarray


@dataclass(frozen=True)
class PartOutcome:
    """What a part's task returns: its tables, the parts it wrote and the digest of its pixels.

    Attributes:
        name: The part's name.
        results: Its :class:`~micon.imaging.extraction.SiteResults`, without pixels.
        n_per_site: Crops of each accepted site.
        crops_part: The crop store's record of the part (None: no crop).
        masks_part: The mask store's record of the part (None: no crop).
        digest: BLAKE2b of its crops and masks.
    """

    name: str
    results: SiteResults
    n_per_site: np.ndarray
    crops_part: Any
    masks_part: Any
    digest: str


@dataclass(frozen=True)
class StoredExtraction:
    """The result of :func:`extract_crops_to_store`.

    Attributes:
        crop_index: One row per kept crop, ``Metadata_CropID`` its row in the stores (rows of crops a
            screen-wide check dropped stay in the store, unindexed), plus the columns of
            :class:`~micon.imaging.extraction.CropExtraction` ``.crop_index``.
        quarantine: One row per rejected site.
        site_summary: One row per accepted site.
        crop_parts: The crop store's parts, in row order, to commit.
        mask_parts: The mask store's parts, in the same order.
        part_digests: The digest of each part's pixels, in the same order.
    """

    crop_index: pd.DataFrame
    quarantine: pd.DataFrame
    site_summary: pd.DataFrame
    crop_parts: tuple[Any, ...]
    mask_parts: tuple[Any, ...]
    part_digests: tuple[str, ...]


def plan_parts(sites: pd.DataFrame, *, sites_per_part: int) -> list[SitePart]:
    """Cut the site table into parts: each plate's sites (in table order), ``sites_per_part`` at a time.

    Returns:
        The parts, plates in order of first appearance; every row of ``sites`` in exactly one.
    """
    plates = sites[schema.SOURCE].astype(str) + "/" + sites[schema.PLATE].astype(str)
    parts: list[SitePart] = []
    for plate, positions in pd.Series(np.arange(len(sites)), index=plates).groupby(level=0, sort=False):
        slug = _UNSAFE.sub("_", str(plate))[-60:]
        rows = positions.to_numpy(dtype=np.int64)
        for k, start in enumerate(range(0, len(rows), sites_per_part)):
            parts.append(SitePart(f"{len(parts):06d}-{slug}-{k:04d}", rows[start : start + sites_per_part]))
    return parts


def _image_keys(sites: pd.DataFrame, channels: Sequence[str]) -> set[str]:
    return {
        schema.image_key(path, name)
        for ch in channels
        for path, name in zip(
            sites[schema.path_name_column(ch)], sites[schema.file_name_column(ch)], strict=True
        )
    }


def extract_part(  # noqa: PLR0913
    sites: pd.DataFrame,
    part: SitePart,
    field_images: Mapping[str, Callable[[], np.ndarray]],
    config: CropExtractionConfig,
    *,
    channels: Sequence[str],
    nuclear_channel: str,
    cytoplasm_channels: Sequence[str],
    crops_writer: PartWriter,
    masks_writer: PartWriter,
) -> PartOutcome:
    """Extract one part's sites and write its crops (uint16) and masks (bool) as one part of each store.

    Args:
        sites: The part's rows of the site table (row ``i`` is site ``part.positions[i]``).
        part: The part.
        field_images: Loaders of (at least) the part's images.
        config: As :func:`~micon.imaging.extraction.extract_crop_table`.
        channels: As there.
        nuclear_channel: As there.
        cytoplasm_channels: As there.
        crops_writer: Writes the crop store's part.
        masks_writer: Writes the mask store's part.

    Returns:
        The part's :class:`PartOutcome` (no pixels: those are in the stores).
    """
    results = run_sites(
        sites,
        part.positions,
        field_images,
        config,
        channels=channels,
        nuclear_channel=nuclear_channel,
        cytoplasm_channels=cytoplasm_channels,
    )
    n_per_site = np.array([len(block) for block in results.crop_blocks], dtype=np.int64)
    crops_part = masks_part = None
    digest = hashlib.blake2b(digest_size=_DIGEST_BYTES)
    if n_per_site.sum():
        crops = np.concatenate(results.crop_blocks)
        masks = np.concatenate(results.mask_blocks).astype(bool)
        digest.update(np.ascontiguousarray(crops).tobytes())
        digest.update(np.ascontiguousarray(masks).tobytes())
        crops_part = crops_writer.write_part(part.name, crops)
        masks_part = masks_writer.write_part(part.name, masks)
    return PartOutcome(
        part.name, results.without_pixels(), n_per_site, crops_part, masks_part, digest.hexdigest()
    )


def extract_crops_to_store(  # noqa: PLR0913
    sites: pd.DataFrame,
    field_images: Mapping[str, Callable[[], np.ndarray]],
    config: CropExtractionConfig,
    cluster: ExtractionClusterConfig,
    *,
    channels: Sequence[str],
    nuclear_channel: str,
    cytoplasm_channels: Sequence[str],
    crops_writer: PartWriter,
    masks_writer: PartWriter,
) -> StoredExtraction:
    """Extract every site as :func:`~micon.imaging.extraction.extract_crop_table` does, into store parts.

    The crops kept and their order are those of ``extract_crop_table`` (same seed, same sites); only the
    crop ids differ where a screen-wide check dropped a field (its rows stay in the store, unindexed).
    Nothing is committed here: commit ``crop_parts`` and ``mask_parts`` to make them the stores' content.

    Raises:
        MissingColumnsError: ``sites`` lacks a key or image column (names it).
        InvalidInputError: As ``extract_crop_table``.
    """
    validate_extraction_inputs(sites, channels, nuclear_channel, cytoplasm_channels)
    parts = plan_parts(sites, sites_per_part=cluster.sites_per_part)
    common = {
        "config": config,
        "channels": tuple(channels),
        "nuclear_channel": nuclear_channel,
        "cytoplasm_channels": tuple(cytoplasm_channels),
        "crops_writer": crops_writer,
        "masks_writer": masks_writer,
    }
    tasks = (
        (sites.iloc[part.positions], part, _subset(field_images, sites.iloc[part.positions], channels))
        for part in parts
    )
    in_process = cluster.n_workers == 0 or len(sites) < cluster.min_sites_for_local_cluster
    if in_process and cluster.scheduler_address is None:
        logger.info("%s: %d sites in %d parts, in this process", STAGE, len(sites), len(parts))
        done = (extract_part(rows, part, images, **common) for rows, part, images in tasks)
    else:
        done = _run_on_dask(tasks, common, cluster)
    outcomes: dict[str, PartOutcome] = {}
    for outcome in _log_progress(
        done, n_sites=len(sites), n_parts=len(parts), every=cluster.progress_every_sites
    ):
        outcomes[outcome.name] = outcome
    ordered = [outcomes[part.name] for part in parts]
    runs, offset = [], 0
    for outcome in ordered:
        count = int(outcome.n_per_site.sum())
        runs.append((outcome.results, np.arange(offset, offset + count, dtype=np.int64), outcome.n_per_site))
        offset += count
    _, crop_index, quarantine, site_summary = finish_extraction(sites, runs, config)
    stored = [o for o in ordered if o.crops_part is not None]
    return StoredExtraction(
        crop_index=crop_index,
        quarantine=quarantine,
        site_summary=site_summary,
        crop_parts=tuple(o.crops_part for o in stored),
        mask_parts=tuple(o.masks_part for o in stored),
        part_digests=tuple(o.digest for o in ordered),
    )


def _subset(
    field_images: Mapping[str, Callable[[], np.ndarray]], sites: pd.DataFrame, channels: Sequence[str]
) -> dict[str, Callable[[], np.ndarray]]:
    """Return the loaders of ``sites``' images (those the image store has; the others are quarantined)."""
    return {key: field_images[key] for key in _image_keys(sites, channels) if key in field_images}


def _log_progress(
    done: Iterator[PartOutcome], *, n_sites: int, n_parts: int, every: int
) -> Iterator[PartOutcome]:
    """Pass the outcomes on, logging sites done and sites/s each time ``every`` more sites are done."""
    start = time.perf_counter()
    n_done = parts_done = 0
    next_log = every
    for outcome in done:
        parts_done += 1
        n_done += len(outcome.results.accepted_positions) + len(outcome.results.rejected_positions)
        if n_done >= next_log or parts_done == n_parts:
            elapsed = max(time.perf_counter() - start, 1e-9)
            logger.info(
                "%s: %d/%d sites done (%d/%d parts), %.1f sites/s",
                STAGE,
                n_done,
                n_sites,
                parts_done,
                n_parts,
                n_done / elapsed,
            )
            next_log = (n_done // every + 1) * every
        yield outcome


def _run_on_dask(
    tasks: Iterator[tuple[pd.DataFrame, SitePart, dict[str, Any]]],
    common: dict[str, Any],
    cluster: ExtractionClusterConfig,
) -> Iterator[PartOutcome]:
    """Run each part as a task on a local cluster (or the scheduler at the address); yield as they finish."""
    # Imported here: only a run on a cluster needs distributed (its import costs about a second).
    from distributed import Client, LocalCluster, as_completed  # noqa: PLC0415

    local = None
    if cluster.scheduler_address is None:
        local = LocalCluster(
            n_workers=cluster.n_workers,
            threads_per_worker=cluster.threads_per_worker,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.WARNING,
        )
        logger.info("%s: %s", STAGE, local)
    client = Client(local if local is not None else cluster.scheduler_address)
    try:
        logger.info("%s: dask client %s (dashboard %s)", STAGE, client, client.dashboard_link)
        futures = [
            client.submit(
                extract_part, rows, part, images, **common, key=f"extract-part-{part.name}", pure=False
            )
            for rows, part, images in tasks
        ]
        for future in as_completed(futures):
            yield future.result()
            future.release()
    finally:
        client.close()
        if local is not None:
            local.close()


__all__ = [
    "ExtractionClusterConfig",
    "PartOutcome",
    "SitePart",
    "StoredExtraction",
    "extract_crops_to_store",
    "extract_part",
    "plan_parts",
]
