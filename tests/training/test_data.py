import dataclasses
import logging
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from micon import schema
from micon.chem.fingerprints import morgan_fingerprints, tanimoto_similarity
from micon.errors import InvalidConfigError, InvalidImageError, InvalidInputError
from micon.imaging.intensity import CropIntensityScaling, fit_plate_intensity_references
from micon.training.data import BATCH_FIELDS, IMAGE_KEYS, crop_dataloader, loader_options, read_crops
from tests.training.conftest import tiny_datamodule, tiny_model_config_of


def test_read_crops_unsorted_repeated_ids_keep_order(tiny_crops):
    ids = np.array([7, 2, 7, 0])
    out = read_crops(tiny_crops, ids)
    assert out.dtype == torch.float32
    assert np.array_equal(out.numpy(), tiny_crops[ids].astype(np.float32))


def test_micon_datamodule_train_batch_has_images_labels_and_graphs(tiny_crops, tiny_crop_index):
    datamodule = tiny_datamodule(tiny_crops, tiny_crop_index, batch_rows=6, seed=0, steps_per_epoch=3)
    datamodule.setup("fit")
    batches = list(datamodule.train_dataloader())
    assert len(batches) == 3
    batch = batches[0]
    for key in IMAGE_KEYS:
        assert batch[key].shape == (6, 5, 16, 16)
        assert batch[key].dtype == torch.float32
    ids = datamodule.sampler.sample_batch(0)
    assert np.array_equal(batch["treated_2"].numpy(), tiny_crops[ids["treated_2"]].astype(np.float32))
    assert batch["compound_labels"].dtype == torch.long
    molecules = batch["molecules"]
    assert isinstance(molecules, Batch)
    assert molecules.num_graphs == len(set(batch["compound_labels"].tolist()))
    # Row i's graph is the graph of its compound.
    for row, graph in enumerate(batch["molecule_index"].tolist()):
        expected = datamodule.molecule_features[batch["compound_labels"][row]]
        assert torch.equal(molecules.get_example(graph).x, expected.x)


def test_micon_datamodule_graphs_built_once_per_compound(tiny_crops, tiny_crop_index):
    datamodule = tiny_datamodule(tiny_crops, tiny_crop_index, batch_rows=4, steps_per_epoch=2)
    datamodule.setup("fit")
    graphs = datamodule.molecule_features
    datamodule.setup("fit")
    assert datamodule.molecule_features is graphs
    assert len(graphs) == len(datamodule.compounds) == 3


def test_micon_datamodule_fingerprint_batch_has_bits_similarity_and_controls(tiny_crops, tiny_crop_index):
    molecule = dataclasses.replace(
        tiny_model_config_of("micon").molecule, kind="fingerprint", radius=2, n_bits=256
    )
    datamodule = tiny_datamodule(
        tiny_crops,
        tiny_crop_index,
        batch_rows=6,
        seed=0,
        steps_per_epoch=1,
        molecule=molecule,
        fields=BATCH_FIELDS,
    )
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    unique = sorted(set(batch["compound_labels"].tolist()))
    bits = morgan_fingerprints([datamodule.compounds[k] for k in unique], radius=2, n_bits=256)
    np.testing.assert_array_equal(batch["molecules"].numpy(), bits.astype(np.float32))
    np.testing.assert_allclose(batch["molecule_similarity"].numpy(), tanimoto_similarity(bits))
    for key in ("control_labels_1", "control_labels_2"):
        assert batch[key].dtype == torch.long
        assert batch[key].tolist() == [-1] * 6


def test_micon_datamodule_embedding_dataloader_batches_in_given_order(tiny_crops, tiny_crop_index):
    datamodule = tiny_datamodule(tiny_crops, tiny_crop_index, batch_rows=4)
    ids = np.arange(len(tiny_crop_index))[::-1]
    batches = list(datamodule.embedding_dataloader(ids, batch_size=50))
    assert [b.shape[0] for b in batches] == [50, 50, 20]
    assert np.array_equal(torch.cat(batches).numpy(), tiny_crops[ids].astype(np.float32))


def test_micon_datamodule_compounds_before_setup_raises(tiny_crops, tiny_crop_index):
    with pytest.raises(InvalidInputError, match="setup"):
        _ = tiny_datamodule(tiny_crops, tiny_crop_index, batch_rows=4).compounds


def test_micon_datamodule_store_smaller_than_ids_raises(tiny_crops, tiny_crop_index):
    with pytest.raises(InvalidImageError, match=schema.CROP_ID):
        tiny_datamodule(tiny_crops[:10], tiny_crop_index, batch_rows=4)


def test_crop_dataloader_zero_batch_size_raises(tiny_crops):
    with pytest.raises(ValueError, match="batch_size"):
        crop_dataloader(tiny_crops, [0, 1], batch_size=0)


def _fake_trainer(*, global_rank: int = 0, world_size: int = 1, global_step: int = 0, current_epoch: int = 0):
    return SimpleNamespace(
        global_rank=global_rank, world_size=world_size, global_step=global_step, current_epoch=current_epoch
    )


