"""Project hooks: check parameters and upstream outputs before any node runs; give each run one identity."""

from __future__ import annotations

import fnmatch
import importlib
import pkgutil
import sys
import time
from pathlib import Path
from typing import Any

from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl
from kedro.io.core import AbstractVersionedDataset
from kedro.pipeline import Pipeline

from micon.provenance import git_state, run_provenance
from micon.runs import RunContext, set_current_run, write_manifest
from micon.tracking import Tracker, TrackingConfig


class ParameterValidationHooks:
    """Check the run's whole parameter tree (``conf`` plus ``--params``) before any node runs.

    A typo in a key, a wrong type (``flips: "no"``, ``max_steps=abc``), a missing key or a value out of range
    fails here, with every problem listed by its key path, instead of deep inside a node or not at all.
    """

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        """Raise ``InvalidConfigError`` listing every invalid parameter of the run."""
        # Imported here: the schema imports every domain config (torch included), which settings.py, read by
        # every `kedro` command and by tests/parameters.py, need not pay for.
        from micon.parameters import validate_parameters  # noqa: PLC0415

        validate_parameters(context.config_loader["parameters"])


class UpstreamCheckHooks:
    """Before the first node, name the pipeline to run first when the run reads outputs never written.

    ``kedro run --pipelines reporting`` on a fresh tree would otherwise fail at its first load with Kedro's
    "Did not find any versions"; :func:`micon.upstream.check_upstream` names each missing dataset, the
    registered pipelines that write it and the command to run them. It runs first (``tryfirst``), so a
    refused run opens no MLflow run and writes no manifest.
    """

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any) -> None:
        """Raise ``MissingUpstreamError`` when an input a registered pipeline writes does not exist."""
        from micon.pipelines.compositions import BENCHMARK, COMPOSITIONS, default_pipeline_name  # noqa: PLC0415
        from micon.upstream import check_upstream  # noqa: PLC0415

        env = run_params.get("env")
        order = [*COMPOSITIONS[default_pipeline_name(env)].pipelines, *COMPOSITIONS[BENCHMARK].pipelines]
        check_upstream(
            pipeline,
            catalog,
            _all_pipelines,
            skip=COMPOSITIONS,
            env=None if env in (None, "local") else env,
            order=list(dict.fromkeys(order)),
        )


