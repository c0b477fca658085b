"""Training faults: divergence stops the run; resume is weights-only, falls back, refuses config changes."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from micon.errors import CheckpointError, TrainingDivergedError
from micon.sources.synthetic import SYNTHETIC_PROFILE
from micon.training.module import MiconModule, _warmup_cosine
from micon.training.resume import (
    RUN_CONFIG_KEY,
    changed_config_keys,
    check_run_config,
    newest_readable_checkpoint,
    read_checkpoint,
)
from micon.training.runner import TrainingConfig, train_micon
from tests.parameters import parameter
from tests.training.conftest import objective_of

STEPS = {"max_steps": 6, "warmup_steps": 2, "intensity_jitter": 0.2}


def _config(**kwargs) -> TrainingConfig:
    return TrainingConfig(**{**parameter("modeling.training"), **STEPS, **kwargs})


def _train(crops, index, model_config, training_config, callbacks=()):
    return train_micon(
        crops,
        index,
        model_config=model_config,
        training_config=training_config,
        method="micon",
        objective=objective_of("micon"),
        controls=SYNTHETIC_PROFILE.controls,
        callbacks=callbacks,
    )


class _StopAt(L.Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == self.step:
            trainer.should_stop = True


# --- non-finite loss ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_train_micon_non_finite_loss_raises_naming_step_and_parts_and_saves_no_checkpoint(
    tiny_crops, tiny_crop_index, tiny_model_config, tmp_path, monkeypatch
):
    compute = MiconModule.compute_losses

    def diverging(self, batch, **kwargs):
        losses = compute(self, batch, **kwargs)
        if self.global_step >= 2:  # the third step's loss is NaN
            losses = {**losses, "paclr": losses["paclr"] * float("nan")}
            losses["loss"] = losses["paclr"] + losses["cf"]
        return losses

    monkeypatch.setattr(MiconModule, "compute_losses", diverging)
    config = _config(run_dir=str(tmp_path), checkpoint_every_n_steps=1)
    with pytest.raises(TrainingDivergedError, match=r"micon training diverged at step 3.*paclr nan.*cf \d"):
        _train(tiny_crops, tiny_crop_index, tiny_model_config, config)
    # The steps before are checkpointed; the diverged step is not (it stopped before its optimiser step).
    saved = sorted(p.name for p in (tmp_path / "version_0" / "checkpoints").iterdir())
    assert saved == ["last.ckpt", "step=0000001.ckpt", "step=0000002.ckpt"]
    for name in saved:
        weights = read_checkpoint(tmp_path / "version_0" / "checkpoints" / name)["state_dict"]
        assert all(torch.isfinite(w).all() for w in weights.values() if w.is_floating_point())


# --- kill and resume; truncated last.ckpt ----------------------------------------------------------------

# The same training as _config(run_dir, checkpoint_every_n_steps=2, resume=True), in a child process that
# is killed (SIGKILL) as step 5 starts, after the checkpoints of steps 2 and 4.
_KILLED_TRAINING = """
import os, signal, sys
import lightning as L
from micon.sources.synthetic import SYNTHETIC_PROFILE
from micon.training.runner import TrainingConfig, train_micon
from tests.parameters import parameter
from tests.training.conftest import _build_screen, objective_of, tiny_model_config_of

class Kill(L.Callback):
    def on_train_batch_start(self, trainer, *args):
        if trainer.global_step + 1 == 5:
            os.kill(os.getpid(), signal.SIGKILL)

crops, index = _build_screen()
settings = {"max_steps": 6, "warmup_steps": 2, "intensity_jitter": 0.2}
run = {"run_dir": sys.argv[1], "checkpoint_every_n_steps": 2, "resume": True}
config = TrainingConfig(**{**parameter("modeling.training"), **settings, **run})
train_micon(crops, index, model_config=tiny_model_config_of("micon"), training_config=config,
            method="micon", objective=objective_of("micon"), controls=SYNTHETIC_PROFILE.controls,
            callbacks=[Kill()])
