import dataclasses
import io

import lightning as L
import numpy as np
import pandas as pd
import pytest
import torch

from micon import schema
from micon.errors import InvalidConfigError, InvalidImageError, MissingColumnsError, NoControlsError
from micon.imaging.intensity import CropIntensityScaling, fit_plate_intensity_references
from micon.models.micon import MiconModelConfig, load_model
from micon.sources.synthetic import SYNTHETIC_PROFILE
from micon.training.methods import get_method, list_methods
from micon.training.runner import (
    HISTORY_COLUMNS,
    TrainingConfig,
    build_untrained_checkpoint,
    embed_crops,
    resolve_run,
    train_micon,
)
from tests.parameters import parameter
from tests.training.conftest import objective_of, tiny_model_config_of


def _config(**kwargs) -> TrainingConfig:
    """Return the test budget (conf/test over conf/base: CPU, no run folder) with 3 steps and ``kwargs``."""
    return TrainingConfig(**{**parameter("modeling.training"), "max_steps": 3, **kwargs})


def _train_micon(*args, **kwargs):
    """Train MICON with its product objective (conf/base) and the synthetic screen's DMSO controls."""
    kwargs.setdefault("controls", SYNTHETIC_PROFILE.controls)
    return train_micon(*args, method="micon", objective=objective_of("micon"), **kwargs)


def _embed(checkpoint: dict, crops: np.ndarray, index: pd.DataFrame, **overrides) -> pd.DataFrame:
    """Embed with the test's settings (conf/test ``modeling.embedding``) and the store's channels."""
    settings = {**parameter("modeling.embedding"), "channels": schema.CHANNELS, **overrides}
    return embed_crops(checkpoint, crops, index, **settings)


def _untrained_checkpoint(config: MiconModelConfig, *, seed: int) -> dict:
    """Return the untrained floor's checkpoint of ``config``'s architecture (the untrained method's parts)."""
    spec = get_method("untrained")
    config = dataclasses.replace(config, parts=spec.model_parts, embedding=spec.embedding)
    return build_untrained_checkpoint(config, method="untrained", seed=seed)


class _GradNormRecorder(L.Callback):
    """Record the global gradient norm the optimiser actually steps with (after clipping)."""

    def __init__(self) -> None:
        self.norms: list[float] = []

    def on_train_start(self, trainer, pl_module) -> None:
        def record(optimizer, args, kwargs) -> None:
            grads = [
                p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None
            ]
            self.norms.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())

        trainer.optimizers[0].register_step_post_hook(record)


@pytest.mark.slow
def test_train_micon_three_steps_gives_checkpoint_and_history(
    tiny_crops, tiny_crop_index, tiny_model_config, tmp_path
):
    recorder = _GradNormRecorder()
    checkpoint, history = _train_micon(
        tiny_crops,
        tiny_crop_index,
        model_config=tiny_model_config,
        training_config=_config(gradient_clip_val=1e-3, run_dir=str(tmp_path)),
        callbacks=[recorder],
    )
    assert checkpoint["method"] == "micon"
    assert set(checkpoint) == {"method", "config", "state_dict"}
    assert list(history.columns) == ["step", "loss", "paclr", "cf", "lr"]
    assert set(HISTORY_COLUMNS) <= set(history.columns)
    assert history["step"].tolist() == [1, 2, 3]
    assert np.isfinite(history[["loss", "paclr", "cf"]].to_numpy()).all()
    # Clipping is applied, not just configured (a defect of the reference code).
    assert len(recorder.norms) == 3
    assert max(recorder.norms) <= 1e-3 * 1.01
    assert (tmp_path / "version_0" / "csv" / "version_0" / "metrics.csv").is_file()
    assert list((tmp_path / "version_0" / "tensorboard").glob("events.out.tfevents.*"))
    assert not (tmp_path / "version_0" / "checkpoints").exists()  # checkpoint_every_n_steps is None
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    buffer.seek(0)
    restored = load_model(torch.load(buffer, weights_only=True))
    untrained = load_model(_untrained_checkpoint(tiny_model_config, seed=0))
    changed = [
        not torch.equal(a, b)
        for a, b in zip(
            restored.image_encoder.state_dict().values(),
            untrained.image_encoder.state_dict().values(),
            strict=True,
        )
    ]
    assert any(changed)


