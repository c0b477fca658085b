"""Training in several processes (DDP) without re-running the Kedro pipeline in every rank.

Lightning's DDP launcher starts the other ranks by re-running the command that started the first one: under
``kedro run`` every rank would run the whole pipeline again (a known Kedro limitation). Here a training is
a :class:`TrainingJob` (what :func:`~micon.training.runner.train_micon` needs); with more than one process
it is written to a folder and run by the project's own entry point, ``python -m micon.train --job DIR``,
in a subprocess: Lightning re-runs that command, not the pipeline, for the other local ranks, and rank 0
alone writes the result back. The same entry point runs under ``torchrun`` or SLURM's ``srun`` (Lightning
detects their process groups), reading its inputs from the catalog (``docs/scaling.md``).

Only the job folder's handling is written here; process groups, the DDP wrapper and the gradient
all-reduce are Lightning's and torch.distributed's.
"""

from __future__ import annotations

import logging
import mmap
import os
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import pandas as pd
import torch

from micon.errors import InvalidConfigError, MiconError
from micon.models.micon import MiconModelConfig
from micon.training.runner import MlflowParent, TrainingConfig, train_micon
from micon.training.sampler import ControlMode

logger = logging.getLogger(__name__)

__all__ = [
    "ENTRY_POINT",
    "TrainingJob",
    "TrainingLaunchError",
    "global_rank",
    "launch_training",
    "process_count",
    "read_job",
    "run_job_folder",
    "train",
    "write_job",
]

ENTRY_POINT = "micon.train"
"""The module run as ``python -m micon.train``: the project's training entry point."""
_JOB_FILE = "job.pkl"
_RESULT_FILE = "result.pkl"


class TrainingLaunchError(MiconError, RuntimeError):
    """The training subprocess failed (its own output, printed above, says why)."""


@dataclass(frozen=True, kw_only=True)
class TrainingJob:
    """Everything one training needs: the keywords of :func:`~micon.training.runner.train_micon`.

    Pickled into the job folder; crops in a read-only memory map (a loaded crop store) pickle as the
    file's path, so the crops themselves are not copied.

    Attributes:
        crops: ``(N, C, S, S)`` uint16 crop store.
        crop_index: One row per crop.
        model_config: The method's architecture.
        training_config: The budget and Trainer settings (devices, num_nodes, strategy among them).
        method: A trained method of the registry.
        objective: The method's objective config.
        controls: ``"dmso"`` or ``"same_plate"`` control crops.
        run_id: The Kedro run's id, naming the run folder (None: the next ``version_<k>``).
        mlflow: The parent MLflow run (None: no MLflow).
        callbacks: Extra Lightning callbacks (picklable: importable classes).
    """

    crops: Any
    crop_index: pd.DataFrame
    model_config: MiconModelConfig
    training_config: TrainingConfig
    method: str
    objective: Any
    controls: ControlMode
    run_id: str | None = None
    mlflow: MlflowParent | None = None
    callbacks: Sequence[L.Callback] = field(default_factory=tuple)

    def run(self) -> tuple[dict[str, Any], pd.DataFrame]:
        """Train in this process (one rank of a process group, or the only process)."""
        return train_micon(
            self.crops,
            self.crop_index,
            model_config=self.model_config,
            training_config=self.training_config,
            method=self.method,
            objective=self.objective,
            controls=self.controls,
            callbacks=self.callbacks,
            run_id=self.run_id,
            mlflow=self.mlflow,
        )


def process_count(cfg: TrainingConfig) -> int:
    """Return how many processes ``cfg``'s Trainer would run: devices per node times ``num_nodes``.

    ``devices`` is a count (-1: every GPU), a list of device ids, or ``"auto"`` (every GPU when the
    accelerator may be a CUDA GPU and one is present, else one process).
    """
    devices = cfg.devices
    on_gpu = cfg.accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available()
    if isinstance(devices, (tuple, list)):
        per_node = len(devices)
    elif devices == "auto" or devices == -1 or devices == "-1":
        per_node = torch.cuda.device_count() if on_gpu else 1
    else:
        per_node = int(devices)
    return max(per_node, 1) * cfg.num_nodes


