"""The parameter schema: every environment's parameters pass; bad values fail by key path, before any node."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kedro.framework.session import KedroSession

from micon.errors import InvalidConfigError, UnknownNameError
from micon.models import merge_params
from micon.parameters import (
    RUNTIME_KEYS,
    ProjectParameters,
    objective_config_class,
    validate_parameters,
)
from micon.training.methods import build_model_config, list_methods
from micon.training.objectives import ClipObjectiveConfig
from micon.training.runner import TrainingConfig
from tests.kedro_project import temporary_project
from tests.parameters import load_parameters


def _set(params: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Set the value at a dotted path (creating sections), as ``--params path=value`` does."""
    *parents, last = path.split(".")
    section = params
    for key in parents:
        section = section.setdefault(key, {})
    section[last] = value
    return params


def _problems(params: dict[str, Any]) -> str:
    with pytest.raises(InvalidConfigError) as info:
        validate_parameters(params)
    return str(info.value)


@pytest.mark.parametrize("env", ["base", "test", "benchmark", "jump", "bbbc021"])
def test_validate_parameters_every_environment_passes(env):
    typed = validate_parameters(load_parameters(env))
    assert isinstance(typed, ProjectParameters)
    assert isinstance(typed.modeling.training, TrainingConfig)
    # every environment resolves every registered pipeline's parameters; only --env jump chooses a design
    assert (typed.jump.design is not None) == (env == "jump")
    assert (typed.jump.selection is not None) == (env == "jump")
    assert typed.bbbc021_evaluation is not None


def test_benchmark_environment_trains_a_larger_budget_than_the_default_run_and_tunes_on_validation_wells():
    base, benchmark = load_parameters("base"), load_parameters("benchmark")
    assert benchmark["modeling"]["training"]["max_steps"] == 300
    assert base["modeling"]["training"]["max_steps"] < benchmark["modeling"]["training"]["max_steps"]
    # the benchmark tunes every method on validation wells with a shorter, equal budget per trial
    assert benchmark["data_engineering"]["splits"]["val_batches_per_source"] == 1
    assert benchmark["tuning"]["max_steps"] < benchmark["modeling"]["training"]["max_steps"]
    # the benchmark environment lists only what differs: the rest of the budget is base's (the run
    # folder follows each environment's run root)
    differ = {"max_steps", "run_dir"}
    assert {k: v for k, v in benchmark["modeling"]["training"].items() if k not in differ} == {
        k: v for k, v in base["modeling"]["training"].items() if k not in differ
    }
    assert benchmark["modeling"]["training"]["run_dir"].startswith("data/benchmark/")


def test_validate_parameters_runtime_only_keys_accepted():
    params = load_parameters("test")
    for key in RUNTIME_KEYS:
        params[key] = f"/some/{key}"
    typed = validate_parameters(params)
    assert typed.shared_data == "/some/shared_data"


def test_validate_parameters_unknown_top_level_key_suggests_the_known_one():
    message = _problems(_set(load_parameters("test"), "modelling.training.max_steps", 2))
    assert "modelling: unknown key; did you mean 'modeling'?" in message


def test_validate_parameters_string_for_integer_names_path_and_value():
    message = _problems(_set(load_parameters("test"), "modeling.training.max_steps", "abc"))
    assert "modeling.training.max_steps: expected an integer (got 'abc')" in message


def test_validate_parameters_yes_no_string_is_not_a_boolean():
    message = _problems(_set(load_parameters("test"), "modeling.training.flips", "no"))
    assert "modeling.training.flips: expected a boolean (true or false) (got 'no')" in message


def test_validate_parameters_unknown_nested_key_suggests_the_field():
    message = _problems(_set(load_parameters("test"), "data_engineering.crops.nuclei.min_areapx", 3))
    assert "data_engineering.crops.nuclei.min_areapx: unknown key; did you mean 'min_area_px'?" in message


def test_validate_parameters_missing_key_named_by_path():
    params = load_parameters("test")
    del params["reporting"]["projection"]["umap_neighbors"]
    message = _problems(params)
    assert "reporting.projection.umap_neighbors: a value (required key missing)" in message


def test_validate_parameters_out_of_range_value_reports_the_config_check():
    message = _problems(_set(load_parameters("test"), "data_engineering.splits.ood_compound_fraction", 1.5))
    assert "data_engineering.splits: " in message and "ood_compound_fraction" in message


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("pin_memory", "yes", "pin_memory"),
        ("prefetch_factor", 0, "prefetch_factor"),
        ("num_workers", -1, "num_workers"),
    ],
)
def test_validate_parameters_bad_loader_settings_named(key, value, expected):
    message = _problems(_set(load_parameters("test"), f"modeling.training.{key}", value))
    assert "modeling.training" in message and expected in message


def test_validate_parameters_lists_every_problem_at_once():
    params = load_parameters("test")
    _set(params, "modeling.training.max_steps", "abc")
    _set(params, "modeling.training.flips", "no")
    _set(params, "synthetic.n_sourcez", 3)
    message = _problems(params)
    assert message.startswith("3 invalid parameter(s):")
    assert "synthetic.n_sourcez: unknown key; did you mean 'n_sources'?" in message


