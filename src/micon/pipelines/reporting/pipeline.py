"""Wiring of the reporting pipeline."""

from collections.abc import Sequence

from kedro.pipeline import Node, Pipeline

from micon.errors import UnknownNameError
from micon.pipelines.per_method import (
    Run,
    bind_keywords,
    pipeline_per_method,
    pipeline_per_run,
    resolve_methods,
    runs_of,
)
from micon.training.methods import get_method

from .nodes import (
    DEFAULT_CHAIN,
    REPORTED_OUTPUTS,
    Gathered,
    aggregate_wells,
    bundle_run_outputs,
    collect_diagnostics,
    collect_retrieval_metrics,
    compare_methods,
    diagnose_embedding,
    diagnose_generator,
    evaluate_annotation_consistency,
    evaluate_batch_effects_before_after,
    evaluate_mechanism,
    evaluate_retrieval,
    from_run_evaluations,
    gather_run_evaluations,
    normalize_wells,
    plot_embedding_map,
    plot_map_distribution,
    plot_retrieval,
    plot_topk,
    plot_training,
    project_wells,
    record_run_provenance,
    reference_profiles,
    score_compounds,
    summarise_quarantine_tables,
    summarise_uncertainty,
    write_html_report,
)

QUARANTINES: tuple[str, ...] = (
    "standardization_quarantine",
    "well_join_quarantine",
    "site_join_quarantine",
    "well_image_quarantine",
    "crop_extraction_quarantine",
    "cell_features_quarantine",
)

# The chain slots every method is evaluated under; each reads its steps from
# reporting.normalization.chains.<slot> (conf/base/parameters_reporting.yml).
CHAINS: tuple[str, ...] = ("raw", DEFAULT_CHAIN, "recipe")

_PER_METHOD_PARAMETERS: tuple[str, ...] = (
    "params:reporting.aggregation",
    "params:reporting.normalization",
    "params:reporting.retrieval",
    "params:reporting.projection",
)


def _chain_pipeline(chain: str) -> Pipeline:
    """Normalise the well profiles with one chain and score replicate and mechanism retrieval on them."""
    return Pipeline(
        [
            Node(
                bind_keywords(normalize_wells, chain=chain),
                ["well_profiles", "params:reporting.normalization"],
                ["normalized_profiles", "normalization_log"],
                name="normalize_wells",
            ),
            Node(
                evaluate_retrieval,
                ["normalized_profiles", "params:reporting.retrieval"],
                ["retrieval_summary", "topk_accuracy", "compound_map"],
                name="evaluate_retrieval",
            ),
            Node(
                evaluate_mechanism,
                ["normalized_profiles", "params:reporting.retrieval"],
                "mechanism_summary",
                name="evaluate_mechanism",
            ),
            Node(
                score_compounds,
                ["normalized_profiles", "compound_map", "params:reporting.retrieval"],
                "compound_scores",
                name="score_compounds",
            ),
        ],
        namespace=chain,
        inputs={"well_profiles"},
        parameters={"params:reporting.normalization", "params:reporting.retrieval"},
    )


# References: rows scored beside the methods whose well profiles a source provides directly (no crops),
# by name -> the dataset holding them. Only the synthetic screen knows its truth (compositions.py).
REFERENCES: dict[str, str] = {"known_truth": "synthetic_well_truth"}


# The dataset in each run's namespace that bundles its outputs for the comparison (``micon.evaluation``),
# and the one gathering every run's bundle for the comparison nodes.
BUNDLE = "evaluation"
GATHERED = "run_evaluations"


def is_regrouping(name: str) -> bool:
    """Whether a dataset only regroups outputs that are written under their own names (held in memory).

    The run bundles and their gathering are declared as in-memory datasets in conf/base/catalog.yml:
    writing them would store every evaluation output a second time.
    """
    return name == GATHERED or name.endswith(f".{BUNDLE}")


def _bundle_pipeline(evaluated: Pipeline, rows: Sequence[str], wanted: Sequence[str]) -> Pipeline:
    """One node per row gathering the row's outputs into ``<row>.evaluation`` (:func:`bundle_run_outputs`).

    A row's bundle holds what the comparison reads (``wanted``, plus the generator probe where the row
    has one) and every other output nothing in the row reads (the other chains' logs and top-k tables),
    so that in kedro-viz each run's namespace has one dataset out, besides its figure
    (``embedding_map_plot``: figures are written, never loaded back).
    """
    bundles = []
    for row in rows:
        prefix = f"{row}."
        nodes = [n for n in evaluated.nodes if n.name.startswith(prefix)]
        produced = {o for n in nodes for o in n.outputs}
        read = {i for n in nodes for i in n.inputs}
        local = {o.removeprefix(prefix) for o in produced}
        free = {o.removeprefix(prefix) for o in produced - read}
        fields = sorted((free | (set(wanted) & local)) - {f for f in local if f.endswith("_plot")})
        missing = sorted(set(wanted) - local)
        if missing:
            raise ValueError(f"run {row!r} produces none of {missing}, which the comparison reads")
        bundles.append(
            Pipeline(
                [
                    Node(
                        bind_keywords(bundle_run_outputs, fields=tuple(fields)),
                        list(fields),
                        BUNDLE,
                        name="bundle_run_outputs",
                    )
                ],
                namespace=row,
            )
        )
    return sum(bundles, Pipeline([]))


