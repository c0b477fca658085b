"""Train MICON or a peer and embed crops: a Lightning Trainer built from a typed config, and inference."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
import pandas as pd
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, MLFlowLogger, TensorBoardLogger

from micon import schema
from micon.errors import (
    InvalidConfigError,
    InvalidImageError,
    MissingColumnsError,
    TrainingDivergedError,
)
from micon.imaging.intensity import CropIntensityScaling, fit_plate_intensity_references
from micon.models.micon import MiconModelConfig, build_model, load_model
from micon.progress import progress as show_progress
from micon.training.data import MiconDataModule, crop_dataloader, resolve_pin_memory
from micon.training.methods import get_method, make_checkpoint
from micon.training.module import MiconModule
from micon.training.progress import StepProgress
from micon.training.resume import (
    CHECKPOINT_DIR,
    ConfigChangePolicy,
    RunConfigCallback,
    check_run_config,
    newest_readable_checkpoint,
    read_checkpoint,
)
from micon.training.sampler import SECOND_VIEWS, ControlMode, SecondView

logger = logging.getLogger(__name__)

__all__ = [
    "HISTORY_COLUMNS",
    "MlflowParent",
    "TrainingConfig",
    "build_untrained_checkpoint",
    "embed_crops",
    "fit_intensity_scaling",
    "resolve_run",
    "run_configuration",
    "seed_everything",
    "train_micon",
]

# Columns of every history; a method's loss parts (MICON: paclr, cf) come between loss and lr.
HISTORY_COLUMNS: tuple[str, ...] = ("step", "loss", "lr")

Precision = Literal["auto", "32-true", "bf16-mixed", "16-mixed", "bf16-true"]
# The training settings a resumed run must share with the run it continues (they shape what is learned);
# the others (devices, workers, logging, run folder) may change between attempts.
RESUMED_TRAINING_KEYS: tuple[str, ...] = (
    "max_steps",
    "batch_rows",
    "lr",
    "weight_decay",
    "warmup_steps",
    "flips",
    "rot90",
    "intensity_jitter",
    "splits",
    "second_view",
    "precision",
    "gradient_clip_val",
    "seed",
)
_VERSION = re.compile(r"^version_(\d+)$")
_RUN_ID = re.compile(schema.RUN_ID_PATTERN)


@dataclass(frozen=True, kw_only=True)
class MlflowParent:
    """The MLflow run a training logs under, as a child run (the Kedro run's, see ``micon.tracking``).

    Attributes:
        tracking_uri: The MLflow tracking URI.
        experiment_name: The MLflow experiment.
        run_id: The parent MLflow run's id.
    """

    tracking_uri: str
    experiment_name: str
    run_id: str


@dataclass(frozen=True, kw_only=True)
class TrainingConfig:
    """Settings of :func:`train_micon` shared by every method: budget, optimiser, sampler, Trainer, runs.

    The objective of each method (weights, temperatures, stop-gradients) is its own config, see
    :mod:`micon.training.methods`. Every field is required; the values live in ``conf/base``
    (``modeling.training``).

    Attributes:
        max_steps: Optimiser steps.
        batch_rows: Rows per step and device; each row holds 4 crops (2 treated, 2 controls).
        lr: Peak AdamW learning rate.
        weight_decay: AdamW weight decay.
        warmup_steps: Linear warm-up steps before the cosine decay.
        flips: Random flips of training crops.
        rot90: Random 90-degree rotations of training crops.
        intensity_jitter: Log-normal gain jitter of training crops (0: off).
        splits: Splits the sampler draws from.
        second_view: How the sampler draws each row's second treated crop: ``"reference"`` (any other
            image of the compound, as the MICON reference code) or ``"tiered"`` (the most different tier
            of wells first: another source, batch, plate, well).
        accelerator: Lightning accelerator; "auto" picks the GPU when there is one.
        devices: Lightning devices (count, list of ids or "auto").
        num_nodes: Machines of a multi-node run.
        strategy: Lightning strategy ("auto", "ddp", "ddp_find_unused_parameters_true", ...). Each rank
            samples its own shard of the global batch (no DistributedSampler).
        precision: Lightning precision; "auto" is "bf16-mixed" on a CUDA GPU with bf16, else "32-true".
        gradient_clip_val: Clip the global gradient norm to this (None: no clipping).
        num_workers: DataLoader worker processes reading the crops (0: the main process reads).
        pin_memory: Pin batches in page-locked memory; ``"auto"``: when CUDA is available.
        persistent_workers: Keep the workers alive between epochs (with workers only).
        prefetch_factor: Batches each worker loads ahead (None: PyTorch's default of 2; with workers only).
        seed: Seed of weights, sampler and augmentations.
        log_every_n_steps: Logging (and history) interval.
        run_dir: Folder of this training's runs: each run is a folder named by its run id (the Kedro
            run's id, :mod:`micon.runs`; ``version_<k>`` outside a Kedro run) holding ``checkpoints/``,
            CSV logs (``csv/version_<j>/metrics.csv``, one per attempt) and TensorBoard events
            (``tensorboard/``). None: no files, no checkpoints.
        checkpoint_every_n_steps: Save a checkpoint every this many steps (plus ``last.ckpt``); None: never.
        resume: False starts a new run (its run id's folder, else the next version); True resumes the latest
            run of ``run_dir`` (``version_<k>`` folders, then run-id folders in time order) from its
            newest readable checkpoint (``last.ckpt``, else the newest ``step=*.ckpt``; a new run when it
            has none); a path resumes from that checkpoint file into a new run folder.
        resume_on_config_change: What a resume does when the checkpoint was saved with another
            configuration (:data:`RESUMED_TRAINING_KEYS`, the model, the method's objective):
            ``"refuse"`` raises naming the changed keys; ``"override"`` continues with the new values.
        enable_progress_bar: Show the training's steps of ``max_steps`` (a bar on a terminal, a few log
            lines elsewhere: :class:`micon.training.progress.StepProgress`).
    """

    max_steps: int
    batch_rows: int
    lr: float
    weight_decay: float
    warmup_steps: int
    flips: bool
    rot90: bool
    intensity_jitter: float
    splits: tuple[str, ...]
    second_view: SecondView
    accelerator: str
    devices: int | str | Sequence[int]
    num_nodes: int
    strategy: str
    precision: Precision
    gradient_clip_val: float | None
    num_workers: int
    pin_memory: bool | Literal["auto"]
    persistent_workers: bool
    prefetch_factor: int | None
    seed: int
    log_every_n_steps: int
    run_dir: str | None
    checkpoint_every_n_steps: int | None
    resume: bool | str
    resume_on_config_change: ConfigChangePolicy
    enable_progress_bar: bool

    def __post_init__(self) -> None:
        # Lists from YAML become tuples so the config stays hashable and immutable.
        object.__setattr__(self, "splits", tuple(self.splits))
        if isinstance(self.devices, list):
            object.__setattr__(self, "devices", tuple(self.devices))
        if self.max_steps < 1 or self.batch_rows < 1 or self.log_every_n_steps < 1 or self.num_nodes < 1:
            raise InvalidConfigError(
                f"max_steps, batch_rows, log_every_n_steps and num_nodes must be >= 1, got {self.max_steps}, "
                f"{self.batch_rows}, {self.log_every_n_steps}, {self.num_nodes}"
            )
        if self.warmup_steps < 0 or self.num_workers < 0:
            raise InvalidConfigError(
                f"warmup_steps and num_workers must be >= 0, got {self.warmup_steps}, {self.num_workers}"
            )
        if self.lr <= 0 or self.weight_decay < 0:
            raise InvalidConfigError(f"need lr > 0, weight_decay >= 0; got {self.lr}, {self.weight_decay}")
        if self.pin_memory not in (True, False, "auto"):
            raise InvalidConfigError(f"pin_memory must be true, false or 'auto', got {self.pin_memory!r}")
        if self.prefetch_factor is not None and self.prefetch_factor < 1:
            raise InvalidConfigError(f"prefetch_factor must be >= 1 or None, got {self.prefetch_factor}")
        if self.gradient_clip_val is not None and self.gradient_clip_val <= 0:
            raise InvalidConfigError(f"gradient_clip_val must be > 0 or None, got {self.gradient_clip_val}")
        if self.precision not in Precision.__args__:
            raise InvalidConfigError(f"precision must be one of {Precision.__args__}, got {self.precision!r}")
        unknown = [s for s in self.splits if s not in schema.SPLITS]
        if unknown or not self.splits:
            raise InvalidConfigError(
                f"splits must be a non-empty subset of {schema.SPLITS}, got {self.splits}"
            )
        if self.second_view not in SECOND_VIEWS:
            raise InvalidConfigError(f"second_view must be one of {SECOND_VIEWS}, got {self.second_view!r}")
        if self.checkpoint_every_n_steps is not None and self.checkpoint_every_n_steps < 1:
            raise InvalidConfigError(
                f"checkpoint_every_n_steps must be >= 1 or None, got {self.checkpoint_every_n_steps}"
            )
        if self.run_dir is None and (self.checkpoint_every_n_steps is not None or self.resume is True):
            raise InvalidConfigError(
                "checkpoint_every_n_steps and resume: true need a run_dir to hold checkpoints"
            )
        if isinstance(self.resume, str) and not Path(self.resume).is_file():
            raise InvalidConfigError(f"resume checkpoint {self.resume!r} is not a file")
        if self.resume_on_config_change not in ConfigChangePolicy.__args__:
            raise InvalidConfigError(
                f"resume_on_config_change must be one of {ConfigChangePolicy.__args__}, "
                f"got {self.resume_on_config_change!r}"
            )


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch (all devices) for a reproducible run."""
    L.seed_everything(seed, workers=True, verbose=False)


class _HistoryCallback(L.Callback):
    """Collect the logged losses every ``every`` steps and at the last step; checkpointed with the run.

    Its rows are part of a checkpoint (``state_dict``), so a resumed run returns the whole history.
    """

    def __init__(self, every: int, parts: Sequence[str]) -> None:
        self.every = every
        self.names = ("loss", *parts)
        self.rows: list[dict[str, float]] = []

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        step = trainer.global_step
        if step % self.every and step != trainer.max_steps:
            return
        metrics = trainer.callback_metrics
        row = {"step": step}
        for name in self.names:
            value = metrics.get(f"train/{name}")
            row[name] = float(value) if value is not None else float("nan")
        row["lr"] = float(trainer.optimizers[0].param_groups[0]["lr"])
        self.rows.append(row)

    def state_dict(self) -> dict[str, Any]:
        """Return the rows so far (saved in checkpoints)."""
        return {"rows": list(self.rows)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the rows of the run being resumed."""
        self.rows = list(state_dict["rows"])


def resolve_run(
    run_dir: str | None, resume: bool | str, *, run_id: str | None = None
) -> tuple[Path | None, str | None]:
    """Return the run folder a training writes into and the checkpoint it resumes from.

    Runs are ``<run_dir>/<run_id>`` when the training has a run id (a Kedro run's, :mod:`micon.runs`),
    else ``<run_dir>/version_<k>``. ``resume=False`` (or a checkpoint path) opens a new run: the run id's
    folder, or the next version; ``resume=True`` reopens the latest run that holds a checkpoint
    (``version_<k>`` folders by number, then run-id folders in time order) and resumes from its newest
    readable one (``last.ckpt``, else the newest ``step=*.ckpt``; each unreadable file skipped with a
    warning), or opens a new run when none holds a checkpoint.

    Returns:
        ``(run folder or None, checkpoint path or None)``.

    Raises:
        CheckpointError: The run to resume holds checkpoints but none can be read, or the checkpoint
            path given cannot be read.
    """
    folder, path, _ = _resume_point(run_dir, resume, run_id=run_id)
    return folder, path


def _resume_point(
    run_dir: str | None, resume: bool | str, *, run_id: str | None = None
) -> tuple[Path | None, str | None, dict[str, Any] | None]:
    """Return :func:`resolve_run`'s folder and checkpoint path, and the checkpoint (read weights-only)."""
    checkpoint = None
    if isinstance(resume, str):
        checkpoint = read_checkpoint(resume)
    if run_dir is None:
        return (None, resume, checkpoint) if isinstance(resume, str) else (None, None, None)
    root = Path(run_dir)
    folders = [path for path in (root.iterdir() if root.is_dir() else []) if path.is_dir()]
    versions = sorted((int(m.group(1)), path) for path in folders if (m := _VERSION.match(path.name)))
    run_ids = sorted(path for path in folders if _RUN_ID.match(path.name))
    if resume is True:
        for path in reversed([path for _, path in versions] + run_ids):
            found = newest_readable_checkpoint(path / CHECKPOINT_DIR)
            if found is not None:
                logger.info("resuming training from %s", found[0])
                return path, str(found[0]), found[1]
        logger.info("resume: true but %s holds no checkpoint; starting a new run", root)
    if run_id is not None:
        folder = root / run_id
    else:
        folder = root / f"version_{versions[-1][0] + 1 if versions else 0}"
    return (folder, resume, checkpoint) if isinstance(resume, str) else (folder, None, None)


def run_configuration(
    training_config: TrainingConfig, model_config: MiconModelConfig, *, method: str, objective: Any
) -> dict[str, Any]:
    """Return what a resumed run must share with the run it continues (recorded in every checkpoint).

    Returns:
        ``{"method", "training": the :data:`RESUMED_TRAINING_KEYS` values, "model": the model config,
        "objective": the objective's fields}``.
    """
    return {
        "method": method,
        "training": {key: getattr(training_config, key) for key in RESUMED_TRAINING_KEYS},
        "model": model_config.to_dict(),
        "objective": dataclasses.asdict(objective) if dataclasses.is_dataclass(objective) else objective,
    }


def train_micon(
    crops: np.ndarray,
    crop_index: pd.DataFrame,
    *,
    model_config: MiconModelConfig,
    training_config: TrainingConfig,
    method: str,
    objective: Any,
    controls: ControlMode,
    callbacks: Sequence[L.Callback] = (),
    run_id: str | None = None,
    mlflow: MlflowParent | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Train ``method`` on the crops of ``training_config.splits`` and return its model as a checkpoint.

    With ``model_config.image.intensity_scaling == "plate_control"`` every crop is first scaled against
    its plate's DMSO crops (:func:`fit_intensity_scaling`), as :func:`embed_crops` does. With a
    ``run_dir``, the run writes CSV and TensorBoard logs and checkpoints there and can be resumed
    (``resume``); the resumed run draws the same batches and augmentations as an uninterrupted one.

    Args:
        crops: ``(N, C, S, S)`` uint16 crop store, row i the crop with ``Metadata_CropID == i``.
        crop_index: One row per crop (``docs/architecture.md``).
        model_config: The architecture, with the method's parts
            (``micon.training.methods.build_model_config``).
        training_config: The budget: optimiser, sampler and Trainer settings.
        method: A trained method of the registry (``micon.training.methods``).
        objective: The method's objective config (``micon.training.methods.build_objective_config``).
        controls: Control crops of each row, as the screen's source profile says: ``"dmso"``
            (plate-matched DMSO) or ``"same_plate"`` (a crop of another compound of the plate, for screens
            without DMSO images).
        callbacks: Extra Lightning callbacks (e.g. monitors); the history collector is always added.
        run_id: The id of the Kedro run this training belongs to (``micon.runs``): it names the run
            folder under ``run_dir``. None: the next ``version_<k>`` folder.
        mlflow: The MLflow run of the Kedro run: the training curves go to a child run of it (named
            ``<method> seed <seed>``, tagged ``micon.run_id``, ``micon.method`` and ``micon.seed``).
            None: no MLflow.

    Returns:
        The checkpoint ``{"method", "config", "state_dict"}`` (CPU tensors) and the training history: one
        row per logged step with ``step``, ``loss``, the method's loss parts and ``lr`` (the whole run,
        also when resumed).

    Raises:
        MissingColumnsError: ``crop_index`` lacks a column the sampler needs.
        NoControlsError: A sampled plate has no control crops nearby (see ``TreatmentPairSampler``), or no
            DMSO crops to scale its intensities against.
        InvalidImageError: ``crops`` does not match the config's channels or the crop ids.
        UnknownNameError: ``method`` is not registered.
        InvalidConfigError: ``method`` is not trained, or ``objective`` or the model's parts are not the
            method's.
        TrainingDivergedError: A loss became NaN or infinite (names the step and the loss parts), or a
            weight did; the run stops and nothing is returned.
        CheckpointError: Resuming, no checkpoint of the run can be read, or the checkpoint was saved
            with another configuration and ``resume_on_config_change`` is ``"refuse"`` (names the keys).
    """
    cfg = training_config
    spec = get_method(method)
    _check_crops(crops, model_config)
    seed_everything(cfg.seed)
    model = build_model(model_config)
    sampled_plates = crop_index.loc[crop_index[schema.SPLIT].isin(cfg.splits), [schema.SOURCE, schema.PLATE]]
    plate_crops = crop_index.merge(sampled_plates.drop_duplicates(), on=[schema.SOURCE, schema.PLATE])
    datamodule = MiconDataModule(
        crops,
        crop_index,
        batch_rows=cfg.batch_rows,
        splits=cfg.splits,
        seed=cfg.seed,
        steps_per_epoch=cfg.max_steps,
        num_workers=cfg.num_workers,
        pin_memory=resolve_pin_memory(cfg.pin_memory),
        persistent_workers=cfg.persistent_workers,
        prefetch_factor=cfg.prefetch_factor,
        controls=controls,
        second_view=cfg.second_view,
        intensity=fit_intensity_scaling(crops, plate_crops, scaling=model_config.image.intensity_scaling),
        fields=spec.batch_fields,
        molecule=model_config.molecule,
    )
    module = MiconModule(
        model,
        method=method,
        objective=objective,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        warmup_steps=cfg.warmup_steps,
        max_steps=cfg.max_steps,
        flips=cfg.flips,
        rot90=cfg.rot90,
        intensity_jitter=cfg.intensity_jitter,
        seed=cfg.seed,
    )
    history = _HistoryCallback(cfg.log_every_n_steps, spec.loss_parts)
    run_config = run_configuration(cfg, model_config, method=method, objective=objective)
    if run_id is not None and not _RUN_ID.match(run_id):
        raise InvalidConfigError(f"run id {run_id!r} is not a Kedro save version (it names a folder)")
    folder, ckpt_path, resumed = _resume_point(cfg.run_dir, cfg.resume, run_id=run_id)
    if resumed is not None:
        module.override_resumed_optimizer = check_run_config(
            resumed, run_config, path=str(ckpt_path), policy=cfg.resume_on_config_change
        )
    trainer = _build_trainer(
        cfg,
        folder,
        callbacks=[
            history,
            RunConfigCallback(run_config),
            *([StepProgress(f"train {method}")] if cfg.enable_progress_bar else []),
            *callbacks,
        ],
        mlflow=_mlflow_logger(mlflow, run_id=run_id, method=method, seed=cfg.seed, folder=folder),
    )
    # weights_only: a checkpoint is tensors and plain values; anything else is refused, never executed.
    trainer.fit(module, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    logger.info(
        "trained %s for %d steps%s", method, trainer.global_step, f" (run {folder})" if folder else ""
    )
    _require_finite_weights(model, method=method, step=trainer.global_step)
    checkpoint = make_checkpoint(model, method=method)
    columns = ["step", "loss", *spec.loss_parts, "lr"]
    return checkpoint, pd.DataFrame(history.rows, columns=columns)


def _require_finite_weights(model: torch.nn.Module, *, method: str, step: int) -> None:
    """Raise TrainingDivergedError when a weight of ``model`` is NaN or infinite (names the first)."""
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise TrainingDivergedError(
                f"{method} training diverged: weight {name!r} is not finite after step {step}; no "
                "checkpoint or embeddings are written. Lower modeling.training.lr or keep gradient_clip_val"
            )


def _mlflow_logger(
    parent: MlflowParent | None, *, run_id: str | None, method: str, seed: int, folder: Path | None
) -> MLFlowLogger | None:
    """Return the MLflow logger of ``method``'s training: a child run of ``parent`` (None: no logger).

    Named ``<method> seed <seed>`` and tagged ``micon.seed``: a benchmark trains each method under several
    seeds in one Kedro run, whose child runs must be told apart.
    """
    if parent is None:
        return None
    tags = {"mlflow.parentRunId": parent.run_id, "micon.method": method, "micon.seed": str(seed)}
    if run_id is not None:
        tags["micon.run_id"] = run_id
    if folder is not None:
        tags["micon.run_folder"] = str(folder)
    return MLFlowLogger(
        experiment_name=parent.experiment_name,
        run_name=f"{method} seed {seed}",
        tracking_uri=parent.tracking_uri,
        tags=tags,
        log_model=False,
    )


def _build_trainer(
    cfg: TrainingConfig,
    folder: Path | None,
    *,
    callbacks: Sequence[L.Callback],
    mlflow: MLFlowLogger | None = None,
) -> L.Trainer:
    """Return the Lightning Trainer ``cfg`` describes, writing logs and checkpoints into ``folder``.

    ``mlflow``: an MLflow logger added to the file loggers (the training curves of a tracked run).
    """
    callbacks = list(callbacks)
    loggers: list[Any] = []
    if folder is not None:
        # One CSV folder per attempt: CSVLogger would erase an earlier attempt's metrics.csv. TensorBoard
        # appends, so a resumed run continues one curve.
        loggers = [
            CSVLogger(folder, name="csv"),
            TensorBoardLogger(folder, name="tensorboard", version="", default_hp_metric=False),
        ]
    if mlflow is not None:
        loggers.append(mlflow)
    if cfg.checkpoint_every_n_steps is not None:
        callbacks.append(
            ModelCheckpoint(
                dirpath=folder / CHECKPOINT_DIR,
                filename="{step:07d}",
                every_n_train_steps=cfg.checkpoint_every_n_steps,
                save_top_k=-1,
                save_last=True,
            )
        )
    return L.Trainer(
        max_steps=cfg.max_steps,
        accelerator=cfg.accelerator,
        devices=list(cfg.devices) if isinstance(cfg.devices, tuple) else cfg.devices,
        num_nodes=cfg.num_nodes,
        strategy=cfg.strategy,
        precision=_precision(cfg.precision, cfg.accelerator),
        gradient_clip_val=cfg.gradient_clip_val,
        gradient_clip_algorithm="norm",
        logger=loggers or False,
        log_every_n_steps=cfg.log_every_n_steps,
        callbacks=callbacks,
        enable_checkpointing=cfg.checkpoint_every_n_steps is not None,
        default_root_dir=folder,
        # the steps of the total are shown by StepProgress (train_micon); Lightning's bar counts epochs
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        # The sampler shards by rank itself; Lightning must not wrap it in a DistributedSampler.
        use_distributed_sampler=False,
    )


def _precision(precision: str, accelerator: str) -> str:
    """Resolve ``"auto"``: bf16-mixed where training runs on a CUDA GPU that supports it, else 32-true."""
    if precision != "auto":
        return precision
    on_gpu = accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    return "bf16-mixed" if on_gpu and torch.cuda.is_bf16_supported() else "32-true"


def fit_intensity_scaling(
    crops: np.ndarray, crop_index: pd.DataFrame, *, scaling: str
) -> CropIntensityScaling | None:
    """Return the plate DMSO scaling of the crops of ``crop_index`` when the encoder expects it, else None.

    The encoder's ``intensity_scaling`` decides: ``"plate_control"`` needs crops scaled against their
    plate's DMSO crops, fitted here on the DMSO crops of ``crop_index`` (each plate its own controls,
    as robust-MAD normalisation of profiles); other scalings work on raw intensities.

    Raises:
        NoControlsError: ``"plate_control"`` and a plate of ``crop_index`` has no DMSO crop (names it).
    """
    if scaling != "plate_control":
        return None
    references = fit_plate_intensity_references(crops, crop_index)
    return CropIntensityScaling.for_crops(references, crop_index, n_crops=crops.shape[0])


def build_untrained_checkpoint(model_config: MiconModelConfig, *, method: str, seed: int) -> dict[str, Any]:
    """Return the checkpoint of a seeded, randomly initialised model of ``method``: the untrained floor.

    Raises:
        UnknownNameError: ``method`` is not registered.
        InvalidInputError: The model's parts are not the method's.
    """
    seed_everything(seed)
    return make_checkpoint(build_model(model_config), method=method)


def embed_crops(
    checkpoint: dict[str, Any],
    crops: np.ndarray,
    crop_index: pd.DataFrame,
    *,
    channels: Sequence[str],
    batch_size: int,
    accelerator: str,
    num_workers: int,
) -> pd.DataFrame:
    """Embed every crop of ``crop_index`` with the checkpoint's model (eval mode, no gradients).

    The embedding is the one the method evaluates, before any projection head
    (:meth:`~micon.models.MiconModel.embed`: the image encoder output, or CellCLIP's CLS output).

    Crops are read in batches in ``crop_index`` order and scaled as in training: against their plate's
    DMSO crops in ``crop_index`` when the encoder's ``intensity_scaling`` is ``"plate_control"``
    (:func:`fit_intensity_scaling`), then by the encoder's own normaliser.

    Args:
        checkpoint: A dict from :func:`train_micon` or :func:`build_untrained_checkpoint`.
        crops: ``(N, C, S, S)`` uint16 crop store.
        crop_index: The crops to embed (any subset or order of the store's rows).
        channels: The channel names of ``crops`` (the crop store's); they must be the model's.
        batch_size: Crops per forward pass.
        accelerator: ``"auto"`` (CUDA when available), ``"gpu"``/``"cuda"`` or ``"cpu"``.
        num_workers: DataLoader workers reading the crops.

    Returns:
        One row per crop, in ``crop_index`` order (index reset): the ``crop_index`` columns plus
        ``schema.embedding_columns(D)`` float32.

    Raises:
        MissingColumnsError: ``crop_index`` lacks ``Metadata_CropID``.
        InvalidImageError: ``crops`` or ``channels`` do not match the model's channels, or the crop ids.
        InvalidConfigError: ``accelerator`` is unknown.
        NoControlsError: ``"plate_control"`` scaling and a plate of ``crop_index`` has no DMSO crop.
    """
    if schema.CROP_ID not in crop_index.columns:
        raise MissingColumnsError(f"crop_index lacks {schema.CROP_ID!r}, needed to read crops")
    model = load_model(checkpoint)
    if tuple(channels) != model.config.channels:
        raise InvalidImageError(
            f"the crops' channels {list(channels)} are not the model's {list(model.config.channels)} "
            f"({checkpoint.get('method', '?')} was trained on other crops); embed crops of the model's screen"
        )
    _check_crops(crops, model.config, crop_ids=crop_index[schema.CROP_ID].to_numpy())
    device = _device(accelerator)
    model = model.to(device).eval()
    ids = crop_index[schema.CROP_ID].to_numpy(dtype=np.int64)
    intensity = fit_intensity_scaling(crops, crop_index, scaling=model.config.image.intensity_scaling)
    loader = crop_dataloader(crops, ids, batch_size=batch_size, num_workers=num_workers, intensity=intensity)
    chunks: list[np.ndarray] = []
    with torch.inference_mode():
        batches = show_progress(
            loader, desc=f"embed {checkpoint.get('method', '?')}", logger=logger, unit="batch"
        )
        for images in batches:
            chunks.append(model.embed(images.to(device, non_blocking=True)).float().cpu().numpy())
    dim = model.embedding_dim
    values = np.concatenate(chunks) if chunks else np.empty((0, dim), dtype=np.float32)
    features = pd.DataFrame(values.astype(np.float32), columns=schema.embedding_columns(dim))
    return pd.concat([crop_index.reset_index(drop=True), features], axis=1)


def _device(accelerator: str) -> torch.device:
    """Return the torch device an accelerator name selects."""
    if accelerator == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    devices = {"cpu": "cpu", "gpu": "cuda", "cuda": "cuda"}
    if accelerator not in devices:
        raise InvalidConfigError(f"accelerator must be one of {['auto', *devices]}, got {accelerator!r}")
    return torch.device(devices[accelerator])


def _check_crops(
    crops: np.ndarray, config: MiconModelConfig, *, crop_ids: Sequence[int] | np.ndarray | None = None
) -> None:
    """Raise InvalidImageError unless ``crops`` is (N, C, S, S) with the model's C and holds every crop id."""
    if crops.ndim != 4 or crops.shape[1] != config.in_channels:
        raise InvalidImageError(
            f"crops must be (N, {config.in_channels}, S, S) for this model (channels "
            f"{list(config.channels)}), got shape {crops.shape}"
        )
    if (
        crop_ids is not None
        and len(crop_ids)
        and (np.max(crop_ids) >= crops.shape[0] or np.min(crop_ids) < 0)
    ):
        raise InvalidImageError(
            f"crop ids range over [{np.min(crop_ids)}, {np.max(crop_ids)}] but the store holds "
            f"{crops.shape[0]} crops"
        )