@pytest.mark.slow
def test_train_micon_same_seed_same_weights(tiny_crops, tiny_crop_index, tiny_model_config):
    runs = [
        _train_micon(
            tiny_crops, tiny_crop_index, model_config=tiny_model_config, training_config=_config(max_steps=2)
        )
        for _ in range(2)
    ]
    for key, value in runs[0][0]["state_dict"].items():
        assert torch.equal(value, runs[1][0]["state_dict"][key]), key


def test_build_untrained_checkpoint_seeded_and_marked_untrained(tiny_model_config):
    first = _untrained_checkpoint(tiny_model_config, seed=1)
    again = _untrained_checkpoint(tiny_model_config, seed=1)
    other = _untrained_checkpoint(tiny_model_config, seed=2)
    assert first["method"] == "untrained"
    assert all(torch.equal(v, again["state_dict"][k]) for k, v in first["state_dict"].items())
    assert not all(torch.equal(v, other["state_dict"][k]) for k, v in first["state_dict"].items())


def test_embed_crops_shuffled_index_gives_rows_in_index_order(tiny_crops, tiny_crop_index, tiny_model_config):
    checkpoint = _untrained_checkpoint(tiny_model_config, seed=0)
    index = tiny_crop_index.sample(frac=1.0, random_state=0).iloc[:50]
    out = _embed(checkpoint, tiny_crops, index, batch_size=16)
    dim = tiny_model_config.image.embedding_dim
    assert list(out.columns) == list(index.columns) + schema.embedding_columns(dim)
    assert out[schema.CROP_ID].tolist() == index[schema.CROP_ID].tolist()
    features = out[schema.embedding_columns(dim)].to_numpy()
    assert features.dtype == np.float32
    model = load_model(checkpoint)
    ids = index[schema.CROP_ID].to_numpy()[:5]
    with torch.no_grad():
        expected = model.image_encoder.encode(torch.from_numpy(tiny_crops[ids].astype(np.float32))).numpy()
    np.testing.assert_allclose(features[:5], expected, rtol=1e-4, atol=1e-5)


def test_embed_crops_batch_size_does_not_change_embeddings(tiny_crops, tiny_crop_index, tiny_model_config):
    checkpoint = _untrained_checkpoint(tiny_model_config, seed=0)
    small = _embed(checkpoint, tiny_crops, tiny_crop_index, batch_size=7)
    large = _embed(checkpoint, tiny_crops, tiny_crop_index, batch_size=512)
    columns = schema.embedding_columns(tiny_model_config.image.embedding_dim)
    np.testing.assert_allclose(small[columns].to_numpy(), large[columns].to_numpy(), rtol=1e-4, atol=1e-5)


def test_embed_crops_missing_crop_id_raises(tiny_crops, tiny_crop_index, tiny_model_config):
    checkpoint = _untrained_checkpoint(tiny_model_config, seed=0)
    with pytest.raises(MissingColumnsError, match=schema.CROP_ID):
        _embed(checkpoint, tiny_crops, tiny_crop_index.drop(columns=[schema.CROP_ID]))


def test_embed_crops_wrong_channel_count_raises(tiny_crops, tiny_crop_index, tiny_model_config):
    checkpoint = _untrained_checkpoint(tiny_model_config, seed=0)
    with pytest.raises(InvalidImageError, match="5"):
        _embed(checkpoint, tiny_crops[:, :3], tiny_crop_index)
    with pytest.raises(InvalidImageError, match="'AGP', 'DNA', 'ER'"):
        _embed(checkpoint, tiny_crops[:, :3], tiny_crop_index, channels=schema.CHANNELS[:3])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_steps": 0},
        {"lr": 0.0},
        {"gradient_clip_val": 0.0},
        {"precision": "8-bit"},
        {"splits": ["train", "nope"]},
        {"num_nodes": 0},
        {"checkpoint_every_n_steps": 0, "run_dir": "runs"},
        {"checkpoint_every_n_steps": 10},
        {"resume": True},
        {"resume": "no/such/file.ckpt"},
        {"resume_on_config_change": "ignore"},
    ],
)
def test_training_config_bad_values_raise(kwargs):
    with pytest.raises(InvalidConfigError):
        _config(**kwargs)