class RunTrackingHooks:
    """Give every ``kedro run`` one identity: its manifest, its training folders and its MLflow run.

    The run id is Kedro's session id, which is also the save version of every versioned dataset the run
    writes (:mod:`micon.runs`). Before the first node the hook publishes the run
    (:func:`micon.runs.current_run`) and, with ``tracking.enabled``, opens its MLflow run
    (:class:`micon.tracking.Tracker`): parameters, commit and run tags. Retrieval metrics are recorded as
    the reporting pipeline saves them; after the last node the report, tables and model checkpoints are
    copied into the MLflow run as artifacts, and the run's manifest ``<run_root>/runs/<run_id>.json`` is
    written and ``latest.json`` moved onto it. A failed run writes its
    manifest as failed, closes its MLflow run as FAILED and leaves ``latest.json`` alone.
    """

    # Versioned outputs copied into the MLflow run, by catalog name pattern -> artifact folder.
    ARTIFACTS: tuple[tuple[str, str], ...] = (
        ("report_html", "report"),
        ("comparison_table", "report"),
        ("comparison_table_markdown", "report"),
        ("run_provenance", "report"),
        ("retrieval_metrics", "report"),
        ("bbbc021_metrics", "report"),
        ("*_plot", "report/plots"),
        ("*.model_checkpoint", "checkpoints"),
        ("*.training_history", "training_history"),
    )

    def __init__(self) -> None:
        self._context: KedroContext | None = None
        self._tracker: Tracker | None = None
        self._saved: list[str] = []
        self._started = 0.0

    @hook_impl
    def after_context_created(self, context: KedroContext) -> None:
        """Keep the context: its parameters, environment, project path and run root serve the run."""
        self._context = context

    def _run_root(self) -> Path:
        context = self._context
        if context is None:  # pragma: no cover - Kedro always creates the context before a run
            raise RuntimeError("RunTrackingHooks: no Kedro context before the run")
        return Path(context.project_path) / context.config_loader["globals"]["run_root"]

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any) -> None:
        """Publish the run's id and, with tracking on, open its MLflow run with parameters and commit."""
        run_id = run_params["run_id"]
        self._saved, self._tracker, self._started = [], None, time.monotonic()
        params = self._context.params if self._context is not None else {}
        config = TrackingConfig(**params["tracking"]) if "tracking" in params else None
        if config is None or not config.enabled:
            set_current_run(RunContext(run_id=run_id))
            return
        git = git_state(Path(run_params["project_path"]))
        tags = {
            "mlflow.source.git.commit": git["commit"],
            "micon.commit": git["commit"],
            "micon.dirty": git["dirty"],
            "micon.env": run_params.get("env"),
            "micon.pipelines": ",".join(run_params.get("pipeline_names") or ["__default__"]),
            "micon.command": _command(),
        }
        self._tracker = Tracker(config, run_root=self._run_root(), run_id=run_id, tags=tags)
        self._tracker.log_params(params)
        set_current_run(
            RunContext(
                run_id=run_id,
                tracking_uri=self._tracker.tracking_uri,
                experiment_name=self._tracker.experiment_name,
                mlflow_run_id=self._tracker.mlflow_run_id,
            )
        )

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, data: Any, node: Any) -> None:
        """Note each saved dataset; record the retrieval metrics in MLflow as reporting saves them."""
        self._saved.append(dataset_name)
        if self._tracker is not None and dataset_name == "retrieval_metrics":
            self._tracker.log_retrieval_metrics(data)

    @hook_impl
    def after_pipeline_run(
        self, run_params: dict[str, Any], run_result: Any, pipeline: Pipeline, catalog: Any
    ) -> None:
        """Copy report and checkpoints into the MLflow run, close it, write the manifest, move ``latest``."""
        try:
            datasets = _versioned_outputs(catalog, self._saved, run_params["run_id"])
            # The outputs are complete: the pointer moves first, whatever happens to the copies below.
            write_manifest(self._run_root(), self._manifest(run_params, "success", datasets), latest=True)
            if self._tracker is not None:
                for name, record in datasets.items():
                    folder = _artifact_folder(name, self.ARTIFACTS)
                    if folder is not None and record["local"]:
                        self._tracker.log_artifact(record["path"], folder)
                self._tracker.end()
        finally:
            set_current_run(None)
            self._tracker = None

    @hook_impl
    def on_pipeline_error(
        self, error: Exception, run_params: dict[str, Any], pipeline: Pipeline, catalog: Any
    ) -> None:
        """Record the failed run (manifest, MLflow run FAILED); ``latest`` stays on the last success."""
        try:
            datasets = _versioned_outputs(catalog, self._saved, run_params["run_id"])
            manifest = self._manifest(run_params, "failed", datasets) | {
                "error": f"{type(error).__name__}: {error}"
            }
            if self._tracker is not None:
                self._tracker.set_tags({"micon.error": manifest["error"][:5000]})
                self._tracker.end(failed=True)
            write_manifest(self._run_root(), manifest, latest=False)
        finally:
            set_current_run(None)
            self._tracker = None

    def _manifest(self, run_params: dict[str, Any], status: str, datasets: dict[str, Any]) -> dict[str, Any]:
        tracker = self._tracker
        return {
            "run_id": run_params["run_id"],
            "status": status,
            **run_provenance(root=Path(run_params["project_path"]), command=_command()),
            "env": run_params.get("env"),
            "pipelines": run_params.get("pipeline_names") or ["__default__"],
            "runtime_params": run_params.get("runtime_params") or {},
            "seconds": round(time.monotonic() - self._started, 1),
            "mlflow": None
            if tracker is None
            else {
                "tracking_uri": tracker.tracking_uri,
                "experiment": tracker.experiment_name,
                "run_id": tracker.mlflow_run_id,
            },
            "datasets": {name: {k: v for k, v in d.items() if k != "local"} for name, d in datasets.items()},
        }


def _all_pipelines() -> dict[str, Any]:
    """Return the pipeline of every pipeline package that is not a composition (:mod:`micon.pipelines`).

    Built here because a ``--pipelines reporting`` run registers only the pipelines it names, and Kedro's
    ``find_pipelines`` follows that filter.
    """
    import micon.pipelines  # noqa: PLC0415
    from micon.pipelines.compositions import COMPOSITIONS  # noqa: PLC0415

    found = {}
    for module in pkgutil.iter_modules(micon.pipelines.__path__):
        if module.ispkg and module.name not in COMPOSITIONS:
            package = importlib.import_module(f"micon.pipelines.{module.name}")
            if hasattr(package, "create_pipeline"):
                found[module.name] = package.create_pipeline()
    return found


def _command() -> str:
    """Return the command line of this process (``kedro run --env test ...``)."""
    return " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])


def _versioned_outputs(catalog: Any, saved: list[str], version: str) -> dict[str, dict[str, Any]]:
    """Return ``{name: {"version", "path", "local"}}`` of the versioned datasets saved by the run."""
    outputs: dict[str, dict[str, Any]] = {}
    for name in dict.fromkeys(saved):
        dataset = catalog.get(name)
        if not isinstance(dataset, AbstractVersionedDataset) or not getattr(dataset, "_version", None):
            continue
        # Kedro's versioned path (<filepath>/<version>/<name>) has no public accessor.
        path = str(dataset._get_versioned_path(version))
        protocol = getattr(dataset, "_protocol", "file")
        outputs[name] = {"version": version, "path": path, "local": protocol in ("file", "local", None)}
    return outputs


def _artifact_folder(name: str, patterns: tuple[tuple[str, str], ...]) -> str | None:
    """Return the artifact folder of the first pattern ``name`` matches, or None (not an artifact)."""
    return next((folder for pattern, folder in patterns if fnmatch.fnmatchcase(name, pattern)), None)
