import pytest

from micon.errors import InvalidConfigError
from micon.training.objectives import (
    CellclipObjectiveConfig,
    ClipObjectiveConfig,
    MiconObjectiveConfig,
    SimclrObjectiveConfig,
)
from tests.parameters import parameter


def _objective(method: str, **overrides) -> dict:
    return {**parameter(f"modeling.methods.{method}.objective", env="base"), **overrides}


@pytest.mark.parametrize(
    ("cls", "method", "overrides", "match"),
    [
        (MiconObjectiveConfig, "micon", {"cf_temperature": 0.0}, "cf_temperature"),
        (MiconObjectiveConfig, "micon", {"paclr_weight": -1.0}, "paclr_weight"),
        (ClipObjectiveConfig, "clip", {"loss": "sigmoid"}, "sigmoid"),
        (ClipObjectiveConfig, "clip", {"hopfield_scale": 0.0}, "hopfield_scale"),
        (SimclrObjectiveConfig, "simclr", {"temperature": -0.1}, "temperature"),
        (SimclrObjectiveConfig, "simclr", {"crops": "dmso"}, "crops"),
        (ClipObjectiveConfig, "clip", {"temperature": 2.0}, r"\[0.01, 1\]"),
        (CellclipObjectiveConfig, "cellclip", {"temperature": 0.001}, r"\[0.01, 1\]"),
        (CellclipObjectiveConfig, "cellclip", {"soft_targets": "fingerprint"}, "soft_targets"),
        (CellclipObjectiveConfig, "cellclip", {"soft_target_groups": "well"}, "soft_target_groups"),
    ],
)
def test_objective_config_bad_values_raise(cls, method, overrides, match):
    with pytest.raises(InvalidConfigError, match=match):
        cls(**_objective(method, **overrides))


def test_objective_config_missing_field_raises_type_error():
    values = _objective("micon")
    del values["cf_weight"]
    with pytest.raises(TypeError, match="cf_weight"):
        MiconObjectiveConfig(**values)
