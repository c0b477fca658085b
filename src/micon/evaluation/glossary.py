"""Readable names of the methods, evaluation levels and metrics of the comparison, and what each measures.

The comparison table's columns are codes (``NSS_top1``, ``MoA_NSS_map``, ``source_knn_accuracy``); the
report and the rendered docs tables show them by these names and explain them in a glossary. Kedro-free.

Hand-written: the names and explanations are this project's vocabulary (the levels follow the JUMP and
MorphoHELM papers); no library holds them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "FLOOR_METHODS",
    "LEVEL_DESCRIPTIONS",
    "METHOD_LABELS",
    "REFERENCE_METHODS",
    "GlossaryEntry",
    "MetricInfo",
    "describe_metric",
    "level_glossary",
    "method_label",
    "metric_glossary",
    "metric_level",
]

# Row labels of the methods and references, in the order tables show them.
METHOD_LABELS: dict[str, str] = {
    "known_truth": "known truth (latent state)",
    "micon": "MICON",
    "micon_per_channel": "MICON (per-channel encoder)",
    "paclr": "PaCLR-only",
    "clip": "CLIP-style",
    "cellclip": "CellCLIP-style",
    "simclr": "SimCLR",
    "cellprofiler": "CellProfiler-style features",
    "intensity": "raw intensity statistics",
    "untrained": "untrained encoder",
}
# Rows that bound the comparison from above (the synthetic screen's known truth: a ceiling) and below.
REFERENCE_METHODS: tuple[str, ...] = ("known_truth",)
FLOOR_METHODS: tuple[str, ...] = ("untrained", "intensity")

# What each evaluation level (reporting.retrieval.scenarios) keeps out of a query's candidates.
LEVEL_DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "NR": ("not restricted", "every other well may be retrieved; only the query itself is left out"),
    "NSB": (
        "not same batch",
        "wells of the query's batch are left out, so a replicate must be found across batches",
    ),
    "NSS": (
        "not same source",
        "wells of the query's source (lab) are left out: replicates must be recognised across labs, the "
        "hardest and most telling level",
    ),
    "NSL": (
        "not same layout",
        "wells at the query's well position are left out, so position effects cannot find replicates",
    ),
    "NSSL": ("not same source or layout", "wells of the query's source or at its well position are left out"),
    "NSPL": (
        "not same plate layout",
        "wells on plates with the query plate's compound-to-well map are left out",
    ),
}

Direction = Literal["higher", "lower"]


@dataclass(frozen=True)
class MetricInfo:
    """How one comparison-table column reads.

    Attributes:
        code: The column (``NSS_top1``).
        label: Its short readable name (``NSS top-1``).
        description: What it measures and how to read it.
        better: ``"higher"`` or ``"lower"`` is better; None when neither (a count).
    """

    code: str
    label: str
    description: str
    better: Direction | None


@dataclass(frozen=True)
class GlossaryEntry:
    """One term of the report's glossary: the term, its long name and its explanation."""

    term: str
    name: str
    description: str


_RETRIEVAL: dict[str, tuple[str, str]] = {
    "top1": (
        "top-1",
        "fraction of treated query wells whose most similar eligible well (cosine) is a replicate "
        "(same compound); 0 to 1, higher is better",
    ),
    "top5": ("top-5", "as top-1, with a replicate among the 5 most similar wells"),
    "map": (
        "mAP",
        "mean over compounds of the average precision of ranking a compound's replicates above the "
        "plate's DMSO wells (copairs); 0 to 1, higher is better",
    ),
    "map_above_chance": (
        "mAP above chance",
        "mAP minus what a random ranking would score (copairs' normalised AP); 0 is chance",
    ),
    "fraction_retrieved": (
        "fraction retrieved",
        "fraction of compounds whose mAP beats a permutation null (corrected p below the threshold)",
    ),
}
_BATCH: dict[str, tuple[str, str]] = {
    "knn_accuracy": (
        "kNN accuracy",
        "how often a well's nearest wells predict its {name}; lower means less {name} effect remains",
    ),
    "silhouette": (
        "silhouette",
        "cosine silhouette of wells grouped by {name}; near 0 or below means wells do not cluster by it",
    ),
}
_LEVEL_METRIC = re.compile(r"^(?:(?P<annotation>[A-Za-z]+)_)?(?P<level>[A-Z]+)_(?P<metric>.+)$")


_SEEDED_RUN = re.compile(r"^(?P<method>.+)_seed(?P<seed>\d+)$")


