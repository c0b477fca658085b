"""The causal model of the synthetic cells: a latent control state, subpopulations, and treatments.

Every cell carries a vector of interpretable latent variables (``LATENT_VARIABLES``), in log-fold or
z-like units, zero for the mean cell of the reference untreated culture. A well's control state is the
reference state shifted by its source (cell line / lab culture), batch, plate and well position; its
cells are drawn from three subpopulations (cycling G1, G2/M, quiescent) around it with per-cell
variability. A compound transforms that state: a fraction of cells respond, and a responder's change
follows its mechanism's programme (``PROGRAMS``) and, under ``treatment_model="state_dependent"``,
depends on the cell's own state (a mitotic arrest only arrests cycling cells; an uncoupler's effect
grows with mitochondrial mass). ``treatment_model="additive"`` gives every responder the mean change
the programme causes in the reference culture instead. docs/synthetic.md states every equation.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

TreatmentModel = Literal["state_dependent", "additive"]
TREATMENT_MODELS: tuple[str, ...] = TreatmentModel.__args__

#: Per-cell latent variables, zero for the reference untreated cell (log-folds or z-like units).
LATENT_VARIABLES: tuple[str, ...] = (
    "cell_size",  # log-fold of the cell's spread area
    "nucleus_size",  # log-fold of the nucleus area
    "dna_content",  # log DNA content (G2/M: + ln 2)
    "chromatin_condensation",  # z: condensed (mitotic, apoptotic) + / open (HDAC inhibition) -
    "cell_rounding",  # z: round, retracted + / flat, elongated -
    "actin_organisation",  # z: bundled stress fibres + / disrupted, diffuse -
    "mito_mass",  # log-fold of mitochondrial content
    "mito_potential",  # log-fold of membrane potential (MitoTracker uptake)
    "er_load",  # log-fold of ER content / unfolded-protein load
    "nucleolar_rna",  # log-fold of nucleolar RNA (ribosome biogenesis)
    "cytoplasmic_rna",  # log-fold of cytoplasmic RNA
)
_V = {name: i for i, name in enumerate(LATENT_VARIABLES)}

#: Subpopulations of a culture; a cell belongs to one.
SUBPOPULATIONS: tuple[str, ...] = ("G1", "G2M", "quiescent")
_G1, _G2M, _QUIESCENT = 0, 1, 2
#: Share of each subpopulation in the reference untreated culture (U2OS, ~24 h after seeding).
REFERENCE_WEIGHTS: tuple[float, float, float] = (0.68, 0.17, 0.15)

# Offsets of each subpopulation from a G1 cell, before centring on the reference mixture.
_RAW_OFFSETS: dict[str, dict[str, float]] = {
    "G1": {},
    "G2M": {
        "cell_size": 0.25,
        "nucleus_size": 0.4,
        "dna_content": math.log(2.0),
        "chromatin_condensation": 1.2,
        "cell_rounding": 1.2,
        "actin_organisation": -0.3,
        "mito_mass": 0.2,
        "nucleolar_rna": -0.5,
    },
    "quiescent": {
        "cell_size": -0.25,
        "nucleus_size": -0.15,
        "chromatin_condensation": 0.3,
        "mito_mass": -0.15,
        "er_load": -0.1,
        "nucleolar_rna": -0.7,
        "cytoplasmic_rna": -0.4,
    },
}


def _vector(values: dict[str, float]) -> np.ndarray:
    out = np.zeros(len(LATENT_VARIABLES))
    for name, value in values.items():
        out[_V[name]] = value
    return out


def _centred_offsets() -> np.ndarray:
    raw = np.stack([_vector(_RAW_OFFSETS[s]) for s in SUBPOPULATIONS])
    return raw - np.asarray(REFERENCE_WEIGHTS) @ raw


#: ``(3, V)`` subpopulation offsets; the reference mixture's mean is exactly 0.
SUBPOPULATION_OFFSETS: np.ndarray = _centred_offsets()
SUBPOPULATION_OFFSETS.flags.writeable = False


@dataclass(frozen=True, kw_only=True)
class Program:
    """The morphological programme a mechanism triggers in a responding cell.

    Attributes:
        responder_fraction: Share of cells that respond at saturating dose.
        delta: Change of the latent variables of a responder at efficacy 1.
        arrest: Subpopulation a *cycling* responder is moved to (cell-cycle arrest), or None.
        cycling_dependence: How much of ``delta`` needs a cycling cell: a quiescent responder gets
            ``(1 - cycling_dependence) * delta``.
        coupling: Variable -> coefficient k: the responder's change is scaled by ``exp(sum k z)``
            of its own control state (an uncoupler acts in proportion to mitochondrial mass).
        density: Log-fold change of the cell count at full response (cytotoxic / antiproliferative).
    """

    responder_fraction: float
    delta: dict[str, float]
    arrest: str | None
    cycling_dependence: float
    coupling: dict[str, float]
    density: float


def _p(  # noqa: PLR0913
    responder_fraction: float,
    delta: dict[str, float],
    *,
    arrest: str | None = None,
    cycling_dependence: float = 0.0,
    coupling: dict[str, float] | None = None,
    density: float = 0.0,
) -> Program:
    return Program(
        responder_fraction=responder_fraction, delta=delta, arrest=arrest,
        cycling_dependence=cycling_dependence, coupling=coupling or {}, density=density,
    )  # fmt: skip


#: Programme of each mechanism family (``library.LibraryCompound.program``); "none" changes nothing.
PROGRAMS: dict[str, Program] = {
    "none": _p(0.0, {}),
    "microtubule_destabilisation": _p(
        0.8, {"actin_organisation": -0.8, "cell_rounding": 0.6, "chromatin_condensation": 0.5,
              "er_load": 0.2, "cell_size": -0.2},
        arrest="G2M", cycling_dependence=0.6, density=-0.3),
    "microtubule_stabilisation": _p(
        0.8, {"nucleus_size": 0.6, "actin_organisation": 0.4, "cell_size": 0.3,
              "chromatin_condensation": 0.3, "mito_mass": 0.2},
        arrest="G2M", cycling_dependence=0.7, density=-0.3),
    "mitotic_arrest": _p(
        0.7, {"cell_rounding": 0.5, "chromatin_condensation": 0.6, "nucleus_size": -0.1},
        arrest="G2M", cycling_dependence=1.0, density=-0.3),
    "cytokinesis_failure": _p(
        0.7, {"dna_content": 0.9, "nucleus_size": 0.9, "cell_size": 0.7, "chromatin_condensation": -0.2,
              "cell_rounding": -0.3},
        cycling_dependence=0.9, density=-0.4),
    "dna_damage": _p(
        0.7, {"dna_content": 0.5, "nucleus_size": 0.5, "cell_size": 0.5, "nucleolar_rna": -0.8,
              "chromatin_condensation": -0.2},
        cycling_dependence=0.8, density=-0.4),
    "replication_stress": _p(
        0.6, {"dna_content": 0.3, "nucleus_size": 0.4, "cell_size": 0.4, "nucleolar_rna": -0.3,
              "cytoplasmic_rna": 0.2},
        cycling_dependence=0.9, density=-0.3),
    "chromatin_decondensation": _p(
        0.8, {"chromatin_condensation": -1.0, "nucleus_size": 0.4, "cytoplasmic_rna": 0.3,
              "cell_size": 0.3, "actin_organisation": -0.2},
        cycling_dependence=0.2, coupling={"chromatin_condensation": 0.5}, density=-0.2),
    "proteotoxic_stress": _p(
        0.7, {"er_load": 0.6, "cell_rounding": 0.5, "actin_organisation": -0.5, "cell_size": -0.2,
              "mito_potential": -0.2, "nucleolar_rna": -0.2},
        cycling_dependence=0.3, coupling={"er_load": 0.5}, density=-0.2),
    "proteasome_stress": _p(
        0.7, {"er_load": 1.0, "cytoplasmic_rna": 0.4, "mito_potential": -0.5, "cell_size": -0.3,
              "cell_rounding": 0.4, "nucleolar_rna": -0.4},
        cycling_dependence=0.2, coupling={"er_load": 0.5}, density=-0.4),
    "growth_inhibition": _p(
        0.8, {"cell_size": -0.6, "nucleolar_rna": -0.8, "cytoplasmic_rna": -0.5, "mito_mass": -0.3},
        arrest="quiescent", cycling_dependence=0.3, coupling={"nucleolar_rna": 0.8}, density=-0.3),
    "g1_arrest": _p(
        0.7, {"nucleolar_rna": -0.6, "cytoplasmic_rna": -0.6, "cell_size": 0.2},
        arrest="quiescent", cycling_dependence=0.5, density=-0.3),
    "translation_arrest": _p(
        0.8, {"cytoplasmic_rna": 0.7, "nucleolar_rna": 0.4, "cell_size": -0.3, "er_load": -0.3,
              "mito_mass": -0.1},
        cycling_dependence=0.2, density=-0.3),
    "mitochondrial_depolarisation": _p(
        0.9, {"mito_potential": -1.5, "mito_mass": 0.2, "cell_size": -0.1, "er_load": 0.2},
        coupling={"mito_mass": 1.0}, density=-0.1),
    "actin_disruption": _p(
        0.9, {"actin_organisation": -1.6, "cell_rounding": 0.8, "cell_size": -0.4, "nucleus_size": 0.2,
              "dna_content": 0.3},
        cycling_dependence=0.1, density=-0.1),
    "cytoskeletal_relaxation": _p(
        0.8, {"actin_organisation": -0.7, "cell_rounding": -0.6, "cell_size": 0.3}),
}  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class ControlState:
    """The untreated state of one well's culture.

    Attributes:
        mean: ``(V,)`` shift of every cell's latent variables from the reference state.
        weights: ``(3,)`` subpopulation shares (G1, G2M, quiescent), summing to 1.
        density: Log-fold of the expected cell count relative to the reference seeding.
    """

    mean: np.ndarray
    weights: np.ndarray
    density: float


@dataclass(frozen=True, kw_only=True)
class Treatment:
    """A compound at the screened dose.

    Attributes:
        program: Key of ``PROGRAMS``.
        magnitude: Thresholded Hill response in [0, 1] (0: no cell responds).
        efficacy: Size of a responder's change relative to the programme.
        off_target: ``(V,)`` the compound's own change beyond its mechanism's programme (its other
            targets), added to the programme's ``delta``; None for none.
    """

    program: str
    magnitude: float
    efficacy: float
    off_target: tuple[float, ...] | None = None

    def delta(self) -> np.ndarray:
        """Return the responder change at efficacy 1: the programme's ``delta`` plus the off-target change."""
        base = _vector(PROGRAMS[self.program].delta)
        return base if self.off_target is None else base + np.asarray(self.off_target)


