import pytest

from micon.errors import InvalidConfigError
from micon.training.objectives import (
    ClipObjectiveConfig,
    MiconObjectiveConfig,
    PaclrObjectiveConfig,
    SimclrObjectiveConfig,
    build_objective_config,
)


def test_build_objective_config_from_yaml_values():
    config = build_objective_config("micon", {"cf_weight": 0.5, "paclr_temperature": 0.3})
    assert config == MiconObjectiveConfig(cf_weight=0.5, paclr_temperature=0.3)
    assert build_objective_config("paclr") == PaclrObjectiveConfig()


def test_build_objective_config_unknown_method_raises():
    with pytest.raises(InvalidConfigError, match="dino"):
        build_objective_config("dino")


def test_build_objective_config_unknown_key_raises_type_error():
    with pytest.raises(TypeError, match="use_generator"):
        build_objective_config("micon", {"use_generator": False})


@pytest.mark.parametrize(
    ("cls", "kwargs", "match"),
    [
        (MiconObjectiveConfig, {"cf_temperature": 0.0}, "cf_temperature"),
        (MiconObjectiveConfig, {"paclr_weight": -1.0}, "paclr_weight"),
        (ClipObjectiveConfig, {"loss": "sigmoid"}, "sigmoid"),
        (ClipObjectiveConfig, {"hopfield_scale": 0.0}, "hopfield_scale"),
        (SimclrObjectiveConfig, {"temperature": -0.1}, "temperature"),
    ],
)
def test_objective_config_bad_values_raise(cls, kwargs, match):
    with pytest.raises(InvalidConfigError, match=match):
        cls(**kwargs)