def global_rank() -> int:
    """Return this process's rank in the training's process group (0 outside one)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank()
    return 0


def train(job: TrainingJob) -> tuple[dict[str, Any], pd.DataFrame]:
    """Train ``job``: in this process when it needs one process, else in a launched process group.

    Raises:
        InvalidConfigError: ``num_nodes`` > 1: other machines cannot be started from here; run
            ``python -m micon.train`` on every node under ``srun`` or ``torchrun`` (``docs/scaling.md``).
        TrainingLaunchError: The launched training failed.
    """
    cfg = job.training_config
    if cfg.num_nodes > 1:
        raise InvalidConfigError(
            f"modeling.training.num_nodes is {cfg.num_nodes}: a pipeline node cannot start processes on "
            "other machines; run `python -m micon.train --env <env> --method <method>` on every node "
            "under srun or torchrun instead (docs/scaling.md, 'Training on several GPUs or nodes')"
        )
    count = process_count(cfg)
    if count == 1:
        return job.run()
    logger.info(
        "training %s in %d processes (strategy %s) through %s", job.method, count, cfg.strategy, ENTRY_POINT
    )
    return launch_training(job)


def write_job(job: TrainingJob, folder: str | Path) -> Path:
    """Write ``job`` into ``folder`` (created) and return the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / _JOB_FILE).open("wb") as handle:
        _JobPickler(handle, protocol=pickle.HIGHEST_PROTOCOL).dump(job)
    return folder


class _JobPickler(pickle.Pickler):
    """Pickle a whole-file read-only memory map as its file, not its bytes (each rank maps it again)."""

    def reducer_override(self, obj: Any) -> Any:
        if (
            isinstance(obj, np.memmap)
            and isinstance(obj.base, mmap.mmap)
            and obj.filename
            and obj.mode == "r"
        ):
            return _open_memmap, (str(obj.filename), obj.dtype.str, obj.offset, obj.shape)
        return NotImplemented


def _open_memmap(filename: str, dtype: str, offset: int, shape: tuple[int, ...]) -> np.memmap:
    """Map ``filename`` read-only again (the other end of :class:`_JobPickler`)."""
    return np.memmap(filename, dtype=np.dtype(dtype), mode="r", offset=offset, shape=shape)


def read_job(folder: str | Path) -> TrainingJob:
    """Read the job :func:`write_job` wrote into ``folder`` (a file this project wrote: it is unpickled).

    Raises:
        InvalidConfigError: ``folder`` holds no job.
    """
    path = Path(folder) / _JOB_FILE
    if not path.is_file():
        raise InvalidConfigError(f"{folder} holds no training job ({_JOB_FILE}); write one with write_job")
    with path.open("rb") as handle:
        job = pickle.load(handle)  # noqa: S301 - written by write_job in a folder of this run
    if not isinstance(job, TrainingJob):
        raise InvalidConfigError(f"{path} holds a {type(job).__name__}, not a TrainingJob")
    return job


def run_job_folder(folder: str | Path) -> None:
    """Run the job of ``folder`` as this rank; rank 0 writes the checkpoint and history next to it once."""
    checkpoint, history = read_job(folder).run()
    if global_rank() == 0:
        partial = Path(folder) / f".{_RESULT_FILE}.partial"
        with partial.open("wb") as handle:
            pickle.dump((checkpoint, history), handle, protocol=pickle.HIGHEST_PROTOCOL)
        partial.replace(Path(folder) / _RESULT_FILE)


def launch_training(
    job: TrainingJob, *, folder: str | Path | None = None, env: dict[str, str] | None = None
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Run ``job`` in a subprocess of the entry point, which Lightning turns into the process group.

    ``python -m micon.train --job <folder>`` is started once; with ``devices`` > 1 Lightning starts the
    other local ranks by re-running that command (its subprocess launcher), so the pipeline is not re-run.
    The output of every rank goes to this process's stdout and stderr.

    Args:
        job: The training.
        folder: Where the job and result are written (None: a temporary folder, removed afterwards).
        env: The subprocess's environment (None: this process's).

    Returns:
        Rank 0's checkpoint and history, as :func:`~micon.training.runner.train_micon` returns them.

    Raises:
        TrainingLaunchError: The subprocess exited with an error or wrote no result.
    """
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="micon-train-") as tmp:
            return launch_training(job, folder=tmp, env=env)
    folder = write_job(job, folder)
    command = [sys.executable, "-m", ENTRY_POINT, "--job", str(folder)]
    completed = subprocess.run(command, env=env if env is not None else dict(os.environ), check=False)  # noqa: S603
    result = folder / _RESULT_FILE
    if completed.returncode != 0 or not result.is_file():
        raise TrainingLaunchError(
            f"training of {job.method} in {process_count(job.training_config)} processes failed: "
            f"`{' '.join(command)}` exited with status {completed.returncode}"
            + ("" if result.is_file() else " and wrote no result")
        )
    with result.open("rb") as handle:
        return pickle.load(handle)  # noqa: S301 - written by rank 0 of the job just run
