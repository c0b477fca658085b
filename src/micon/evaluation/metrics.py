"""Evaluate well profiles: replicate and mechanism retrieval per level, batch effects, consistency."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from micon import schema
from micon.errors import InvalidConfigError, InvalidInputError
from micon.evaluation._checks import control_mask, require_metadata
from micon.evaluation.batch_effects import measure_batch_effects
from micon.evaluation.consistency import annotation_map
from micon.evaluation.layout import assign_plate_layouts
from micon.evaluation.neighbours import NeighbourSearchConfig
from micon.evaluation.replicability import replicate_map_at_levels, summarise_replicability
from micon.evaluation.retrieval import retrieve_mechanism, retrieve_replicates_at_levels, summarise_retrieval

logger = logging.getLogger(__name__)

TOPK_COLUMNS: tuple[str, ...] = ("scenario", "k", "accuracy")


@dataclass(frozen=True, kw_only=True)
class RetrievalConfig:
    """How well profiles are evaluated.

    Attributes:
        scenarios: Scenario name -> metadata columns a candidate (or mAP positive) must differ on from
            its query; ``()`` excludes only the query itself (NR).
        ks: Top-k cut-offs, each >= 1 (stored sorted, without repeats).
        null_size: Permutations per copairs null distribution, >= 1.
        threshold: Corrected p-value below which a compound counts as retrieved, in (0, 1).
        seed: Seed of the copairs null distributions.
        splits: ``schema.SPLIT`` values whose treated wells are evaluated, together as one pool.
        negatives_same_plate: mAP ranks each well against the DMSO wells of its own plate (the JUMP
            recipe) if True, against every evaluated DMSO well if False.
        null_cache_dir: Folder where copairs caches null distributions; None for copairs' default
            (``~/.copairs``).
        batch_columns: Metadata columns whose remaining effect is measured (kNN accuracy, silhouette).
        batch_knn_k: Neighbours of the batch kNN vote, >= 1.
        annotation_columns: Annotation columns (MoA, target) scored by consistency mAP and mechanism
            retrieval where present.
        mechanism_scenarios: Scenarios (keys of ``scenarios``) at which mechanism retrieval is scored.
        split_scenarios: Scenarios (keys of ``scenarios``) whose per-compound scores are also broken down
            by the query's split when several splits are evaluated (``statistics.compound_scores``):
            top-1 per split, and mAP of the held-out compounds. Empty: no breakdown.
        search: Nearest-neighbour search of retrieval and the batch kNN (exact, projected, HNSW or auto); a
            mapping of ``NeighbourSearchConfig`` fields is converted.
        silhouette_sample_size: Wells drawn (seeded by ``seed``) for the batch silhouette, which is
            then an estimate; None for every well. >= 2.
    """

    scenarios: Mapping[str, tuple[str, ...]]
    ks: tuple[int, ...]
    null_size: int
    threshold: float
    seed: int
    splits: tuple[str, ...]
    negatives_same_plate: bool
    null_cache_dir: str | None
    batch_columns: tuple[str, ...]
    batch_knn_k: int
    annotation_columns: tuple[str, ...]
    mechanism_scenarios: tuple[str, ...]
    split_scenarios: tuple[str, ...]
    search: NeighbourSearchConfig
    silhouette_sample_size: int | None

    def __post_init__(self) -> None:
        if not isinstance(self.scenarios, Mapping) or not self.scenarios:
            raise InvalidConfigError(f"scenarios must be a non-empty mapping, got {self.scenarios!r}")
        scenarios = {}
        for name, columns in self.scenarios.items():
            columns = (columns,) if isinstance(columns, str) else tuple(columns or ())
            bad = [c for c in columns if not str(c).startswith("Metadata_") or c == schema.JCP2022]
            if bad:
                raise InvalidConfigError(
                    f"scenario {name!r}: {bad} are not metadata columns a candidate can differ on"
                )
            scenarios[str(name)] = columns
        object.__setattr__(self, "scenarios", scenarios)

        ks = tuple(self.ks)
        if not ks or any(isinstance(k, bool) or not isinstance(k, int) or k < 1 for k in ks):
            raise InvalidConfigError(f"ks must be integers >= 1, got {list(ks)}")
        object.__setattr__(self, "ks", tuple(sorted(set(ks))))

        if isinstance(self.null_size, bool) or not isinstance(self.null_size, int) or self.null_size < 1:
            raise InvalidConfigError(f"null_size must be an integer >= 1, got {self.null_size!r}")
        if not 0 < self.threshold < 1:
            raise InvalidConfigError(f"threshold must be in (0, 1), got {self.threshold}")
        splits = (self.splits,) if isinstance(self.splits, str) else tuple(self.splits)
        unknown = [s for s in splits if s not in schema.SPLITS]
        if not splits or unknown:
            raise InvalidConfigError(
                f"splits {list(splits)} must be a non-empty subset of {list(schema.SPLITS)}"
            )
        object.__setattr__(self, "splits", splits)
        for name in ("batch_columns", "annotation_columns"):
            columns = getattr(self, name)
            columns = (columns,) if isinstance(columns, str) else tuple(columns or ())
            if any(not str(c).startswith("Metadata_") for c in columns):
                raise InvalidConfigError(f"{name} {list(columns)} must all be Metadata_ columns")
            object.__setattr__(self, name, columns)
        if (
            isinstance(self.batch_knn_k, bool)
            or not isinstance(self.batch_knn_k, int)
            or self.batch_knn_k < 1
        ):
            raise InvalidConfigError(f"batch_knn_k must be an integer >= 1, got {self.batch_knn_k!r}")
        for name in ("mechanism_scenarios", "split_scenarios"):
            value = getattr(self, name)
            chosen = (value,) if isinstance(value, str) else tuple(value or ())
            unknown = [m for m in chosen if m not in scenarios]
            if unknown:
                raise InvalidConfigError(f"{name} {unknown} are not scenarios; scenarios: {list(scenarios)}")
            object.__setattr__(self, name, chosen)
        if isinstance(self.search, Mapping):
            try:
                object.__setattr__(self, "search", NeighbourSearchConfig(**self.search))
            except TypeError as exc:
                raise InvalidConfigError(f"search {dict(self.search)}: {exc}") from exc
        if not isinstance(self.search, NeighbourSearchConfig):
            raise InvalidConfigError(f"search must be a mapping of search settings, got {self.search!r}")
        size = self.silhouette_sample_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 2):
            raise InvalidConfigError(f"silhouette_sample_size must be an integer >= 2 or null, got {size!r}")


def evaluate_profiles(
    profiles: pd.DataFrame, config: RetrievalConfig
) -> tuple[dict[str, dict[str, float]], pd.DataFrame, pd.DataFrame]:
    """Compute top-k replicate retrieval and replicate mAP per scenario on the configured splits.

    Treated wells whose ``schema.SPLIT`` is in ``config.splits`` are the queries and candidates (one
    pool). The DMSO wells on their plates are added whatever their own split (``ood_compound`` has
    no DMSO of its own); they serve only as mAP negatives. A scenario without any eligible replicate
    gets NaN metrics and a logged warning. ``schema.PLATE_LAYOUT`` is derived from the wells
    (``assign_plate_layouts``) when absent; a scenario whose columns are still missing is skipped with
    a logged warning.

    Args:
        profiles: One row per well (normalised, DMSO included): ``schema.SPLIT``, ``schema.IS_CONTROL``,
            ``schema.PLATE_KEY``, ``schema.JCP2022``, the scenario columns and the features.
        config: Scenarios, cut-offs, copairs settings and splits.

    Returns:
        ``(metrics, topk_table, compound_maps)``: ``metrics[scenario]`` = ``{"top{k}" for each k,
        "map", "map_above_chance", "fraction_retrieved", "n_queries"}``; ``topk_table`` has one row per
        scenario and k with columns ``scenario``, ``k``, ``accuracy``; ``compound_maps`` one row per
        scenario and compound: ``scenario``, ``schema.JCP2022``, ``mean_average_precision``,
        ``mean_normalized_average_precision``, ``corrected_p_value``, ``below_corrected_p``.

    Raises:
        InvalidInputError: A configured split has no treated well, or fewer than 2 remain (names them).
        MissingColumnsError: A needed column is absent.
        NoControlsError, InvalidFeaturesError: As raised by ``replicate_map`` / ``retrieve_replicates``.
    """
    if schema.PLATE_LAYOUT not in profiles.columns and schema.WELL in profiles.columns:
        profiles = assign_plate_layouts(profiles)  # from every well, so that a plate's whole map counts
    selected = select_evaluated_wells(profiles, config)
    features = schema.feature_columns(selected.columns)
    controls_same = schema.PLATE_KEY if config.negatives_same_plate else ()

    metrics: dict[str, dict[str, float]] = {}
    rows = []
    map_tables = []
    present = {}
    for scenario, exclude_same in config.scenarios.items():
        missing = [c for c in exclude_same if c not in selected.columns]
        if missing:
            logger.warning("scenario %s skipped: the profiles lack %s", scenario, missing)
        else:
            present[scenario] = exclude_same
    level_hits = retrieve_replicates_at_levels(
        selected, features, levels=present, ks=config.ks, search=config.search
    )
    summaries = {scenario: summarise_retrieval(level_hits[scenario], config.ks) for scenario in present}
    scored = {s: present[s] for s, summary in summaries.items() if summary["n_queries"] > 0}
    level_maps = {}
    if scored:  # copairs mAP for every scored level at once (the DMSO negatives are shared)
        level_maps = replicate_map_at_levels(
            selected,
            features,
            levels=scored,
            controls_same=controls_same,
            null_size=config.null_size,
            threshold=config.threshold,
            seed=config.seed,
            cache_dir=config.null_cache_dir,
        )
    for scenario, summary in summaries.items():
        if scenario in level_maps:
            map_table = level_maps[scenario][1]
            replicability = summarise_replicability(map_table)
            map_tables.append(map_table[list(MAP_TABLE_COLUMNS[1:])].assign(scenario=scenario))
        else:
            logger.warning(
                "scenario %s: no treated well has an eligible replicate; metrics are NaN", scenario
            )
            replicability = {
                "map": float("nan"),
                "map_above_chance": float("nan"),
                "fraction_retrieved": float("nan"),
            }
        n_queries = summary.pop("n_queries")
        metrics[scenario] = {**summary, **replicability, "n_queries": n_queries}
        rows.extend((scenario, k, summary[f"top{k}"]) for k in config.ks)
        logger.info("scenario %s: %s", scenario, metrics[scenario])
    topk_table = pd.DataFrame(rows, columns=list(TOPK_COLUMNS))
    topk_table["k"] = topk_table["k"].astype(np.int64)
    topk_table["accuracy"] = topk_table["accuracy"].astype(np.float64)
    if map_tables:
        compound_maps = pd.concat(map_tables, ignore_index=True)[list(MAP_TABLE_COLUMNS)]
    else:
        compound_maps = pd.DataFrame({c: pd.Series(dtype=object) for c in MAP_TABLE_COLUMNS})
    return metrics, topk_table, compound_maps


MAP_TABLE_COLUMNS: tuple[str, ...] = (
    "scenario",
    schema.JCP2022,
    "mean_average_precision",
    "mean_normalized_average_precision",
    "corrected_p_value",
    "below_corrected_p",
    "evaluable",
    "not_evaluable_reason",
)


def evaluate_batch_effects(profiles: pd.DataFrame, config: RetrievalConfig) -> dict[str, float]:
    """Measure how well the evaluated wells (treated and DMSO) are grouped by batch and source.

    Args:
        profiles: As for ``evaluate_profiles``, plus ``config.batch_columns``.
        config: Splits, ``batch_columns``, ``batch_knn_k``, ``search``, ``silhouette_sample_size``
            and ``seed``.

    Returns:
        ``measure_batch_effects``' scores (``source_knn_accuracy``, ``source_silhouette``, ...).

    Raises:
        InvalidInputError, MissingColumnsError, InvalidFeaturesError: As ``evaluate_profiles``.
    """
    selected = select_evaluated_wells(profiles, config)
    return measure_batch_effects(
        selected,
        schema.feature_columns(selected.columns),
        columns=config.batch_columns,
        k=config.batch_knn_k,
        search=config.search,
        silhouette_sample_size=config.silhouette_sample_size,
        seed=config.seed,
    )


def evaluate_consistency(profiles: pd.DataFrame, config: RetrievalConfig) -> dict[str, dict[str, float]]:
    """Score annotation consistency (copairs mAP, other compounds of the same MoA/target) where annotated.

    Args:
        profiles: As for ``evaluate_profiles``; the ``config.annotation_columns`` that exist are scored.
        config: Splits, copairs settings and ``annotation_columns``.

    Returns:
        ``{annotation column: {"map", "fraction_retrieved", "n_groups"}}`` for each present annotation
        column whose values are shared by two compounds; others are skipped with a logged line.

    Raises:
        InvalidInputError, MissingColumnsError, InvalidFeaturesError: As ``evaluate_profiles``.
    """
    present = [c for c in config.annotation_columns if c in profiles.columns]
    absent = [c for c in config.annotation_columns if c not in profiles.columns]
    if absent:
        logger.info("annotation consistency skipped for absent column(s) %s", absent)
    if not present:
        return {}
    selected = select_evaluated_wells(profiles, config)
    scores: dict[str, dict[str, float]] = {}
    for column in present:
        annotated = selected[column].notna() & (selected[column].astype(str) != "")
        treated = selected.loc[~selected[schema.IS_CONTROL].astype(bool) & annotated]
        if not (treated.groupby(column)[schema.JCP2022].nunique() >= 2).any():
            logger.warning(
                "annotation consistency skipped for %s: no value is shared by two compounds", column
            )
            continue
        _, map_table = annotation_map(
            selected,
            schema.feature_columns(selected.columns),
            annotation_column=column,
            null_size=config.null_size,
            threshold=config.threshold,
            seed=config.seed,
            cache_dir=config.null_cache_dir,
        )
        scores[column] = {**summarise_replicability(map_table), "n_groups": len(map_table)}
    return scores


def evaluate_mechanism_retrieval(
    profiles: pd.DataFrame, config: RetrievalConfig
) -> dict[str, dict[str, dict[str, float]]]:
    """Score retrieval of another compound of the same annotation (MoA, target) where profiles carry one.

    For each present ``config.annotation_columns`` and each ``config.mechanism_scenarios``: top-k
    accuracy by ``retrieve_mechanism`` and copairs mAP / fraction retrieved by ``annotation_map`` with
    the same exclusions, over the treated wells of ``config.splits`` (DMSO never takes part). An absent
    column, or one whose values are never shared by two compounds, is skipped with a logged line; a
    scenario without any eligible query gets NaN metrics.

    Args:
        profiles: As for ``evaluate_profiles``.
        config: Splits, cut-offs, copairs settings, ``annotation_columns`` and ``mechanism_scenarios``.

    Returns:
        ``{annotation column: {scenario: {"top{k}" for each k, "map", "fraction_retrieved",
        "n_queries"}}}``; ``{}`` when no annotation column is present (JUMP).

    Raises:
        InvalidInputError, MissingColumnsError, InvalidFeaturesError: As ``evaluate_profiles``.
    """
    present = [c for c in config.annotation_columns if c in profiles.columns]
    if not present or not config.mechanism_scenarios:
        logger.info("mechanism retrieval skipped: none of %s present", config.annotation_columns)
        return {}
    selected = select_evaluated_wells(profiles, config)
    features = schema.feature_columns(selected.columns)
    scores: dict[str, dict[str, dict[str, float]]] = {}
    for column in present:
        annotated = selected[column].notna() & (selected[column].astype(str) != "")
        treated = selected.loc[~selected[schema.IS_CONTROL].astype(bool) & annotated]
        if not (treated.groupby(column)[schema.JCP2022].nunique() >= 2).any():
            logger.warning("mechanism retrieval skipped for %s: no value is shared by two compounds", column)
            continue
        scores[column] = {}
        for scenario in config.mechanism_scenarios:
            exclude_same = config.scenarios[scenario]
            if any(c not in selected.columns for c in exclude_same):
                logger.warning("mechanism scenario %s skipped: the profiles lack %s", scenario, exclude_same)
                continue
            hits = retrieve_mechanism(
                selected,
                features,
                annotation_column=column,
                exclude_same=exclude_same,
                ks=config.ks,
                search=config.search,
            )
            summary = summarise_retrieval(hits, config.ks)
            replicability = {"map": float("nan"), "fraction_retrieved": float("nan")}
            if summary["n_queries"] > 0:
                _, map_table = annotation_map(
                    selected,
                    features,
                    annotation_column=column,
                    exclude_same=exclude_same,
                    null_size=config.null_size,
                    threshold=config.threshold,
                    seed=config.seed,
                    cache_dir=config.null_cache_dir,
                )
                replicability = summarise_replicability(map_table)
                replicability.pop("map_above_chance")  # the annotation table has no normalised AP
            n_queries = summary.pop("n_queries")
            scores[column][scenario] = {**summary, **replicability, "n_queries": n_queries}
            logger.info("%s retrieval, %s: %s", column, scenario, scores[column][scenario])
    return scores


def select_evaluated_wells(profiles: pd.DataFrame, config: RetrievalConfig) -> pd.DataFrame:
    """Return the treated wells of ``config.splits`` plus the DMSO wells on their plates.

    Raises:
        InvalidInputError: A configured split has no treated well, or fewer than 2 remain (names them).
        MissingColumnsError: ``schema.SPLIT``, a plate key or ``schema.IS_CONTROL`` is absent.
    """
    table_name = "profiles for evaluation"
    require_metadata(profiles, [schema.SPLIT, *schema.PLATE_KEY], table_name=table_name)
    is_control = control_mask(profiles, table_name=table_name)
    return _select_wells(profiles, is_control, config.splits)


def _select_wells(profiles: pd.DataFrame, is_control: np.ndarray, splits: tuple[str, ...]) -> pd.DataFrame:
    """Return the treated wells of ``splits`` plus the DMSO wells on their plates."""
    split = profiles[schema.SPLIT].astype(str)
    treated = ~is_control
    counts = split[treated].value_counts()
    empty = [s for s in splits if counts.get(s, 0) == 0]
    per_split = {str(k): int(v) for k, v in counts.items()}
    if empty:
        raise InvalidInputError(
            f"split(s) {empty} have no treated well to evaluate; treated wells per split: {per_split}"
        )
    in_split = treated & split.isin(splits).to_numpy()
    if in_split.sum() < 2:
        raise InvalidInputError(
            f"splits {list(splits)} leave {int(in_split.sum())} treated well(s); retrieval needs >= 2"
        )
    plate_ids = pd.MultiIndex.from_frame(profiles[list(schema.PLATE_KEY)].astype(str))
    on_plates = plate_ids.isin(plate_ids[in_split])
    selected = profiles.loc[in_split | (is_control & on_plates)]
    logger.info(
        "evaluating %d treated wells of splits %s with %d DMSO wells on their plates",
        int(in_split.sum()),
        list(splits),
        int((is_control & on_plates).sum()),
    )
    return selected
