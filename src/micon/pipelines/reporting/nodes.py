"""Nodes of the reporting pipeline: profiles, normalisation, evaluation, comparison, plots, HTML report."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from micon import schema
from micon.errors import MissingColumnsError
from micon.evaluation import (
    NormalizationConfig,
    RetrievalConfig,
    aggregate_to_wells,
    build_comparison_table,
    evaluate_batch_effects,
    evaluate_consistency,
    evaluate_mechanism_retrieval,
    evaluate_profiles,
    format_markdown_table,
    normalize_profiles,
    plot_embedding_maps,
    plot_map_distributions,
    plot_retrieval_comparison,
    plot_topk_curves,
    plot_training_history,
    project_profiles,
    reference_well_profiles,
)
from micon.evaluation.diagnostics import embedding_rank
from micon.evaluation.glossary import FLOOR_METHODS
from micon.evaluation.report_content import ReportConfig, ReportInputs, build_report
from micon.evaluation.statistics import (
    IntervalConfig,
    average_over_seeds,
    compound_scores,
    summarise_intervals,
    with_intervals,
)
from micon.models import load_model
from micon.models.diagnostics import generator_sensitivity
from micon.models.molecule_encoder import featurize_molecules
from micon.provenance import run_provenance
from micon.quarantine import summarise_quarantines
from micon.runs import current_run

logger = logging.getLogger(__name__)


def reference_profiles(well_table: pd.DataFrame, crop_index: pd.DataFrame) -> pd.DataFrame:
    """Profile a source's well-level reference (the known truth) on the wells a method is scored on."""
    return reference_well_profiles(well_table, crop_index)


def record_run_provenance(comparison_table: pd.DataFrame) -> dict[str, Any]:
    """Record the commit and command of the run that made ``comparison_table`` (saved with its version).

    Takes the table only so that it runs after it: the two are saved under the run's one save version,
    which is how ``micon.render_tables`` pairs them.
    """
    run = current_run()
    # The run id (micon.runs) names the outputs, training folders and MLflow run; None outside kedro run.
    record = {"run_id": run.run_id if run is not None else None, **run_provenance(root=Path.cwd())}
    record["rows"] = len(comparison_table)
    logger.info("run provenance: commit %s%s", record["commit"], " (dirty)" if record["dirty"] else "")
    return record


