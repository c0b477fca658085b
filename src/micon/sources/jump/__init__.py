"""JUMP cpg0016: select plates, wells and compounds and index their sites in the Cell Painting Gallery."""

from micon.sources.jump.cpg0016 import (
    JUMP_PROFILE,
    JumpScreen,
    JumpSelectionConfig,
    assemble_image_index,
    check_site_files,
    load_data_key,
    select_screen,
    site_file_keys,
)

__all__ = [
    "JUMP_PROFILE",
    "JumpScreen",
    "JumpSelectionConfig",
    "assemble_image_index",
    "check_site_files",
    "load_data_key",
    "select_screen",
    "site_file_keys",
]