UNTREATED = Treatment(program="none", magnitude=0.0, efficacy=0.0)


def hill_response(
    concentration_uM: float, ec50_uM: float, *, hill_coefficient: float, threshold: float
) -> float:
    """Return the thresholded Hill response ``max(0, (h - t) / (1 - t))`` with ``h = c^n / (c^n + EC50^n)``.

    Below the threshold ``t`` (homeostatic buffering: a little target occupancy changes no morphology)
    the response is exactly 0, so a compound far below its potency is indistinguishable from DMSO.
    """
    h = concentration_uM**hill_coefficient / (concentration_uM**hill_coefficient + ec50_uM**hill_coefficient)
    return max(0.0, (h - threshold) / (1.0 - threshold))


@dataclass(frozen=True, kw_only=True)
class CellStates:
    """Latent states of one site's cells, before placement.

    Attributes:
        latent: ``(n, V)`` latent variables.
        subpopulation: ``(n,)`` int index into ``SUBPOPULATIONS`` (after any arrest).
        responder: ``(n,)`` bool, whether the cell responded to the treatment.
    """

    latent: np.ndarray
    subpopulation: np.ndarray
    responder: np.ndarray


def draw_cell_states(  # noqa: PLR0913
    n: int,
    control: ControlState,
    treatment: Treatment,
    *,
    rng: np.random.Generator,
    cell_variability_sd: float,
    response_variability_log_sd: float,
    phenotype_strength: float,
    treatment_model: TreatmentModel,
) -> CellStates:
    """Draw ``n`` cells of a well: control state, subpopulation, per-cell noise, then the treatment.

    The same number of random draws is made whatever the treatment, so an untreated draw and a
    treated draw from the same ``rng`` seed share every cell's control state: an inactive compound's
    cells are exactly the DMSO cells of that seed.

    Returns:
        The cells' latent states, subpopulations and responder flags.
    """
    n_vars = len(LATENT_VARIABLES)
    subpopulation = rng.choice(len(SUBPOPULATIONS), size=n, p=control.weights)
    noise = rng.normal(0.0, cell_variability_sd, (n, n_vars))
    base = control.mean[None, :] + SUBPOPULATION_OFFSETS[subpopulation] + noise
    uniform = rng.uniform(0.0, 1.0, n)
    strength = np.exp(rng.normal(0.0, response_variability_log_sd, n))
    program = PROGRAMS[treatment.program]
    responder = uniform < program.responder_fraction * treatment.magnitude
    if not responder.any() or phenotype_strength == 0.0:
        return CellStates(latent=base, subpopulation=subpopulation, responder=responder)
    scale = (treatment.efficacy * phenotype_strength * strength)[:, None]
    if treatment_model == "additive":
        change = reference_change(treatment.program) + treatment.delta() - _vector(program.delta)
        latent = np.where(responder[:, None], base + scale * change[None, :], base)
        return CellStates(latent=latent, subpopulation=subpopulation, responder=responder)
    change, arrested = _state_dependent_change(program, base, subpopulation, delta=treatment.delta())
    latent = np.where(responder[:, None], base + scale * change + arrested, base)
    moved = np.where(
        responder & (arrested.any(axis=1)), _SUBPOPULATION_INDEX.get(program.arrest, 0), subpopulation
    )
    return CellStates(latent=latent, subpopulation=moved, responder=responder)


