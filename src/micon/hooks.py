"""Project hooks: check parameters before any node runs; keep the synthetic screen out of real-data runs."""

from __future__ import annotations

from typing import Any

from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl
from kedro.pipeline import Pipeline

from micon.errors import InvalidConfigError

# Environments whose raw layer holds real data (conf/<env>/catalog.yml moves it) and the pipeline to run.
REAL_DATA_ENVIRONMENTS: dict[str, str] = {"jump": "jump", "bbbc021": "bbbc021"}
SYNTHETIC_NODE = "generate_synthetic_screen"


class RealDataGuardHooks:
    """Stop ``kedro run --env jump`` (or bbbc021) of a pipeline that contains the synthetic screen.

    ``__default__`` starts with the synthetic pipeline, whose outputs are the raw-layer datasets that a
    real-data environment points at its own files: running it there would overwrite the ingested JUMP or
    BBBC021 tables with the synthetic screen. Kedro chooses the pipeline before it knows the environment,
    so the check runs here, before any node.
    """

    @hook_impl
    def before_pipeline_run(self, run_params: dict[str, Any], pipeline: Pipeline) -> None:
        """Raise if a real-data environment is about to run the synthetic screen's node."""
        env = run_params.get("env")
        if env in REAL_DATA_ENVIRONMENTS and any(node.name == SYNTHETIC_NODE for node in pipeline.nodes):
            raise InvalidConfigError(
                f"environment {env!r} holds real data, but the pipeline to run contains the synthetic screen "
                f"({SYNTHETIC_NODE}), which would overwrite its raw tables; run "
                f"`kedro run --env {env} --pipeline {REAL_DATA_ENVIRONMENTS[env]}` instead"
            )


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