def method_label(method: str) -> str:
    """Return the readable name of a method, reference or seeded run (``micon_seed1``: ``MICON (seed 1)``).

    A name without a label is returned as it is.
    """
    if method in METHOD_LABELS:
        return METHOD_LABELS[method]
    seeded = _SEEDED_RUN.match(method)
    if seeded and seeded["method"] in METHOD_LABELS:
        return f"{METHOD_LABELS[seeded['method']]} (seed {seeded['seed']})"
    return method


def describe_metric(code: str) -> MetricInfo:
    """Return the readable name, explanation and direction of a comparison-table column.

    Understands ``{level}_{metric}`` (replicate retrieval), ``{annotation}_{level}_{metric}`` (mechanism
    retrieval: another compound of the same annotation), ``{source|batch}_{knn_accuracy|silhouette}`` and
    ``{annotation}_consistency_map``; any other code is returned as its own label with no direction.
    """
    if code.endswith("_consistency_map"):
        annotation = code.removesuffix("_consistency_map")
        return MetricInfo(
            code,
            f"{annotation} consistency mAP",
            f"how well compounds of one {annotation} retrieve each other's profiles (mAP); higher is better",
            "higher",
        )
    for suffix, (label, text) in _BATCH.items():
        if code.endswith(f"_{suffix}"):
            name = code.removesuffix(f"_{suffix}")
            return MetricInfo(code, f"{name} {label}", text.format(name=name), "lower")
    match = _LEVEL_METRIC.match(code)
    if match and match["metric"] in _RETRIEVAL:
        label, text = _RETRIEVAL[match["metric"]]
        level = match["level"]
        if level in LEVEL_DESCRIPTIONS:  # say at which level, for a column heading's tooltip
            text = f"{text} ({level}: {LEVEL_DESCRIPTIONS[level][0]})"
        if match["annotation"]:
            annotation = match["annotation"]
            return MetricInfo(
                code,
                f"{annotation} {match['level']} {label}",
                f"mechanism retrieval: as replicate {label}, a hit being another compound of the same "
                f"{annotation}"
                + (f" ({level}: {LEVEL_DESCRIPTIONS[level][0]})" if level in LEVEL_DESCRIPTIONS else ""),
                "higher",
            )
        return MetricInfo(code, f"{match['level']} {label}", f"replicate retrieval: {text}", "higher")
    return MetricInfo(code, code, "", None)


def metric_level(code: str) -> str | None:
    """Return the evaluation level of a retrieval column (``MoA_NSS_top1``: ``NSS``), None for others."""
    if code.endswith("_consistency_map"):
        return None
    match = _LEVEL_METRIC.match(code)
    return match["level"] if match and match["metric"] in _RETRIEVAL else None


def level_glossary(scenarios: Mapping[str, Sequence[str]]) -> list[GlossaryEntry]:
    """Return one glossary entry per evaluation level, saying which candidates it leaves out.

    Args:
        scenarios: Level -> metadata columns a candidate must differ on from its query
            (``reporting.retrieval.scenarios``).

    Returns:
        Entries in the order of ``scenarios``; a level without a known name is described by its columns.
    """
    entries = []
    for level, columns in scenarios.items():
        name, text = LEVEL_DESCRIPTIONS.get(level, (level, "a level of this run's configuration"))
        differ = (
            ", ".join(str(c).removeprefix("Metadata_") for c in columns) or "nothing but the query itself"
        )
        entries.append(GlossaryEntry(level, name, f"{text} (a candidate must differ on: {differ})"))
    return entries


def metric_glossary(codes: Sequence[str]) -> list[GlossaryEntry]:
    """Return one glossary entry per metric kind among ``codes`` (``top1``, ``map``, batch scores, ...).

    Levels are explained by :func:`level_glossary`, so ``NSS_top1`` and ``NR_top1`` share the ``top-1``
    entry; mechanism, batch and consistency columns get their own.
    """
    entries: dict[str, GlossaryEntry] = {}
    for code in codes:
        match = _LEVEL_METRIC.match(code)
        if match and match["metric"] in _RETRIEVAL and not match["annotation"]:
            label, text = _RETRIEVAL[match["metric"]]
            entries.setdefault(label, GlossaryEntry(label, f"replicate retrieval {label}", text))
            continue
        info = describe_metric(code)
        if not info.description:
            continue
        if match and match["annotation"]:  # one entry per annotation and metric, levels aside
            label = _RETRIEVAL[match["metric"]][0]
            key = f"{match['annotation']} {label}"
            entries.setdefault(key, GlossaryEntry(key, f"mechanism retrieval {label}", info.description))
            continue
        entries.setdefault(info.label, GlossaryEntry(info.label, info.label, info.description))
    return list(entries.values())