def aggregate_wells(crop_embeddings: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """Aggregate crop embeddings to one profile per well (crop -> site -> well when configured)."""
    profiles = aggregate_to_wells(crop_embeddings, **params)
    logger.info("aggregated %d crops to %d wells", len(crop_embeddings), len(profiles))
    return profiles


def normalize_wells(
    well_profiles: pd.DataFrame, params: dict[str, Any], *, chain: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply the normalisation chain named ``chain``; also return its per-step feature counts."""
    return normalize_profiles(well_profiles, NormalizationConfig(**params), chain=chain)


def evaluate_retrieval(
    normalized_profiles: pd.DataFrame, params: dict[str, Any]
) -> tuple[dict[str, dict[str, float]], pd.DataFrame, pd.DataFrame]:
    """Score replicate retrieval (top-k, mAP, fraction retrieved) per level (NR, NSB, NSS, NSL, ...)."""
    summary, topk, compound_map = evaluate_profiles(normalized_profiles, RetrievalConfig(**params))
    for level, scores in summary.items():
        logger.info("%s: %s", level, ", ".join(f"{k}={v:.3f}" for k, v in scores.items()))
    return summary, topk, compound_map


def score_compounds(
    normalized_profiles: pd.DataFrame, compound_map: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    """Return the per-compound scores behind the chain's headline top-1 and mAP (the unit of resampling)."""
    return compound_scores(normalized_profiles, compound_map, RetrievalConfig(**params))


def summarise_uncertainty(
    params: dict[str, Any],
    *score_tables: pd.DataFrame,
    runs: dict[str, dict[int | None, str]],
    chains: Sequence[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return every (method, chain, metric)'s interval and MICON's paired differences against each peer.

    ``runs`` maps each method to its runs (seed -> run name; ``{None: method}`` for one unseeded run);
    ``score_tables`` holds each run's per-compound scores per chain, run-major in that order.
    """
    names = [run for per_seed in runs.values() for run in per_seed.values()]
    tables = _by_method_and_chain(names, chains, score_tables)
    scores = {
        method: {seed: tables[run] for seed, run in per_seed.items()} for method, per_seed in runs.items()
    }
    intervals, differences = summarise_intervals(scores, IntervalConfig(**params))
    logger.info("paired differences (micon - peer):\n%s", differences.to_string(index=False))
    return intervals, differences


def diagnose_embedding(well_profiles: pd.DataFrame) -> dict[str, float]:
    """Return the effective rank of a run's well profiles (before normalisation; ``embedding_rank``)."""
    return embedding_rank(well_profiles)


def diagnose_generator(
    model_checkpoint: dict[str, Any], crop_embeddings: pd.DataFrame, params: dict[str, Any]
) -> dict[str, float]:
    """Probe a MICON checkpoint's generator with drawn DMSO crop embeddings and treated compounds.

    The controls are the run's own embeddings of DMSO crops (what the generator is given in
    training: one plate-matched DMSO crop), ``params["n_controls"]`` drawn with ``params["seed"]``;
    the molecules are ``params["n_molecules"]`` compounds drawn from the treated crops' standardised
    SMILES (``micon.models.diagnostics.generator_sensitivity``).
    """
    model = load_model(model_checkpoint)
    columns = schema.embedding_columns(model.embedding_dim)
    missing = [c for c in (*columns, schema.IS_CONTROL, schema.STANDARD_SMILES) if c not in crop_embeddings]
    if missing:
        raise MissingColumnsError(f"crop embeddings for the generator probe lack {missing[:5]}")
    rng = np.random.default_rng(params["seed"])
    is_control = crop_embeddings[schema.IS_CONTROL].astype(bool).to_numpy()
    controls = crop_embeddings.loc[is_control, columns].to_numpy(dtype=np.float32)
    controls = controls[np.sort(rng.permutation(len(controls))[: params["n_controls"]])]
    compounds = np.unique(crop_embeddings.loc[~is_control, schema.STANDARD_SMILES].astype(str))
    compounds = compounds[np.sort(rng.permutation(len(compounds))[: params["n_molecules"]])]
    scores = generator_sensitivity(
        model, torch.from_numpy(controls), featurize_molecules(list(compounds), model.config.molecule)
    )
    logger.info("generator sensitivity: %s", scores)
    return scores


def collect_diagnostics(
    *per_run: dict[str, float], runs: Sequence[tuple[str, str, int | None]], probed: Sequence[str]
) -> pd.DataFrame:
    """Return one row per run: its method and seed, effective rank, and (MICON) generator sensitivity.

    ``per_run`` holds each run's ``diagnose_embedding`` output in the order of ``runs`` (name, method,
    seed), then the ``diagnose_generator`` output of each run of ``probed``, in that order.
    """
    ranks = _by_method([name for name, _, _ in runs], per_run[: len(runs)])
    sensitivity = _by_method(list(probed), per_run[len(runs) :])
    rows = [
        {"run": name, "method": method, "seed": seed, **ranks[name], **sensitivity.get(name, {})}
        for name, method, seed in runs
    ]
    return pd.DataFrame(rows)


def evaluate_mechanism(
    normalized_profiles: pd.DataFrame, params: dict[str, Any]
) -> dict[str, dict[str, dict[str, float]]]:
    """Score retrieval of other compounds of the same MoA / target where annotated (else ``{}``)."""
    return evaluate_mechanism_retrieval(normalized_profiles, RetrievalConfig(**params))


def evaluate_batch_effects_before_after(
    well_profiles: pd.DataFrame, normalized_profiles: pd.DataFrame, params: dict[str, Any]
) -> dict[str, dict[str, float]]:
    """Measure how much source and batch remain, before and after normalisation."""
    config = RetrievalConfig(**params)
    return {
        "before": evaluate_batch_effects(well_profiles, config),
        "after": evaluate_batch_effects(normalized_profiles, config),
    }


def evaluate_annotation_consistency(
    normalized_profiles: pd.DataFrame, params: dict[str, Any]
) -> dict[str, dict[str, float]]:
    """Score MoA / target consistency where the profiles carry annotation columns (else ``{}``)."""
    return evaluate_consistency(normalized_profiles, RetrievalConfig(**params))


def project_wells(
    well_profiles: pd.DataFrame, normalized_profiles: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    """Project the wells to 2-D (PCA, UMAP) before and after normalisation."""
    return project_profiles({"before": well_profiles, "after": normalized_profiles}, **params)


def plot_embedding_map(embedding_coordinates: pd.DataFrame) -> Figure:
    """Plot the 2-D maps coloured by compound and by source."""
    return plot_embedding_maps(embedding_coordinates)


# The headline metrics of retrieval_metrics.json; every k stays in each method's topk_accuracy table.
HEADLINE_METRICS: tuple[str, ...] = (
    "top1",
    "top5",
    "map",
    "map_above_chance",
    "fraction_retrieved",
    "n_queries",
)

# The chains batch effects are reported for: the raw chain's are the "before" scores, the default's "after".
BATCH_EFFECT_CHAINS: dict[str, str] = {"raw": "before", "default": "after"}
# The chain annotation consistency, batch effects (after) and the 2-D maps are computed on.
DEFAULT_CHAIN = "default"

# The per-run outputs the HTML report shows, in the order write_html_report takes them: the default
# chain's top-k curves, compound mAPs and step log, and the 2-D maps.
REPORTED_OUTPUTS: tuple[str, ...] = (
    f"{DEFAULT_CHAIN}.topk_accuracy",
    f"{DEFAULT_CHAIN}.compound_map",
    f"{DEFAULT_CHAIN}.normalization_log",
    "embedding_coordinates",
)


def bundle_run_outputs(*values: Any, fields: Sequence[str]) -> dict[str, Any]:
    """Gather one run's evaluation outputs into one mapping, field name -> value (``default.compound_map``).

    The run's namespace then hands the comparison one dataset instead of a dozen, so kedro-viz collapses
    each run (method or seed) into one box with one arrow out, as modeling's namespaces collapse.
    """
    return dict(zip(fields, values, strict=True))


@dataclass(frozen=True)
class Gathered:
    """Outputs read from every run's bundle, field-major: each field of ``fields`` for each run in turn.

    Attributes:
        fields: Field names of the bundle (``("raw.x", "default.x", "recipe.x")``), read run by run and,
            within a run, in this order.
        optional: Runs whose bundle lacks the fields are skipped (the generator probe: MICON runs only);
            otherwise a missing field is an error.
    """

    fields: tuple[str, ...]
    optional: bool = False


def gather_run_evaluations(*bundles: dict[str, Any], runs: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Gather the runs' bundles (:func:`bundle_run_outputs`) into one mapping, run name -> bundle, in order.

    Every comparison node then reads one dataset (kedro-viz: one arrow from the runs into each).
    """
    return dict(zip(runs, bundles, strict=True))


def from_run_evaluations(
    func: Callable[..., Any], *, leading: int, gathered: Sequence[Gathered]
) -> Callable[..., Any]:
    """Return ``func`` called on per-run values taken out of the gathered run evaluations.

    The returned node function takes ``leading`` inputs passed through, then the mapping of
    :func:`gather_run_evaluations` (run -> bundle, in table order), then any further inputs passed
    through; it calls ``func`` with the leading inputs, each :class:`Gathered` group's values in turn (all
    runs of a group before the next group, as ``func`` has always taken them), then the trailing inputs.
    ``func``'s keyword bindings and name are kept (Kedro names nodes and kedro-viz shows code by them).

    Raises:
        KeyError: A bundle lacks a field of a group that is not ``optional`` (names the field and run).
    """

    def gather(*args: Any, **keywords: Any) -> Any:
        head, evaluations, tail = args[:leading], args[leading], args[leading + 1 :]
        values: list[Any] = []
        for group in gathered:
            for run, bundle in evaluations.items():
                missing = [f for f in group.fields if f not in bundle]
                if missing and group.optional:
                    continue
                if missing:
                    raise KeyError(f"run {run!r}: its bundle has no {missing}; it has {sorted(bundle)}")
                values.extend(bundle[f] for f in group.fields)
        return func(*head, *values, *tail, **keywords)

    target = getattr(func, "func", func)  # a partial from bind_keywords
    gather.__name__ = getattr(func, "__name__", target.__name__)
    gather.__qualname__ = getattr(func, "__qualname__", target.__qualname__)
    gather.__doc__ = func.__doc__
    gather.__module__ = target.__module__
    return gather


def _by_method(methods: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    """Zip per-method values (one per method, in order) to the method names."""
    return dict(zip(methods, values, strict=True))


def _by_method_and_chain(methods: Sequence[str], chains: Sequence[str], values: Sequence[Any]) -> dict:
    """Nest values given method-major (each method's chains in order) as ``{method: {chain: value}}``."""
    if len(values) != len(methods) * len(chains):
        raise ValueError(
            f"expected {len(methods)} methods x {len(chains)} chains = {len(methods) * len(chains)} "
            f"values, got {len(values)}"
        )
    n = len(chains)
    return {m: dict(zip(chains, values[i * n : (i + 1) * n], strict=True)) for i, m in enumerate(methods)}


def collect_retrieval_metrics(
    *summaries: dict[str, dict[str, float]], methods: Sequence[str], chains: Sequence[str]
) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """Gather every method's headline scores per chain into ``{method: {chain: {level: {metric: value}}}}``.

    ``summaries`` holds one retrieval summary per method and chain, method-major (each method's chains
    in the order of ``chains``).
    """
    return {
        method: {
            chain: {
                level: {metric: scores[metric] for metric in HEADLINE_METRICS}
                for level, scores in summary.items()
            }
            for chain, summary in per_chain.items()
        }
        for method, per_chain in _by_method_and_chain(methods, chains, summaries).items()
    }


def compare_methods(
    retrieval_metrics: dict[str, dict[str, dict[str, dict[str, float]]]],
    metric_intervals: pd.DataFrame,
    *per_method: dict[str, Any],
    methods: Sequence[str],
    chains: Sequence[str],
    runs: dict[str, Sequence[str]] | None = None,
) -> tuple[pd.DataFrame, str]:
    """Build the one comparison table, a row per (method, chain) (CSV), and its Markdown rendering.

    ``methods`` are the evaluated runs (a method's namespace, or ``<method>_seed<k>`` per seed).
    ``per_method`` holds every run's mechanism summaries (run-major, each run's chains in the
    order of ``chains``), then every run's batch effects, then every run's consistency scores
    (each in the order of ``methods``). Batch effects fill the ``raw`` row (before) and the
    ``default`` row (after); consistency the ``default`` row. The runs of a method (``runs``: method ->
    run names; None: each run is its own method) are averaged into one row (``n_seeds``), and each
    metric of ``metric_intervals`` gets ``{metric}_ci_low`` / ``{metric}_ci_high`` columns (after the
    others, so the leading columns are unchanged).
    """
    n_mechanism = len(methods) * len(chains)
    mechanism = _by_method_and_chain(methods, chains, per_method[:n_mechanism])
    rest = per_method[n_mechanism:]
    n = len(methods)
    batch = _by_method(methods, rest[:n])
    consistency = _by_method(methods, rest[n:])
    table = build_comparison_table(
        retrieval_metrics,
        mechanism=mechanism,
        batch_effects={
            m: {chain: scores[stage] for chain, stage in BATCH_EFFECT_CHAINS.items() if chain in chains}
            for m, scores in batch.items()
        },
        consistency={m: {DEFAULT_CHAIN: scores} for m, scores in consistency.items()},
    )
    table = average_over_seeds(table, runs if runs is not None else {m: [m] for m in methods})
    table = with_intervals(
        table[[c for c in table.columns if c != "n_seeds"] + ["n_seeds"]], metric_intervals
    )
    logger.info("comparison of %d methods x chains:\n%s", len(table), table.to_string(index=False))
    return table, format_markdown_table(table)


def plot_retrieval(retrieval_metrics: dict[str, dict[str, dict[str, dict[str, float]]]]) -> Figure:
    """Plot top-1 accuracy and mAP per level, one bar per method and chain (``method/chain``)."""
    return plot_retrieval_comparison(
        {
            f"{method}/{chain}": levels
            for method, per_chain in retrieval_metrics.items()
            for chain, levels in per_chain.items()
        }
    )


def plot_topk(*topk_tables: pd.DataFrame, methods: Sequence[str]) -> Figure:
    """Plot top-k accuracy against k per level, one line per method (tables in the order of ``methods``)."""
    return plot_topk_curves(_by_method(methods, topk_tables))


def plot_map_distribution(*compound_maps: pd.DataFrame, methods: Sequence[str]) -> Figure:
    """Plot the per-compound mAP distribution per level, one box per method (in the order of ``methods``)."""
    return plot_map_distributions(_by_method(methods, compound_maps))


def plot_training(training_history: pd.DataFrame) -> Figure:
    """Plot MICON's training losses and learning rate against the step."""
    return plot_training_history(training_history, title="MICON")


def summarise_quarantine_tables(**quarantines: pd.DataFrame) -> pd.DataFrame:
    """Count quarantined items per stage and reason across the pipeline."""
    summary = summarise_quarantines(quarantines)
    logger.info("quarantined items:\n%s", summary.to_string(index=False) if len(summary) else "none")
    return summary


def write_html_report(
    comparison_table: pd.DataFrame,
    quarantine_summary: pd.DataFrame,
    parameters: dict[str, Any],
    paired_differences: pd.DataFrame,
    diagnostics: pd.DataFrame,
    run_provenance: dict[str, Any],
    retrieval_metrics: dict[str, Any],
    crop_store: Any,
    crop_index: pd.DataFrame,
    *per_run: pd.DataFrame,
    methods: Sequence[str],
    trained: Sequence[str],
    references: Sequence[str] = (),
) -> str:
    """Render the self-contained HTML report (``micon.evaluation.report_content.build_report``).

    ``per_run`` holds, for each output of :data:`REPORTED_OUTPUTS` in turn, one table per run in the
    order of ``methods``; then the training history of each run of ``trained``. ``parameters`` are the
    reporting parameters (``report``: what the report shows). The report opens with ``run_provenance``'s
    run id (:mod:`micon.runs`) and commit.

    Raises:
        ValueError: ``per_run`` does not hold one table per reported output and run, and one history per
            trained run.
    """
    n = len(methods)
    if len(per_run) != n * len(REPORTED_OUTPUTS) + len(trained):
        raise ValueError(
            f"write_html_report needs {len(REPORTED_OUTPUTS)} x {n} per-run tables "
            f"({list(REPORTED_OUTPUTS)} for {list(methods)}) and the histories of {list(trained)}, "
            f"got {len(per_run)} tables"
        )
    outputs = {
        output: _by_method(methods, per_run[i * n : (i + 1) * n]) for i, output in enumerate(REPORTED_OUTPUTS)
    }
    inputs = ReportInputs(
        comparison=comparison_table,
        differences=paired_differences,
        diagnostics=diagnostics,
        quarantine=quarantine_summary,
        retrieval_metrics=retrieval_metrics,
        histories=_by_method(trained, per_run[n * len(REPORTED_OUTPUTS) :]),
        topk=outputs[f"{DEFAULT_CHAIN}.topk_accuracy"],
        compound_maps=outputs[f"{DEFAULT_CHAIN}.compound_map"],
        normalization_logs=outputs[f"{DEFAULT_CHAIN}.normalization_log"],
        coordinates=outputs["embedding_coordinates"],
        crops=crop_store.crops,
        channels=crop_store.channels,
        crop_index=crop_index,
        run=run_provenance,
        parameters=parameters,
    )
    return build_report(
        inputs,
        ReportConfig(**parameters["report"]),
        chain=DEFAULT_CHAIN,
        references=references,
        floors=[m for m in FLOOR_METHODS if m in methods],
    )
