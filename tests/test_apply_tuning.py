from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from micon.apply_tuning import latest_tuning, main, selected_values, set_yaml_values
from micon.errors import InvalidInputError

BASE = Path(__file__).resolve().parents[1] / "conf" / "base" / "parameters_modeling.yml"


def _selection() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "method": ["micon", "clip"],
            "lr": [3e-3, 3e-4],
            "temperature": [0.2, 0.05],
            "val_NSS_map_above_chance": [0.4, 0.3],
            "n_trials": [4, 4],
        }
    )


def test_set_yaml_values_on_conf_base_keeps_comments_and_adds_training_blocks():
    text = BASE.read_text()
    modeling = yaml.safe_load(text)["modeling"]
    updates = selected_values(_selection(), modeling)
    assert updates[("modeling", "methods", "micon", "objective", "paclr_temperature")] == 0.2
    assert updates[("modeling", "methods", "micon", "objective", "cf_temperature")] == 0.2
    assert updates[("modeling", "methods", "clip", "training", "lr")] == 3e-4
    new = set_yaml_values(text, updates)
    loaded = yaml.safe_load(new)["modeling"]
    assert loaded["methods"]["micon"]["training"]["lr"] == 3e-3
    assert loaded["methods"]["clip"]["objective"]["temperature"] == 0.05
    assert loaded["training"] == modeling["training"]  # the shared budget is untouched
    comments = [line.split("#", 1)[1] for line in text.splitlines() if "#" in line]
    kept = [line.split("#", 1)[1] for line in new.splitlines() if "#" in line]
    assert comments == kept
    assert set_yaml_values(new, updates) == new  # applying again changes nothing


def test_set_yaml_values_missing_method_or_non_scalar_target_refused():
    text = "modeling:\n  methods:\n    micon:\n      objective:\n        temperature: [0.1]\n"
    with pytest.raises(InvalidInputError, match="not a scalar"):
        set_yaml_values(text, {("modeling", "methods", "micon", "objective", "temperature"): 0.2})
    with pytest.raises(InvalidInputError, match="modeling.methods.clip is not in"):
        set_yaml_values(text, {("modeling", "methods", "clip", "objective", "temperature"): 0.2})
    scalar = text.replace("[0.1]", "0.1")
    with pytest.raises(InvalidInputError, match="no modeling.methods.simclr"):
        selected_values(_selection().assign(method=["micon", "simclr"]), yaml.safe_load(scalar)["modeling"])


def _write_run(root: Path, version: str) -> None:
    folder = root / "06_models" / "tuning"
    trials = _selection().assign(trial=0, max_steps=10, final_loss=1.0)
    files = {
        "tuning_trials.csv": trials.to_csv(index=False),
        "tuning_selection.csv": _selection().to_csv(index=False),
        "tuning_provenance.json": json.dumps(
            {
                "commit": "abc123def4567890",
                "dirty": False,
                "command": "kedro run --env benchmark --pipelines tuning",
                "finished_at": "2026-12-01T20:00:00+00:00",
                "tuning": {"selection": {"split": "val", "level": "NSS", "metric": "map_above_chance"}},
            }
        ),
    }
    for name, content in files.items():
        (folder / name / version).mkdir(parents=True)
        (folder / name / version / name).write_text(content)


def test_main_writes_parameters_and_doc_then_check_passes(tmp_path):
    root = tmp_path / "data"
    _write_run(root, "2026-12-01T20.00.00.000Z")
    (root / "06_models/tuning/tuning_selection.csv/2026-12-02T00.00.00.000Z").mkdir()  # incomplete
    params, doc = tmp_path / "parameters_modeling.yml", tmp_path / "results.md"
    params.write_text(BASE.read_text())
    doc.write_text(
        "# Results\n<!-- BEGIN rendered: tuning-search -->\nold\n<!-- END rendered: tuning-search -->\n"
    )
    args = ["--run-root", str(root), "--params", str(params), "--doc", str(doc)]
    assert latest_tuning(root).version == "2026-12-01T20.00.00.000Z"
    assert main([*args, "--check"]) == 1
    assert main(args) == 0
    assert yaml.safe_load(params.read_text())["modeling"]["methods"]["clip"]["training"]["lr"] == 3e-4
    rendered = doc.read_text()
    assert (
        re.search(r"^\| micon +\|", rendered, re.MULTILINE)
        and "commit `abc123def456`" in rendered
        and "old" not in rendered
    )
    assert main([*args, "--check"]) == 0


def test_latest_tuning_without_a_complete_run_names_the_command(tmp_path):
    with pytest.raises(InvalidInputError, match="--pipelines tuning"):
        latest_tuning(tmp_path)
