from pathlib import Path

import pytest
from kedro.framework.session import KedroSession

from micon import schema
from micon.datasets import CropArray
from micon.metadata.provenance import CROP_STORE_ID, with_ids
from micon.sources.synthetic import SYNTHETIC_PROFILE
from micon.train import _runtime_params, main, train_from_catalog
from tests.kedro_project import temporary_project
from tests.training.conftest import _build_screen


def test_train_from_catalog_reads_the_node_inputs_and_saves_the_checkpoint_under_the_given_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # The srun/torchrun path in one process: inputs from the catalog, outputs saved once, versioned.
    root = temporary_project(tmp_path / "project", monkeypatch)
    crops, index = _build_screen()
    with KedroSession.create(project_path=root, env="test") as session:
        catalog = session.load_context().catalog
        catalog.save("crop_store", CropArray(crops, schema.CHANNELS))
        catalog.save("crop_index", with_ids(index, **{CROP_STORE_ID: catalog.load("crop_store").write_id}))
        catalog.save("source_profile", SYNTHETIC_PROFILE.to_dict())
        version = "2026-01-02T03.04.05.678Z"
        tiny = {"backbone": "test_resnet", "intensity_scaling": "per_crop"}
        params = {"modeling": {"model": {"image": tiny}, "training": {"max_steps": 2}}}
        assert (
            train_from_catalog("paclr", env="test", params=params, save_version=version, project_path=root)
            == version
        )
        data = root / "data" / "test"
        saved = sorted(p.relative_to(data) for p in (data / "06_models").rglob("*") if p.is_file())
        assert saved == [
            Path(f"06_models/paclr_checkpoint.pt/{version}/paclr_checkpoint.pt"),
            Path(f"06_models/paclr_training_history.csv/{version}/paclr_training_history.csv"),
        ]
        assert catalog.load("paclr.model_checkpoint")["method"] == "paclr"
        assert list(catalog.load("paclr.training_history")["step"])[-1] == 2


def test_main_needs_exactly_one_of_job_and_method():
    with pytest.raises(SystemExit):
        main([])
    with pytest.raises(SystemExit):
        main(["--job", "x", "--method", "micon"])


def test_runtime_params_parsed_as_kedro_run_parses_them():
    parsed = _runtime_params("modeling.training.devices=4,modeling.training.strategy=ddp")
    assert parsed == {"modeling": {"training": {"devices": 4, "strategy": "ddp"}}}
    assert _runtime_params(None) == {}
