import dataclasses
import io

import pytest
import torch

from micon.errors import InvalidConfigError, InvalidInputError
from micon.models.micon import (
    MODEL_PARTS,
    MiconModelConfig,
    build_model,
    load_model,
    merge_params,
    model_state,
)
from tests.parameters import parameter

# Small networks over the product's architecture (conf/base modeling.model), raw intensities.
TINY = {
    "image": {"backbone": "test_resnet", "embedding_dim": 8, "intensity_scaling": "per_crop"},
    "molecule": {"hidden_dim": 8, "num_layers": 2, "out_dim": 4, "n_bits": 64},
    "channel_former": {"dim": 8, "num_layers": 1, "num_heads": 2},
    "frozen_features": {"backbone": "test_resnet"},
    "projection_hidden_dim": 16,
    "projection_dim": 8,
    "generator_hidden_dim": 16,
}
CONFIG = {
    **merge_params(parameter("modeling.model", env="base"), TINY),
    "channels": ("AGP", "DNA", "ER", "Mito", "RNA"),
    "parts": ("molecule_encoder", "generator"),
    "embedding": "image_encoder",
}
# Parts and embedding of the built-in methods (the registry, micon.training.methods, names them).
PARTS = {
    "micon": (("molecule_encoder", "generator"), "image_encoder"),
    "paclr": ((), "image_encoder"),
    "clip": (("molecule_encoder", "molecule_projection", "logit_scale"), "image_encoder"),
    "cellclip": (
        ("molecule_encoder", "molecule_projection", "channel_former", "logit_scale", "frozen_features"),
        "channel_former",
    ),
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
        dataclasses.replace(MiconModelConfig.from_dict(CONFIG), image={"backbone": "test_resnet"})


def _config(parts: tuple[str, ...], embedding: str = "image_encoder") -> MiconModelConfig:
    per_channel = {"image": {"channel_strategy": "per_channel", "embedding_dim": 10}}
    values = merge_params(CONFIG, per_channel if "channel_former" in parts else None)
    return MiconModelConfig.from_dict({**values, "parts": parts, "embedding": embedding})


@pytest.mark.parametrize(("parts", "embedding"), PARTS.values(), ids=PARTS)
def test_load_model_weights_only_round_trip_gives_identical_embeddings(parts, embedding):
    torch.manual_seed(0)
    model = build_model(_config(parts, embedding)).eval()
    checkpoint = {"method": "any", **model_state(model)}
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    restored = load_model(loaded)
    crops = torch.randint(0, 3000, (3, 5, 16, 16)).float()
    assert loaded["method"] == "any" and tuple(loaded["config"]["parts"]) == parts
    assert restored.config == model.config
    embedding = restored.embed(crops)
    assert embedding.shape == (3, model.embedding_dim)
    assert torch.equal(embedding, model.embed(crops))


@pytest.mark.parametrize(("parts", "embedding"), PARTS.values(), ids=PARTS)
def test_build_model_holds_exactly_the_parts_its_config_lists(parts, embedding):
    model = build_model(_config(parts, embedding))
    assert {name for name in MODEL_PARTS if getattr(model, name) is not None} == set(parts)


def test_channel_former_embedding_is_channel_former_cls_output():
    model = build_model(_config(*PARTS["cellclip"])).eval()
    crops = torch.randint(0, 3000, (2, 5, 16, 16)).float()
    expected = model.channel_former(model.image_encoder.encode_channels(crops))
    assert model.embedding_dim == 8
    assert torch.equal(model.embed(crops), expected)


def test_channel_former_on_a_joint_encoder_reads_slices_of_the_joint_embedding():
    config = MiconModelConfig.from_dict(
        {**merge_params(CONFIG, {"image": {"embedding_dim": 10}}), "parts": ("channel_former",)}
    )
    model = build_model(dataclasses.replace(config, embedding="channel_former")).eval()
    crops = torch.randint(0, 3000, (2, 5, 16, 16)).float()
    tokens = model.image_encoder(crops).reshape(2, 5, 2)
    assert torch.equal(model.embed(crops), model.channel_former(tokens))


def test_channel_former_needs_a_dim_that_splits_into_the_channels():
    with pytest.raises(InvalidConfigError, match="multiple of the 5 channels"):
        _ = MiconModelConfig.from_dict({**CONFIG, "parts": ("channel_former",)}).embedding_dim


def test_frozen_features_are_frozen_seeded_and_leave_the_other_parts_alone():
    torch.manual_seed(0)
    plain = build_model(_config(("molecule_encoder", "molecule_projection")))
    torch.manual_seed(0)
    model = build_model(_config(("molecule_encoder", "molecule_projection", "frozen_features"))).train()
    again = build_model(_config(("frozen_features",)))
    for name, value in plain.state_dict().items():
        assert torch.equal(model.state_dict()[name], value), name
    features = model.frozen_features
    assert not features.training and not any(p.requires_grad for p in features.parameters())
    # its weights come from its own seed, not from torch's global RNG
    for name, value in features.state_dict().items():
        assert torch.equal(again.frozen_features.state_dict()[name], value), name
    crops = torch.randint(0, 3000, (3, 5, 16, 16)).float()
    out = features(crops)
    assert out.shape[:2] == (3, 5) and not out.requires_grad


@pytest.mark.parametrize(
    ("parts", "embedding", "match"),
    [
        (("generator",), "image_encoder", "needs 'molecule_encoder'"),
        (("decoder",), "image_encoder", "decoder"),
        ((), "channel_former", "channel_former part"),
        ((), "projection", "projection"),
    ],
)
def test_micon_model_config_bad_parts_or_embedding_raise(parts, embedding, match):
    with pytest.raises(InvalidConfigError, match=match):
        MiconModelConfig.from_dict({**CONFIG, "parts": parts, "embedding": embedding})


def test_micon_model_config_missing_field_raises_type_error():
    values = {k: v for k, v in CONFIG.items() if k != "projection_dim"}
    with pytest.raises(TypeError, match="projection_dim"):
        MiconModelConfig.from_dict(values)


def test_micon_model_config_seeded_image_encoder_init_does_not_depend_on_parts():
    torch.manual_seed(0)
    bare = build_model(_config(()))
    torch.manual_seed(0)
    full = build_model(_config(*PARTS["micon"]))
    for (name, a), (_, b) in zip(
        bare.image_encoder.state_dict().items(), full.image_encoder.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


def test_merge_params_nested_override_keeps_other_keys():
    merged = merge_params(CONFIG, {"image": {"embedding_dim": 10}, "projection_dim": 4})
    assert merged["image"] == {**CONFIG["image"], "embedding_dim": 10}
    assert merged["projection_dim"] == 4
    assert CONFIG["image"]["embedding_dim"] == 8  # the base is not mutated


def test_load_model_missing_state_dict_raises():
    with pytest.raises(InvalidInputError, match="state_dict"):
        load_model({"config": CONFIG})


def test_load_model_mismatched_weights_raises():
    checkpoint = model_state(build_model(MiconModelConfig.from_dict(CONFIG)))
    checkpoint["config"] = {**CONFIG, "projection_dim": 9}
    with pytest.raises(InvalidInputError, match="do not fit"):
        load_model(checkpoint)
