import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from micon import schema
from micon.chem.fingerprints import morgan_fingerprints, tanimoto_similarity
from micon.errors import InvalidImageError, InvalidInputError
from micon.models.molecule_encoder import MoleculeEncoderConfig
from micon.training.data import IMAGE_KEYS, MiconDataModule, crop_dataloader, read_crops


def test_read_crops_unsorted_repeated_ids_keep_order(tiny_crops):
    ids = np.array([7, 2, 7, 0])
    out = read_crops(tiny_crops, ids)
    assert out.dtype == torch.float32
    assert np.array_equal(out.numpy(), tiny_crops[ids].astype(np.float32))


def test_micon_datamodule_train_batch_has_images_labels_and_graphs(tiny_crops, tiny_crop_index):
    datamodule = MiconDataModule(tiny_crops, tiny_crop_index, batch_rows=6, seed=0, steps_per_epoch=3)
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
    datamodule = MiconDataModule(tiny_crops, tiny_crop_index, batch_rows=4, steps_per_epoch=2)
    datamodule.setup("fit")
    graphs = datamodule.molecule_features
    datamodule.setup("fit")
    assert datamodule.molecule_features is graphs
    assert len(graphs) == len(datamodule.compounds) == 3


def test_micon_datamodule_fingerprint_batch_has_bits_similarity_and_controls(tiny_crops, tiny_crop_index):
    molecule = MoleculeEncoderConfig(kind="fingerprint", radius=2, n_bits=256)
    datamodule = MiconDataModule(
        tiny_crops, tiny_crop_index, batch_rows=6, seed=0, steps_per_epoch=1, molecule=molecule
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
    datamodule = MiconDataModule(tiny_crops, tiny_crop_index, batch_rows=4)
    ids = np.arange(len(tiny_crop_index))[::-1]
    batches = list(datamodule.embedding_dataloader(ids, batch_size=50))
    assert [b.shape[0] for b in batches] == [50, 50, 20]
    assert np.array_equal(torch.cat(batches).numpy(), tiny_crops[ids].astype(np.float32))


def test_micon_datamodule_compounds_before_setup_raises(tiny_crops, tiny_crop_index):
    with pytest.raises(InvalidInputError, match="setup"):
        _ = MiconDataModule(tiny_crops, tiny_crop_index, batch_rows=4).compounds


def test_micon_datamodule_store_smaller_than_ids_raises(tiny_crops, tiny_crop_index):
    with pytest.raises(InvalidImageError, match=schema.CROP_ID):
        MiconDataModule(tiny_crops[:10], tiny_crop_index, batch_rows=4)


def test_crop_dataloader_zero_batch_size_raises(tiny_crops):
    with pytest.raises(ValueError, match="batch_size"):
        crop_dataloader(tiny_crops, [0, 1], batch_size=0)
