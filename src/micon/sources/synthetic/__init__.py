"""Synthetic Cell Painting screen in the JUMP layout: the project's embedded, seeded default dataset.

``generate_screen(SyntheticScreenConfig(**params))`` (``params``: the ``synthetic`` parameters) returns the
compound, plate, well and image tables of a screen with several sources, batches and plates, one lazy
callable per single-channel image, and the known truth of every well. It is a causal model of biology
and imaging (docs/synthetic.md): real drugs with their mechanism of action, potency and efficacy
(``library``); a latent cell state per well with subpopulations (``biology``, ``culture``) that a
compound transforms according to its mechanism, dose and the cells' own state; and per-source optics
and detectors whose effects a per-plate gain and offset do not undo (``effects``, ``render``). No
molecular structure enters the generator.
"""

from micon.sources.synthetic.biology import (
    LATENT_VARIABLES,
    PROGRAMS,
    SUBPOPULATIONS,
    TREATMENT_MODELS,
    ControlState,
    Treatment,
    draw_cell_states,
    hill_response,
)
from micon.sources.synthetic.compounds import (
    generate_compound_annotations,
    generate_compounds,
    parent_inchikey,
    treatment_of,
)
from micon.sources.synthetic.config import SyntheticScreenConfig
from micon.sources.synthetic.culture import SiteCells, draw_site_cells, sample_control_states
from micon.sources.synthetic.effects import TechnicalEffects, ideal_effects, sample_technical_effects
from micon.sources.synthetic.layout import WELL_NAMES, generate_layout, well_position
from micon.sources.synthetic.library import DMSO_MOA, LIBRARY, LibraryCompound
from micon.sources.synthetic.render import render_field, render_field_with_nuclei
from micon.sources.synthetic.screen import (
    CELL_COUNT_COLUMN,
    SYNTHETIC_PROFILE,
    TRUTH_PREFIX,
    SyntheticScreen,
    build_image_index,
    generate_screen,
    truth_columns,
)

__all__ = [
    "CELL_COUNT_COLUMN",
    "DMSO_MOA",
    "LATENT_VARIABLES",
    "LIBRARY",
    "PROGRAMS",
    "SUBPOPULATIONS",
    "SYNTHETIC_PROFILE",
    "TREATMENT_MODELS",
    "TRUTH_PREFIX",
    "WELL_NAMES",
    "ControlState",
    "LibraryCompound",
    "SiteCells",
    "SyntheticScreen",
    "SyntheticScreenConfig",
    "TechnicalEffects",
    "Treatment",
    "build_image_index",
    "draw_cell_states",
    "draw_site_cells",
    "generate_compound_annotations",
    "generate_compounds",
    "generate_layout",
    "generate_screen",
    "hill_response",
    "ideal_effects",
    "parent_inchikey",
    "render_field",
    "render_field_with_nuclei",
    "sample_control_states",
    "sample_technical_effects",
    "treatment_of",
    "truth_columns",
    "well_position",
]
