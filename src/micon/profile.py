"""What downstream stages need to know of a screen source (its profile), written once by its ingestion."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from micon import schema
from micon.errors import InvalidConfigError

__all__ = ["CONTROL_MODES", "SPLIT_POLICIES", "ControlMode", "SourceProfile", "SplitPolicy"]

ControlMode = Literal["dmso", "same_plate"]
SplitPolicy = Literal["held_out", "molecule_known"]
CONTROL_MODES: tuple[str, ...] = ControlMode.__args__
SPLIT_POLICIES: tuple[str, ...] = SplitPolicy.__args__


@dataclass(frozen=True, kw_only=True)
class SourceProfile:
    """A screen source's channels, negative control, control pairing and split policy.

    The source's ingestion node writes it (catalog ``source_profile``) next to the raw tables; every
    stage that depends on the screen reads it from there, so the channel list, for one, is written once:
    the profile names it, crop extraction stacks crops in that order, the crop store records it and the
    model's input channels are read from the store.

    Attributes:
        name: The source (``synthetic``, ``jump``, ``bbbc021``).
        channels: Channel names in the order crops are stacked.
        nuclear_channel: The channel nuclei are detected on (one of ``channels``).
        cytoplasm_channels: The cytoplasmic stains whose composite outlines the cells.
        control_compound: ``Metadata_JCP2022`` of the negative control (JUMP: DMSO's JCP2022 id).
        controls: ``"dmso"``: every plate holds control wells; they normalise its profiles and MICON pairs
            each treated crop with a control crop of its plate (a plate without one is quarantined).
            ``"same_plate"``: the screen has no control images (e.g. the BBBC021 subset, normalised by
            its provider); MICON pairs treated crops with crops of another compound of the plate.
        split_policy: ``"held_out"``: held-out sources, batches and compounds as
            ``data_engineering.splits`` says (JUMP, the synthetic screen). ``"molecule_known"``: every well
            whose compound has a usable structure trains, the others are ``ood_compound`` (kept for the
            evaluation); nothing else is held out (BBBC021, evaluated on every well).
        well_annotations: Columns of ``well_table`` carried into the well metadata besides the compound
            (e.g. concentration and mechanism of action); a well is a treatment of its compound and these.
    """

    name: str
    channels: tuple[str, ...]
    nuclear_channel: str
    cytoplasm_channels: tuple[str, ...]
    control_compound: str
    controls: ControlMode
    split_policy: SplitPolicy
    well_annotations: tuple[str, ...]

    def __post_init__(self) -> None:
        for name in ("channels", "cytoplasm_channels", "well_annotations"):
            object.__setattr__(self, name, tuple(str(value) for value in getattr(self, name)))
        if not self.channels or len(set(self.channels)) != len(self.channels):
            raise InvalidConfigError(
                f"source {self.name!r}: channels must be distinct and non-empty, got {self.channels}"
            )
        missing = [c for c in (self.nuclear_channel, *self.cytoplasm_channels) if c not in self.channels]
        if missing or not self.cytoplasm_channels:
            raise InvalidConfigError(
                f"source {self.name!r}: nuclear channel {self.nuclear_channel!r} and cytoplasm channels "
                f"{list(self.cytoplasm_channels)} must be non-empty and among the channels "
                f"{list(self.channels)}" + (f"; missing {missing}" if missing else "")
            )
        if self.controls not in CONTROL_MODES:
            raise InvalidConfigError(
                f"source {self.name!r}: controls must be one of {CONTROL_MODES}, got {self.controls!r}"
            )
        if self.split_policy not in SPLIT_POLICIES:
            raise InvalidConfigError(
                f"source {self.name!r}: split_policy must be one of {SPLIT_POLICIES}, "
                f"got {self.split_policy!r}"
            )
        bad = [c for c in self.well_annotations if not c.startswith("Metadata_") or c in schema.WELL_KEY]
        if bad:
            raise InvalidConfigError(
                f"source {self.name!r}: well_annotations must be Metadata_* columns other than the well "
                f"key, got {bad}"
            )

    def to_dict(self) -> dict[str, Any]:
        """Return plain JSON-able values (the catalog's ``source_profile``)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> SourceProfile:
        """Build the profile from the catalog's JSON values.

        Raises:
            TypeError: A key is unknown or missing (named by the dataclass constructor).
            InvalidConfigError: A value is out of range (see the attributes).
        """
        return cls(**dict(values))
