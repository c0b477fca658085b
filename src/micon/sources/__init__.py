"""Screen sources, one package each, every one turning its inputs into the same raw contract.

The raw contract (docs/architecture.md): ``plate_table``, ``well_table``, ``compound_table``,
``image_index`` (load_data style), ``field_images`` (single-channel 16-bit fields keyed like the index)
and a :class:`~micon.profile.SourceProfile` (channels, negative control, control mode, split policy).

- :mod:`micon.sources.synthetic`: the embedded, seeded synthetic screen (the default run).
- :mod:`micon.sources.jump`: JUMP cpg0016 from the Cell Painting Gallery or a mirror.
- :mod:`micon.sources.bbbc021`: BBBC021 (the official layout or the 660-field PNG subset).
"""
