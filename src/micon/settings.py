"""Kedro project settings for micon."""

from kedro.config import OmegaConfigLoader

from micon.hooks import ParameterValidationHooks, RunTrackingHooks, UpstreamCheckHooks
from micon.session import MiconSession

# Parameters are validated (micon.parameters) before any node runs; every run gets one identity, its
# manifest under <run_root>/runs/ and, with tracking.enabled, an MLflow run (micon.runs, micon.tracking).
# First of all, a run that reads outputs no earlier run wrote is refused, naming the pipeline to run
# (micon.upstream).
HOOKS = (ParameterValidationHooks(), RunTrackingHooks(), UpstreamCheckHooks())

# A bare `kedro run --env <env>` runs its composition (micon.pipelines.compositions).
SESSION_CLASS = MiconSession

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # An environment's parameters override base key by key (conf/bbbc021 lists only what differs), so
    # a parameter added to base reaches every environment.
    "merge_strategy": {"parameters": "soft"},
}