_SUBPOPULATION_INDEX = {name: i for i, name in enumerate(SUBPOPULATIONS)}


def _state_dependent_change(
    program: Program, base: np.ndarray, subpopulation: np.ndarray, *, delta: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return a responder's programme change (per unit efficacy) and its arrest shift, per cell.

    Returns:
        ``(change, arrest_shift)``, both ``(n, V)``: ``change = delta * c(z) * g`` with the coupling
        ``c(z) = exp(sum_k k_v z_v)`` (clipped to [0.25, 4]) and ``g = 1`` for cycling cells,
        ``1 - cycling_dependence`` for quiescent ones; ``arrest_shift`` moves a cycling cell from its
        subpopulation's offset to the arrest subpopulation's (0 for quiescent cells or no arrest).
    """
    cycling = subpopulation != _QUIESCENT
    gate = np.where(cycling, 1.0, 1.0 - program.cycling_dependence)
    coupling = np.zeros(len(base))
    for name, k in program.coupling.items():
        coupling += k * base[:, _V[name]]
    factor = np.clip(np.exp(coupling), 0.25, 4.0) * gate
    change = factor[:, None] * delta[None, :]
    shift = np.zeros_like(base)
    if program.arrest is not None:
        target = SUBPOPULATION_OFFSETS[_SUBPOPULATION_INDEX[program.arrest]]
        shift = np.where(cycling[:, None], target[None, :] - SUBPOPULATION_OFFSETS[subpopulation], 0.0)
    return change, shift


@functools.cache
def reference_change(program_name: str) -> np.ndarray:
    """Return the mean state-dependent change of a responder of the reference culture, ``(V,)``.

    The additive treatment model applies this (plus the compound's off-target change) to every
    responder whatever its state; it is computed
    once on a fixed sample of 20,000 reference cells (seeded, independent of the screen's seed), so
    both models change the reference culture by the same amount on average.
    """
    rng = np.random.default_rng(20250409)
    n = 20_000
    subpopulation = rng.choice(len(SUBPOPULATIONS), size=n, p=np.asarray(REFERENCE_WEIGHTS))
    base = SUBPOPULATION_OFFSETS[subpopulation] + rng.normal(0.0, 0.3, (n, len(LATENT_VARIABLES)))
    program = PROGRAMS[program_name]
    change, shift = _state_dependent_change(program, base, subpopulation, delta=_vector(program.delta))
    # The arrest shift does not scale with efficacy; folded into a per-unit-efficacy change here.
    out = (change + shift).mean(axis=0)
    out.flags.writeable = False
    return out


def density_change(control: ControlState, treatment: Treatment, *, treatment_model: TreatmentModel) -> float:
    """Return the log-fold change of the cell count a treatment causes in a culture.

    Antiproliferative programmes act on cycling cells: under ``state_dependent`` the change is scaled
    by ``cycling_dependence * cycling / cycling_ref + (1 - cycling_dependence)``, the culture's cycling
    share relative to the reference's; under ``additive`` it is the reference culture's change.
    """
    program = PROGRAMS[treatment.program]
    full = program.density * treatment.magnitude * program.responder_fraction * min(treatment.efficacy, 1.5)
    if treatment_model == "additive":
        return full
    cycling = 1.0 - float(control.weights[_QUIESCENT])
    cycling_ref = 1.0 - REFERENCE_WEIGHTS[_QUIESCENT]
    return full * (program.cycling_dependence * cycling / cycling_ref + 1.0 - program.cycling_dependence)


def subpopulation_weights(proliferation: float) -> np.ndarray:
    """Return subpopulation shares for a culture whose proliferation is ``proliferation`` (logit shift).

    ``proliferation`` > 0 (a faster-growing line or a sparser, younger culture) moves cells out of
    quiescence into the cycle: the cycling share is ``f = sigmoid(logit(f_ref) + p)`` with
    ``f_ref = w_ref,G1 + w_ref,G2M``, split between G1 and G2/M in the reference ratio; ``w_Q = 1 - f``.
    """
    reference = np.asarray(REFERENCE_WEIGHTS)
    cycling_ref = reference[_G1] + reference[_G2M]
    logit = math.log(cycling_ref / (1.0 - cycling_ref)) + proliferation
    cycling = 1.0 / (1.0 + math.exp(-logit))
    return np.array([reference[_G1], reference[_G2M], 0.0]) / cycling_ref * cycling + np.array(
        [0, 0, 1 - cycling]
    )
