"""Experiment tracking with MLflow: one MLflow run per ``kedro run``, named by the run id.

The project hook (:class:`micon.hooks.RunTrackingHooks`) opens a :class:`Tracker` before the first node and
closes it after the last. The MLflow run is named by the run id (the Kedro session id shared by every
versioned output, :mod:`micon.runs`) and records the run's parameters, its git commit, the retrieval
metrics per method, chain and level, and the HTML report, comparison table and model checkpoints as
artifacts. Each method's training is a child run (Lightning's ``MLFlowLogger``, see
:func:`micon.training.runner.train_micon`) holding its training curves.

The default store is local, under the environment's run root: an SQLite database and an artifact folder in
``<run_root>/mlruns`` (MLflow 3 refuses its older plain-file store unless told otherwise). Nothing goes to
the network unless ``tracking.tracking_uri`` names a server (MLflow's usage telemetry is turned off).

Kedro-free: the hook hands it the parameters and the paths.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from micon.errors import InvalidConfigError

__all__ = [
    "LOCAL_STORE",
    "Tracker",
    "TrackingConfig",
    "flatten_params",
    "local_store",
    "retrieval_metric_items",
]

logger = logging.getLogger(__name__)

LOCAL_STORE = "mlruns"
# MLflow's limits: 500 characters of a parameter key is generous for dotted paths; values are cut at 6000.
_MAX_PARAM_VALUE = 6000
_BATCH = 100


@dataclass(frozen=True, kw_only=True)
class TrackingConfig:
    """``tracking``: whether and where a run is recorded in MLflow.

    Attributes:
        enabled: Record the run in MLflow (False: no MLflow at all; the run manifest is still written).
        tracking_uri: An MLflow tracking URI (e.g. ``http://127.0.0.1:5000`` for a server,
            ``sqlite:///path/mlflow.db``); None: the local store ``<run_root>/mlruns``.
        experiment_name: The MLflow experiment runs are recorded in.
    """

    enabled: bool
    tracking_uri: str | None
    experiment_name: str

    def __post_init__(self) -> None:
        if not self.experiment_name.strip():
            raise InvalidConfigError("tracking.experiment_name must be a non-empty name")
        if self.tracking_uri is not None and not self.tracking_uri.strip():
            raise InvalidConfigError("tracking.tracking_uri must be a URI or null (the local store)")


def local_store(run_root: str | Path) -> tuple[str, str]:
    """Return the tracking URI and artifact location of the local store under ``run_root``.

    Returns:
        ``("sqlite:///<run_root>/mlruns/mlflow.db", "file://<run_root>/mlruns/artifacts")``, absolute.
    """
    folder = Path(run_root).resolve() / LOCAL_STORE
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'mlflow.db'}", (folder / "artifacts").as_uri()


def flatten_params(params: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Flatten a nested parameter tree into ``{"a.b.c": value as text}`` (MLflow parameters are flat text)."""
    flat: dict[str, str] = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            flat |= flatten_params(value, f"{name}.")
        else:
            flat[name] = str(value)[:_MAX_PARAM_VALUE]
    return flat


def retrieval_metric_items(
    retrieval_metrics: Mapping[str, Mapping[str, Mapping[str, Mapping[str, float]]]],
) -> Iterator[tuple[str, float]]:
    """Yield ``("retrieval/<method>/<chain>/<level>/<metric>", value)`` from the reporting pipeline's metrics.

    Reporting's ``retrieval_metrics`` output: ``{method: {chain: {level: {metric: value}}}}``.
    """
    for method, chains in retrieval_metrics.items():
        for chain, levels in chains.items():
            for level, scores in levels.items():
                for metric, value in scores.items():
                    yield f"retrieval/{method}/{chain}/{level}/{metric}", float(value)


class Tracker:
    """The MLflow run of one ``kedro run``, driven through ``MlflowClient`` (no global active run).

    Args:
        config: The ``tracking`` parameters (must be enabled).
        run_root: The environment's run root (the local store lies under it).
        run_id: The run id; the MLflow run's name and its ``micon.run_id`` tag.
        tags: More tags (commit, environment, pipelines, command).
    """

    def __init__(
        self, config: TrackingConfig, *, run_root: str | Path, run_id: str, tags: Mapping[str, Any]
    ) -> None:
        # Nothing leaves the machine unless tracking_uri names a server: MLflow's usage telemetry is off
        # unless the user set MLFLOW_DISABLE_TELEMETRY. Imported here: mlflow takes seconds to import, and a
        # run with tracking off never pays for it.
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        from mlflow import MlflowClient  # noqa: PLC0415

        if config.tracking_uri is None:
            self.tracking_uri, artifact_location = local_store(run_root)
        else:
            self.tracking_uri, artifact_location = config.tracking_uri, None
        self.experiment_name = config.experiment_name
        self.client = MlflowClient(tracking_uri=self.tracking_uri)
        experiment = self.client.get_experiment_by_name(config.experiment_name)
        experiment_id = (
            experiment.experiment_id
            if experiment is not None
            else self.client.create_experiment(config.experiment_name, artifact_location=artifact_location)
        )
        self.experiment_id = experiment_id
        run = self.client.create_run(
            experiment_id,
            run_name=run_id,
            tags={"micon.run_id": run_id, **{k: str(v) for k, v in tags.items() if v is not None}},
        )
        self.mlflow_run_id: str = run.info.run_id
        logger.info(
            "MLflow run %s (%s) in experiment %r at %s",
            run_id,
            self.mlflow_run_id,
            config.experiment_name,
            self.tracking_uri,
        )

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record the run's (nested) parameters, flattened to dotted keys."""
        from mlflow.entities import Param  # noqa: PLC0415

        items = [Param(key, value) for key, value in flatten_params(params).items()]
        for start in range(0, len(items), _BATCH):
            self.client.log_batch(self.mlflow_run_id, params=items[start : start + _BATCH])

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        """Record final metrics (one value each, step 0)."""
        from mlflow.entities import Metric  # noqa: PLC0415
        from mlflow.utils.time import get_current_time_millis  # noqa: PLC0415

        now = get_current_time_millis()
        items = [Metric(key, float(value), now, 0) for key, value in metrics.items()]
        for start in range(0, len(items), _BATCH):
            self.client.log_batch(self.mlflow_run_id, metrics=items[start : start + _BATCH])

    def log_retrieval_metrics(
        self, retrieval_metrics: Mapping[str, Mapping[str, Mapping[str, Mapping[str, float]]]]
    ) -> None:
        """Record every method's retrieval scores per chain and level (:func:`retrieval_metric_items`)."""
        self.log_metrics(dict(retrieval_metric_items(retrieval_metrics)))

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        """Copy a file (or a folder) into the run's artifacts under ``artifact_path``."""
        path = Path(path)
        if path.is_dir():
            self.client.log_artifacts(self.mlflow_run_id, str(path), artifact_path)
        else:
            self.client.log_artifact(self.mlflow_run_id, str(path), artifact_path)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Add tags to the run."""
        for key, value in tags.items():
            self.client.set_tag(self.mlflow_run_id, key, str(value))

    def end(self, *, failed: bool = False) -> None:
        """Close the run as FINISHED, or FAILED."""
        self.client.set_terminated(self.mlflow_run_id, status="FAILED" if failed else "FINISHED")