"""


def _train_killed_at_step_5(run_dir: Path) -> int:
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(root)])}
    script = textwrap.dedent(_KILLED_TRAINING)
    result = subprocess.run(
        [sys.executable, "-c", script, str(run_dir)], cwd=root, env=env, check=False, timeout=600
    )
    return result.returncode


@pytest.mark.slow
def test_train_micon_killed_then_truncated_last_checkpoint_resumes_from_newest_readable_to_same_end(
    tiny_crops, tiny_crop_index, tiny_model_config, tmp_path, monkeypatch, caplog
):
    checkpoint_straight, straight = _train(tiny_crops, tiny_crop_index, tiny_model_config, _config())
    config = _config(run_dir=str(tmp_path), checkpoint_every_n_steps=2, resume=True)
    assert _train_killed_at_step_5(tmp_path) == -signal.SIGKILL
    checkpoints = tmp_path / "version_0" / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == [
        "last.ckpt",
        "step=0000002.ckpt",
        "step=0000004.ckpt",
    ]
    last = checkpoints / "last.ckpt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])  # killed while Lightning wrote it

    loads: list[object] = []
    real_load = torch.load

    def spy(*args, **kwargs):
        loads.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    with caplog.at_level(logging.WARNING, logger="micon.training.resume"):
        checkpoint, resumed = _train(tiny_crops, tiny_crop_index, tiny_model_config, config)
    assert "last.ckpt" in caplog.text and "cannot be read" in caplog.text
    assert "step=0000004.ckpt" in caplog.text
    assert resumed["step"].tolist() == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(resumed.to_numpy(), straight.to_numpy(), rtol=1e-6, atol=1e-7)
    for name, value in checkpoint_straight["state_dict"].items():
        torch.testing.assert_close(checkpoint["state_dict"][name], value, rtol=1e-5, atol=1e-6)
    # Every checkpoint read on the resume path, Lightning's included, was weights-only.
    assert loads and all(flag is True for flag in loads)


def test_newest_readable_checkpoint_skips_unreadable_and_refuses_when_none(tmp_path, caplog):
    assert newest_readable_checkpoint(tmp_path / "absent") is None
    torch.save({"global_step": 2}, tmp_path / "step=0000002.ckpt")
    torch.save({"global_step": 4}, tmp_path / "step=0000004.ckpt")
    (tmp_path / "last.ckpt").write_bytes(b"PK\x03\x04 truncated")
    with caplog.at_level(logging.WARNING, logger="micon.training.resume"):
        path, checkpoint = newest_readable_checkpoint(tmp_path)
    assert path.name == "step=0000004.ckpt" and checkpoint["global_step"] == 4
    assert "last.ckpt" in caplog.text and "truncated" not in caplog.text  # the file's bytes are never quoted
    for path in tmp_path.iterdir():
        path.write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"no checkpoint of .* can be read.*resume: false"):
        newest_readable_checkpoint(tmp_path)


class _Opaque:
    """A class outside the weights-only allow-list: unpickling it would run this module's code."""


def test_read_checkpoint_refuses_pickled_objects(tmp_path):
    torch.save({"state_dict": {}, "payload": _Opaque()}, tmp_path / "last.ckpt")
    with pytest.raises(CheckpointError, match=r"last.ckpt' cannot be read \(UnpicklingError\)"):
        read_checkpoint(tmp_path / "last.ckpt")


# --- configuration changes ---------------------------------------------------------------------------------


def test_changed_config_keys_names_nested_key_paths():
    saved = {"training": {"lr": 0.001, "splits": ["train"]}, "model": {"image": {"dim": 8}}}
    current = {"training": {"lr": 0.01, "splits": ("train",)}, "model": {"image": {"dim": 8, "new": 1}}}
    assert changed_config_keys(saved, current) == [
        ("model.image.new", None, 1),
        ("training.lr", 0.001, 0.01),
    ]
    with pytest.raises(CheckpointError, match=r"training\.lr: 0\.001 -> 0\.01.*resume_on_config_change"):
        check_run_config({RUN_CONFIG_KEY: saved}, current, path="x.ckpt", policy="refuse")
    assert check_run_config({RUN_CONFIG_KEY: saved}, current, path="x.ckpt", policy="override") is True
    assert check_run_config({RUN_CONFIG_KEY: saved}, saved, path="x.ckpt", policy="refuse") is False
    with pytest.raises(CheckpointError, match="not recorded"):
        check_run_config({}, current, path="x.ckpt", policy="refuse")


@pytest.mark.slow
def test_train_micon_resume_with_changed_lr_refused_naming_it_and_override_applies_new_lr(
    tiny_crops, tiny_crop_index, tiny_model_config, tmp_path
):
    first = _config(run_dir=str(tmp_path), checkpoint_every_n_steps=3, resume=True)
    _train(tiny_crops, tiny_crop_index, tiny_model_config, first, callbacks=[_StopAt(3)])
    changed = {"lr": first.lr * 10, "weight_decay": 0.5}
    refused = _config(run_dir=str(tmp_path), checkpoint_every_n_steps=3, resume=True, **changed)
    with pytest.raises(CheckpointError, match=r"training\.lr: 0\.001 -> 0\.01, training\.weight_decay"):
        _train(tiny_crops, tiny_crop_index, tiny_model_config, refused)
    override = _config(
        run_dir=str(tmp_path),
        checkpoint_every_n_steps=3,
        resume=True,
        resume_on_config_change="override",
        **changed,
    )
    _, history = _train(tiny_crops, tiny_crop_index, tiny_model_config, override)
    assert history["step"].tolist() == [1, 2, 3, 4, 5, 6]
    # Steps 1-3 ran with the old rate; from the resumed step on, the new rate's schedule applies.
    expected = [
        (first.lr if step <= 3 else override.lr) * _warmup_cosine(step, warmup=2, total=6)
        for step in range(1, 7)
    ]
    np.testing.assert_allclose(history["lr"].to_numpy(), expected, rtol=1e-6)