def test_validate_parameters_method_model_override_checked_once_merged():
    # cellclip's overrides are merged over modeling.model: a bad override is named under the method
    params = _set(
        load_parameters("test"), "modeling.methods.cellclip.model.image.channel_strategy", "stacked"
    )
    message = _problems(params)
    assert "modeling.methods.cellclip.model.image.channel_strategy: " in message
    assert message.count("channel_strategy") == 1


@pytest.mark.parametrize("channels", [3, 4, 5])
def test_every_method_is_evaluated_at_one_embedding_size_under_base(channels):
    params = load_parameters("base")
    modeling = params["modeling"]
    names = tuple(f"C{k}" for k in range(channels))
    sizes = {"untrained": build_model_config("untrained", modeling["model"], channels=names).embedding_dim}
    for method in list_methods("trained"):
        merged = merge_params(modeling["model"], modeling["methods"][method]["model"])
        sizes[method] = build_model_config(method, merged, channels=names).embedding_dim
    assert set(sizes) == {"untrained", *list_methods("trained")}
    assert set(sizes.values()) == {modeling["model"]["image"]["embedding_dim"]}, sizes


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("modeling.methods.cellclip.model.channel_former.dim", 64),
        ("modeling.methods.simclr.model.image.embedding_dim", 60),
        ("modeling.model.channel_former.dim", 64),
    ],
)
def test_validate_parameters_refuses_methods_evaluated_at_different_sizes(path, value):
    message = _problems(_set(load_parameters("test"), path, value))
    assert "every method must be evaluated at the same embedding size" in message
    assert "64" in message or "simclr 60" in message


def test_validate_parameters_refuses_a_joint_per_channel_variant():
    params = _set(
        load_parameters("test"), "modeling.methods.micon_per_channel.model.image.channel_strategy", "joint"
    )
    assert "modeling.methods.micon_per_channel.model.image.channel_strategy: " in _problems(params)


def test_validate_parameters_method_objective_checked_by_its_config():
    message = _problems(_set(load_parameters("test"), "modeling.methods.clip.objective.loss", "cloop"))
    assert "modeling.methods.clip.objective.loss: expected 'infonce' or 'cloob' (got 'cloop')" in message


def test_validate_parameters_unknown_method_named():
    params = _set(load_parameters("test"), "modeling.methods.dino", {"model": {}, "objective": {}})
    assert "modeling.methods.dino: a trained method (method 'dino' is not a trained method" in _problems(
        params
    )


def test_objective_config_class_known_and_unknown_method():
    assert objective_config_class("clip") is ClipObjectiveConfig
    with pytest.raises(UnknownNameError, match="dino"):
        objective_config_class("dino")


def test_kedro_run_with_bad_runtime_params_fails_before_any_node(tmp_path: Path, monkeypatch):
    project = temporary_project(tmp_path / "project", monkeypatch)
    runtime_params = {"modeling": {"training": {"max_steps": "abc"}}}
    with KedroSession.create(project_path=project, env="test", runtime_params=runtime_params) as session:
        with pytest.raises(InvalidConfigError, match=r"modeling\.training\.max_steps: expected an integer"):
            session.run(pipeline_names=["synthetic"])
    written = [p for p in (project / "data").rglob("*") if p.is_file()] if (project / "data").exists() else []
    assert written == []


def test_validate_parameters_simclr_augmentation_unknown_key_named():
    params = _set(load_parameters("test"), "modeling.methods.simclr.objective.augmentation", {"jitter": 0.2})
    message = _problems(params)
    assert "modeling.methods.simclr.objective" in message and "jitter" in message


def test_validate_parameters_too_few_plate_controls_for_the_reporting_chain_named():
    params = _set(load_parameters("test"), "data_engineering.controls.min_wells_per_plate", 2)
    params = _set(params, "reporting.normalization.chains.sphered", ["mad_robustize", "sphering"])
    message = _problems(params)
    assert "data_engineering.controls.min_wells_per_plate: at least 3" in message
    assert "reporting.normalization.chains.sphered ['mad_robustize', 'sphering']" in message


def test_validate_parameters_headline_metric_unknown_or_at_an_unscored_level_named():
    params = _set(
        load_parameters("test"), "reporting.report.headline_metrics", ["NSS_tpo1", "NSX_top1", "NSS_map"]
    )
    message = _problems(params)
    assert "reporting.report.headline_metrics: 'NSS_tpo1'" in message
    assert "'NSX_top1'" in message and "'NSS_map'" not in message


def test_validate_parameters_search_settings_checked_by_path():
    params = _set(load_parameters("test"), "reporting.retrieval.search.mode", "ivf")
    _set(params, "reporting.retrieval.search.hnsw_ef_serch", 64)
    _set(params, "reporting.retrieval.silhouette_sample_size", 1)
    message = _problems(params)
    assert "reporting.retrieval.search.hnsw_ef_serch: unknown key; did you mean 'hnsw_ef_search'?" in message
    assert "ivf" in message
