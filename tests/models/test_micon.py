import io

import pytest
import torch

from micon.errors import InvalidConfigError, InvalidInputError
from micon.models.micon import MiconModelConfig, build_model, load_model, make_checkpoint

CONFIG = {
    "image": {"backbone": "test_resnet", "embedding_dim": 8},
    "molecule": {"hidden_dim": 8, "num_layers": 2, "out_dim": 4},
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


def test_load_model_weights_only_round_trip_gives_identical_embeddings():
    torch.manual_seed(0)
    model = build_model(MiconModelConfig.from_dict(CONFIG)).eval()
    checkpoint = make_checkpoint(model, method="micon")
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    restored = load_model(loaded)
    crops = torch.randint(0, 3000, (3, 5, 16, 16)).float()
    assert loaded["method"] == "micon"
    assert torch.equal(restored.image_encoder.encode(crops), model.image_encoder.encode(crops))


def test_load_model_missing_state_dict_raises():
    with pytest.raises(InvalidInputError, match="state_dict"):
        load_model({"config": CONFIG})


def test_load_model_mismatched_weights_raises():
    checkpoint = make_checkpoint(build_model(MiconModelConfig.from_dict(CONFIG)), method="untrained")
    checkpoint["config"] = {**CONFIG, "projection_dim": 9}
    with pytest.raises(InvalidInputError, match="do not fit"):
        load_model(checkpoint)


def test_make_checkpoint_unknown_method_raises():
    with pytest.raises(InvalidInputError, match="simclr"):
        make_checkpoint(build_model(MiconModelConfig.from_dict(CONFIG)), method="simclr")
