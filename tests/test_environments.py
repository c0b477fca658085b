"""Run roots and compositions: every environment writes under its own root and runs its own source."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
from kedro.framework.project import pipelines
from kedro.framework.startup import bootstrap_project

from micon.pipelines.compositions import BENCHMARK_SEEDS, COMPOSITIONS, default_pipeline_name
from micon.pipelines.reporting.pipeline import is_regrouping
from micon.session import MiconSession
from micon.training.methods import list_methods
from tests.kedro_project import PROJECT_ROOT, temporary_project

ENVIRONMENTS = ("base", "test", "benchmark", "jump", "bbbc021")
# Outputs handed on in memory, by design: JUMP's fields are loaders reading the gallery (no image copy).
IN_MEMORY: dict[str, set[str]] = {"jump": {"field_images"}}


def _written_paths(env: str) -> tuple[str, dict[str, str]]:
    """Return the env's run root and ``{dataset: path}`` of every dataset any registered pipeline writes."""
    bootstrap_project(PROJECT_ROOT)
    with MiconSession.create(project_path=PROJECT_ROOT, env=env) as session:
        context = session.load_context()
        catalog, params = context.catalog, context.config_loader["parameters"]
        run_root = str(PROJECT_ROOT / context.config_loader["globals"]["run_root"])
    outputs = set().union(*(p.all_outputs() for p in pipelines.values()))
    paths: dict[str, str] = {}
    # reporting's run bundles only regroup outputs written under their own names (is_regrouping)
    for name in sorted(n for n in outputs - IN_MEMORY.get(env, set()) if not is_regrouping(n)):
        described: dict[str, Any] = catalog.get(name)._describe()
        path = described.get("filepath", described.get("path"))
        assert path is not None, (
            f"{env}: {name} is not written to a file ({type(catalog.get(name)).__name__})"
        )
        paths[name] = str(path)
    # Folders that parameters name for a run to write (training runs, the copairs null cache).
    for key, folder in {
        "params:modeling.training.run_dir": params["modeling"]["training"]["run_dir"] or run_root,
        "params:reporting.retrieval.null_cache_dir": params["reporting"]["retrieval"]["null_cache_dir"],
    }.items():
        paths[key] = str(PROJECT_ROOT / folder)
    return run_root, paths


@pytest.fixture(scope="module")
def written() -> dict[str, tuple[str, dict[str, str]]]:
    return {env: _written_paths(env) for env in ENVIRONMENTS}


def test_every_written_dataset_lies_under_its_environments_run_root(written):
    for env, (run_root, paths) in written.items():
        outside = {n: p for n, p in paths.items() if not _is_under(p, run_root)}
        assert outside == {}, env


@pytest.mark.parametrize(("env_a", "env_b"), list(combinations(ENVIRONMENTS, 2)))
def test_no_written_dataset_shares_a_path_with_another_environment(written, env_a, env_b):
    (root_a, paths_a), (root_b, paths_b) = written[env_a], written[env_b]
    assert not _is_under(root_a, root_b) and not _is_under(root_b, root_a)
    shared = {p for p in paths_a.values() for q in paths_b.values() if _is_under(p, q) or _is_under(q, p)}
    assert shared == set()


def _is_under(path: str, root: str) -> bool:
    path_parts, root_parts = PurePosixPath(path).parts, PurePosixPath(root).parts
    return path_parts[: len(root_parts)] == root_parts


def test_each_environment_runs_its_own_source_by_default():
    bootstrap_project(PROJECT_ROOT)
    sources = {"__default__": "synthetic", "jump": "jump_ingestion", "bbbc021": "bbbc021_ingestion"}
    assert default_pipeline_name("benchmark") == "benchmark"
    assert COMPOSITIONS["benchmark"].pipelines == (
        "synthetic",
        "data_engineering",
        "tuning",
        "modeling",
        "reporting",
    )
    for env, expected in {"base": "__default__", "local": "__default__", "test": "__default__"}.items():
        assert default_pipeline_name(env) == expected
    for name, source in sources.items():
        assert default_pipeline_name(name) == name
        assert COMPOSITIONS[name].pipelines[0] == source
        source_nodes = {n.name for n in pipelines[source].nodes}
        other_sources = {n.name for s in sources.values() if s != source for n in pipelines[s].nodes}
        composed = {n.name for n in pipelines[name].nodes}
        assert source_nodes <= composed and not composed & other_sources, name


@pytest.mark.slow
def test_jump_modeling_after_a_synthetic_run_reads_no_synthetic_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = temporary_project(tmp_path, monkeypatch)
    with MiconSession.create(project_path=project, env="test") as session:
        session.run(pipeline_names=["synthetic", "data_engineering"])
    synthetic_files = {p for p in (project / "data" / "test").rglob("*") if p.is_file()}
    assert any("crop_store" in str(p) for p in synthetic_files)

    with pytest.raises(Exception, match="data/jump/05_model_input") as raised:
        with MiconSession.create(project_path=project, env="jump") as session:
            session.run(pipeline_names=["modeling"])
    assert "data/test" not in str(raised.value)
    assert not (project / "data" / "jump" / "06_models").exists()
    assert {p for p in (project / "data" / "test").rglob("*") if p.is_file()} == synthetic_files


