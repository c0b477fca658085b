from micon.evaluation.glossary import (
    describe_metric,
    level_glossary,
    method_label,
    metric_glossary,
    metric_level,
)


def test_method_label_names_methods_and_seeded_runs_and_keeps_unknown_names():
    assert method_label("paclr") == "PaCLR-only"
    assert method_label("micon_seed2") == "MICON (seed 2)"
    assert method_label("mystery_seed1") == "mystery_seed1"


def test_describe_metric_reads_levels_mechanism_batch_and_consistency_columns():
    assert describe_metric("NSS_map_above_chance").label == "NSS mAP above chance"
    assert "not same source" in describe_metric("NSS_top1").description
    mechanism = describe_metric("MoA_NSS_top1")
    assert mechanism.label == "MoA NSS top-1" and mechanism.better == "higher"
    assert describe_metric("source_knn_accuracy").better == "lower"
    assert describe_metric("MoA_consistency_map").label == "MoA consistency mAP"
    unknown = describe_metric("n_wells")
    assert (unknown.label, unknown.better) == ("n_wells", None)
    assert [metric_level(c) for c in ("MoA_NSS_top1", "NR_map", "batch_silhouette", "NSS_tpo1")] == [
        "NSS",
        "NR",
        None,
        None,
    ]


def test_glossaries_explain_each_level_with_its_columns_and_each_metric_kind_once():
    levels = level_glossary({"NR": [], "NSS": ["Metadata_Source"], "XYZ": ["Metadata_Plate"]})
    assert [(e.term, e.name) for e in levels] == [
        ("NR", "not restricted"),
        ("NSS", "not same source"),
        ("XYZ", "XYZ"),
    ]
    assert "differ on: Source" in levels[1].description and "differ on: Plate" in levels[2].description
    metrics = metric_glossary(
        ["NR_top1", "NSS_top1", "NSS_map", "MoA_NSS_top1", "batch_silhouette", "n_seeds"]
    )
    assert [e.term for e in metrics] == ["top-1", "mAP", "MoA top-1", "batch silhouette"]
