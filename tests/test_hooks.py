import pytest
from kedro.pipeline import Node, Pipeline

from micon.errors import InvalidConfigError
from micon.hooks import SYNTHETIC_NODE, RealDataGuardHooks


def _identity(x):
    return x


SYNTHETIC = Pipeline([Node(_identity, "params:synthetic", "plate_table", name=SYNTHETIC_NODE)])
INGESTION = Pipeline([Node(_identity, "jump_plates", "plate_table", name="select_jump_screen")])


@pytest.mark.parametrize("env", ["jump", "bbbc021"])
def test_real_data_env_refuses_the_synthetic_screen(env):
    with pytest.raises(InvalidConfigError, match=f"--env {env} --pipeline {env}"):
        RealDataGuardHooks().before_pipeline_run({"env": env}, SYNTHETIC)


@pytest.mark.parametrize(("env", "pipeline"), [("jump", INGESTION), ("local", SYNTHETIC), (None, SYNTHETIC)])
def test_other_runs_pass(env, pipeline):
    RealDataGuardHooks().before_pipeline_run({"env": env}, pipeline)