def test_training_config_yaml_list_splits_become_tuple():
    assert _config(splits=["train", "val"]).splits == ("train", "val")


class _StopAt(L.Callback):
    """Stop training after ``step`` optimiser steps, as an interruption would."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == self.step:
            trainer.should_stop = True


@pytest.mark.slow
def test_train_micon_resumed_run_reproduces_uninterrupted_losses(
    tiny_crops, tiny_crop_index, tiny_model_config, tmp_path
):
    config = {"max_steps": 6, "warmup_steps": 2, "intensity_jitter": 0.2}
    _, straight = _train_micon(
        tiny_crops, tiny_crop_index, model_config=tiny_model_config, training_config=_config(**config)
    )
    resumable = _config(**config, run_dir=str(tmp_path), checkpoint_every_n_steps=3, resume=True)
    _, first = _train_micon(
        tiny_crops,
        tiny_crop_index,
        model_config=tiny_model_config,
        training_config=resumable,
        callbacks=[_StopAt(3)],
    )
    assert first["step"].tolist() == [1, 2, 3]
    checkpoint, resumed = _train_micon(
        tiny_crops, tiny_crop_index, model_config=tiny_model_config, training_config=resumable
    )
    assert resumed["step"].tolist() == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(resumed.to_numpy(), straight.to_numpy(), rtol=1e-6, atol=1e-7)
    # One run folder; one CSV log per attempt; checkpoints every 3 steps plus last.ckpt.
    run = tmp_path / "version_0"
    assert [p.name for p in tmp_path.iterdir()] == ["version_0"]
    assert sorted(p.name for p in (run / "csv").iterdir()) == ["version_0", "version_1"]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "last.ckpt",
        "step=0000003.ckpt",
        "step=0000006.ckpt",
    ]
    assert checkpoint["method"] == "micon"


def test_resolve_run_new_versions_and_resume_latest_with_last_checkpoint(tmp_path):
    assert resolve_run(None, False) == (None, None)
    assert resolve_run(str(tmp_path), True) == (tmp_path / "version_0", None)
    for k in (0, 1, 2):
        (tmp_path / f"version_{k}").mkdir()
    (tmp_path / "version_1" / "checkpoints").mkdir()
    last = tmp_path / "version_1" / "checkpoints" / "last.ckpt"
    torch.save({"global_step": 1}, last)
    (tmp_path / "notes").mkdir()
    assert resolve_run(str(tmp_path), False) == (tmp_path / "version_3", None)
    assert resolve_run(str(tmp_path), True) == (tmp_path / "version_1", str(last))
    assert resolve_run(str(tmp_path), str(last)) == (tmp_path / "version_3", str(last))


def test_resolve_run_named_by_run_id_and_resume_takes_the_latest_run_id(tmp_path):
    first, second = "2026-12-01T10.00.00.000Z", "2026-12-01T11.00.00.000Z"
    assert resolve_run(str(tmp_path), False, run_id=first) == (tmp_path / first, None)
    (tmp_path / "version_0" / "checkpoints").mkdir(parents=True)
    torch.save({"global_step": 1}, tmp_path / "version_0" / "checkpoints" / "last.ckpt")
    for run_id in (first, second):
        (tmp_path / run_id / "checkpoints").mkdir(parents=True)
    last = tmp_path / first / "checkpoints" / "last.ckpt"
    torch.save({"global_step": 2}, last)
    # the second run holds no checkpoint: the latest run that does is the first, after the old versions
    assert resolve_run(str(tmp_path), True, run_id="2026-12-01T12.00.00.000Z") == (
        tmp_path / first,
        str(last),
    )
    # without a run id (outside a Kedro run) a new run is still the next version
    assert resolve_run(str(tmp_path), False) == (tmp_path / "version_1", None)


def _plate_control_config(config: MiconModelConfig) -> MiconModelConfig:
    values = config.to_dict()
    values["image"] = {**values["image"], "intensity_scaling": "plate_control"}
    return MiconModelConfig.from_dict(values)


@pytest.mark.slow
def test_train_micon_plate_control_same_plate_controls_trains(tiny_crops, tiny_crop_index, tiny_model_config):
    model_config = _plate_control_config(tiny_model_config)
    _, history = _train_micon(
        tiny_crops,
        tiny_crop_index,
        model_config=model_config,
        training_config=_config(max_steps=2),
        controls="same_plate",
    )
    assert np.isfinite(history[["loss", "paclr", "cf"]].to_numpy()).all()


def test_embed_crops_plate_control_scales_against_each_plates_dmso(
    tiny_crops, tiny_crop_index, tiny_model_config
):
    checkpoint = _untrained_checkpoint(_plate_control_config(tiny_model_config), seed=0)
    out = _embed(checkpoint, tiny_crops, tiny_crop_index, batch_size=64)
    scaling = CropIntensityScaling.for_crops(
        fit_plate_intensity_references(tiny_crops, tiny_crop_index), tiny_crop_index, n_crops=len(tiny_crops)
    )
    ids = np.array([0, 50, 110])
    with torch.no_grad():
        images = torch.from_numpy(scaling.apply(tiny_crops[ids].astype(np.float32), ids))
        expected = load_model(checkpoint).image_encoder.encode(images).numpy()
    columns = schema.embedding_columns(tiny_model_config.image.embedding_dim)
    np.testing.assert_allclose(out[columns].to_numpy()[ids], expected, rtol=1e-4, atol=1e-5)


def test_embed_crops_plate_control_plate_without_dmso_raises_naming_it(
    tiny_crops, tiny_crop_index, tiny_model_config
):
    checkpoint = _untrained_checkpoint(_plate_control_config(tiny_model_config), seed=0)
    plate = "source_1_batch_2_plate_1"
    index = tiny_crop_index[~((tiny_crop_index[schema.PLATE] == plate) & tiny_crop_index[schema.IS_CONTROL])]
    with pytest.raises(NoControlsError, match=plate):
        _embed(checkpoint, tiny_crops, index)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "objective"),
    [
        ("micon", {}),
        ("paclr", {}),
        ("clip", {"loss": "infonce"}),
        ("clip", {"loss": "cloob", "temperature": 0.05}),
        ("cellclip", {}),
        ("simclr", {"augmentation": {"intensity_jitter": 0.2}}),
    ],
)
def test_train_micon_every_method_gives_loadable_checkpoint_and_embeddings(
    tiny_crops, tiny_crop_index, tiny_model_config, method, objective
):
    model_config = tiny_model_config_of(method)
    checkpoint, history = train_micon(
        tiny_crops,
        tiny_crop_index,
        model_config=model_config,
        training_config=_config(max_steps=2),
        method=method,
        objective=objective_of(method, **objective),
        controls=SYNTHETIC_PROFILE.controls,
    )
    assert method in list_methods("trained")
    assert checkpoint["method"] == method
    assert set(checkpoint["config"]["parts"]) == set(get_method(method).model_parts)
    assert history["step"].tolist() == [1, 2]
    assert np.isfinite(history.drop(columns="step").to_numpy()).all()
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    buffer.seek(0)
    restored = load_model(torch.load(buffer, weights_only=True))
    index = tiny_crop_index.iloc[:12]
    out = _embed(checkpoint, tiny_crops, index, batch_size=5)
    features = out[schema.embedding_columns(restored.embedding_dim)].to_numpy()
    assert features.shape == (12, restored.embedding_dim)
    with torch.no_grad():
        expected = restored.embed(
            torch.from_numpy(tiny_crops[index[schema.CROP_ID].to_numpy()].astype(np.float32))
        )
    np.testing.assert_allclose(features, expected.numpy(), rtol=1e-4, atol=1e-5)
