"""jump_ingestion over a local mirror: paths leaving the mirror are quarantined and never read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile

from micon import schema
from micon.datasets import FileStoreDataset
from micon.pipelines.jump_ingestion.nodes import index_jump_images, read_jump_fields_in_place
from micon.sources.jump.cpg0016 import load_data_key
from tests.metadata.test_jump import GALLERY, _load_data, _selected
from tests.parameters import parameter

SECRET = b"root:x:0:0:secret-line\n"


def test_index_jump_images_local_mirror_quarantines_dotdot_and_links_out_and_reads_nothing_outside(
    tmp_path: Path,
):
    mirror = tmp_path / "mirror"
    (tmp_path / "outside").mkdir()
    plates, wells = _selected()
    table = _load_data("P1", wells=("A01", "A02", "A03"), sites=("1",), illum=False)
    # A01: fine. A02: its DNA folder climbs out of the gallery. A03: its RNA image links out of the mirror.
    table.loc[1, schema.path_name_column("DNA")] = f"{GALLERY}cpg0016-jump/../../outside/"
    mirror_key = load_data_key("source_1", "b1", "P1")
    (mirror / mirror_key).parent.mkdir(parents=True)
    table.to_parquet(mirror / mirror_key)
    for _, row in table.iterrows():
        for ch in schema.CHANNELS:
            folder = str(row[schema.path_name_column(ch)]).removeprefix(GALLERY)
            path = mirror / folder / row[schema.file_name_column(ch)]
            if ".." in folder:
                path = tmp_path / "outside" / row[schema.file_name_column(ch)]
            path.parent.mkdir(parents=True, exist_ok=True)
            tifffile.imwrite(path, np.full((4, 4), 9, dtype=np.uint16))
    (tmp_path / "outside" / "secret.tiff").write_bytes(SECRET)
    linked = mirror / "cpg0016-jump/source_1/images/b/images/P1__m/Images/A03-f1-RNA.tiff"
    linked.unlink()
    linked.symlink_to(tmp_path / "outside" / "secret.tiff")

    gallery = FileStoreDataset(root=str(mirror), fs_args={"anon": True}).load()
    selection = parameter("jump.selection", env="jump")
    image_index, _, site_quarantine = index_jump_images(plates, wells, gallery, selection, False)
    loaders = read_jump_fields_in_place(image_index, gallery)

    assert image_index[schema.WELL].tolist() == ["A01"]
    reasons = site_quarantine.set_index(schema.WELL)[schema.QUARANTINE_REASON].to_dict()
    assert reasons == {"A02": "path_outside_gallery", "A03": "path_outside_root"}
    assert not site_quarantine[schema.QUARANTINE_DETAIL].str.contains("root:x|secret").any()
    assert all(".." not in key for key in loaders)
    assert {loader()[0, 0] for loader in loaders.values()} == {9}
