"""The project's Kedro session: a run without ``--pipeline`` runs its environment's composition."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kedro.framework.session import KedroSession

from micon.pipelines.compositions import default_pipeline_name


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
