"""Where a run's numbers come from: the git commit and state of the code that produced them.

Recorded by the reporting pipeline next to its tables (``run_provenance``), and read back by
``micon.render_tables``, which renders those tables into the README and docs with the commit and command.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["git_state", "run_provenance"]


def git_state(root: str | Path = ".") -> dict[str, Any]:
    """Return ``{"commit": sha or None, "dirty": bool or None}`` of the git work tree at ``root``.

    ``dirty`` is True when tracked files differ from the commit (untracked files do not count); both are
    None outside a git work tree or without a ``git`` executable.
    """
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True, timeout=30
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(status.strip())}


def commit_label(root: str | Path = ".") -> str:
    """Return how a rendered table names the code it came from: the short commit, marked when dirty.

    ``"1a2b3c4d5e6f"``, ``"1a2b3c4d5e6f (with uncommitted changes)"`` when tracked files differ from it,
    or ``"unknown"`` outside a git work tree (:func:`git_state`).
    """
    state = git_state(root)
    return (state["commit"] or "unknown")[:12] + (" (with uncommitted changes)" if state["dirty"] else "")


def run_provenance(*, root: str | Path = ".", command: str | None = None) -> dict[str, Any]:
    """Return the provenance of a run started now: git commit and state, command, time, Python, platform.

    Args:
        root: A folder inside the project's git work tree.
        command: The command line that started the run; ``None``: this process's ``sys.argv``.
    """
    return {
        **git_state(root),
        "command": command
        if command is not None
        else " ".join(Path(sys.argv[0]).name.split() + sys.argv[1:]),
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
