"""The project's parameter tree, typed by the domain configs, and its validation before any node runs.

Every section of ``conf/<env>/parameters_*.yml`` is typed here: by the domain's frozen config dataclass where
one exists (``data_engineering.splits`` is a :class:`~micon.metadata.splits.SplitConfig`,
``modeling.training`` a :class:`~micon.training.runner.TrainingConfig`), else by a small frozen schema
dataclass of this module. :func:`validate_parameters` checks the whole tree with pydantic (strict JSON mode:
``"no"`` is not a boolean, ``"abc"`` not an integer, unknown keys are refused, the configs' own range checks
run) and raises one :class:`~micon.errors.InvalidConfigError` listing every problem by its dotted key path.

Kedro-free: the project hook (:mod:`micon.hooks`) hands it ``context.config_loader["parameters"]``.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

import pydantic
from pydantic import TypeAdapter

from micon.chem.parallel import ParallelConfig
from micon.chem.standardize import StandardizationConfig
from micon.errors import InvalidConfigError, UnknownNameError
from micon.evaluation.chain import NormalizationConfig, plate_controls_needed
from micon.evaluation.glossary import describe_metric, metric_level
from micon.evaluation.metrics import RetrievalConfig
from micon.evaluation.moa_classification import MoaEvaluationConfig
from micon.evaluation.report_content import ReportConfig
from micon.evaluation.statistics import IntervalConfig
from micon.imaging.cell_features import CellFeaturesConfig
from micon.imaging.controls import ControlsConfig
from micon.imaging.extraction import CropExtractionConfig
from micon.imaging.parallel_extraction import ExtractionClusterConfig
from micon.metadata.splits import SplitConfig
from micon.models.micon import NetworkConfig, merge_params
from micon.sources.jump import JumpSelectionConfig
from micon.sources.synthetic.config import SyntheticScreenConfig
from micon.tracking import TrackingConfig
from micon.training.methods import get_method, list_methods, method_model_params
from micon.training.runner import TrainingConfig
from micon.training.tuning import TuningConfig

__all__ = [
    "RUNTIME_KEYS",
    "AggregationParameters",
    "Bbbc021EvaluationParameters",
    "DataEngineeringParameters",
    "EmbeddingParameters",
    "JumpDesignParameters",
    "JumpParameters",
    "MethodParameters",
    "ModelingParameters",
    "ProjectParameters",
    "ProjectionParameters",
    "ReportingParameters",
    "evaluated_size",
    "objective_config_class",
    "validate_parameters",
]


@dataclass(frozen=True, kw_only=True)
class DataEngineeringParameters:
    """``data_engineering``: from the raw tables to crops, their masks and the CellProfiler-style features.

    Attributes:
        standardization: SMILES standardisation steps.
        standardization_parallel: Worker processes of the standardisation.
        splits: How wells are split into train/val/test/ood.
        crops: Nucleus detection, cell growth and crop cutting.
        extraction: Where the extraction's sites run (Dask workers, or this process) and in what parts.
        controls: What each plate needs of its DMSO wells after image QC, and what happens to one short.
        cell_features: The CellProfiler-style baseline features.
    """

    standardization: StandardizationConfig
    standardization_parallel: ParallelConfig
    splits: SplitConfig
    crops: CropExtractionConfig
    extraction: ExtractionClusterConfig
    controls: ControlsConfig
    cell_features: CellFeaturesConfig


@dataclass(frozen=True, kw_only=True)
class MethodParameters:
    """``modeling.methods.<method>``: one trained method's settings.

    Attributes:
        model: Partial overrides of ``modeling.model``, merged key by key (checked once merged).
        objective: The method's objective settings (checked by its objective config class).
        training: Overrides of ``modeling.training`` for this method alone (its tuned learning rate);
            the step budget and everything else stay shared (checked once merged).
    """

    model: dict[str, Any]
    objective: dict[str, Any]
    training: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class EmbeddingParameters:
    """``modeling.embedding``: how every method's crops are embedded.

    Attributes:
        batch_size: Crops per forward pass, >= 1.
        accelerator: ``"auto"`` (CUDA when available), ``"gpu"``/``"cuda"`` or ``"cpu"``.
        num_workers: DataLoader workers reading the crops, >= 0.
    """

    batch_size: int
    accelerator: str
    num_workers: int

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.num_workers < 0:
            raise InvalidConfigError(
                f"need batch_size >= 1 and num_workers >= 0, got {self.batch_size} and {self.num_workers}"
            )


@dataclass(frozen=True, kw_only=True)
class ModelingParameters:
    """``modeling``: the shared architecture and budget, each method's settings, the embedding.

    Attributes:
        model: The shared architecture.
        training: The shared training budget.
        methods: Trained method name -> its settings.
        embedding: How crops are embedded.
    """

    model: NetworkConfig
    training: TrainingConfig
    methods: dict[str, MethodParameters]
    embedding: EmbeddingParameters


@dataclass(frozen=True, kw_only=True)
class AggregationParameters:
    """Crop-to-well aggregation (``reporting.aggregation``, ``bbbc021_evaluation.aggregation``).

    Attributes:
        operation: ``"mean"`` (the MICON reference code) or ``"median"``.
        via_sites: Aggregate crop -> site -> well (every site weighs the same) instead of crop -> well.
    """

    operation: Literal["mean", "median"]
    via_sites: bool


@dataclass(frozen=True, kw_only=True)
class ProjectionParameters:
    """``reporting.projection``: the 2-D maps of the wells.

    Attributes:
        seed: UMAP's random state.
        umap_neighbors: UMAP's ``n_neighbors``, >= 2 (capped at the number of wells - 1).
        projections: The maps drawn, a non-empty subset of ``["PCA", "UMAP"]``.
    """

    seed: int
    umap_neighbors: int
    projections: tuple[str, ...] = ("PCA", "UMAP")

    def __post_init__(self) -> None:
        if self.umap_neighbors < 2:
            raise InvalidConfigError(f"umap_neighbors must be >= 2, got {self.umap_neighbors}")
        if not self.projections or any(p not in ("PCA", "UMAP") for p in self.projections):
            raise InvalidConfigError(
                f"projections must be a non-empty subset of ['PCA', 'UMAP'], got {list(self.projections)}"
            )


@dataclass(frozen=True, kw_only=True)
class DiagnosticsParameters:
    """``reporting.diagnostics``: the generator-sensitivity probe of MICON runs.

    Attributes:
        n_controls: DMSO crops (their embeddings) given to the generator, >= 2 (fewer if fewer exist).
        n_molecules: Treated compounds given to the generator, >= 2 (fewer if fewer exist).
        seed: Seed of the draw of crops and compounds.
    """

    n_controls: int
    n_molecules: int
    seed: int

    def __post_init__(self) -> None:
        for name in ("n_controls", "n_molecules"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 2:
                raise InvalidConfigError(f"{name} must be an integer >= 2, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class ReportingParameters:
    """``reporting``: from crop embeddings to the evaluated, compared well profiles.

    Attributes:
        aggregation: Crop-to-well aggregation.
        normalization: The normalisation chain.
        retrieval: Replicate retrieval, mAP and batch-effect settings.
        projection: The 2-D maps.
        statistics: Intervals over compounds and seeds, paired differences (``micon.evaluation.statistics``).
        diagnostics: The generator-sensitivity probe of MICON runs.
        report: What the HTML report shows (``micon.evaluation.report_content``).
    """

    aggregation: AggregationParameters
    normalization: NormalizationConfig
    retrieval: RetrievalConfig
    projection: ProjectionParameters
    statistics: IntervalConfig
    diagnostics: DiagnosticsParameters
    report: ReportConfig


@dataclass(frozen=True, kw_only=True)
class JumpDesignParameters:
    """``jump.designs.<design>``: one MICON design on JUMP cpg0016.

    Attributes:
        selection: The plates, wells and sites it uses.
        splits: Its splits.
        retrieval_splits: The splits its evaluation scores.
    """

    selection: JumpSelectionConfig
    splits: SplitConfig
    retrieval_splits: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class JumpParameters:
    """``jump``: the chosen JUMP design (``--env jump``) and the ingestion settings (conf/base).

    Attributes:
        illumination_correction: Divide by the plate's illumination functions when load_data names them.
        design: Name of the design in ``designs``; None outside ``--env jump`` (no JUMP screen chosen).
        designs: Design name -> its selection, splits and evaluated splits (``--env jump``).
        selection: The selection used (the chosen design's, by interpolation); None without a design.
    """

    illumination_correction: bool
    design: str | None = None
    designs: dict[str, JumpDesignParameters] = dataclasses.field(default_factory=dict)
    selection: JumpSelectionConfig | None = None

    def __post_init__(self) -> None:
        if self.design is None:
            if self.selection is not None:
                raise InvalidConfigError("jump.selection is set but no jump.design is chosen")
            return
        if self.design not in self.designs:
            raise InvalidConfigError(f"design {self.design!r} is not one of {sorted(self.designs)}")


@dataclass(frozen=True, kw_only=True)
class Bbbc021EvaluationParameters:
    """``bbbc021_evaluation``: BBBC021's MoA evaluation (the bbbc021_evaluation pipeline, ``--env bbbc021``).

    Attributes:
        aggregation: Crop-to-well aggregation.
        moa: The MoA evaluation.
    """

    aggregation: AggregationParameters
    moa: MoaEvaluationConfig


@dataclass(frozen=True, kw_only=True)
class ProjectParameters:
    """The whole parameter tree of a run (base, an environment's overrides and ``--params``).

    Attributes:
        synthetic: The embedded synthetic screen.
        data_engineering: Raw tables to crops and features.
        modeling: Models, training and embedding.
        reporting: Evaluation and comparison.
        tuning: The equal search of every trained method (the tuning pipeline).
        tracking: MLflow experiment tracking.
        jump: JUMP ingestion; its designs only in ``--env jump``.
        bbbc021_evaluation: BBBC021's MoA evaluation (the bbbc021_evaluation pipeline).
        jump_gallery_root: Runtime-only: the JUMP gallery root (a local mirror or the bucket).
        jump_s3_endpoint_url: Runtime-only: an S3 endpoint for the JUMP gallery.
        jump_metadata_dir: Runtime-only: a folder holding JUMP's metadata tables.
        shared_data: Runtime-only: the shared data folder of real-data environments.
        bbbc021_images: Runtime-only: the BBBC021 image folder.
    """

    synthetic: SyntheticScreenConfig
    data_engineering: DataEngineeringParameters
    modeling: ModelingParameters
    reporting: ReportingParameters
    tuning: TuningConfig
    tracking: TrackingConfig
    jump: JumpParameters
    bbbc021_evaluation: Bbbc021EvaluationParameters
    # Runtime-only keys, read by the catalogs through ${runtime_params:...}; absent unless given.
    jump_gallery_root: str | None = None
    jump_s3_endpoint_url: str | None = None
    jump_metadata_dir: str | None = None
    shared_data: str | None = None
    bbbc021_images: str | None = None


RUNTIME_KEYS: tuple[str, ...] = (
    "jump_gallery_root",
    "jump_s3_endpoint_url",
    "jump_metadata_dir",
    "shared_data",
    "bbbc021_images",
)
"""Top-level keys that only ``--params`` / ``runtime_params`` give (the catalogs read them)."""


def objective_config_class(method: str) -> type:
    """Return the objective config class of a trained method of the registry (``micon.training.methods``).

    Raises:
        UnknownNameError: ``method`` is not a trained method.
    """
    trained = list_methods("trained")
    if method not in trained:
        raise UnknownNameError(f"method {method!r} is not a trained method; trained methods: {list(trained)}")
    return get_method(method).objective


# Pydantic ignores unknown keys of a plain dataclass unless its config forbids them, and the domain configs
# carry no pydantic config; a config given to an adapter of a container reaches the dataclasses inside it, so
# every section is validated as the one value of a mapping ``{"": values}``.
_FORBID_UNKNOWN_KEYS = pydantic.ConfigDict(extra="forbid")


@cache
def _adapter(kind: Any) -> TypeAdapter:
    return TypeAdapter(dict[str, kind], config=_FORBID_UNKNOWN_KEYS)


def _parse(kind: Any, values: Any) -> Any:
    return _adapter(kind).validate_json(json.dumps({"": values}, default=str), strict=True)[""]


def _validate(kind: Any, values: Any, location: tuple[str | int, ...]) -> list[str]:
    """Validate ``values`` as ``kind``; return one message per problem, located under ``location``."""
    try:
        _parse(kind, values)
    except pydantic.ValidationError as exc:
        return [_describe(kind, location, error) for error in exc.errors(include_url=False)]
    return []


def validate_parameters(params: Mapping[str, Any]) -> ProjectParameters:
    """Check the whole parameter tree and return it typed.

    Besides each section's type, every ``modeling.methods.<method>`` is checked: its ``model`` merged key by
    key over ``modeling.model`` must be valid model parameters, and its ``objective`` must build the method's
    objective config. Every method with a model (each trained method and the untrained floor, which is
    ``modeling.model`` itself) must be evaluated at the same embedding size: ``image.embedding_dim``, or
    ``channel_former.dim`` for a method evaluated at the CrossChannelFormer's output (CellCLIP).

    Args:
        params: The run's parameters, as Kedro's config loader returns them (runtime values included).

    Returns:
        The typed parameters.

    Raises:
        InvalidConfigError: One or more values are invalid; the message lists each one as
            ``<dotted key path>: <what was expected> (got <value>)``.
    """
    problems = _validate(ProjectParameters, params, ())
    modeling = params.get("modeling")
    methods = modeling.get("methods") if isinstance(modeling, Mapping) else None
    model = modeling.get("model") if isinstance(modeling, Mapping) else None
    # A method's model overrides are checked merged over a valid shared model, so that a problem of the
    # shared model is listed once, not once more per method.
    training = modeling.get("training") if isinstance(modeling, Mapping) else None
    if isinstance(methods, Mapping) and isinstance(model, Mapping):
        shared_model_valid = not _validate(NetworkConfig, model, ())
        shared_training_valid = isinstance(training, Mapping) and not _validate(TrainingConfig, training, ())
        for method, settings in methods.items():
            problems += _method_problems(
                str(method),
                settings,
                model if shared_model_valid else None,
                training if shared_training_valid else None,
            )
        if shared_model_valid and not problems:
            problems += _embedding_size_problems(model, methods)
    problems += _control_count_problems(params)
    problems += _tuning_problems(params)
    problems += _headline_problems(params)
    if problems:
        listing = "\n".join(f"  {problem}" for problem in problems)
        raise InvalidConfigError(f"{len(problems)} invalid parameter(s):\n{listing}")
    return _parse(ProjectParameters, params)


def _control_count_problems(params: Mapping[str, Any]) -> list[str]:
    """Check that data_engineering keeps plates with as many DMSO wells as the reporting chain needs."""
    try:
        minimum = params["data_engineering"]["controls"]["min_wells_per_plate"]
        chains = params["reporting"]["normalization"]["chains"]
    except (KeyError, TypeError):
        return []  # a missing section is reported by the tree's own validation
    if not isinstance(minimum, int) or not isinstance(chains, Mapping):
        return []
    return [
        f"data_engineering.controls.min_wells_per_plate: at least {needed}, the DMSO wells per plate that "
        f"reporting.normalization.chains.{name} {list(steps)} needs (got {minimum})"
        for name, steps in chains.items()
        if isinstance(steps, list | tuple)
        and minimum < (needed := plate_controls_needed([str(step) for step in steps]))
    ]


def evaluated_size(method: str, model: Mapping[str, Any]) -> int:
    """Return the size of the embedding ``method`` is evaluated at under the model parameters ``model``.

    ``channel_former.dim`` for a method evaluated at the CrossChannelFormer's CLS output, else
    ``image.embedding_dim`` (the encoder output; with ``per_channel`` it must split into the channels,
    which the model checks when the crop store's channels are known).

    Raises:
        UnknownNameError: ``method`` is not registered.
    """
    if get_method(method).embedding == "channel_former":
        return int(model["channel_former"]["dim"])
    return int(model["image"]["embedding_dim"])


def _embedding_size_problems(model: Mapping[str, Any], methods: Mapping[str, Any]) -> list[str]:
    """Check that every method with a model is evaluated at one embedding size (the untrained floor's)."""
    sizes = {"untrained (modeling.model)": evaluated_size("untrained", model)}
    for method, settings in methods.items():
        merged = merge_params(model, settings.get("model"))
        sizes[str(method)] = evaluated_size(str(method), merged)
    if len(set(sizes.values())) == 1:
        return []
    listing = ", ".join(f"{name} {size}" for name, size in sizes.items())
    return [
        "modeling.methods: every method must be evaluated at the same embedding size (image.embedding_dim, "
        f"or channel_former.dim for CellCLIP's channel former); got {listing}"
    ]


def _tuning_problems(params: Mapping[str, Any]) -> list[str]:
    """Check that the tuning selection names a chain and a level the reporting parameters define."""
    try:
        selection = params["tuning"]["selection"]
        chains = params["reporting"]["normalization"]["chains"]
        scenarios = params["reporting"]["retrieval"]["scenarios"]
    except (KeyError, TypeError):
        return []  # a missing section is reported by the tree's own validation
    if not all(isinstance(v, Mapping) for v in (selection, chains, scenarios)):
        return []
    problems = []
    if selection.get("chain") not in chains:
        problems.append(
            f"tuning.selection.chain: one of reporting.normalization.chains {sorted(chains)} "
            f"(got {selection.get('chain')!r})"
        )
    if selection.get("level") not in scenarios:
        problems.append(
            f"tuning.selection.level: one of reporting.retrieval.scenarios {sorted(scenarios)} "
            f"(got {selection.get('level')!r})"
        )
    return problems


def _headline_problems(params: Mapping[str, Any]) -> list[str]:
    """Check that each headline metric of the report is a metric at a level the retrieval scores."""
    try:
        metrics = params["reporting"]["report"]["headline_metrics"]
        retrieval = params["reporting"]["retrieval"]
        scenarios = retrieval["scenarios"]
    except (KeyError, TypeError):
        return []  # a missing section is reported by the tree's own validation
    if not isinstance(metrics, list | tuple) or not isinstance(scenarios, Mapping):
        return []
    problems = []
    for metric in metrics:
        level = metric_level(str(metric))
        if describe_metric(str(metric)).better is None or (level is not None and level not in scenarios):
            problems.append(
                f"reporting.report.headline_metrics: {metric!r} is not a comparison-table metric at a "
                f"level of reporting.retrieval.scenarios {sorted(scenarios)} (e.g. NSS_top1, MoA_NSS_top1)"
            )
    return problems


def _method_problems(
    method: str,
    settings: Any,
    model: Mapping[str, Any] | None,
    training: Mapping[str, Any] | None = None,
) -> list[str]:
    """Check one method's objective and (given valid shared ones) its merged model and training."""
    location = ("modeling", "methods", method)
    if not isinstance(settings, Mapping):
        return []  # reported by the tree's own validation
    try:
        objective = objective_config_class(method)
    except UnknownNameError as exc:
        return [f"{_dotted(location)}: a trained method ({exc})"]
    problems = []
    if model is not None and isinstance(settings.get("model"), Mapping):
        fixed = get_method(method).channel_strategy
        own = (settings["model"].get("image") or {}).get("channel_strategy", fixed)
        if fixed is not None and own != fixed:
            where = _dotted((*location, "model", "image", "channel_strategy"))
            return [f"{where}: {method!r} is the {fixed} variant; its strategy cannot be set (got {own!r})"]
        merged = method_model_params(method, merge_params(model, settings["model"]))
        problems += _validate(NetworkConfig, merged, (*location, "model"))
    if isinstance(settings.get("objective"), Mapping):
        problems += _validate(objective, settings["objective"], (*location, "objective"))
    if training is not None and isinstance(settings.get("training"), Mapping) and settings["training"]:
        problems += _validate(TrainingConfig, {**training, **settings["training"]}, (*location, "training"))
    return problems


# What each pydantic error type expected, in words.
_EXPECTED: dict[str, str] = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "a boolean (true or false)",
    "bool_parsing": "a boolean (true or false)",
    "string_type": "a string",
    "none_required": "null",
    "tuple_type": "a list",
    "list_type": "a list",
    "dict_type": "a mapping",
    "dataclass_type": "a mapping",
    "dataclass_exact_type": "a mapping",
    "missing": "a value (required key missing)",
    "missing_keyword_only_argument": "a value (required key missing)",
    "missing_argument": "a value (required key missing)",
}


def _describe(kind: Any, location: tuple[str | int, ...], error: Mapping[str, Any]) -> str:
    """Return ``<dotted key path>: <expected> (got <value>)`` for one pydantic error."""
    loc = tuple(part for part in error["loc"][1:] if not _is_union_branch(part))
    path = _dotted((*location, *loc))
    kind_of = error["type"]
    got = error.get("input")
    if kind_of in ("unexpected_keyword_argument", "extra_forbidden"):
        known = _known_keys(kind, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else f"; expected one of {sorted(known)}"
        return f"{path}: unknown key{hint}"
    if kind_of.startswith("missing"):
        return f"{path}: {_EXPECTED['missing']}"
    if kind_of == "value_error":
        return f"{path}: {str(error['msg']).removeprefix('Value error, ')} (got {_shown(got)})"
    if kind_of == "literal_error":
        return f"{path}: expected {error['ctx']['expected']} (got {_shown(got)})"
    expected = _EXPECTED.get(kind_of, str(error["msg"]))
    return f"{path}: expected {expected} (got {_shown(got)})"


def _is_union_branch(part: str | int) -> bool:
    # pydantic names the branch of a union it tried (``ImageEncoderConfig``, ``int``, ``str``,
    # ``tuple[int, ...]``); those are not keys of the parameter tree.
    return isinstance(part, str) and (
        part.endswith(("Config", "Parameters")) or part in _TYPE_NAMES or "[" in part
    )


_TYPE_NAMES = frozenset({"int", "str", "float", "bool", "none", "dict", "list", "tuple", "function-after"})


def _shown(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _dotted(location: Sequence[str | int]) -> str:
    return ".".join(str(part) for part in location) or "<parameters>"


def _known_keys(kind: Any, loc: Sequence[str | int]) -> list[str]:
    """Return the field names of the dataclass found at ``loc`` under ``kind`` (empty when none is)."""
    current = kind
    for part in loc:
        current = _unwrap(current)
        if dataclasses.is_dataclass(current):
            current = typing.get_type_hints(current).get(str(part))
        elif typing.get_origin(current) in (dict, Mapping):
            current = typing.get_args(current)[1]
        else:
            return []
    current = _unwrap(current)
    return [f.name for f in dataclasses.fields(current)] if dataclasses.is_dataclass(current) else []


def _unwrap(kind: Any) -> Any:
    """Return the non-None member of an optional type (``X | None`` -> ``X``)."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        members = [k for k in typing.get_args(kind) if k is not type(None)]
        return members[0] if len(members) == 1 else kind
    return kind
