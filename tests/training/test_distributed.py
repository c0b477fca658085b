import os
import pickle
import socket

import numpy as np
import pytest
import torch

from micon import train as micon_train
from micon.errors import InvalidConfigError
from micon.sources.synthetic import SYNTHETIC_PROFILE
from micon.training.distributed import TrainingJob, launch_training, process_count, read_job, train, write_job
from micon.training.runner import TrainingConfig
from tests.parameters import parameter
from tests.training.conftest import objective_of, tiny_model_config_of
from tests.training.ddp_probe import RecordRank


def _config(**kwargs) -> TrainingConfig:
    return TrainingConfig(**{**parameter("modeling.training"), "max_steps": 3, **kwargs})


def _job(crops, index, **kwargs) -> TrainingJob:
    callbacks = kwargs.pop("callbacks", ())
    return TrainingJob(
        crops=crops,
        crop_index=index,
        model_config=tiny_model_config_of("paclr"),
        training_config=_config(**kwargs),
        method="paclr",
        objective=objective_of("paclr"),
        controls=SYNTHETIC_PROFILE.controls,
        callbacks=callbacks,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _torchrun_rank(rank: int, folder: str, port: int) -> None:
    """Be rank ``rank`` of 2 as torchrun starts it (its environment), running the entry point on the job."""
    os.environ.update(
        {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "WORLD_SIZE": "2",
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "GROUP_RANK": "0",
            "LOCAL_WORLD_SIZE": "2",
        }
    )
    torch.set_num_threads(1)  # a forked child must not reuse the parent's OpenMP pool
    assert micon_train.main(["--job", folder]) == 0


def _check_ranks(folder, checkpoint: dict, history) -> None:
    """Assert 2 gloo ranks saw disjoint crops each step and end with rank 0's weights, returned once."""
    ranks = [torch.load(folder / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert [r["world_size"] for r in ranks] == [2, 2]
    assert [r["backend"] for r in ranks] == ["gloo", "gloo"]
    assert len(ranks[0]["steps"]) == len(ranks[1]["steps"]) == 3
    for seen_0, seen_1 in zip(ranks[0]["steps"], ranks[1]["steps"], strict=True):
        assert len(seen_0) == len(seen_1) == 4
        assert not set(seen_0) & set(seen_1)  # the ranks' crops of one step are disjoint
    names = ranks[0]["parameters"].keys()
    assert names == ranks[1]["parameters"].keys()
    for name in names:
        torch.testing.assert_close(ranks[0]["parameters"][name], ranks[1]["parameters"][name], rtol=0, atol=0)
    state = checkpoint["state_dict"]
    for name, value in ranks[0]["parameters"].items():
        torch.testing.assert_close(state[name.removeprefix("model.")], value, rtol=0, atol=0)
    assert list(history["step"])[-1] == 3


def _ddp_job(crops, index, folder) -> TrainingJob:
    return _job(
        crops,
        index,
        accelerator="cpu",
        devices=2,
        strategy="ddp",
        batch_rows=4,
        precision="32-true",
        callbacks=(RecordRank(str(folder)),),
    )


def test_two_gloo_ranks_read_disjoint_batches_and_end_with_identical_weights(
    tiny_crops, tiny_crop_index, tmp_path
):
    # Two CPU processes in a torchrun-style process group (gloo), each running `micon.train --job`:
    # forked from this process, so that they need not import the stack again (seconds, not a minute).
    job = write_job(_ddp_job(tiny_crops, tiny_crop_index, tmp_path), tmp_path / "job")
    torch.multiprocessing.start_processes(
        _torchrun_rank, args=(str(job), _free_port()), nprocs=2, join=True, start_method="fork"
    )
    with (job / "result.pkl").open("rb") as handle:
        checkpoint, history = pickle.load(handle)
    _check_ranks(tmp_path, checkpoint, history)


@pytest.mark.skipif(
    not os.environ.get("MICON_TEST_LAUNCH"),
    reason="starts 2 fresh interpreters (minutes on a loaded machine)",
)
def test_node_launch_runs_the_entry_point_whose_launcher_starts_rank_1(tiny_crops, tiny_crop_index, tmp_path):
    # The node's own path: `python -m micon.train --job` started once; Lightning's DDP launcher starts
    # rank 1 by re-running that command (never the pipeline). Set MICON_TEST_LAUNCH=1 to run it.
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port())}
    checkpoint, history = launch_training(
        _ddp_job(tiny_crops, tiny_crop_index, tmp_path), folder=tmp_path / "job", env=env
    )
    _check_ranks(tmp_path, checkpoint, history)


def test_job_round_trip_maps_a_memmap_again_instead_of_copying_it(tiny_crops, tiny_crop_index, tmp_path):
    path = tmp_path / "crops.raw"
    stored = np.memmap(path, dtype=np.uint16, mode="w+", shape=tiny_crops.shape)
    stored[:] = tiny_crops
    stored.flush()
    mapped = np.memmap(path, dtype=np.uint16, mode="r", shape=tiny_crops.shape)
    folder = write_job(_job(mapped, tiny_crop_index), tmp_path / "job")
    assert (folder / "job.pkl").stat().st_size < tiny_crops.nbytes // 4
    job = read_job(folder)
    assert isinstance(job.crops, np.memmap) and str(job.crops.filename) == str(path)
    np.testing.assert_array_equal(job.crops, tiny_crops)


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"devices": 1}, 1),
        ({"devices": 2, "accelerator": "cpu"}, 2),
        ({"devices": [0, 1], "num_nodes": 2}, 4),
        ({"devices": "auto", "accelerator": "cpu"}, 1),
    ],
)
def test_process_count_is_devices_times_nodes(settings, expected):
    assert process_count(_config(**settings)) == expected


def test_train_refuses_several_nodes_from_a_node_and_names_the_command(tiny_crops, tiny_crop_index):
    with pytest.raises(InvalidConfigError, match="python -m micon.train"):
        train(_job(tiny_crops, tiny_crop_index, devices=1, num_nodes=2))
