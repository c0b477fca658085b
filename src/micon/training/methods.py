"""The one registry of methods: how each is trained, which networks and batch fields it needs, how it embeds.

A method is one :class:`MethodSpec` registered here; everything else (the model's parts, the training
batches, the modeling / reporting / BBBC021 pipelines, checkpoints) reads it. Adding a method is one
:func:`register_method` call plus its loss function::

    register_method(
        MethodSpec(
            name="supcon",
            kind="trained",
            objective=SupconObjectiveConfig,  # frozen dataclass <- modeling.methods.supcon.objective
            loss=supcon_losses,  # (model, batch, config, augment) -> {"loss", ...}
            loss_parts=(),
            model_parts=(),
            batch_fields=("treated",),
            embedding="image_encoder",
        )
    )
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from torch import Tensor

from micon.errors import InvalidConfigError, InvalidInputError, UnknownNameError
from micon.models.micon import EMBEDDINGS, MODEL_PARTS, Embedding, MiconModel, MiconModelConfig, ModelPart
from micon.models.micon import model_state as _model_state
from micon.training.augment import CropAugmenter
from micon.training.data import BATCH_FIELDS, BatchField
from micon.training.objectives import (
    CellclipObjectiveConfig,
    ClipObjectiveConfig,
    MiconObjectiveConfig,
    PaclrObjectiveConfig,
    SimclrObjectiveConfig,
    TrainingBatch,
    cellclip_losses,
    clip_losses,
    micon_losses,
    paclr_losses,
    simclr_losses,
)

__all__ = [
    "METHOD_KINDS",
    "LossFunction",
    "MethodKind",
    "MethodSpec",
    "build_model_config",
    "build_objective_config",
    "get_method",
    "list_methods",
    "make_checkpoint",
    "register_method",
    "unregister_method",
]

MethodKind = Literal["trained", "untrained", "features"]
METHOD_KINDS: tuple[str, ...] = MethodKind.__args__
LossFunction = Callable[[MiconModel, TrainingBatch, Any, CropAugmenter], dict[str, Tensor]]
"""``(model, batch, objective config, augment) -> {"loss": total, **parts}``, scalar tensors."""


@dataclass(frozen=True, kw_only=True)
class MethodSpec:
    """Everything the project needs to know about one method.

    Three kinds: ``"trained"`` methods are trained by the modeling pipeline (``<name>.train_model``) with
    their ``objective`` and ``loss``; ``"untrained"`` is the randomly initialised image encoder (the
    floor), built and embedded by modeling; ``"features"`` methods (``cellprofiler``) have crop embeddings
    that another pipeline writes (``<name>.crop_embeddings``) and are only evaluated. Only trained
    methods have an objective, a loss and batch fields; only methods with a model have parts.

    Attributes:
        name: The method's name: the Kedro namespace of its datasets and ``modeling.methods.<name>``.
        kind: ``"trained"``, ``"untrained"`` or ``"features"``.
        objective: The objective config class (a frozen keyword-only dataclass), built from
            ``modeling.methods.<name>.objective``.
        loss: The loss function (:data:`LossFunction`).
        loss_parts: Names of the loss parts the loss returns and training logs besides ``loss``.
        model_parts: The optional networks of :class:`~micon.models.MiconModel` the method needs.
        batch_fields: The training-batch field groups the loss consumes (``micon.training.data``:
            ``treated``, ``controls``, ``molecules``, ``molecule_similarity``); the data module builds
            only these (plus ``compound_labels``).
        embedding: What is evaluated: ``"image_encoder"`` (the encoder output) or ``"channel_former"``
            (CellCLIP's CrossChannelFormer CLS output).

    Raises:
        InvalidConfigError: A field is out of its allowed values or does not fit the kind.
    """

    name: str
    kind: MethodKind
    objective: type | None = None
    loss: LossFunction | None = None
    loss_parts: tuple[str, ...] = ()
    model_parts: tuple[ModelPart, ...] = ()
    batch_fields: tuple[BatchField, ...] = ()
    embedding: Embedding = "image_encoder"

    def __post_init__(self) -> None:
        for name in ("loss_parts", "model_parts", "batch_fields"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if not self.name.isidentifier():
            raise InvalidConfigError(f"method name {self.name!r} must be an identifier (a Kedro namespace)")
        if self.kind not in METHOD_KINDS:
            raise InvalidConfigError(
                f"method {self.name!r}: kind must be one of {METHOD_KINDS}, got {self.kind!r}"
            )
        trained = self.kind == "trained"
        if trained != (self.objective is not None and self.loss is not None):
            raise InvalidConfigError(
                f"method {self.name!r} of kind {self.kind!r}: a trained method needs an objective and a "
                "loss, no other kind has them"
            )
        if not trained and (self.loss_parts or self.batch_fields):
            raise InvalidConfigError(
                f"method {self.name!r} is not trained: it has no loss parts or batch fields"
            )
        if self.kind == "features" and (self.model_parts or self.embedding != "image_encoder"):
            raise InvalidConfigError(f"method {self.name!r} has precomputed features: it has no model parts")
        bad = [p for p in self.model_parts if p not in MODEL_PARTS]
        bad += [f for f in self.batch_fields if f not in BATCH_FIELDS]
        if bad or self.embedding not in EMBEDDINGS or "loss" in self.loss_parts:
            raise InvalidConfigError(
                f"method {self.name!r}: unknown model parts or batch fields {bad} or embedding "
                f"{self.embedding!r} (known: {MODEL_PARTS}, {BATCH_FIELDS}, {EMBEDDINGS}), or a loss part "
                f"named 'loss' in {self.loss_parts}"
            )

    @property
    def has_model(self) -> bool:
        """Return whether modeling builds a model (and its checkpoint and crop embeddings) for the method."""
        return self.kind != "features"


_REGISTRY: dict[str, MethodSpec] = {}


def register_method(spec: MethodSpec) -> MethodSpec:
    """Add ``spec`` to the registry (pipelines created afterwards include it) and return it.

    Raises:
        InvalidInputError: A method of that name is already registered.
    """
    if spec.name in _REGISTRY:
        raise InvalidInputError(f"method {spec.name!r} is already registered; unregister_method it first")
    _REGISTRY[spec.name] = spec
    return spec


def unregister_method(name: str) -> MethodSpec:
    """Remove method ``name`` from the registry and return its spec.

    Raises:
        UnknownNameError: ``name`` is not registered.
    """
    spec = get_method(name)
    del _REGISTRY[name]
    return spec


def get_method(name: str) -> MethodSpec:
    """Return the spec of method ``name``.

    Raises:
        UnknownNameError: ``name`` is not registered (the message lists the known names).
    """
    if name not in _REGISTRY:
        raise UnknownNameError(f"method {name!r} is not registered; known methods: {list(_REGISTRY)}")
    return _REGISTRY[name]


def list_methods(*kinds: MethodKind) -> tuple[str, ...]:
    """Return the registered method names of the given kinds (all kinds when none), in registration order."""
    return tuple(name for name, spec in _REGISTRY.items() if not kinds or spec.kind in kinds)


def build_objective_config(method: str, params: Mapping[str, Any]) -> Any:
    """Return the objective config of trained ``method`` from plain (YAML) values.

    Raises:
        UnknownNameError: ``method`` is not registered.
        InvalidConfigError: ``method`` is not a trained method.
        TypeError: A key is unknown or missing (named by the dataclass constructor).
    """
    spec = get_method(method)
    if spec.objective is None:
        raise InvalidConfigError(f"method {method!r} of kind {spec.kind!r} has no objective")
    return spec.objective(**dict(params))


def build_model_config(
    method: str, params: Mapping[str, Any], *, channels: Sequence[str]
) -> MiconModelConfig:
    """Return the model config of ``method``: ``params`` (``modeling.model``) with the method's parts.

    The method's spec sets ``parts`` and ``embedding``; ``channels`` are the crop store's (the model's
    input channels are never a parameter).

    Raises:
        UnknownNameError: ``method`` is not registered.
        InvalidConfigError: ``method`` has no model (precomputed features), or ``params`` sets ``parts``
            or ``embedding`` (the registry's).
        TypeError: A key is unknown or missing (named by the dataclass constructors).
    """
    spec = get_method(method)
    if not spec.has_model:
        raise InvalidConfigError(f"method {method!r} has precomputed features, no model")
    clash = sorted({"parts", "embedding", "channels"} & set(params))
    if clash:
        raise InvalidConfigError(
            f"model parameters of {method!r} set {clash}; the method registry and the crop store set them"
        )
    return MiconModelConfig.from_dict(
        {**params, "channels": tuple(channels), "parts": spec.model_parts, "embedding": spec.embedding}
    )


def make_checkpoint(model: MiconModel, *, method: str) -> dict[str, Any]:
    """Return the checkpoint of ``model``, trained or built by ``method``: method, config and weights.

    Plain values and CPU tensors, loadable with ``torch.load(weights_only=True)`` and rebuilt by
    :func:`micon.models.load_model`.

    Raises:
        UnknownNameError: ``method`` is not registered.
        InvalidInputError: ``method`` has no model, or the model's parts or embedding are not the method's.
    """
    spec = get_method(method)
    if not spec.has_model:
        raise InvalidInputError(f"method {method!r} has precomputed features; it has no checkpoint")
    config = model.config
    if set(config.parts) != set(spec.model_parts) or config.embedding != spec.embedding:
        raise InvalidInputError(
            f"checkpoint method {method!r} needs model parts {spec.model_parts} embedded by "
            f"{spec.embedding!r}; the model has {config.parts} embedded by {config.embedding!r}"
        )
    return {"method": method, **_model_state(model)}


register_method(
    MethodSpec(
        name="micon",
        kind="trained",
        objective=MiconObjectiveConfig,
        loss=micon_losses,
        loss_parts=("paclr", "cf"),
        model_parts=("molecule_encoder", "generator"),
        batch_fields=("treated", "controls", "molecules"),
    )
)
register_method(
    MethodSpec(
        name="paclr",
        kind="trained",
        objective=PaclrObjectiveConfig,
        loss=paclr_losses,
        batch_fields=("treated", "controls"),
    )
)
register_method(
    MethodSpec(
        name="clip",
        kind="trained",
        objective=ClipObjectiveConfig,
        loss=clip_losses,
        model_parts=("molecule_encoder", "molecule_projection"),
        batch_fields=("treated", "molecules"),
    )
)
register_method(
    MethodSpec(
        name="cellclip",
        kind="trained",
        objective=CellclipObjectiveConfig,
        loss=cellclip_losses,
        loss_parts=("cwcl", "clip"),
        model_parts=("molecule_encoder", "molecule_projection", "channel_former"),
        batch_fields=("treated", "molecules", "molecule_similarity"),
        embedding="channel_former",
    )
)
register_method(
    MethodSpec(
        name="simclr",
        kind="trained",
        objective=SimclrObjectiveConfig,
        loss=simclr_losses,
        batch_fields=("treated",),
    )
)
register_method(MethodSpec(name="untrained", kind="untrained"))
# CellProfiler-style features: data_engineering writes cellprofiler.crop_embeddings.
register_method(MethodSpec(name="cellprofiler", kind="features"))
# Raw intensity statistics inside each cell (the second floor): data_engineering writes
# intensity.crop_embeddings.
register_method(MethodSpec(name="intensity", kind="features"))
