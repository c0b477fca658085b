import io

import pytest
import torch

from micon.errors import InvalidConfigError, InvalidInputError
from micon.models.micon import (
    CHECKPOINT_METHODS,
    TRAINED_METHODS,
    MiconModelConfig,
    build_model,
    load_model,
    make_checkpoint,
    merge_params,
)

CONFIG = {
    "image": {"backbone": "test_resnet", "embedding_dim": 8},
    "molecule": {"hidden_dim": 8, "num_layers": 2, "out_dim": 4, "n_bits": 64},
    "channel_former": {"dim": 8, "num_layers": 1, "num_heads": 2},
    "projection_hidden_dim": 16,
    "projection_dim": 8,
    "generator_hidden_dim": 16,
}


def test_micon_model_config_from_dict_round_trips_through_to_dict():
    config = MiconModelConfig.from_dict(CONFIG)
    assert config.image.embedding_dim == 8
    assert MiconModelConfig.from_dict(config.to_dict()) == config


def test_micon_model_config_unknown_key_raises_type_error():
    with pytest.raises(TypeError, match="colour"):
        MiconModelConfig.from_dict({**CONFIG, "image": {"colour": 1}})


def test_micon_model_config_plain_dict_image_raises():
    with pytest.raises(InvalidConfigError, match="from_dict"):
        MiconModelConfig(image={"backbone": "test_resnet"})


def _config(method: str) -> MiconModelConfig:
    per_channel = {"image": {"channel_strategy": "per_channel", "embedding_dim": 10}}
    values = merge_params(CONFIG, per_channel if method == "cellclip" else None)
    return MiconModelConfig.from_dict({**values, "architecture": method})


@pytest.mark.parametrize("method", TRAINED_METHODS)
def test_load_model_weights_only_round_trip_gives_identical_embeddings(method):
    torch.manual_seed(0)
    model = build_model(_config(method)).eval()
    checkpoint = make_checkpoint(model, method=method)
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    restored = load_model(loaded)
    crops = torch.randint(0, 3000, (3, 5, 16, 16)).float()
    assert loaded["method"] == method
    assert restored.config == model.config
    embedding = restored.embed(crops)
    assert embedding.shape == (3, model.embedding_dim)
    assert torch.equal(embedding, model.embed(crops))


@pytest.mark.parametrize(
    ("method", "parts"),
    [
        ("micon", {"molecule_encoder", "generator"}),
        ("paclr", set()),
        ("clip", {"molecule_encoder", "molecule_projection"}),
        ("cellclip", {"molecule_encoder", "molecule_projection", "channel_former"}),
        ("simclr", set()),
    ],
)
def test_build_model_holds_only_the_parts_of_its_method(method, parts):
    model = build_model(_config(method))
    optional = {"molecule_encoder", "generator", "molecule_projection", "channel_former"}
    assert {name for name in optional if getattr(model, name) is not None} == parts


def test_cellclip_embedding_is_channel_former_cls_output():
    model = build_model(_config("cellclip")).eval()
    crops = torch.randint(0, 3000, (2, 5, 16, 16)).float()
    expected = model.channel_former(model.image_encoder.encode_channels(crops))
    assert model.embedding_dim == 8
    assert torch.equal(model.embed(crops), expected)


def test_cellclip_config_joint_encoder_raises():
    with pytest.raises(InvalidConfigError, match="per_channel"):
        MiconModelConfig.from_dict({**CONFIG, "architecture": "cellclip"})


def test_make_checkpoint_method_other_than_architecture_raises():
    with pytest.raises(InvalidInputError, match="'clip'"):
        make_checkpoint(build_model(_config("micon")), method="clip")


def test_merge_params_nested_override_keeps_other_keys():
    merged = merge_params(CONFIG, {"image": {"embedding_dim": 10}, "projection_dim": 4})
    assert merged["image"] == {"backbone": "test_resnet", "embedding_dim": 10}
    assert merged["projection_dim"] == 4
    assert CONFIG["image"]["embedding_dim"] == 8  # the base is not mutated


def test_load_model_missing_state_dict_raises():
    with pytest.raises(InvalidInputError, match="state_dict"):
        load_model({"config": CONFIG})


def test_load_model_mismatched_weights_raises():
    checkpoint = make_checkpoint(build_model(MiconModelConfig.from_dict(CONFIG)), method="untrained")
    checkpoint["config"] = {**CONFIG, "projection_dim": 9}
    with pytest.raises(InvalidInputError, match="do not fit"):
        load_model(checkpoint)


def test_make_checkpoint_unknown_method_raises():
    assert "dino" not in CHECKPOINT_METHODS
    with pytest.raises(InvalidInputError, match="dino"):
        make_checkpoint(build_model(MiconModelConfig.from_dict(CONFIG)), method="dino")
