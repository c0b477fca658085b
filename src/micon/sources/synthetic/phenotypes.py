"""Compound phenotypes: a fixed function of chemical structure, so similar molecules look alike in images."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from rdkit import Chem, rdBase
from rdkit.Chem import rdFingerprintGenerator

from micon import schema
from micon.quarantine import require_columns
from micon.sources.synthetic.compounds import neutral_parent
from micon.sources.synthetic.config import SyntheticScreenConfig

logger = logging.getLogger(__name__)

#: Morphological parameters a compound shifts; 0 is the untreated (DMSO) cell. The renderer maps each
#: value, roughly in [-1, 1] at ``phenotype_strength=1``, to a fold change or a mixing weight.
PHENOTYPE_PARAMETERS: tuple[str, ...] = (
    "nucleus_size",  # nucleus semi-axes, fold exp(0.25 p)
    "nucleus_elongation",  # nucleus aspect ratio
    "cell_size",  # cell semi-axes
    "cell_density",  # mean cells per field (toxicity / proliferation)
    "dna_texture",  # chromatin granularity amplitude
    "dna_intensity",  # DNA stain per nucleus
    "agp_rim",  # actin at the cell edge (+) vs diffuse cytoplasmic actin (-)
    "agp_intensity",
    "er_texture_frequency",  # spatial frequency of the reticular ER network
    "er_perinuclear",  # ER packed around the nucleus (+) vs spread to the periphery (-)
    "er_intensity",
    "mito_count",  # mitochondrial spots per cell
    "mito_spot_size",  # spot width (fragmented vs swollen / fused)
    "mito_perinuclear",  # spots clustered at the nucleus (+) vs at the periphery (-)
    "mito_intensity",
    "rna_nucleoli",  # nucleolar spot count and brightness
    "rna_cytoplasm",  # cytoplasmic vs nuclear RNA
    "rna_intensity",
)

_FINGERPRINT_RADIUS = 2
_FINGERPRINT_BITS = 2048
# The projection is part of the synthetic biology, not of a run: fixed, never taken from the config seed.
_PROJECTION_SEED = 250409544
# Pre-tanh gain: at 1.2 about two thirds of the values land beyond +-0.5, so most compounds are visible.
_PROJECTION_GAIN = 1.2


def parent_fingerprint(smiles: str) -> np.ndarray | None:
    """Return the Morgan fingerprint (radius 2, 2048 bits) of the neutral parent, or ``None`` if invalid.

    The parent is rebuilt from its standard InChI first, which merges mobile-hydrogen tautomers, so a
    salt, a charged form and a tautomer of a molecule all get exactly the parent's fingerprint.

    Returns:
        ``(2048,) float64`` of 0/1, or ``None`` when RDKit cannot parse ``smiles``.
    """
    mol = neutral_parent(smiles)
    if mol is None:
        return None
    with rdBase.BlockLogs():
        canonical = Chem.MolFromInchi(Chem.MolToInchi(mol)) or mol
    generator = rdFingerprintGenerator.GetMorganGenerator(
        radius=_FINGERPRINT_RADIUS, fpSize=_FINGERPRINT_BITS
    )
    return generator.GetFingerprintAsNumPy(canonical).astype(np.float64)


def compound_phenotypes(compounds: pd.DataFrame, config: SyntheticScreenConfig) -> pd.DataFrame:
    """Return each compound's phenotype: fingerprint -> fixed random projection -> tanh -> strength.

    Each parameter is ``strength * tanh(1.2 * w_k . x / sqrt(|x|))`` with ``x`` the parent's fingerprint
    bits and ``w_k`` fixed standard-normal weights, so phenotype similarity follows fingerprint (cosine)
    similarity. DMSO and unparseable SMILES get all zeros (untreated); the latter are quarantined downstream.

    Args:
        compounds: Compound table with ``schema.JCP2022`` and ``schema.SMILES``.
        config: Supplies ``phenotype_strength``.

    Returns:
        One row per compound, indexed by ``schema.JCP2022``, one float column per ``PHENOTYPE_PARAMETERS``.

    Raises:
        MissingColumnsError: ``compounds`` lacks the id or SMILES column.
    """
    require_columns(compounds, [schema.JCP2022, schema.SMILES], table_name="compounds")
    weights = np.random.default_rng(_PROJECTION_SEED).standard_normal(
        (_FINGERPRINT_BITS, len(PHENOTYPE_PARAMETERS))
    )
    values = np.zeros((len(compounds), len(PHENOTYPE_PARAMETERS)))
    for row, (jcp, smiles) in enumerate(
        zip(compounds[schema.JCP2022], compounds[schema.SMILES], strict=True)
    ):
        if jcp == schema.DMSO_JCP2022:
            continue
        bits = parent_fingerprint(str(smiles))
        if bits is None or bits.sum() == 0:
            logger.debug(
                "compound %s has no parsable structure (SMILES %r); untreated phenotype", jcp, smiles
            )
            continue
        projected = bits @ weights / np.sqrt(bits.sum())
        values[row] = config.phenotype_strength * np.tanh(_PROJECTION_GAIN * projected)
    index = pd.Index(compounds[schema.JCP2022].astype(str), name=schema.JCP2022)
    return pd.DataFrame(values, index=index, columns=list(PHENOTYPE_PARAMETERS))
