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
    prepare_logit_scale,
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
    "method_model_params",
    "register_method",
    "unregister_method",
]

MethodKind = Literal["trained", "untrained", "features"]
METHOD_KINDS: tuple[str, ...] = MethodKind.__args__
LossFunction = Callable[[MiconModel, TrainingBatch, Any, CropAugmenter], dict[str, Tensor]]
"""``(model, batch, objective config, augment) -> {"loss": total, **parts}``, scalar tensors."""
PrepareFunction = Callable[[MiconModel, Any], None]
"""``(model, objective config) -> None``: sets what the objective decides in a new model (before training)."""
ChannelStrategy = Literal["joint", "per_channel"]


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
            ``treated``, ``controls``, ``molecules``, ``molecule_similarity``, ``crops``); the data module
            builds only these (plus ``compound_labels``).
        embedding: What is evaluated: ``"image_encoder"`` (the encoder output) or ``"channel_former"``
            (CellCLIP's CrossChannelFormer CLS output).
        prepare: Called with a new model and the objective before training (e.g. the logit scale's
            initial temperature and whether it learns); None: nothing to set.
        channel_strategy: The image encoder's channel strategy the method fixes (``micon_per_channel``);
            None: the parameters' (``modeling.model.image.channel_strategy``, per-method overrides).

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
    prepare: PrepareFunction | None = None
    channel_strategy: ChannelStrategy | None = None

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
        if not trained and (self.loss_parts or self.batch_fields or self.prepare is not None):
            raise InvalidConfigError(
                f"method {self.name!r} is not trained: it has no loss parts, batch fields or prepare"
            )
        if self.channel_strategy not in (None, *ChannelStrategy.__args__):
            raise InvalidConfigError(
                f"method {self.name!r}: channel_strategy must be None or one of {ChannelStrategy.__args__}, "
                f"got {self.channel_strategy!r}"
            )
        if self.kind == "features" and (
            self.model_parts or self.embedding != "image_encoder" or self.channel_strategy is not None
        ):
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

    The method's spec sets ``parts``, ``embedding`` and, where it fixes one, the image encoder's
    ``channel_strategy``; ``channels`` are the crop store's (the model's input channels are never a
    parameter).

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
        {
            **method_model_params(method, params),
            "channels": tuple(channels),
            "parts": spec.model_parts,
            "embedding": spec.embedding,
        }
    )


def method_model_params(method: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Return the model parameters ``params`` with the channel strategy the method fixes, if any.

    The method's strategy replaces the shared one (``modeling.model``); parameter validation refuses a
    method's own override that contradicts it.

    Raises:
        UnknownNameError: ``method`` is not registered.
    """
    spec = get_method(method)
    params = dict(params)
    if spec.channel_strategy is None:
        return params
    image = dict(params.get("image") or {})
    return {**params, "image": {**image, "channel_strategy": spec.channel_strategy}}


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


_MICON = {
    "kind": "trained",
    "objective": MiconObjectiveConfig,
    "loss": micon_losses,
    "loss_parts": ("paclr", "cf"),
    "model_parts": ("molecule_encoder", "generator"),
    "batch_fields": ("treated", "controls", "molecules"),
}
register_method(MethodSpec(name="micon", **_MICON))
# MICON with the reference code's image encoder layout: one backbone shared by the channels, each
# encoded on its own (``micon`` itself takes the strategy of the parameters: joint in conf/base).
register_method(MethodSpec(name="micon_per_channel", channel_strategy="per_channel", **_MICON))
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
        model_parts=("molecule_encoder", "molecule_projection", "logit_scale"),
        batch_fields=("treated", "molecules"),
        prepare=prepare_logit_scale,
    )
)
register_method(
    MethodSpec(
        name="cellclip",
        kind="trained",
        objective=CellclipObjectiveConfig,
        loss=cellclip_losses,
        loss_parts=("cwcl", "clip"),
        model_parts=(
            "molecule_encoder",
            "molecule_projection",
            "channel_former",
            "logit_scale",
            "frozen_features",
        ),
        batch_fields=("treated", "molecules", "molecule_similarity"),
        embedding="channel_former",
        prepare=prepare_logit_scale,
    )
)
register_method(
    MethodSpec(
        name="simclr",
        kind="trained",
        objective=SimclrObjectiveConfig,
        loss=simclr_losses,
        batch_fields=("treated", "crops"),
    )
)
register_method(MethodSpec(name="untrained", kind="untrained"))
# CellProfiler-style features: data_engineering writes cellprofiler.crop_embeddings.
register_method(MethodSpec(name="cellprofiler", kind="features"))
# Raw intensity statistics inside each cell (the second floor): data_engineering writes
# intensity.crop_embeddings.
register_method(MethodSpec(name="intensity", kind="features"))
