import pytest
import torch
from torch_geometric.data import Batch

from micon.chem.graph import molecule_graph
from micon.errors import InvalidConfigError, InvalidInputError
from micon.models.molecule_encoder import GraphMoleculeEncoder, MoleculeEncoderConfig

SMILES = ["CC(=O)Oc1ccccc1C(=O)O", "Cn1c(=O)c2c(ncn2C)n(C)c1=O", "CC(C)Cc1ccc(C(C)C(=O)O)cc1"]


@pytest.mark.parametrize("pooling", ["mean", "add", "max"])
@pytest.mark.parametrize(("num_layers", "out_dim"), [(1, 4), (3, 16)])
def test_graph_molecule_encoder_batch_gives_graphs_by_out_dim(pooling, num_layers, out_dim):
    config = MoleculeEncoderConfig(hidden_dim=8, num_layers=num_layers, out_dim=out_dim, pooling=pooling)
    encoder = GraphMoleculeEncoder(config)
    out = encoder(Batch.from_data_list([molecule_graph(s) for s in SMILES]))
    assert out.shape == (3, out_dim)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("smiles", ["C", "[Na+]"])
def test_graph_molecule_encoder_single_atom_molecule_trains(smiles):
    encoder = GraphMoleculeEncoder(MoleculeEncoderConfig(hidden_dim=8, out_dim=4)).train()
    graph = molecule_graph(smiles)
    assert graph.edge_index.shape == (2, 0)
    out = encoder(Batch.from_data_list([graph]))
    out.sum().backward()
    assert out.shape == (1, 4)
    assert torch.isfinite(out).all()


def test_graph_molecule_encoder_embedding_independent_of_batch_mates():
    encoder = GraphMoleculeEncoder(MoleculeEncoderConfig(hidden_dim=8, out_dim=4)).train()
    alone = encoder(Batch.from_data_list([molecule_graph(SMILES[0])]))
    together = encoder(Batch.from_data_list([molecule_graph(s) for s in SMILES]))
    assert torch.allclose(alone[0], together[0], atol=1e-5)


def test_graph_molecule_encoder_wrong_feature_width_raises():
    encoder = GraphMoleculeEncoder(MoleculeEncoderConfig(hidden_dim=8, out_dim=4))
    graph = molecule_graph("CCO")
    graph.x = graph.x[:, :5]
    with pytest.raises(InvalidInputError, match="width"):
        encoder(Batch.from_data_list([graph]))


@pytest.mark.parametrize(
    ("field", "value"), [("num_layers", 0), ("hidden_dim", 0), ("dropout", 1.0), ("pooling", "sum")]
)
def test_molecule_encoder_config_out_of_range_raises(field, value):
    with pytest.raises(InvalidConfigError, match=field if field != "hidden_dim" else "hidden_dim"):
        MoleculeEncoderConfig(**{field: value})
