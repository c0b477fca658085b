import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from micon.chem.fingerprints import morgan_fingerprints
from micon.chem.graph import molecule_graph
from micon.errors import InvalidConfigError, InvalidInputError
from micon.models.molecule_encoder import (
    FingerprintMoleculeEncoder,
    GraphMoleculeEncoder,
    MoleculeEncoderConfig,
    build_molecule_encoder,
    collate_molecules,
    featurize_molecules,
)
from tests.parameters import parameter


def _molecule_config(**overrides) -> MoleculeEncoderConfig:
    """Return the product's molecule encoder settings (conf/base) with ``overrides``."""
    return MoleculeEncoderConfig(**{**parameter("modeling.model.molecule", env="base"), **overrides})


SMILES = ["CC(=O)Oc1ccccc1C(=O)O", "Cn1c(=O)c2c(ncn2C)n(C)c1=O", "CC(C)Cc1ccc(C(C)C(=O)O)cc1"]


@pytest.mark.parametrize("pooling", ["mean", "sum", "max", "attention"])
@pytest.mark.parametrize(("num_layers", "out_dim"), [(1, 4), (3, 16)])
def test_graph_molecule_encoder_batch_gives_graphs_by_out_dim(pooling, num_layers, out_dim):
    config = _molecule_config(hidden_dim=8, num_layers=num_layers, out_dim=out_dim, pooling=pooling)
    encoder = GraphMoleculeEncoder(config)
    out = encoder(Batch.from_data_list([molecule_graph(s) for s in SMILES]))
    assert out.shape == (3, out_dim)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("smiles", ["C", "[Na+]"])
def test_graph_molecule_encoder_single_atom_molecule_trains(smiles):
    encoder = GraphMoleculeEncoder(_molecule_config(hidden_dim=8, out_dim=4)).train()
    graph = molecule_graph(smiles)
    assert graph.edge_index.shape == (2, 0)
    out = encoder(Batch.from_data_list([graph]))
    out.sum().backward()
    assert out.shape == (1, 4)
    assert torch.isfinite(out).all()


def test_graph_molecule_encoder_embedding_independent_of_batch_mates():
    encoder = GraphMoleculeEncoder(_molecule_config(hidden_dim=8, out_dim=4)).train()
    alone = encoder(Batch.from_data_list([molecule_graph(SMILES[0])]))
    together = encoder(Batch.from_data_list([molecule_graph(s) for s in SMILES]))
    assert torch.allclose(alone[0], together[0], atol=1e-5)


def test_graph_molecule_encoder_wrong_feature_width_raises():
    encoder = GraphMoleculeEncoder(_molecule_config(hidden_dim=8, out_dim=4))
    graph = molecule_graph("CCO")
    graph.x = graph.x[:, :5]
    with pytest.raises(InvalidInputError, match="width"):
        encoder(Batch.from_data_list([graph]))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("num_layers", 0),
        ("hidden_dim", 0),
        ("dropout", 1.0),
        ("pooling", "add"),
        ("kind", "transformer"),
        ("n_bits", 0),
    ],
)
def test_molecule_encoder_config_out_of_range_raises(field, value):
    with pytest.raises(InvalidConfigError, match=field):
        _molecule_config(**{field: value})


def test_graph_molecule_encoder_sum_pooling_is_atom_count_times_mean():
    torch.manual_seed(0)
    mean = GraphMoleculeEncoder(_molecule_config(hidden_dim=8, out_dim=4, pooling="mean"))
    total = GraphMoleculeEncoder(_molecule_config(hidden_dim=8, out_dim=4, pooling="sum"))
    total.load_state_dict(mean.state_dict())
    batch = Batch.from_data_list([molecule_graph(s) for s in SMILES])
    atoms = torch.bincount(batch.batch).float()[:, None]
    h = mean.gnn(batch.x, batch.edge_index, edge_attr=batch.edge_attr)
    assert torch.allclose(
        total.pool(h, batch.batch, dim_size=3), mean.pool(h, batch.batch, dim_size=3) * atoms, atol=1e-5
    )


def test_fingerprint_molecule_encoder_gives_graphs_by_out_dim_and_trains():
    config = _molecule_config(kind="fingerprint", hidden_dim=16, num_layers=2, out_dim=8, n_bits=64)
    encoder = build_molecule_encoder(config)
    assert isinstance(encoder, FingerprintMoleculeEncoder)
    features = featurize_molecules(SMILES, config)
    out = encoder(features)
    out.sum().backward()
    assert out.shape == (3, 8)
    assert all(p.grad is not None for p in encoder.parameters())


def test_fingerprint_molecule_encoder_wrong_width_raises():
    encoder = FingerprintMoleculeEncoder(_molecule_config(kind="fingerprint", n_bits=64))
    with pytest.raises(InvalidInputError, match="64"):
        encoder(torch.zeros(2, 32))


def test_featurize_molecules_fingerprint_rows_are_morgan_bits():
    config = _molecule_config(kind="fingerprint", radius=1, n_bits=128)
    features = featurize_molecules(SMILES, config)
    assert features.dtype == torch.float32
    np.testing.assert_array_equal(features.numpy(), morgan_fingerprints(SMILES, radius=1, n_bits=128))
    picked = collate_molecules(features, [2, 0])
    assert torch.equal(picked, features[[2, 0]])


def test_featurize_molecules_gnn_graphs_collate_into_batch():
    config = _molecule_config(kind="gnn")
    graphs = featurize_molecules(SMILES, config)
    batch = collate_molecules(graphs, [1, 2])
    assert isinstance(batch, Batch)
    assert batch.num_graphs == 2
    assert torch.equal(batch.get_example(0).x, molecule_graph(SMILES[1]).x)
    assert isinstance(build_molecule_encoder(config), GraphMoleculeEncoder)