def test_micon_datamodule_batch_has_control_labels(tiny_crops, tiny_crop_index):
    datamodule = tiny_datamodule(
        tiny_crops, tiny_crop_index, batch_rows=6, steps_per_epoch=2, controls="same_plate"
    )
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    ids = datamodule.sampler.sample_batch(0)
    for key in ("control_labels_1", "control_labels_2"):
        assert batch[key].dtype == torch.long and batch[key].shape == (6,)
        assert np.array_equal(batch[key].numpy(), ids[key])


def test_micon_datamodule_intensity_scaling_applied_to_every_image(tiny_crops, tiny_crop_index):
    references = fit_plate_intensity_references(tiny_crops, tiny_crop_index)
    scaling = CropIntensityScaling.for_crops(references, tiny_crop_index, n_crops=tiny_crops.shape[0])
    datamodule = tiny_datamodule(
        tiny_crops, tiny_crop_index, batch_rows=4, steps_per_epoch=1, intensity=scaling
    )
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    ids = datamodule.sampler.sample_batch(0)
    for key in IMAGE_KEYS:
        expected = scaling.apply(tiny_crops[ids[key]].astype(np.float32), ids[key])
        np.testing.assert_allclose(batch[key].numpy(), expected, rtol=1e-6)
    loader = datamodule.embedding_dataloader([5, 1], batch_size=2)
    np.testing.assert_allclose(
        next(iter(loader)).numpy(), scaling.apply(tiny_crops[[5, 1]].astype(np.float32), np.array([5, 1]))
    )


def test_micon_datamodule_rank_and_world_size_come_from_trainer(tiny_crops, tiny_crop_index):
    datamodule = tiny_datamodule(tiny_crops, tiny_crop_index, batch_rows=4, steps_per_epoch=2)
    datamodule.trainer = _fake_trainer(global_rank=1, world_size=3)
    datamodule.setup("fit")
    assert (datamodule.sampler.rank, datamodule.sampler.world_size) == (1, 3)
    loader = datamodule.train_dataloader()
    assert loader.sampler is datamodule.sampler  # never a DistributedSampler around it


def test_micon_datamodule_train_dataloader_starts_at_trainer_step(tiny_crops, tiny_crop_index):
    datamodule = tiny_datamodule(tiny_crops, tiny_crop_index, batch_rows=4, steps_per_epoch=5)
    datamodule.trainer = _fake_trainer(global_step=8, current_epoch=1)
    datamodule.setup("fit")
    batches = list(datamodule.train_dataloader())
    assert len(batches) == 2  # steps 3 and 4 of epoch 1
    expected = datamodule.sampler.sample_batch(3, epoch=1)
    assert np.array_equal(
        batches[0]["treated_1"].numpy(), tiny_crops[expected["treated_1"]].astype(np.float32)
    )


def test_micon_datamodule_loader_state_mismatch_warns(tiny_crops, tiny_crop_index, caplog):
    datamodule = tiny_datamodule(tiny_crops, tiny_crop_index, batch_rows=4, steps_per_epoch=5, seed=1)
    datamodule.setup("fit")
    loader = datamodule.train_dataloader()
    state = loader.state_dict()
    assert state["seed"] == 1 and state["batch_rows"] == 4
    with caplog.at_level(logging.WARNING, logger="micon.training.data"):
        loader.load_state_dict(state)
        assert not caplog.text
        loader.load_state_dict({**state, "seed": 2})
    assert "differ" in caplog.text


@pytest.mark.parametrize(
    ("method", "keys"),
    [
        ("micon", {*IMAGE_KEYS, "control_labels_1", "control_labels_2", "molecules", "molecule_index"}),
        ("paclr", {*IMAGE_KEYS, "control_labels_1", "control_labels_2"}),
        ("clip", {"treated_1", "treated_2", "molecules", "molecule_index"}),
        ("cellclip", {"treated_1", "treated_2", "molecules", "molecule_index", "molecule_similarity"}),
        ("simclr", {"treated_1", "treated_2", "crops"}),
    ],
)
def test_micon_datamodule_batch_holds_only_the_fields_its_method_consumes(
    tiny_crops, tiny_crop_index, method, keys
):
    datamodule = tiny_datamodule(tiny_crops, tiny_crop_index, method=method, steps_per_epoch=1)
    datamodule.setup("fit")
    batch = next(iter(datamodule.train_dataloader()))
    assert set(batch) == {"compound_labels", *keys}
    assert (len(datamodule.molecule_features) > 0) == ("molecules" in keys)
    assert (datamodule.fingerprints.size > 0) == ("molecule_similarity" in keys)