def test_the_default_run_trains_micon_only_and_the_benchmark_every_registered_method():
    bootstrap_project(PROJECT_ROOT)
    trained = set(list_methods("trained"))
    default = {n.namespace.split(".")[0] for n in pipelines["__default__"].nodes if n.namespace}
    benchmark = {n.namespace.split(".")[0] for n in pipelines["benchmark"].nodes if n.namespace}
    # the default run: MICON, the floors, the CellProfiler-style row and the known truth
    assert default == {"known_truth", "micon", "untrained", "intensity", "cellprofiler"}
    assert default & trained == {"micon"}
    seeded = {f"{m}_seed{s}" for m in trained for s in BENCHMARK_SEEDS}
    # every method; the trained ones tuned (one namespace each) and trained once per seed
    assert benchmark == {"known_truth", *list_methods(), *seeded}
    benchmark_train = {n.namespace for n in pipelines["benchmark"].nodes if n.name.endswith("train_model")}
    assert benchmark_train == seeded
    default_train = {n.namespace for n in pipelines["__default__"].nodes if n.name.endswith("train_model")}
    assert default_train == {"micon"}


def test_a_bare_session_run_runs_the_composition_of_its_environment(monkeypatch: pytest.MonkeyPatch):
    asked: list[object] = []
    monkeypatch.setattr(
        "kedro.framework.session.KedroSession.run",
        lambda self, pipeline_names=None, **kw: asked.append(pipeline_names),
    )
    bootstrap_project(PROJECT_ROOT)
    for env, expected in (
        ("jump", ["jump"]),
        ("bbbc021", ["bbbc021"]),
        ("benchmark", ["benchmark"]),
        (None, ["__default__"]),
    ):
        with MiconSession.create(project_path=PROJECT_ROOT, env=env) as session:
            session.run()
        assert asked.pop() == expected
    with MiconSession.create(project_path=PROJECT_ROOT, env="jump") as session:
        session.run(pipeline_names=["modeling"])
    assert asked.pop() == ["modeling"]


def test_a_mistyped_pipeline_name_gets_kedros_suggestion_not_an_import_error():
    bootstrap_project(PROJECT_ROOT)
    with MiconSession.create(project_path=PROJECT_ROOT, env="test") as session:
        with pytest.raises(ValueError, match=r"(?s)'modelling'.*Did you mean.*modeling"):
            session.run(pipeline_names=["modelling"])


def test_a_pipeline_package_that_fails_to_import_still_raises(monkeypatch: pytest.MonkeyPatch):
    import importlib

    from micon.pipeline_registry import register_pipelines

    real = importlib.import_module

    def broken(name: str, *args: Any, **kwargs: Any):
        if name == "micon.pipelines.tuning":
            raise RuntimeError("broken package")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(importlib, "import_module", broken)
    with pytest.raises(ImportError, match="micon.pipelines.tuning") as raised:
        register_pipelines()
    assert isinstance(raised.value.__cause__, RuntimeError)


def test_compose_refuses_seeds_given_to_modeling_but_not_alike_to_reporting(monkeypatch):
    from micon.pipelines import compositions

    parts = ("synthetic", "data_engineering", "modeling", "reporting")
    monkeypatch.setitem(
        compositions.COMPOSITIONS,
        "seeded",
        compositions.Composition(parts, options={"modeling": {"seeds": (1, 2)}}),
    )
    with pytest.raises(ValueError, match="same seeds"):
        compositions.compose("seeded")
    options = {"modeling": {"seeds": (1, 2)}, "reporting": {"seeds": (1, 2)}}
    monkeypatch.setitem(compositions.COMPOSITIONS, "seeded", compositions.Composition(parts, options=options))
    names = {n.name for n in compositions.compose("seeded").nodes}
    assert {"micon_seed1.train_model", "micon_seed2.diagnose_generator"} <= names


def test_benchmark_reporting_reruns_the_benchmark_reporting_without_training():
    bootstrap_project(PROJECT_ROOT)
    benchmark = {n.name for n in pipelines["benchmark"].nodes}
    reporting = pipelines["benchmark_reporting"]
    names = {n.name for n in reporting.nodes}
    assert names and names <= benchmark
    assert not any(n.split(".")[-1].startswith(("train_", "tune_", "embed_")) for n in names)
    # every seed of every trained method is evaluated, as in the benchmark
    namespaces = {n.namespace.split(".")[0] for n in reporting.nodes if n.namespace}
    assert {f"micon_seed{seed}" for seed in BENCHMARK_SEEDS} <= namespaces
