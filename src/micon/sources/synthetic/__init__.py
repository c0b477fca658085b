"""Synthetic Cell Painting screen in the JUMP layout: the project's embedded, seeded default dataset.

``generate_screen(SyntheticScreenConfig(**params))`` (``params``: the ``synthetic`` parameters) returns the
compound, plate, well and image tables of a screen with several sources, batches and plates, plus one lazy
callable per single-channel image.
Compounds are real drugs (some as salts, charged forms or tautomers, a few invalid SMILES); each
compound's morphological phenotype is a fixed function of its Morgan fingerprint; sources, batches
and plates add technical effects (gain, offset, vignetting, blur, noise) strong enough to confound
naive intensity features.
"""

from micon.sources.synthetic.compounds import (
    CURATED_COMPOUNDS,
    CuratedCompound,
    generate_compounds,
    parent_inchikey,
)
from micon.sources.synthetic.config import SyntheticScreenConfig
from micon.sources.synthetic.effects import TechnicalEffects, ideal_effects, sample_technical_effects
from micon.sources.synthetic.layout import WELL_NAMES, generate_layout
from micon.sources.synthetic.phenotypes import PHENOTYPE_PARAMETERS, compound_phenotypes, parent_fingerprint
from micon.sources.synthetic.render import render_field, render_field_with_nuclei
from micon.sources.synthetic.screen import (
    SYNTHETIC_PROFILE,
    SyntheticScreen,
    build_image_index,
    generate_screen,
)

__all__ = [
    "CURATED_COMPOUNDS",
    "PHENOTYPE_PARAMETERS",
    "SYNTHETIC_PROFILE",
    "WELL_NAMES",
    "CuratedCompound",
    "SyntheticScreen",
    "SyntheticScreenConfig",
    "TechnicalEffects",
    "build_image_index",
    "compound_phenotypes",
    "generate_compounds",
    "generate_layout",
    "generate_screen",
    "ideal_effects",
    "parent_fingerprint",
    "parent_inchikey",
    "render_field",
    "render_field_with_nuclei",
    "sample_technical_effects",
]
