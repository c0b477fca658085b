"""The project's Kedro session: a run without ``--pipeline`` runs its environment's composition.

Also :func:`load_run_outputs`: the outputs of one run (:mod:`micon.runs`), loaded through the catalog.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kedro.config import MissingConfigException
from kedro.framework.project import settings
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project

from micon.pipelines.compositions import default_pipeline_name
from micon.runs import LATEST, load_versions

__all__ = ["MiconSession", "load_run_outputs"]


class MiconSession(KedroSession):
    """A ``KedroSession`` whose bare ``run()`` runs the default pipeline of its environment.

    Kedro registers pipelines once per project, not per environment, so ``__default__`` alone cannot know
    that ``kedro run --env jump`` means the JUMP screen. This session picks the composition that
    ``micon.pipelines.compositions.COMPOSITIONS`` names for the session's environment when the caller
    names no pipeline; named pipelines run as given. ``settings.SESSION_CLASS`` makes ``kedro run`` and
    ``kedro ipython`` use it.
    """

    def run(self, pipeline_names: Iterable[str] | None = None, **kwargs: Any) -> dict[str, Any]:
        """Run the named pipelines, or the environment's default composition when none is named."""
        if not pipeline_names and not kwargs.get("pipeline_name"):
            pipeline_names = [default_pipeline_name(self.store.get("env"))]
        return super().run(pipeline_names=list(pipeline_names) if pipeline_names else None, **kwargs)


def load_run_outputs(
    run_id: str = LATEST,
    names: Iterable[str] | None = None,
    *,
    env: str | None = None,
    project_path: str | Path = ".",
) -> dict[str, Any]:
    """Load the outputs of run ``run_id`` (``"latest"``: the last successful run) of environment ``env``.

    Every dataset is loaded through the environment's catalog at the version that run saved (its manifest,
    :mod:`micon.runs`), so a table and the checkpoint it was computed from come from the same run. Call it
    from the project root, as ``kedro`` is run (the catalog's paths are relative to it).

    Args:
        run_id: A run id (Kedro save version) or ``"latest"``.
        names: Catalog names to load (e.g. ``["comparison_table", "micon.model_checkpoint"]``); None:
            every versioned dataset the run saved.
        env: The Kedro environment (None: Kedro's default run environment).
        project_path: The Kedro project root.

    Returns:
        ``{name: loaded data}`` in the order of ``names``.

    Raises:
        InvalidInputError: No such run, the run failed, or it saved no version of a name.
    """
    project_path = Path(project_path).resolve()
    bootstrap_project(project_path)
    with KedroSession.create(project_path=project_path, env=env) as session:
        context = session.load_context()
        run_root = project_path / context.config_loader["globals"]["run_root"]
        versions = load_versions(run_id, run_root=run_root, names=names)
        try:
            credentials = context.config_loader["credentials"]
        except MissingConfigException:  # no credentials file, as Kedro's own context allows
            credentials = {}
        catalog = settings.DATA_CATALOG_CLASS.from_config(
            context.config_loader["catalog"], credentials, load_versions=versions
        )
        return {name: catalog.load(name) for name in versions}
