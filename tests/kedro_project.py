"""A temporary copy of the project's configuration, so a KedroSession writes its data/ under tmp_path."""

import shutil
from pathlib import Path

import pytest
from kedro.framework.startup import bootstrap_project

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def temporary_project(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Copy pyproject, telemetry consent and conf/ (without conf/local) into ``root``; chdir and bootstrap.

    The package itself is imported from the installed project, so ``root/src`` stays empty.
    """
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_ROOT / "pyproject.toml", root / "pyproject.toml")
    shutil.copy(PROJECT_ROOT / ".telemetry", root / ".telemetry")
    shutil.copytree(PROJECT_ROOT / "conf", root / "conf", ignore=shutil.ignore_patterns("local"))
    (root / "conf" / "local").mkdir()
    (root / "src").mkdir()
    monkeypatch.chdir(root)
    bootstrap_project(root)
    return root