def _probes_generator(method: str) -> bool:
    """Whether a method's model has a generator to probe (MICON)."""
    return "generator" in get_method(method).model_parts


def create_pipeline(
    methods: Sequence[str] | None = None,
    references: Sequence[str] = (),
    seeds: Sequence[int] | None = None,
    **kwargs,
) -> Pipeline:
    """Create the pipeline from crop embeddings to metrics, the comparison table, plots and HTML report.

    Per method (per run with seeds): well profiles, then per chain of ``CHAINS`` (a namespace inside the
    method's) the normalised profiles, their replicate and mechanism retrieval and per-compound scores
    (``<method>.<chain>.*``); batch effects, annotation consistency and the 2-D maps on the default
    chain; the embedding diagnostics (and, for MICON, the generator probe, which reads the run's
    ``model_checkpoint``). Then the comparison table with 95% intervals (over compounds; across seeds
    for seeded methods), ``metric_intervals``, ``paired_differences`` (MICON minus each peer),
    ``diagnostics`` and the HTML report.

    Args:
        methods: Methods whose ``{method}.crop_embeddings`` are profiled, in the order of the tables;
            None: every method of the registry (``micon.training.methods``: trained, untrained and
            features such as ``cellprofiler``, whose crop embeddings data_engineering writes) when this
            is called.
        references: Names of :data:`REFERENCES` scored beside the methods, first in every table (the
            synthetic screen's ``known_truth``): their well profiles are built from the source's
            well-level table on the wells that have crops, then evaluated exactly like a method's.
        seeds: The seeds modeling trained (``modeling.create_pipeline(seeds=...)``): each trained
            method's runs ``<method>_seed<k>`` are evaluated, then gathered into one comparison row per
            (method, chain) (mean over seeds, t interval across seeds). None: one run per method.
        **kwargs: Ignored (Kedro's ``find_pipelines`` passes none).

    Raises:
        UnknownNameError: A method is not registered.
    """
    methods = resolve_methods(methods)
    unknown = [r for r in references if r not in REFERENCES]
    if unknown:
        raise UnknownNameError(f"unknown reference(s) {unknown}; known: {sorted(REFERENCES)}")
    default_profiles = f"{DEFAULT_CHAIN}.normalized_profiles"
    evaluate = Pipeline(
        [
            *(_chain_pipeline(chain) for chain in CHAINS),
            Node(
                evaluate_batch_effects_before_after,
                ["well_profiles", default_profiles, "params:reporting.retrieval"],
                "batch_effects",
                name="evaluate_batch_effects_before_after",
            ),
            Node(
                evaluate_annotation_consistency,
                [default_profiles, "params:reporting.retrieval"],
                "consistency",
                name="evaluate_annotation_consistency",
            ),
            Node(
                project_wells,
                ["well_profiles", default_profiles, "params:reporting.projection"],
                "embedding_coordinates",
                name="project_wells",
            ),
            Node(
                plot_embedding_map, "embedding_coordinates", "embedding_map_plot", name="plot_embedding_map"
            ),
        ]
    )
    aggregate = Node(
        aggregate_wells,
        ["crop_embeddings", "params:reporting.aggregation"],
        "well_profiles",
        name="aggregate_wells",
    )
    diagnose = Node(diagnose_embedding, "well_profiles", "embedding_diagnostics", name="diagnose_embedding")
    runs = runs_of(methods, seeds)
    method_runs = [run for method in methods for run in runs[method]]
    evaluated = pipeline_per_run(
        Pipeline([aggregate, diagnose]) + evaluate, method_runs, parameters=_PER_METHOD_PARAMETERS
    )
    probed = [run for run in method_runs if _probes_generator(run.method)]
    evaluated += pipeline_per_run(
        Pipeline(
            [
                Node(
                    diagnose_generator,
                    ["model_checkpoint", "crop_embeddings", "params:reporting.diagnostics"],
                    "generator_diagnostics",
                    name="diagnose_generator",
                )
            ]
        ),
        probed,
        parameters=("params:reporting.diagnostics",),
    )
    for reference in references:
        build = Node(
            reference_profiles,
            [REFERENCES[reference], "crop_index"],
            "well_profiles",
            name="reference_profiles",
        )
        evaluated += pipeline_per_method(
            Pipeline([build, diagnose]) + evaluate,
            [reference],
            inputs=(REFERENCES[reference], "crop_index"),
            parameters=[p for p in _PER_METHOD_PARAMETERS if p != "params:reporting.aggregation"],
        )
    # every table lists the references first; a row is a run (a method's namespace or one of its seeds)
    all_runs = [*(Run(r, r) for r in references), *method_runs]
    rows = tuple(run.name for run in all_runs)
    by_method = {r: {None: r} for r in references} | {
        m: {run.seed: run.name for run in runs[m]} for m in methods
    }
    history = f"{runs['micon'][0].name}.training_history" if "micon" in runs else "micon.training_history"
    # the report draws the training curves of each trained method's first run
    trained = [runs[m][0].name for m in methods if get_method(m).kind == "trained"]

    def chains(output: str) -> Gathered:
        return Gathered(tuple(f"{chain}.{output}" for chain in CHAINS))

    # each row's namespace hands the summary one bundle of its outputs (kedro-viz: one arrow per run)
    wanted = [
        chains("retrieval_summary"),
        chains("compound_scores"),
        chains("mechanism_summary"),
        *(Gathered((name,)) for name in ("embedding_diagnostics", "batch_effects", "consistency")),
        *(Gathered((output,)) for output in REPORTED_OUTPUTS),
    ]
    evaluated += _bundle_pipeline(evaluated, rows, [f for group in wanted for f in group.fields])
    evaluations = GATHERED

    report_inputs = [
        "comparison_table",
        "quarantine_summary",
        "params:reporting",
        "paired_differences",
        "diagnostics",
        "run_provenance",
        "retrieval_metrics",
        "crop_store",
        "crop_index",
    ]
    summary = Pipeline(
        [
            Node(
                bind_keywords(gather_run_evaluations, runs=rows),
                [f"{row}.{BUNDLE}" for row in rows],
                evaluations,
                name="gather_run_evaluations",
            ),
            Node(
                from_run_evaluations(
                    bind_keywords(collect_retrieval_metrics, methods=rows, chains=CHAINS),
                    leading=0,
                    gathered=[chains("retrieval_summary")],
                ),
                evaluations,
                "retrieval_metrics",
                name="collect_retrieval_metrics",
            ),
            Node(
                from_run_evaluations(
                    bind_keywords(summarise_uncertainty, runs=by_method, chains=CHAINS),
                    leading=1,
                    gathered=[chains("compound_scores")],
                ),
                ["params:reporting.statistics", evaluations],
                ["metric_intervals", "paired_differences"],
                name="summarise_uncertainty",
            ),
            Node(
                from_run_evaluations(
                    bind_keywords(
                        collect_diagnostics,
                        runs=[(run.name, run.method, run.seed) for run in all_runs],
                        probed=[run.name for run in probed],
                    ),
                    leading=0,
                    gathered=[
                        Gathered(("embedding_diagnostics",)),
                        Gathered(("generator_diagnostics",), True),
                    ],
                ),
                evaluations,
                "diagnostics",
                name="collect_diagnostics",
            ),
            Node(
                from_run_evaluations(
                    bind_keywords(
                        compare_methods,
                        methods=rows,
                        chains=CHAINS,
                        runs={m: list(per_seed.values()) for m, per_seed in by_method.items()},
                    ),
                    leading=2,
                    gathered=[
                        chains("mechanism_summary"),
                        Gathered(("batch_effects",)),
                        Gathered(("consistency",)),
                    ],
                ),
                ["retrieval_metrics", "metric_intervals", evaluations],
                ["comparison_table", "comparison_table_markdown"],
                name="compare_methods",
            ),
            Node(plot_retrieval, "retrieval_metrics", "retrieval_comparison_plot", name="plot_retrieval"),
            Node(
                from_run_evaluations(
                    bind_keywords(plot_topk, methods=rows),
                    leading=0,
                    gathered=[Gathered((f"{DEFAULT_CHAIN}.topk_accuracy",))],
                ),
                evaluations,
                "topk_accuracy_plot",
                name="plot_topk",
            ),
            Node(
                from_run_evaluations(
                    bind_keywords(plot_map_distribution, methods=rows),
                    leading=0,
                    gathered=[Gathered((f"{DEFAULT_CHAIN}.compound_map",))],
                ),
                evaluations,
                "map_distribution_plot",
                name="plot_map_distribution",
            ),
            Node(plot_training, history, "training_loss_plot", name="plot_training"),
            Node(record_run_provenance, "comparison_table", "run_provenance", name="record_run_provenance"),
            Node(
                summarise_quarantine_tables,
                {name: name for name in QUARANTINES},
                "quarantine_summary",
                name="summarise_quarantine_tables",
            ),
            Node(
                from_run_evaluations(
                    bind_keywords(
                        write_html_report, methods=rows, trained=trained, references=list(references)
                    ),
                    leading=len(report_inputs),
                    gathered=[Gathered((output,)) for output in REPORTED_OUTPUTS],
                ),
                [*report_inputs, evaluations, *(f"{run}.training_history" for run in trained)],
                "report_html",
                name="write_html_report",
            ),
        ]
    )
    return evaluated + summary
