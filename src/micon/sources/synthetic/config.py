"""Configuration of the synthetic Cell Painting screen: sizes, compound forms, effect strengths."""

from __future__ import annotations

from dataclasses import dataclass, fields

from micon.errors import InvalidConfigError

#: Wells on a 384-well plate, the JUMP compound plate format.
WELLS_PER_PLATE = 384
#: Smallest field that holds a few whole cells of the default size.
MIN_FIELD_SIZE_PX = 48
#: Most parents the embedded curated list can provide (see ``compounds.CURATED_COMPOUNDS``).
MAX_CURATED_COMPOUNDS = 46


@dataclass(frozen=True, kw_only=True)
class SyntheticScreenConfig:
    """Settings of the synthetic screen; conf/base keeps the default ``kedro run`` small (CPU, minutes).

    Attributes:
        seed: Seed of every random draw (compound choice, layout, technical effects, pixels).
        n_sources: Number of sources (imaging sites / partner labs); the strongest technical effect.
        n_batches_per_source: Batches per source; batch ids are unique across sources.
        n_plates_per_batch: Plates per batch; every plate holds every compound once.
        n_compounds: Valid parent compounds drawn from the embedded curated drug list.
        n_salt_forms: How many of them are written as a salt (hydrochloride, mesylate, sodium carboxylate).
        n_charged_forms: How many are written charged without counter-ion ([NH+] amine or carboxylate).
        n_noncanonical_forms: How many are written as a non-canonical tautomer or in random atom order.
        n_invalid_compounds: Extra compounds whose SMILES RDKit cannot parse (to be quarantined).
        n_dmso_wells_per_plate: DMSO negative-control wells on each plate (at least 1).
        sites_per_well: Imaged fields (sites) per well.
        field_size_px: Height and width of a field in pixels.
        mean_cells_per_field: Mean cell count of an untreated field (Poisson).
        phenotype_strength: Scale of compound phenotypes; 0 makes every compound look like DMSO.
        cell_variability_log_sd: Per-cell log-normal spread of size and per-channel brightness.
        source_gain_log_sd: Log-normal spread of the per-source, per-channel intensity gain.
        batch_gain_log_sd: Log-normal spread of the per-batch, per-channel gain.
        plate_gain_log_sd: Log-normal spread of the per-plate, per-channel gain.
        source_offset_max_counts: Per-source, per-channel camera offset is drawn from [0, this].
        max_vignetting: Per-source fraction of intensity lost at the field corner is drawn from [0, this].
        max_blur_sigma_px: Per-source focus blur (Gaussian sigma) is drawn from [0, this].
        read_noise_sd_counts: Median Gaussian read noise; sources scatter around it.
        source_cell_size_log_sd: Per-source log-normal bias of cell and nucleus size.
    """

    seed: int
    n_sources: int
    n_batches_per_source: int
    n_plates_per_batch: int
    n_compounds: int
    n_salt_forms: int
    n_charged_forms: int
    n_noncanonical_forms: int
    n_invalid_compounds: int
    n_dmso_wells_per_plate: int
    sites_per_well: int
    field_size_px: int
    mean_cells_per_field: float
    phenotype_strength: float
    cell_variability_log_sd: float
    source_gain_log_sd: float
    batch_gain_log_sd: float
    plate_gain_log_sd: float
    source_offset_max_counts: float
    max_vignetting: float
    max_blur_sigma_px: float
    read_noise_sd_counts: float
    source_cell_size_log_sd: float

    def __post_init__(self) -> None:
        """Check every value; raise naming the first field out of range."""
        for f in fields(self):
            value = getattr(self, f.name)
            expected = int if f.type in ("int", int) else float
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidConfigError(f"SyntheticScreenConfig.{f.name}={value!r} must be a number")
            if expected is int and not isinstance(value, int):
                raise InvalidConfigError(f"SyntheticScreenConfig.{f.name}={value!r} must be an integer")
        _require(self, "n_sources", self.n_sources >= 1, ">= 1")
        _require(self, "n_batches_per_source", self.n_batches_per_source >= 1, ">= 1")
        _require(self, "n_plates_per_batch", self.n_plates_per_batch >= 1, ">= 1")
        _require(
            self,
            "n_compounds",
            1 <= self.n_compounds <= MAX_CURATED_COMPOUNDS,
            f"in [1, {MAX_CURATED_COMPOUNDS}] (the size of the curated list)",
        )
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
            self.n_invalid_compounds <= MAX_CURATED_COMPOUNDS,
            f"<= {MAX_CURATED_COMPOUNDS}",
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
        _require(self, "sites_per_well", self.sites_per_well >= 1, ">= 1")
        _require(self, "field_size_px", self.field_size_px >= MIN_FIELD_SIZE_PX, f">= {MIN_FIELD_SIZE_PX}")
        _require(self, "mean_cells_per_field", self.mean_cells_per_field > 0, "> 0")
        for name in (
            "phenotype_strength",
            "cell_variability_log_sd",
            "source_gain_log_sd",
            "batch_gain_log_sd",
            "plate_gain_log_sd",
            "source_offset_max_counts",
            "max_blur_sigma_px",
            "read_noise_sd_counts",
            "source_cell_size_log_sd",
        ):
            _require(self, name, getattr(self, name) >= 0, ">= 0")
        _require(self, "max_vignetting", 0 <= self.max_vignetting < 1, "in [0, 1)")


def _require(config: SyntheticScreenConfig, name: str, ok: bool, expected: str) -> None:
    """Raise ``InvalidConfigError`` naming ``name``, its value and the expectation when ``ok`` is false."""
    if not ok:
        raise InvalidConfigError(
            f"SyntheticScreenConfig.{name}={getattr(config, name)!r} is invalid: expected {expected}"
        )
