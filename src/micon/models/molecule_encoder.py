"""Molecule encoders (a GINE graph network, or a Morgan-fingerprint MLP) and the features each one reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn
from torch_geometric.data import Batch, Data
from torch_geometric.nn import GINEConv
from torch_geometric.nn.aggr import AttentionalAggregation, MaxAggregation, MeanAggregation, SumAggregation
from torch_geometric.nn.conv import MessagePassing
from torch_geometric.nn.models import MLP
from torch_geometric.nn.models.basic_gnn import BasicGNN

from micon.chem.fingerprints import morgan_fingerprints
from micon.chem.graph import ATOM_FEATURE_DIM, BOND_FEATURE_DIM, molecule_graph
from micon.errors import InvalidConfigError, InvalidInputError

__all__ = [
    "FingerprintMoleculeEncoder",
    "GraphMoleculeEncoder",
    "MoleculeEncoderConfig",
    "MoleculeFeatures",
    "build_molecule_encoder",
    "collate_molecules",
    "featurize_molecules",
]

MoleculeKind = Literal["gnn", "fingerprint"]
Pooling = Literal["mean", "sum", "max", "attention"]
_KINDS: tuple[str, ...] = ("gnn", "fingerprint")
_POOLINGS: tuple[str, ...] = ("mean", "sum", "max", "attention")

# Per-compound features: PyG graphs (gnn) or a (G, n_bits) float32 0/1 tensor (fingerprint).
MoleculeFeatures = list[Data] | Tensor


@dataclass(frozen=True, kw_only=True)
class MoleculeEncoderConfig:
    """Settings of the molecule encoder; ``kind`` picks :class:`GraphMoleculeEncoder` or the fingerprint MLP.

    Attributes:
        kind: ``"gnn"`` (GINE over atoms and bonds) or ``"fingerprint"`` (Morgan bits -> MLP, the MICON
            reference code's shipped default and CLOOME's encoder).
        hidden_dim: Width of every message-passing or hidden MLP layer.
        num_layers: GINE layers (the receptive field in bonds), or hidden layers of the fingerprint MLP.
        out_dim: Size M of the molecule embedding.
        dropout: Dropout after each layer.
        pooling: GNN readout over atoms: ``"mean"``, ``"sum"``, ``"max"`` or ``"attention"`` (a learned
            gate, softmax over each molecule's atoms). Ignored by the fingerprint encoder.
        radius: Morgan radius of the fingerprint (2: ECFP4-like). Ignored by the GNN.
        n_bits: Fingerprint length. Ignored by the GNN.
    """

    kind: MoleculeKind
    hidden_dim: int
    num_layers: int
    out_dim: int
    dropout: float
    pooling: Pooling
    radius: int
    n_bits: int

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise InvalidConfigError(f"molecule kind must be one of {_KINDS}, got {self.kind!r}")
        if self.hidden_dim < 1 or self.out_dim < 1:
            raise InvalidConfigError(
                f"hidden_dim and out_dim must be >= 1, got {self.hidden_dim} and {self.out_dim}"
            )
        if self.num_layers < 1:
            raise InvalidConfigError(f"num_layers must be >= 1, got {self.num_layers}")
        if not 0.0 <= self.dropout < 1.0:
            raise InvalidConfigError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.pooling not in _POOLINGS:
            raise InvalidConfigError(f"pooling must be one of {_POOLINGS}, got {self.pooling!r}")
        if self.radius < 0 or self.n_bits < 1:
            raise InvalidConfigError(f"need radius >= 0 and n_bits >= 1, got {self.radius} and {self.n_bits}")


class _GINEStack(BasicGNN):
    """PyG's ``BasicGNN`` template with GINE layers: PyG ships ``GIN`` but its layers ignore bond features."""

    supports_edge_weight = False
    supports_edge_attr = True

    def init_conv(self, in_channels: int, out_channels: int, **kwargs) -> MessagePassing:
        mlp = MLP([in_channels, out_channels, out_channels], act=self.act, norm=None)
        return GINEConv(mlp, train_eps=True, **kwargs)


class GraphMoleculeEncoder(nn.Module):
    r"""Embed molecular graphs with GINE message passing (Hu et al. 2020, arXiv 1905.12265).

    Layer :math:`l` updates each atom from its bonded neighbours, with the bond features added to the
    message:

    .. math::
        h_i^{(l+1)} = \mathrm{MLP}^{(l)}\Big((1 + \epsilon^{(l)}) h_i^{(l)}
            + \sum_{j \in \mathcal{N}(i)} \mathrm{ReLU}\big(h_j^{(l)} + W^{(l)} e_{ji}\big)\Big)

    followed by a per-atom LayerNorm, ReLU and dropout; the outputs of all layers are concatenated
    (jumping knowledge), projected to ``hidden_dim``, pooled over the atoms of each molecule and mapped
    to ``out_dim`` by a two-layer MLP.

    Why GINE: it is the most expressive of PyG's simple convolutions (as strong as the 1-WL test) and
    uses bond features (bond order, aromaticity, ring) directly, which a plain GIN or GCN would drop;
    AttentiveFP is heavier and offers nothing the small compound sets here need. The normalisation is a
    per-atom LayerNorm rather than BatchNorm, so a molecule's embedding does not depend on which other
    molecules share its batch, and a single-atom molecule works in training mode.

    Args:
        config: Widths, depth, dropout and pooling.

    Shapes:
        - input: a PyG ``Batch`` of G graphs with ``x`` :math:`(N, A)` float32, ``edge_index``
          :math:`(2, E)` long, ``edge_attr`` :math:`(E, F_b)` float32 and ``batch`` :math:`(N,)` long,
          where ``A = micon.chem.graph.ATOM_FEATURE_DIM`` and ``F_b = BOND_FEATURE_DIM``.
        - output: :math:`(G, M)` float32, ``M = config.out_dim``.
    """

    def __init__(self, config: MoleculeEncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.gnn = _GINEStack(
            ATOM_FEATURE_DIM,
            config.hidden_dim,
            config.num_layers,
            out_channels=config.hidden_dim,
            dropout=config.dropout,
            norm="layer_norm",
            norm_kwargs={"mode": "node"},
            jk="cat",
            edge_dim=BOND_FEATURE_DIM,
        )
        self.pool = _pooling(config.pooling, config.hidden_dim)
        self.readout = nn.Sequential(
            nn.Linear(config.hidden_dim, config.hidden_dim),
            nn.ReLU(),
            nn.Linear(config.hidden_dim, config.out_dim),
        )

    @property
    def out_dim(self) -> int:
        """Return M, the size of the molecule embedding."""
        return self.config.out_dim

    def forward(self, graphs: Batch) -> Tensor:
        """Return one embedding per graph of ``graphs`` (see class Shapes).

        Raises:
            InvalidInputError: The atom or bond features do not have the featuriser's widths.
        """
        if graphs.x.shape[-1] != ATOM_FEATURE_DIM or graphs.edge_attr.shape[-1] != BOND_FEATURE_DIM:
            raise InvalidInputError(
                f"expected atom/bond features of width {ATOM_FEATURE_DIM}/{BOND_FEATURE_DIM}, got "
                f"{graphs.x.shape[-1]}/{graphs.edge_attr.shape[-1]}; build graphs with micon.chem.graph"
            )
        h = self.gnn(graphs.x, graphs.edge_index, edge_attr=graphs.edge_attr)
        pooled = self.pool(h, graphs.batch, dim_size=graphs.num_graphs)
        return self.readout(pooled)


def _pooling(name: str, dim: int) -> nn.Module:
    """Return PyG's aggregation module for a pooling name (attention: a linear gate per atom)."""
    if name == "attention":
        return AttentionalAggregation(gate_nn=nn.Linear(dim, 1))
    return {"mean": MeanAggregation, "sum": SumAggregation, "max": MaxAggregation}[name]()


class FingerprintMoleculeEncoder(nn.Module):
    r"""Embed Morgan fingerprints with an MLP (PyG's ``MLP``): ``n_bits -> hidden x num_layers -> M``.

    The MICON reference code's shipped molecule encoder (radius 2, two layers) and CLOOME's.

    Args:
        config: ``n_bits``, widths, depth and dropout.

    Shapes:
        - input: :math:`(G, n\_bits)` float32 0/1 (from :func:`featurize_molecules`).
        - output: :math:`(G, M)` float32.
    """

    def __init__(self, config: MoleculeEncoderConfig) -> None:
        super().__init__()
        self.config = config
        channels = [config.n_bits, *[config.hidden_dim] * config.num_layers, config.out_dim]
        self.mlp = MLP(channels, dropout=config.dropout, norm="layer_norm")

    @property
    def out_dim(self) -> int:
        """Return M, the size of the molecule embedding."""
        return self.config.out_dim

    def forward(self, fingerprints: Tensor) -> Tensor:
        """Return one embedding per fingerprint row.

        Raises:
            InvalidInputError: ``fingerprints`` is not ``(G, n_bits)``.
        """
        if fingerprints.ndim != 2 or fingerprints.shape[1] != self.config.n_bits:
            raise InvalidInputError(
                f"expected fingerprints (G, {self.config.n_bits}), got {tuple(fingerprints.shape)}"
            )
        return self.mlp(fingerprints.float())


def build_molecule_encoder(
    config: MoleculeEncoderConfig,
) -> GraphMoleculeEncoder | FingerprintMoleculeEncoder:
    """Return the encoder ``config.kind`` names."""
    return {"gnn": GraphMoleculeEncoder, "fingerprint": FingerprintMoleculeEncoder}[config.kind](config)


def featurize_molecules(smiles: Sequence[str], config: MoleculeEncoderConfig) -> MoleculeFeatures:
    """Return the input features of each compound for the encoder ``config.kind`` names (computed once).

    Args:
        smiles: Standardised SMILES, one per compound.
        config: The molecule encoder settings.

    Returns:
        A list of PyG graphs (``gnn``) or a ``(G, n_bits)`` float32 0/1 tensor (``fingerprint``).

    Raises:
        InvalidSmilesError: RDKit cannot read a SMILES (the message quotes it).
    """
    if config.kind == "gnn":
        return [molecule_graph(s) for s in smiles]
    bits = morgan_fingerprints(list(smiles), radius=config.radius, n_bits=config.n_bits)
    return torch.from_numpy(bits.astype(np.float32))


def collate_molecules(features: MoleculeFeatures, indices: Sequence[int] | np.ndarray) -> Batch | Tensor:
    """Return the encoder input of the compounds ``indices`` (a PyG ``Batch`` or fingerprint rows)."""
    indices = np.asarray(indices, dtype=np.int64)
    if isinstance(features, Tensor):
        return features[torch.from_numpy(indices)]
    return Batch.from_data_list([features[k] for k in indices])