def test_micon_datamodule_reads_no_control_crop_for_an_image_only_method(tiny_crops, tiny_crop_index):
    datamodule = tiny_datamodule(tiny_crops, tiny_crop_index, method="simclr", steps_per_epoch=1)
    datamodule.setup("fit")
    ids = datamodule.sampler.sample_batch(0)
    read: list[np.ndarray] = []

    class _Recording(np.ndarray):
        def __getitem__(self, index):
            if isinstance(index, np.ndarray):
                read.append(index)
            return super().__getitem__(index)

    datamodule.crops = tiny_crops.view(_Recording)
    next(iter(datamodule.train_dataloader()))
    controls = set(ids["control_1"]) | set(ids["control_2"])
    consumed = set(ids["treated_1"]) | set(ids["treated_2"]) | set(ids["crops"])
    assert read and set(np.concatenate(read)) == consumed
    assert not (controls - consumed) & set(np.concatenate(read))


def test_micon_datamodule_unknown_field_raises(tiny_crops, tiny_crop_index):
    with pytest.raises(InvalidConfigError, match="masks"):
        tiny_datamodule(tiny_crops, tiny_crop_index, fields=("treated", "masks"))


def test_micon_datamodule_molecule_fields_without_molecule_settings_raise(tiny_crops, tiny_crop_index):
    with pytest.raises(InvalidConfigError, match="molecule"):
        tiny_datamodule(tiny_crops, tiny_crop_index, method="clip", molecule=None)


def test_micon_datamodule_simclr_crops_include_dmso_crops(tiny_crops, tiny_crop_index):
    datamodule = tiny_datamodule(tiny_crops, tiny_crop_index, method="simclr", steps_per_epoch=6)
    datamodule.setup("fit")
    is_control = tiny_crop_index.set_index(schema.CROP_ID)[schema.IS_CONTROL]
    loader = datamodule.train_dataloader()
    drawn = np.concatenate([datamodule.sampler.sample_batch(step)["crops"] for step in range(6)])
    assert is_control.loc[drawn].any()
    batch = next(iter(loader))
    assert batch["crops"].shape == (2 * 4, *tiny_crops.shape[1:])
    first = datamodule.sampler.sample_batch(0)["crops"]
    assert torch.equal(batch["crops"], torch.from_numpy(tiny_crops[first].astype(np.float32)))


def test_micon_datamodule_batch_similarity_equals_the_full_matrix_rows_of_its_compounds(
    tiny_crops, tiny_crop_index
):
    # The similarity is computed per batch; it must equal the (unique, unique) block of the K x K
    # Tanimoto matrix over every compound that the data module used to hold.
    molecule = dataclasses.replace(tiny_model_config_of("micon").molecule, radius=2, n_bits=128)
    datamodule = tiny_datamodule(
        tiny_crops, tiny_crop_index, batch_rows=3, steps_per_epoch=4, molecule=molecule, fields=BATCH_FIELDS
    )
    datamodule.setup("fit")
    full = tanimoto_similarity(morgan_fingerprints(list(datamodule.compounds), radius=2, n_bits=128))
    assert datamodule.fingerprints.shape == (len(datamodule.compounds), 128)  # no K x K array is kept
    for batch in datamodule.train_dataloader():
        unique = np.unique(batch["compound_labels"].numpy())
        np.testing.assert_array_equal(batch["molecule_similarity"].numpy(), full[np.ix_(unique, unique)])


def test_micon_datamodule_workers_read_each_sampler_batch_once_in_order(tiny_crops, tiny_crop_index):
    # The sampler runs in the main process; each worker reads the batches it is handed, so 2 workers
    # yield exactly the batches of the main process: none repeated, none lost, same order.
    def batches(num_workers: int) -> list[dict]:
        datamodule = tiny_datamodule(
            tiny_crops, tiny_crop_index, method="paclr", steps_per_epoch=4, num_workers=num_workers
        )
        datamodule.setup("fit")
        return list(datamodule.train_dataloader())

    inline, workers = batches(0), batches(2)
    assert len(workers) == len(inline) == 4
    for a, b in zip(inline, workers, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            torch.testing.assert_close(a[key], b[key])
    firsts = {tuple(batch["treated_1"].flatten()[:64].tolist()) for batch in workers}
    assert len(firsts) == 4


def test_loader_options_seed_workers_per_rank_and_drop_worker_settings_without_workers():
    inline = loader_options(
        num_workers=0, pin_memory=False, persistent_workers=True, prefetch_factor=4, seed=0, rank=0
    )
    assert inline == {"num_workers": 0, "pin_memory": False}
    states = set()
    for rank in (0, 1):
        options = loader_options(
            num_workers=2, pin_memory=False, persistent_workers=True, prefetch_factor=4, seed=0, rank=rank
        )
        assert options["prefetch_factor"] == 4 and options["persistent_workers"]
        for worker in (0, 1):
            options["worker_init_fn"](worker)
            states.add(float(np.random.random()))
    assert len(states) == 4  # distinct streams per (rank, worker)
    with pytest.raises(InvalidConfigError, match="prefetch_factor"):
        loader_options(
            num_workers=1, pin_memory=False, persistent_workers=True, prefetch_factor=0, seed=0, rank=0
        )
