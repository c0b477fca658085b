"""BBBC021 (Caie et al. 2010): the official per-channel layout or the 660-field PNG subset, as raw tables."""

from micon.sources.bbbc021.layouts import (
    BBBC021_PROFILE,
    Bbbc021Tables,
    png_channel_loaders,
    read_official_layout,
    read_png_subset,
)

__all__ = [
    "BBBC021_PROFILE",
    "Bbbc021Tables",
    "png_channel_loaders",
    "read_official_layout",
    "read_png_subset",
]
