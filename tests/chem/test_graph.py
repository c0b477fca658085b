import pytest
import torch
from torch_geometric.data import Batch

from micon.chem import ATOM_FEATURE_DIM, BOND_FEATURE_DIM, molecule_graph
from micon.errors import InvalidSmilesError


def test_molecule_graph_ethanol_gives_expected_shapes_and_dtypes():
    data = molecule_graph("CCO")
    assert data.x.shape == (3, ATOM_FEATURE_DIM)
    assert data.x.dtype == torch.float32
    assert data.edge_index.shape == (2, 4)
    assert data.edge_index.dtype == torch.long
    assert data.edge_attr.shape == (4, BOND_FEATURE_DIM)
    assert data.edge_attr.dtype == torch.float32
    assert data.smiles == "CCO"


def test_molecule_graph_edges_hold_both_directions_with_same_features():
    data = molecule_graph("c1ccccc1O")
    edges = {tuple(e) for e in data.edge_index.t().tolist()}
    assert all((j, i) in edges for i, j in edges)
    torch.testing.assert_close(data.edge_attr[0::2], data.edge_attr[1::2])


def test_molecule_graph_features_are_one_hot_per_category():
    data = molecule_graph("C[C@H](N)c1ccc(Cl)cc1")
    # 6 categorical blocks with exactly one hot each + 2 binary flags.
    assert torch.all(data.x[:, :-2].sum(dim=1) == 6)
    # bond type (one hot, all bonds here are single/aromatic), stereo (one hot).
    assert torch.all(data.edge_attr[:, :4].sum(dim=1) == 1)
    assert torch.all(data.edge_attr[:, -2:].sum(dim=1) == 1)
    aromatic_atoms = data.x[:, -2]
    assert aromatic_atoms.sum() == 6


def test_molecule_graph_single_atom_gives_no_edges():
    data = molecule_graph("C")
    assert data.x.shape == (1, ATOM_FEATURE_DIM)
    assert data.edge_index.shape == (2, 0)
    assert data.edge_attr.shape == (0, BOND_FEATURE_DIM)


def test_molecule_graph_rare_element_uses_other_slot():
    data = molecule_graph("[Pt]")
    assert data.x.shape == (1, ATOM_FEATURE_DIM)


def test_molecule_graph_batch_of_graphs_collates():
    batch = Batch.from_data_list([molecule_graph(s) for s in ["C", "CCO", "c1ccccc1"]])
    assert batch.num_graphs == 3
    assert batch.x.shape == (10, ATOM_FEATURE_DIM)
    assert batch.edge_index.shape[1] == 4 + 12


def test_molecule_graph_invalid_smiles_raises_naming_it():
    with pytest.raises(InvalidSmilesError, match="c1cccc1"):
        molecule_graph("c1cccc1")
