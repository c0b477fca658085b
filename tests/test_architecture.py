"""The dependency rules of docs/architecture.md, checked on the import statements of every module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "micon"

# A layer may import only the layers listed for it (plus third-party libraries).
ALLOWED: dict[str, set[str]] = {
    "schema": set(),
    "errors": set(),
    # Progress bars on a terminal, a few log lines elsewhere (tqdm), for every layer's long loops.
    "progress": set(),
    "quarantine": {"schema", "errors"},
    "contracts": {"schema", "errors"},
    "profile": {"schema", "errors"},
    "chem": {"schema", "errors", "quarantine", "contracts", "chem"},
    "imaging": {"schema", "errors", "quarantine", "contracts", "progress", "imaging"},
    "metadata": {"schema", "errors", "quarantine", "contracts", "profile", "metadata"},
    "sources": {
        "schema",
        "errors",
        "quarantine",
        "contracts",
        "profile",
        "chem",
        "imaging",
        "metadata",
        "sources",
    },
    "models": {"schema", "errors", "quarantine", "contracts", "chem", "imaging", "metadata", "models"},
    "evaluation": {
        "schema",
        "errors",
        "quarantine",
        "contracts",
        "chem",
        "imaging",
        "metadata",
        "progress",
        "evaluation",
    },
    "training": {
        "schema",
        "errors",
        "quarantine",
        "contracts",
        "chem",
        "imaging",
        "metadata",
        "models",
        "progress",
        "training",
    },
    "datasets": set(),
    # Where a run's numbers come from (git state), and the command that renders them into the docs.
    "provenance": set(),
    # It reads a run's manifest (runs) and, to check a block's treatment-model tag, the configured model
    # (project_parameters, the project's reader of conf/ outside a session; the synthetic source's models),
    # and flattens the run's nested --params as MLflow's parameters are (tracking.flatten_params).
    # and names a benchmark's commit (provenance.commit_label) when a benchmark writes its tables.
    "render_tables": {
        "errors",
        "evaluation",
        "runs",
        "project_parameters",
        "provenance",
        "sources",
        "tracking",
    },
    # Applies the jump environment's designs (selection and split) to JUMP's metadata for docs/jump.md.
    "render_jump_designs": {
        "schema",
        "errors",
        "evaluation",
        "metadata",
        "project_parameters",
        "render_tables",
        "sources",
    },
    # Writes the tuning pipeline's selection into conf/base and its table into the docs.
    "apply_tuning": {"errors", "evaluation", "render_tables", "training"},
    # A run's identity and manifests (the Kedro glue loads a run's outputs: micon.session).
    "runs": {"schema", "errors"},
    # MLflow tracking, driven by the project hook.
    "tracking": {"errors"},
    # The parameter schema types every section by its domain config: a top layer below only the Kedro glue.
    "parameters": {
        "schema",
        "errors",
        "quarantine",
        "contracts",
        "chem",
        "imaging",
        "profile",
        "metadata",
        "sources",
        "models",
        "evaluation",
        "training",
        "tracking",
    },
}
FORBIDDEN_LIBRARIES: dict[str, set[str]] = {
    layer: {"kedro", "kedro_datasets"} for layer in ALLOWED if layer != "datasets"
}
FORBIDDEN_LIBRARIES["models"] |= {"lightning", "pytorch_lightning"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module == "micon":
            names |= {f"micon.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _layer(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0].removesuffix(".py")


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if _layer(p) in ALLOWED)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_module_imports_only_lower_layers(path: Path) -> None:
    layer = _layer(path)
    imported = _imports(path)
    micon_layers = {name.split(".")[1] for name in imported if name.startswith("micon.")}
    assert micon_layers <= ALLOWED[layer], f"{layer} imports {sorted(micon_layers - ALLOWED[layer])}"
    libraries = {name.split(".")[0] for name in imported}
    assert not libraries & FORBIDDEN_LIBRARIES.get(layer, set()), (
        f"{layer} imports {sorted(libraries & FORBIDDEN_LIBRARIES[layer])}"
    )


def test_no_module_imports_micon_datasets() -> None:
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if _layer(p) != "datasets" and any(n.startswith("micon.datasets") for n in _imports(p))
    ]
    assert offenders == []
