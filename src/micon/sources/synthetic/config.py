"""Configuration of the synthetic Cell Painting screen: sizes, compound forms, biology, imaging."""

from __future__ import annotations

from dataclasses import dataclass, fields

from micon.errors import InvalidConfigError
from micon.sources.synthetic.biology import TREATMENT_MODELS, TreatmentModel
from micon.sources.synthetic.library import LIBRARY

#: Wells on a 384-well plate, the JUMP compound plate format.
WELLS_PER_PLATE = 384
#: Smallest field that holds a few whole cells of the default size.
MIN_FIELD_SIZE_PX = 48
#: Most compounds (valid parents + invalid SMILES) the embedded library can provide.
MAX_LIBRARY_COMPOUNDS = len(LIBRARY)


@dataclass(frozen=True, kw_only=True)
class SyntheticScreenConfig:
    """Settings of the synthetic screen; conf/base keeps the default ``kedro run`` small (CPU, minutes).

    docs/synthetic.md gives each setting's role in the model and the reason for its default.

    Attributes:
        seed: Seed of every random draw (compound choice, layout, cultures, technical effects, pixels).
        n_sources: Number of sources (imaging sites / partner labs, each its own microscope and culture).
        n_batches_per_source: Batches per source; batch ids are unique across sources.
        n_plates_per_batch: Plates per batch; every plate holds every compound once.
        n_layouts: Plate maps; plate ``k`` (source, batch, plate order) uses map ``k mod n_layouts``.
        n_compounds: Valid parent compounds drawn from the embedded library.
        inactive_fraction: Least share of them that is inactive at the screened concentration.
        n_salt_forms: How many of them are written as a salt (hydrochloride, mesylate, sodium carboxylate).
        n_charged_forms: How many are written charged without counter-ion ([NH+] amine or carboxylate).
        n_noncanonical_forms: How many are written as a non-canonical tautomer or in random atom order.
        n_invalid_compounds: Extra compounds whose SMILES RDKit cannot parse (to be quarantined).
        n_dmso_wells_per_plate: DMSO negative-control wells on each plate (at least 1).
        sites_per_well: Imaged fields (sites) per well.
        field_size_px: Height and width of a field in pixels.
        mean_cells_per_field: Mean cell count of a reference untreated field (Poisson).
        concentration_uM: Screened concentration of every compound, µM.
        hill_coefficient: Slope of the dose-response (Hill) curve.
        response_threshold: Hill fraction below which no cell responds (homeostatic buffering), [0, 1).
        treatment_model: ``"state_dependent"`` (the change depends on each cell's state) or
            ``"additive"`` (every responder gets the reference culture's mean change).
        phenotype_strength: Scale of every compound's change; 0 makes every compound look like DMSO.
        off_target_sd: Spread of an active compound's own change beyond its mechanism's programme.
        response_variability_log_sd: Log-normal spread of a responder's change size.
        cell_variability_sd: Per-cell spread of every latent variable around its subpopulation.
        source_state_sd: Spread of a source's control-state shift (cell line / lab culture drift).
        batch_state_sd: Spread of a batch's control-state shift.
        plate_state_sd: Spread of a plate's control-state shift.
        source_proliferation_sd: Spread of a source's proliferation (logit of G2/M vs quiescent shares).
        source_density_log_sd: Spread of a source's seeding density (log-fold).
        edge_density_shift: Log-fold cell density of edge wells (evaporation).
        plate_density_gradient: Log-fold density change across a plate (seeded direction per plate).
        source_gain_log_sd: Log-normal spread of the per-source, per-channel intensity gain.
        batch_gain_log_sd: Log-normal spread of the per-batch, per-channel gain.
        plate_gain_log_sd: Log-normal spread of the per-plate, per-channel gain.
        well_gain_log_sd: Log-normal spread of a well's per-channel staining / dispensing gain.
        edge_intensity_gain: Log-gain of edge wells (evaporation concentrates the dyes).
        plate_intensity_gradient: Log-gain change across a plate (seeded direction per plate).
        source_offset_max_counts: Per-source, per-channel camera offset is drawn from [0.1, 1] x this.
        background_max_counts: Per-source, per-channel medium autofluorescence from [0.2, 1] x this.
        max_crosstalk: Per-source bleed-through between spectrally adjacent channels, from [0, this].
        gamma_log_sd: Log-normal spread of a source's per-channel detector gamma.
        saturation_counts: Soft-saturation scale of every detector, counts.
        max_vignetting: Per-source, per-channel corner intensity loss is drawn from [0.3, 1] x this.
        max_illumination_tilt: Per-source linear illumination slope across the field is within +-this.
        max_blur_sigma_px: Per-source focus blur (Gaussian sigma) is drawn from [0.2, 1] x this.
        read_noise_sd_counts: Median Gaussian read noise; sources scatter around it.
        source_pixel_size_log_sd: Log-normal spread of a source's pixel scale (magnification).
    """

    seed: int
    n_sources: int
    n_batches_per_source: int
    n_plates_per_batch: int
    n_layouts: int
    n_compounds: int
    inactive_fraction: float
    n_salt_forms: int
    n_charged_forms: int
    n_noncanonical_forms: int
    n_invalid_compounds: int
    n_dmso_wells_per_plate: int
    sites_per_well: int
    field_size_px: int
    mean_cells_per_field: float
    concentration_uM: float
    hill_coefficient: float
    response_threshold: float
    treatment_model: TreatmentModel
    phenotype_strength: float
    off_target_sd: float
    response_variability_log_sd: float
    cell_variability_sd: float
    source_state_sd: float
    batch_state_sd: float
    plate_state_sd: float
    source_proliferation_sd: float
    source_density_log_sd: float
    edge_density_shift: float
    plate_density_gradient: float
    source_gain_log_sd: float
    batch_gain_log_sd: float
    plate_gain_log_sd: float
    well_gain_log_sd: float
    edge_intensity_gain: float
    plate_intensity_gradient: float
    source_offset_max_counts: float
    background_max_counts: float
    max_crosstalk: float
    gamma_log_sd: float
    saturation_counts: float
    max_vignetting: float
    max_illumination_tilt: float
    max_blur_sigma_px: float
    read_noise_sd_counts: float
    source_pixel_size_log_sd: float

    def __post_init__(self) -> None:
        """Check every value; raise naming the first field out of range."""
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "treatment_model":
                if value not in TREATMENT_MODELS:
                    raise InvalidConfigError(
                        f"SyntheticScreenConfig.treatment_model={value!r} must be one of "
                        f"{list(TREATMENT_MODELS)}"
                    )
                continue
            expected = int if f.type in ("int", int) else float
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidConfigError(f"SyntheticScreenConfig.{f.name}={value!r} must be a number")
            if expected is int and not isinstance(value, int):
                raise InvalidConfigError(f"SyntheticScreenConfig.{f.name}={value!r} must be an integer")
        for name in (
            "n_sources",
            "n_batches_per_source",
            "n_plates_per_batch",
            "n_layouts",
            "sites_per_well",
        ):
            _require(self, name, getattr(self, name) >= 1, ">= 1")
        _require(
            self,
            "n_compounds",
            1 <= self.n_compounds <= MAX_LIBRARY_COMPOUNDS,
            f"in [1, {MAX_LIBRARY_COMPOUNDS}] (the size of the library)",
        )
        _require(self, "inactive_fraction", 0.0 <= self.inactive_fraction <= 1.0, "in [0, 1]")
        for name in ("n_salt_forms", "n_charged_forms", "n_noncanonical_forms", "n_invalid_compounds"):
            _require(self, name, getattr(self, name) >= 0, ">= 0")
        n_forms = self.n_salt_forms + self.n_charged_forms + self.n_noncanonical_forms
        _require(
            self,
            "n_salt_forms",
            n_forms <= self.n_compounds,
            f"such that n_salt_forms + n_charged_forms + n_noncanonical_forms ({n_forms}) "
            f"<= n_compounds ({self.n_compounds})",
        )
        _require(
            self,
            "n_invalid_compounds",
            self.n_compounds + self.n_invalid_compounds <= MAX_LIBRARY_COMPOUNDS,
            f"such that n_compounds + n_invalid_compounds <= {MAX_LIBRARY_COMPOUNDS} (the library)",
        )
        _require(self, "n_dmso_wells_per_plate", self.n_dmso_wells_per_plate >= 1, ">= 1")
        n_wells = self.n_compounds + self.n_invalid_compounds + self.n_dmso_wells_per_plate
        _require(
            self,
            "n_dmso_wells_per_plate",
            n_wells <= WELLS_PER_PLATE,
            f"such that compounds + invalid compounds + DMSO wells ({n_wells}) fit a "
            f"{WELLS_PER_PLATE}-well plate",
        )
        _require(self, "field_size_px", self.field_size_px >= MIN_FIELD_SIZE_PX, f">= {MIN_FIELD_SIZE_PX}")
        for name in ("mean_cells_per_field", "concentration_uM", "hill_coefficient", "saturation_counts"):
            _require(self, name, getattr(self, name) > 0, "> 0")
        _require(self, "response_threshold", 0.0 <= self.response_threshold < 1.0, "in [0, 1)")
        for name in (
            "phenotype_strength",
            "off_target_sd",
            "response_variability_log_sd",
            "cell_variability_sd",
            "source_state_sd",
            "batch_state_sd",
            "plate_state_sd",
            "source_proliferation_sd",
            "source_density_log_sd",
            "plate_density_gradient",
            "source_gain_log_sd",
            "batch_gain_log_sd",
            "plate_gain_log_sd",
            "well_gain_log_sd",
            "plate_intensity_gradient",
            "source_offset_max_counts",
            "background_max_counts",
            "max_crosstalk",
            "gamma_log_sd",
            "max_illumination_tilt",
            "max_blur_sigma_px",
            "read_noise_sd_counts",
            "source_pixel_size_log_sd",
        ):
            _require(self, name, getattr(self, name) >= 0, ">= 0")
        _require(self, "max_vignetting", 0 <= self.max_vignetting < 1, "in [0, 1)")
        _require(self, "max_illumination_tilt", self.max_illumination_tilt < 1.4, "< 1.4")


def _require(config: SyntheticScreenConfig, name: str, ok: bool, expected: str) -> None:
    """Raise ``InvalidConfigError`` naming ``name``, its value and the expectation when ``ok`` is false."""
    if not ok:
        raise InvalidConfigError(
            f"SyntheticScreenConfig.{name}={getattr(config, name)!r} is invalid: expected {expected}"
        )
