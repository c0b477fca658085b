"""Where the real reference data lives: ``../shared/data`` beside the repository, or ``$MICON_SHARED_DATA``.

Real-data tests import :data:`SHARED_DATA` and skip, naming the missing path, when it is absent (a user's
fresh clone has no shared data). The variable lets a worktree or another checkout point at the same folder.
"""

import os
from pathlib import Path

import pytest

SHARED_DATA: Path = Path(
    os.environ.get("MICON_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
)


def require_shared(relative: str) -> Path:
    """Return ``SHARED_DATA / relative``, or skip the calling test with the path it looked for."""
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"real reference data not found at {path} (set MICON_SHARED_DATA or add ../shared/data)")
    return path
