from micon import schema


def test_image_key_joins_folder_and_file_without_double_slash():
    assert schema.image_key("source_1/b/p/", "p_A01_s1_DNA.tiff") == "source_1/b/p/p_A01_s1_DNA.tiff"


def test_embedding_columns_are_zero_padded_and_recognised_as_features():
    columns = schema.embedding_columns(3)
    assert columns == ["emb_0000", "emb_0001", "emb_0002"]
    assert schema.feature_columns([schema.PLATE, *columns]) == columns
    assert schema.metadata_columns([schema.PLATE, *columns]) == [schema.PLATE]


def test_load_data_columns_follow_cellprofiler_naming():
    assert schema.file_name_column("DNA") == "FileName_OrigDNA"
    assert schema.path_name_column("Mito") == "PathName_OrigMito"
    assert schema.CHANNELS == ("AGP", "DNA", "ER", "Mito", "RNA")
