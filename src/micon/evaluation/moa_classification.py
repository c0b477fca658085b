"""BBBC021's standard evaluation: 1-NN MoA accuracy of treatment profiles (NSC, NSCB) and replicate mAP.

Treatments are compound x concentration (Ljosa et al. 2013); a treatment's profile is the median (or
mean) of its well profiles. Each labelled treatment is classified by the MoA of its most cosine-similar
other treatment, leaving out candidates of the same compound (NSC, "not same compound") and also those
sharing a batch, i.e. a week, with it (NSCB). Replicate retrieval scores, with copairs, how well a well
finds the wells of its own treatment on other plates among the wells of other compounds.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from micon import schema
from micon.errors import InvalidConfigError, InvalidInputError
from micon.evaluation._checks import require_features, require_metadata

logger = logging.getLogger(__name__)

TREATMENT_KEY: tuple[str, ...] = (schema.JCP2022, schema.CONCENTRATION)
N_WELLS = "n_wells"
PREDICTED_MOA = "predicted_moa"
NEIGHBOUR = "neighbour_compound"
SCENARIO_EXCLUSIONS: dict[str, tuple[str, ...]] = {"NSC": (), "NSCB": (schema.BATCH,)}
_OPERATIONS = ("median", "mean")


@dataclass(frozen=True, kw_only=True)
class MoaEvaluationConfig:
    """How BBBC021 profiles are evaluated.

    Attributes:
        treatment_aggregation: ``"median"`` (Ljosa et al. 2013) or ``"mean"`` of a treatment's wells.
        feature_scaling: ``"standardize"`` z-scores every feature over all wells before aggregating
            (BBBC021 has no DMSO in the PNG subset to normalise against); ``"none"`` keeps them.
        control_compounds: Compound ids left out of the MoA task (DMSO is a control, not an MoA).
        null_size: Permutations per copairs null distribution, >= 1.
        threshold: Corrected p-value below which a treatment counts as retrieved, in (0, 1).
        seed: Seed of the copairs null distributions.
        null_cache_dir: Folder where copairs caches null distributions (None: copairs' default).
    """

    treatment_aggregation: Literal["median", "mean"]
    feature_scaling: Literal["standardize", "none"]
    control_compounds: tuple[str, ...]
    null_size: int
    threshold: float
    seed: int
    null_cache_dir: str | None

    def __post_init__(self) -> None:
        object.__setattr__(self, "control_compounds", tuple(self.control_compounds))
        if self.treatment_aggregation not in _OPERATIONS:
            raise InvalidConfigError(
                f"treatment_aggregation must be one of {list(_OPERATIONS)}, "
                f"got {self.treatment_aggregation!r}"
            )
        if self.feature_scaling not in ("standardize", "none"):
            raise InvalidConfigError(
                f"feature_scaling must be 'standardize' or 'none', got {self.feature_scaling!r}"
            )
        if isinstance(self.null_size, bool) or not isinstance(self.null_size, int) or self.null_size < 1:
            raise InvalidConfigError(f"null_size must be an integer >= 1, got {self.null_size!r}")
        if not 0 < self.threshold < 1:
            raise InvalidConfigError(f"threshold must be in (0, 1), got {self.threshold}")


def scale_features(profiles: pd.DataFrame, feature_columns: Sequence[str]) -> pd.DataFrame:
    """Return ``profiles`` with every feature z-scored over all rows (a constant feature becomes 0)."""
    values = profiles[list(feature_columns)].to_numpy(dtype=np.float64)
    spread = values.std(axis=0)
    scaled = (values - values.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    scaled_table = pd.DataFrame(scaled, columns=list(feature_columns), index=profiles.index)
    return pd.concat([profiles.drop(columns=list(feature_columns)), scaled_table], axis=1)


def treatment_profiles(
    well_profiles: pd.DataFrame,
    feature_columns: Sequence[str],
    *,
    operation: Literal["median", "mean"] = "median",
) -> pd.DataFrame:
    """Aggregate well profiles to one profile per treatment (compound x concentration).

    Args:
        well_profiles: One row per well: ``TREATMENT_KEY``, ``schema.BATCH``, ``schema.MOA`` (may be
            missing) and ``feature_columns``.
        feature_columns: Feature columns; every value finite.
        operation: ``"median"`` or ``"mean"``.

    Returns:
        One row per treatment, sorted by ``TREATMENT_KEY``: the key, ``schema.MOA`` (the first
        non-missing label of its wells), ``schema.BATCH`` (its batches joined by ``"|"``),
        ``n_wells`` and the aggregated features.

    Raises:
        InvalidConfigError: ``operation`` is unknown.
        MissingColumnsError, InvalidInputError, InvalidFeaturesError: A column is absent or missing
            values, or a feature is not finite.
    """
    if operation not in _OPERATIONS:
        raise InvalidConfigError(f"operation must be one of {list(_OPERATIONS)}, got {operation!r}")
    require_metadata(well_profiles, [*TREATMENT_KEY, schema.BATCH], table_name="well profiles")
    require_features(well_profiles, list(feature_columns), table_name="well profiles")
    if schema.MOA not in well_profiles.columns:
        raise InvalidInputError(f"well profiles lack {schema.MOA!r}; it has {list(well_profiles.columns)}")
    grouped = well_profiles.groupby(list(TREATMENT_KEY), sort=True)
    features = getattr(grouped[list(feature_columns)], operation)()
    metadata = grouped.agg(
        **{
            schema.MOA: (schema.MOA, lambda s: s.dropna().iloc[0] if s.notna().any() else pd.NA),
            schema.BATCH: (schema.BATCH, lambda s: "|".join(sorted(s.astype(str).unique()))),
            N_WELLS: (schema.BATCH, "size"),
        }
    )
    return pd.concat([metadata, features], axis=1).reset_index().copy()


def classify_moa(
    treatments: pd.DataFrame, feature_columns: Sequence[str], *, exclude_same_batch: bool
) -> pd.DataFrame:
    """Predict each labelled treatment's MoA as that of its most cosine-similar eligible treatment.

    Candidates are the other labelled treatments of a different compound (NSC); with
    ``exclude_same_batch`` also those sharing no batch with the query (NSCB; ``schema.BATCH`` may list
    several batches joined by ``"|"``). Hand-written: no library offers nearest neighbours with a
    per-pair exclusion rule on metadata; the similarity matrix is treatments x treatments (small).

    Args:
        treatments: From :func:`treatment_profiles`; rows with a missing MoA are ignored.
        feature_columns: Feature columns.
        exclude_same_batch: NSCB if True, NSC if False.

    Returns:
        One row per labelled treatment: ``TREATMENT_KEY``, ``schema.MOA``, ``schema.BATCH``,
        ``predicted_moa`` and ``neighbour_compound`` (missing when no candidate is eligible),
        ``is_answerable`` (an eligible candidate shares its MoA) and ``is_correct``.

    Raises:
        MissingColumnsError, InvalidInputError, InvalidFeaturesError: As for the input checks.
    """
    require_metadata(treatments, [*TREATMENT_KEY, schema.BATCH], table_name="treatment profiles")
    require_features(treatments, list(feature_columns), table_name="treatment profiles")
    labelled = treatments.loc[treatments[schema.MOA].notna()].reset_index(drop=True)
    values = labelled[list(feature_columns)].to_numpy(dtype=np.float64)
    values = values / np.maximum(np.linalg.norm(values, axis=1, keepdims=True), np.finfo(np.float64).tiny)
    similarity = values @ values.T
    compound = labelled[schema.JCP2022].astype(str).to_numpy()
    moa = labelled[schema.MOA].astype(str).to_numpy()
    eligible = compound[:, None] != compound[None, :]
    if exclude_same_batch:
        batches = [set(b.split("|")) for b in labelled[schema.BATCH].astype(str)]
        shares_batch = np.array([[bool(a & b) for b in batches] for a in batches], dtype=bool)
        eligible &= ~shares_batch
    similarity = np.where(eligible, similarity, -np.inf)
    has_candidate = eligible.any(axis=1)
    nearest = np.argmax(similarity, axis=1)
    result = labelled.loc[:, [*TREATMENT_KEY, schema.MOA, schema.BATCH]].copy()
    result[PREDICTED_MOA] = pd.Series(np.where(has_candidate, moa[nearest], None), dtype="string")
    result[NEIGHBOUR] = pd.Series(np.where(has_candidate, compound[nearest], None), dtype="string")
    result["is_answerable"] = (eligible & (moa[:, None] == moa[None, :])).any(axis=1)
    result["is_correct"] = has_candidate & (moa[nearest] == moa)
    return result


def summarise_moa_accuracy(predictions: pd.DataFrame) -> dict[str, float]:
    """Return the 1-NN accuracy over answerable treatments and the query counts.

    A treatment is answerable when an eligible candidate shares its MoA; the rest (e.g. under NSCB the
    MoAs whose compounds all sit in one week, which the literature drops) are counted, not scored.

    Returns:
        ``{"accuracy", "n_queries", "n_unanswerable"}``; accuracy is NaN when nothing is answerable.
    """
    answerable = predictions["is_answerable"].to_numpy(dtype=bool)
    n = int(answerable.sum())
    accuracy = float(predictions.loc[answerable, "is_correct"].mean()) if n else float("nan")
    return {"accuracy": accuracy, "n_queries": n, "n_unanswerable": int((~answerable).sum())}


def replicate_retrieval(
    well_profiles: pd.DataFrame,
    feature_columns: Sequence[str],
    *,
    null_size: int = 10000,
    threshold: float = 0.05,
    seed: int = 0,
    cache_dir: str | None = None,
) -> pd.DataFrame:
    """Score with copairs how well each treatment's wells retrieve one another across plates.

    For every well, the positives are the wells of its treatment (same compound and concentration)
    on other plates, the negatives the wells of other compounds (BBBC021's PNG subset has no DMSO);
    copairs ranks them by cosine similarity, averages the APs per treatment, draws a permutation
    p-value and corrects it by Benjamini-Hochberg.

    Returns:
        One row per treatment with at least one cross-plate replicate: ``TREATMENT_KEY``,
        ``mean_average_precision``, ``corrected_p_value``, ``below_corrected_p``.

    Raises:
        InvalidInputError: No well has a replicate on another plate.
    """
    require_metadata(well_profiles, [*TREATMENT_KEY, schema.PLATE], table_name="well profiles")
    require_features(well_profiles, list(feature_columns), table_name="well profiles")
    from copairs.map import average_precision, mean_average_precision  # noqa: PLC0415 - a nanobind extension, loaded when used (micon.evaluation)

    meta = well_profiles.loc[:, [*TREATMENT_KEY, schema.PLATE]].reset_index(drop=True)
    meta[schema.CONCENTRATION] = meta[schema.CONCENTRATION].astype(str)
    features = well_profiles[list(feature_columns)].to_numpy(dtype=np.float64)
    has_pair = meta.groupby(list(TREATMENT_KEY))[schema.PLATE].transform("nunique") > 1
    if not has_pair.any():
        raise InvalidInputError("no treatment has wells on two plates; replicate retrieval is undefined")
    ap = average_precision(
        meta,
        features,
        pos_sameby=list(TREATMENT_KEY),
        pos_diffby=[schema.PLATE],
        neg_sameby=[],
        neg_diffby=[schema.JCP2022],
        distance="cosine",
        progress_bar=False,
    )
    scored = ap.loc[ap["n_pos_pairs"] > 0].reset_index(drop=True)
    table = mean_average_precision(
        scored,
        sameby=list(TREATMENT_KEY),
        null_size=null_size,
        threshold=threshold,
        seed=seed,
        progress_bar=False,
        cache_dir=cache_dir,
    )
    return table.loc[:, [*TREATMENT_KEY, "mean_average_precision", "corrected_p_value", "below_corrected_p"]]


def evaluate_moa_profiles(
    well_profiles: pd.DataFrame, config: MoaEvaluationConfig
) -> tuple[dict[str, float], pd.DataFrame]:
    """Run BBBC021's evaluation on one method's well profiles.

    Control compounds (``config.control_compounds``) are dropped first; features are scaled as
    configured; treatments are classified under NSC and NSCB; wells are scored for replicate retrieval.

    Args:
        well_profiles: One row per well: ``schema.WELL_KEY``, ``TREATMENT_KEY``, ``schema.BATCH``,
            ``schema.MOA`` and features (every non-``Metadata_*`` column).
        config: Aggregation, scaling and copairs settings.

    Returns:
        ``(metrics, predictions)``: ``metrics`` = ``{"NSC", "NSCB"}`` accuracies,
        ``"NSC_n_queries"``, ``"NSCB_n_queries"``, ``"NSCB_n_unanswerable"``, ``"replicate_map"``,
        ``"replicate_fraction_retrieved"``, ``"n_treatments"``, ``"n_wells"``; ``predictions`` has
        one row per scenario and labelled treatment (``scenario`` column + :func:`classify_moa`'s).

    Raises:
        InvalidInputError: No treated well is left after dropping the controls.
    """
    profiles = well_profiles.loc[~well_profiles[schema.JCP2022].isin(config.control_compounds)]
    if profiles.empty:
        raise InvalidInputError(f"no well left after dropping the controls {list(config.control_compounds)}")
    features = schema.feature_columns(profiles.columns)
    if config.feature_scaling == "standardize":
        profiles = scale_features(profiles, features)
    treatments = treatment_profiles(profiles, features, operation=config.treatment_aggregation)
    metrics: dict[str, float] = {}
    tables = []
    for scenario, exclusions in SCENARIO_EXCLUSIONS.items():
        predictions = classify_moa(treatments, features, exclude_same_batch=schema.BATCH in exclusions)
        summary = summarise_moa_accuracy(predictions)
        metrics[scenario] = summary["accuracy"]
        metrics[f"{scenario}_n_queries"] = summary["n_queries"]
        metrics[f"{scenario}_n_unanswerable"] = summary["n_unanswerable"]
        tables.append(predictions.assign(scenario=scenario))
    retrieval = replicate_retrieval(
        profiles,
        features,
        null_size=config.null_size,
        threshold=config.threshold,
        seed=config.seed,
        cache_dir=config.null_cache_dir,
    )
    metrics["replicate_map"] = float(retrieval["mean_average_precision"].mean())
    metrics["replicate_fraction_retrieved"] = float(retrieval["below_corrected_p"].astype(bool).mean())
    metrics["n_treatments"] = len(treatments)
    metrics["n_wells"] = len(profiles)
    logger.info("BBBC021 evaluation: %s", metrics)
    return metrics, pd.concat(tables, ignore_index=True)
