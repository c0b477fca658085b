"""The notebooks in notebooks/: committed without outputs, and each runs headless against a tiny run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from kedro.framework.session import KedroSession
from nbclient import NotebookClient

from tests.kedro_project import PROJECT_ROOT, temporary_project

NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
# Figures each notebook draws at least (a loop over methods or chains draws more).
MIN_IMAGES = {"01_screen.ipynb": 5, "02_embeddings.ipynb": 2, "03_comparison.ipynb": 2}


def test_there_are_notebooks() -> None:
    assert {p.name for p in NOTEBOOKS} >= set(MIN_IMAGES)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    with_outputs = [
        i
        for i, cell in enumerate(notebook.cells)
        if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)
    ]
    assert with_outputs == [], (
        f"{path.name}: cells {with_outputs} hold outputs or execution counts; clear them before committing "
        "(`uv run nbstripout notebooks/*.ipynb`)"
    )


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One full run of the `test` environment's tiny screen in a temporary project, for every notebook."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        root = temporary_project(tmp_path_factory.mktemp("notebook_project"), monkeypatch)
        with KedroSession.create(project_path=root, env="test") as session:
            session.run()
        yield root


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_headless_on_a_tiny_run(
    path: Path, tiny_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the kernel (ipykernel's own spec: this interpreter, the project's venv) inherits the environment
    # that names the project and environment in the notebook's parameter cell
    monkeypatch.setenv("MICON_PROJECT_PATH", str(tiny_run))
    monkeypatch.setenv("MICON_ENV", "test")
    monkeypatch.setenv("MPLBACKEND", "agg")
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
    )
    client.execute()  # raises CellExecutionError naming the cell when one fails
    images = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if "image/png" in output.get("data", {})
    ]
    assert len(images) >= MIN_IMAGES.get(path.name, 1), f"{path.name} drew {len(images)} figures"
