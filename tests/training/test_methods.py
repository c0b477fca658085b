import pytest
import torch

from micon.errors import InvalidConfigError, InvalidInputError, UnknownNameError
from micon.models.micon import build_model
from micon.training.methods import (
    MethodSpec,
    build_model_config,
    build_objective_config,
    get_method,
    list_methods,
    make_checkpoint,
    register_method,
    unregister_method,
)
from micon.training.objectives import MiconObjectiveConfig, PaclrObjectiveConfig, paclr_losses
from tests.training.conftest import tiny_model_config_of, tiny_model_params


def test_registry_lists_the_built_in_methods_by_kind():
    trained = ("micon", "micon_per_channel", "paclr", "clip", "cellclip", "simclr")
    assert list_methods("trained") == trained
    assert list_methods("untrained") == ("untrained",)
    assert list_methods("features") == ("cellprofiler", "intensity")
    assert list_methods()[:8] == (*trained, "untrained", "cellprofiler")


def test_get_method_unknown_name_raises_and_lists_known_names():
    with pytest.raises(UnknownNameError, match=r"'dino'.*'micon'.*'cellprofiler'"):
        get_method("dino")


def test_register_method_twice_raises_and_unregister_removes():
    spec = MethodSpec(name="paclr_copy", kind="trained", objective=PaclrObjectiveConfig, loss=paclr_losses)
    register_method(spec)
    try:
        with pytest.raises(InvalidInputError, match="paclr_copy"):
            register_method(spec)
        assert get_method("paclr_copy") is spec
    finally:
        unregister_method("paclr_copy")
    assert "paclr_copy" not in list_methods()


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"name": "a-b", "kind": "untrained"}, "identifier"),
        ({"name": "x", "kind": "learned"}, "learned"),
        ({"name": "x", "kind": "trained"}, "needs an objective and a loss"),
        (
            {"name": "x", "kind": "untrained", "batch_fields": ("treated",)},
            "no loss parts, batch fields or prepare",
        ),
        ({"name": "x", "kind": "features", "model_parts": ("generator",)}, "no model parts"),
        (
            {
                "name": "x",
                "kind": "trained",
                "objective": PaclrObjectiveConfig,
                "loss": paclr_losses,
                "batch_fields": ("masks",),
            },
            "masks",
        ),
    ],
)
def test_method_spec_bad_fields_raise(fields, match):
    with pytest.raises(InvalidConfigError, match=match):
        MethodSpec(**fields)


def test_build_objective_config_from_yaml_values():
    values = {
        "paclr_weight": 1.0,
        "cf_weight": 0.5,
        "paclr_temperature": 0.3,
        "cf_temperature": 0.1,
        "detach_control": True,
        "detach_treated": True,
    }
    config = build_objective_config("micon", values)
    assert config == MiconObjectiveConfig(**values)


def test_build_objective_config_unknown_method_raises():
    with pytest.raises(UnknownNameError, match="dino"):
        build_objective_config("dino", {})


def test_build_objective_config_of_untrained_method_raises():
    with pytest.raises(InvalidConfigError, match="untrained"):
        build_objective_config("untrained", {})


def test_build_objective_config_unknown_key_raises_type_error():
    with pytest.raises(TypeError, match="use_generator"):
        build_objective_config("paclr", {"temperature": 0.1, "use_generator": False})


@pytest.mark.parametrize("method", ["micon", "paclr", "clip", "cellclip", "simclr", "untrained"])
def test_build_model_config_takes_parts_and_embedding_from_the_registry(method):
    spec = get_method(method)
    config = tiny_model_config_of(method)
    assert set(config.parts) == set(spec.model_parts)
    assert config.embedding == spec.embedding


def test_build_model_config_parts_in_parameters_raise():
    with pytest.raises(InvalidConfigError, match="parts"):
        build_model_config("micon", {**tiny_model_params(), "parts": ["generator"]}, channels=("DNA",))


def test_build_model_config_of_features_method_raises():
    with pytest.raises(InvalidConfigError, match="cellprofiler"):
        build_model_config("cellprofiler", tiny_model_params(), channels=("DNA",))


def test_make_checkpoint_records_the_method_and_loads_weights_only(tmp_path):
    checkpoint = make_checkpoint(build_model(tiny_model_config_of("clip")), method="clip")
    torch.save(checkpoint, tmp_path / "c.pt")
    loaded = torch.load(tmp_path / "c.pt", weights_only=True)
    assert loaded["method"] == "clip"
    assert set(loaded["config"]["parts"]) == {"molecule_encoder", "molecule_projection", "logit_scale"}


def test_make_checkpoint_parts_of_other_method_raise():
    with pytest.raises(InvalidInputError, match="'clip'"):
        make_checkpoint(build_model(tiny_model_config_of("micon")), method="clip")


def test_make_checkpoint_unknown_method_raises():
    with pytest.raises(UnknownNameError, match="dino"):
        make_checkpoint(build_model(tiny_model_config_of("micon")), method="dino")
