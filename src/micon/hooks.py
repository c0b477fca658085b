"""Project hooks: check the run's parameters before any node runs."""

from __future__ import annotations

from kedro.framework.context import KedroContext
from kedro.framework.hooks import hook_impl


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
