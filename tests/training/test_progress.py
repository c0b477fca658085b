"""Training progress: optimiser steps of max_steps with the loss, never "Epoch 0/-2"."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from micon import progress as progress_module
from micon.training.progress import StepProgress


@pytest.fixture
def off_terminal(monkeypatch, caplog):
    monkeypatch.setattr(progress_module, "on_terminal", lambda: False)
    caplog.set_level(logging.INFO)
    return caplog


def test_training_progress_counts_steps_of_max_steps_with_the_loss_from_a_resumed_step(off_terminal):
    trainer = SimpleNamespace(is_global_zero=True, max_steps=100, global_step=40, callback_metrics={})
    callback = StepProgress("train micon", lines=4)
    callback.on_train_start(trainer, None)
    for step in range(41, 101):
        trainer.global_step, trainer.callback_metrics = step, {"train/loss": 2.5}
        callback.on_train_batch_end(trainer, None)
    callback.on_train_end(trainer, None)
    lines = [r.getMessage() for r in off_terminal.records if r.name == "micon.training.progress"]
    assert lines[0].startswith("train micon: 40/100 (40%)")
    assert lines[-1].startswith("train micon: 100/100 (100%)") and lines[-1].endswith("loss=2.5")
    assert len(lines) <= 4 + 3
    assert not any("Epoch" in line for line in lines)


def test_only_the_global_rank_zero_shows_training_progress(off_terminal):
    trainer = SimpleNamespace(is_global_zero=False, max_steps=10, global_step=0, callback_metrics={})
    callback = StepProgress("train micon")
    callback.on_train_start(trainer, None)
    callback.on_train_batch_end(trainer, None)
    callback.on_train_end(trainer, None)
    assert not [r for r in off_terminal.records if r.name == "micon.training.progress"]
