"""Resume a training run safely: the newest readable checkpoint, read weights-only, with an unchanged config.

A run killed while Lightning writes ``last.ckpt`` leaves a truncated file (Lightning writes checkpoints
in place), so resuming tries the run's checkpoints newest first and skips, with a warning naming each,
those that cannot be read. Checkpoints are read with ``torch.load(weights_only=True)``: a checkpoint of
this project holds tensors and plain values only, and a file that would need arbitrary code is refused.
Every checkpoint records the run's configuration (:data:`RUN_CONFIG_KEY`: the training budget that
shapes what is learned, the model, the method and its objective); a resume whose configuration differs
is refused, naming the changed keys, unless ``resume_on_config_change`` is ``"override"``, in which case
the new values apply from the resumed step on.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch

from micon.errors import CheckpointError

logger = logging.getLogger(__name__)

__all__ = [
    "CHECKPOINT_DIR",
    "LAST_CHECKPOINT",
    "RUN_CONFIG_KEY",
    "ConfigChangePolicy",
    "RunConfigCallback",
    "changed_config_keys",
    "check_run_config",
    "newest_readable_checkpoint",
    "read_checkpoint",
]

CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = "last.ckpt"
#: Key of a Lightning checkpoint holding the run's configuration (plain JSON values).
RUN_CONFIG_KEY = "micon_run_config"
ConfigChangePolicy = Literal["refuse", "override"]
_STEP = re.compile(r"step=(\d+)")


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a Lightning checkpoint with ``torch.load(weights_only=True)`` onto the CPU.

    Raises:
        CheckpointError: The file is missing, truncated or corrupt, or holds objects ``weights_only``
            refuses (names the path and the reader's error type; file contents are never quoted).
    """
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # IO boundary: any reader failure means "not resumable from this file"
        raise CheckpointError(f"checkpoint {str(path)!r} cannot be read ({type(exc).__name__})") from exc
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"checkpoint {str(path)!r} holds a {type(checkpoint).__name__}, not a dict")
    return checkpoint


def _newest_first(paths: list[Path]) -> list[Path]:
    """Order checkpoint files newest first: ``last.ckpt``, then by step (``step=0000042.ckpt``), then name."""

    def key(path: Path) -> tuple[int, int, str]:
        match = _STEP.search(path.name)
        return (path.name != LAST_CHECKPOINT, -int(match.group(1)) if match else 1, path.name)

    return sorted(paths, key=key)


def newest_readable_checkpoint(folder: Path) -> tuple[Path, dict[str, Any]] | None:
    """Return the newest checkpoint of ``folder`` that can be read, and its content; None without any.

    Unreadable checkpoints are skipped, each with a warning naming it and why.

    Raises:
        CheckpointError: ``folder`` holds checkpoints but none can be read (names each and why).
    """
    paths = _newest_first([p for p in folder.glob("*.ckpt") if p.is_file()]) if folder.is_dir() else []
    skipped: list[str] = []
    for path in paths:
        try:
            checkpoint = read_checkpoint(path)
        except CheckpointError as exc:
            logger.warning("skipping %s", exc)
            skipped.append(str(exc))
            continue
        if skipped:
            logger.warning("resuming from %s, the newest readable checkpoint", path)
        return path, checkpoint
    if skipped:
        raise CheckpointError(
            f"no checkpoint of {folder} can be read: {'; '.join(skipped)}; delete the run folder or set "
            "modeling.training.resume: false to start a new run"
        )
    return None


def _plain(value: Any) -> Any:
    """Return ``value`` as plain JSON values (tuples become lists), as a checkpoint stores it."""
    return json.loads(json.dumps(value, default=str))


def changed_config_keys(saved: Any, current: Any, prefix: str = "") -> list[tuple[str, Any, Any]]:
    """Return ``(key path, saved value, current value)`` for every leaf that differs, sorted by key path."""
    saved, current = _plain(saved), _plain(current)
    if isinstance(saved, dict) and isinstance(current, dict):
        changes: list[tuple[str, Any, Any]] = []
        for key in sorted(set(saved) | set(current)):
            path = f"{prefix}.{key}" if prefix else str(key)
            changes += changed_config_keys(saved.get(key), current.get(key), path)
        return changes
    return [] if saved == current else [(prefix, saved, current)]


def check_run_config(
    checkpoint: Mapping[str, Any], current: Mapping[str, Any], *, path: str | Path, policy: ConfigChangePolicy
) -> bool:
    """Compare the configuration a checkpoint recorded with this run's; return whether it changed.

    Args:
        checkpoint: The checkpoint being resumed (as :func:`read_checkpoint` returns it).
        current: This run's configuration (same layout as the recorded one).
        path: The checkpoint's path, for messages.
        policy: ``"refuse"``: a change raises; ``"override"``: it is logged and the new values apply.

    Raises:
        CheckpointError: ``policy`` is ``"refuse"`` and a key changed (names every changed key with its
            saved and current value), or the checkpoint recorded no configuration.
    """
    saved = checkpoint.get(RUN_CONFIG_KEY)
    if saved is None:
        changes = [("(configuration not recorded in the checkpoint)", None, None)]
        text = changes[0][0]
    else:
        changes = changed_config_keys(saved, current)
        text = ", ".join(f"{key}: {old!r} -> {new!r}" for key, old, new in changes)
    if not changes:
        return False
    if policy == "refuse":
        raise CheckpointError(
            f"cannot resume from {str(path)!r}: the configuration changed since it was saved ({text}); "
            "restore those values, set modeling.training.resume_on_config_change: override to continue "
            "with the new ones, or set modeling.training.resume: false to start a new run"
        )
    logger.warning("resuming from %s with a changed configuration, the new values apply: %s", path, text)
    return True


class RunConfigCallback(L.Callback):
    """Record the run's configuration in every checkpoint (:data:`RUN_CONFIG_KEY`).

    Args:
        config: The configuration (plain values; tuples are stored as lists).
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = _plain(dict(config))

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """Add the configuration to the checkpoint being saved."""
        checkpoint[RUN_CONFIG_KEY] = self.config
