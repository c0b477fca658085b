"""Nodes of the modeling pipeline: train each method, build the untrained floor, embed every crop."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from micon.metadata.provenance import (
    CHECKPOINT_ID,
    CROP_STORE_ID,
    checkpoint_digest,
    recorded_id,
    require_crops_of_index,
    with_ids,
)
from micon.models import merge_params
from micon.profile import SourceProfile
from micon.runs import current_run
from micon.training.distributed import TrainingJob, train
from micon.training.methods import build_model_config, build_objective_config
from micon.training.runner import (
    MlflowParent,
    TrainingConfig,
    build_untrained_checkpoint,
    embed_crops,
)
from micon.training.tuning import apply_selection, temperature_fields

logger = logging.getLogger(__name__)


def train_model(
    crop_store: Any,
    crop_index: pd.DataFrame,
    source_profile: dict[str, Any],
    model_params: dict[str, Any],
    training_params: dict[str, Any],
    method_params: dict[str, Any],
    *,
    method: str,
    seed: int | None = None,
    run: str | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Train ``method`` on the training split with the shared budget; return its checkpoint and history.

    ``crop_store`` is the store as loaded: ``crops`` and the ``channels`` they were saved with, which
    become the model's input channels. The source profile says how treated crops are paired with controls.
    ``method_params`` holds ``model`` (overrides of the shared architecture), ``objective`` and optionally
    ``training`` (overrides of the shared budget for this method alone: its tuned learning rate). Each
    method's runs (checkpoints, CSV and TensorBoard logs) go to ``<run_dir>/<method>/<run_id>``, named by
    the Kedro run's id (:func:`micon.runs.current_run`), so resuming one method never picks up another's
    run; with tracking on, the training curves go to the run's MLflow run as a child run named by the
    method. The crop index and store must come from one extraction.

    ``seed`` (bound by the pipeline when it trains several seeds) replaces ``training_params["seed"]``
    for this run only, and ``run`` (the run's namespace, e.g. ``micon_seed1``) names its run folder
    instead of the method; both None: the configured seed and ``<run_dir>/<method>/<run_id>``.

    With one process (``devices``, ``num_nodes``) the training runs in this process; with several on this
    machine it runs in a process group started through ``python -m micon.train`` (so no rank re-runs the
    pipeline) and rank 0's checkpoint comes back here, to be saved once
    (:func:`micon.training.distributed.train`); several nodes need that command under srun or torchrun.
    """
    kedro_run = current_run()
    job = training_job(
        crop_store,
        crop_index,
        source_profile,
        model_params,
        training_params,
        method_params,
        method=method,
        seed=seed,
        run=run,
        run_id=kedro_run.run_id if kedro_run is not None else None,
        mlflow=MlflowParent(
            tracking_uri=kedro_run.tracking_uri,
            experiment_name=kedro_run.experiment_name,
            run_id=kedro_run.mlflow_run_id,
        )
        if kedro_run is not None and kedro_run.mlflow_run_id is not None
        else None,
    )
    checkpoint, history = train(job)
    if len(history):
        logger.info(
            "trained %s for %d logged steps; last loss %.4f", method, len(history), history["loss"].iloc[-1]
        )
    return checkpoint, history


def training_job(
    crop_store: Any,
    crop_index: pd.DataFrame,
    source_profile: dict[str, Any],
    model_params: dict[str, Any],
    training_params: dict[str, Any],
    method_params: dict[str, Any],
    *,
    method: str,
    seed: int | None = None,
    run: str | None = None,
    run_id: str | None = None,
    mlflow: MlflowParent | None = None,
) -> TrainingJob:
    """Return the training of ``method`` that :func:`train_model` runs (shared with ``micon.train``).

    Arguments as :func:`train_model`'s; ``run_id`` names the run folder and ``mlflow`` is the parent
    MLflow run (None: none).
    """
    require_crops_of_index(crop_index, crop_store, "crop_store")
    training_params = {**training_params, **(method_params.get("training") or {})}  # its tuned lr
    if seed is not None:
        training_params = {**training_params, "seed": seed}
    if training_params.get("run_dir"):
        folder = str(Path(training_params["run_dir"]) / (run or method))
        training_params = {**training_params, "run_dir": folder}
    model_params = merge_params(model_params, method_params["model"])
    return TrainingJob(
        crops=crop_store.crops,
        crop_index=crop_index,
        model_config=build_model_config(method, model_params, channels=crop_store.channels),
        training_config=TrainingConfig(**training_params),
        method=method,
        objective=build_objective_config(method, method_params["objective"]),
        controls=SourceProfile.from_dict(source_profile).controls,
        run_id=run_id,
        mlflow=mlflow,
    )


def train_tuned_model(
    crop_store: Any,
    crop_index: pd.DataFrame,
    source_profile: dict[str, Any],
    model_params: dict[str, Any],
    training_params: dict[str, Any],
    method_params: dict[str, Any],
    tuning_selection: pd.DataFrame,
    *,
    method: str,
    seed: int | None = None,
    run: str | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Train ``method`` as :func:`train_model` does, with its tuned learning rate and temperature.

    The values are those the tuning pipeline selected for the method on the validation wells
    (``tuning_selection``, written earlier in the same run), in place of conf/base's.
    """
    tuned = apply_selection(method_params, tuning_selection, method=method)
    logger.info(
        "%s trains with its tuned lr %g and temperature(s) %s",
        run or method,
        tuned["training"]["lr"],
        {k: tuned["objective"][k] for k in temperature_fields(tuned["objective"], method=method)},
    )
    return train_model(
        crop_store,
        crop_index,
        source_profile,
        model_params,
        training_params,
        tuned,
        method=method,
        seed=seed,
        run=run,
    )


def build_untrained_model(
    crop_store: Any, model_params: dict[str, Any], training_params: dict[str, Any], *, method: str
) -> dict[str, Any]:
    """Build the shared architecture of ``method``, randomly initialised with the training seed: the floor.

    Its input channels are the crop store's, as for a trained method.
    """
    return build_untrained_checkpoint(
        build_model_config(method, model_params, channels=crop_store.channels),
        method=method,
        seed=training_params["seed"],
    )


def embed_cell_crops(
    model_checkpoint: dict[str, Any],
    crop_store: Any,
    crop_index: pd.DataFrame,
    params: dict[str, Any],
) -> pd.DataFrame:
    """Embed every crop with the checkpoint's model (the evaluated embedding, before any projection head).

    The crop index and store must come from one extraction; the embeddings record that extraction's
    write id and the checkpoint's digest (``micon.metadata.provenance``), so a later stage can tell
    which checkpoint made them.
    """
    require_crops_of_index(crop_index, crop_store, "crop_store")
    embeddings = embed_crops(
        model_checkpoint, crop_store.crops, crop_index, channels=crop_store.channels, **params
    )
    logger.info("embedded %d crops with %s", len(embeddings), model_checkpoint.get("method", "?"))
    return with_ids(
        embeddings,
        **{
            CROP_STORE_ID: recorded_id(crop_index, CROP_STORE_ID),
            CHECKPOINT_ID: checkpoint_digest(model_checkpoint),
        },
    )
