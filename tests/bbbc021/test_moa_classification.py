"""BBBC021 evaluation: treatment profiles, NSC/NSCB 1-NN MoA accuracy against brute force, replicate mAP."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.errors import InvalidConfigError, InvalidFeaturesError, InvalidInputError, MissingColumnsError
from micon.evaluation.moa_classification import (
    MoaEvaluationConfig,
    classify_moa,
    evaluate_moa_profiles,
    replicate_retrieval,
    scale_features,
    summarise_moa_accuracy,
    treatment_profiles,
)
from tests.parameters import make_config

FEATURES = ["emb_0000", "emb_0001", "emb_0002", "emb_0003"]


def _wells(seed: int = 0, n_features: int = 4) -> pd.DataFrame:
    """6 compounds of 3 MoAs in 3 weeks, 2 concentrations, each treatment on 3 plates of its week."""
    rng = np.random.default_rng(seed)
    moa_of = {"a1": "A", "a2": "A", "b1": "B", "b2": "B", "c1": "C", "c2": "C"}
    week_of = {"a1": "W1", "a2": "W2", "b1": "W1", "b2": "W3", "c1": "W2", "c2": "W2"}
    centres = {m: rng.normal(size=n_features) * 10 for m in "ABC"}
    rows = []
    for compound, moa in moa_of.items():
        for concentration in (0.1, 1.0):
            for replicate in range(3):
                rows.append(
                    {
                        schema.SOURCE: "bbbc021",
                        schema.BATCH: week_of[compound],
                        schema.PLATE: f"{week_of[compound]}_p{replicate}",
                        schema.WELL: f"{compound}_{concentration}",
                        schema.JCP2022: compound,
                        schema.CONCENTRATION: concentration,
                        schema.MOA: moa,
                        **dict(zip(FEATURES, centres[moa] + rng.normal(size=n_features), strict=True)),
                    }
                )
    return pd.DataFrame(rows)


def _brute_force_1nn(treatments: pd.DataFrame, *, nscb: bool) -> dict[tuple[str, float], str | None]:
    """Predicted MoA per treatment by an explicit double loop (the oracle)."""
    labelled = treatments[treatments[schema.MOA].notna()]
    predicted: dict[tuple[str, float], str | None] = {}
    for _, query in labelled.iterrows():
        best, best_similarity = None, -np.inf
        q = query[FEATURES].to_numpy(dtype=float)
        for _, candidate in labelled.iterrows():
            if candidate[schema.JCP2022] == query[schema.JCP2022]:
                continue
            if nscb and set(candidate[schema.BATCH].split("|")) & set(query[schema.BATCH].split("|")):
                continue
            c = candidate[FEATURES].to_numpy(dtype=float)
            similarity = q @ c / (np.linalg.norm(q) * np.linalg.norm(c))
            if similarity > best_similarity:
                best, best_similarity = candidate[schema.MOA], similarity
        predicted[(query[schema.JCP2022], query[schema.CONCENTRATION])] = best
    return predicted


def test_treatment_profiles_median_of_wells_hand_computed() -> None:
    wells = _wells()
    treatments = treatment_profiles(wells, FEATURES, operation="median")
    assert len(treatments) == 12
    is_row = (treatments[schema.JCP2022] == "a1") & (treatments[schema.CONCENTRATION] == 0.1)
    row = treatments[is_row].iloc[0]
    is_well = (wells[schema.JCP2022] == "a1") & (wells[schema.CONCENTRATION] == 0.1)
    expected = wells.loc[is_well, FEATURES].median()
    np.testing.assert_allclose(row[FEATURES].to_numpy(dtype=float), expected.to_numpy())
    assert row["n_wells"] == 3
    assert row[schema.BATCH] == "W1"
    assert row[schema.MOA] == "A"


@pytest.mark.parametrize("nscb", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classify_moa_matches_brute_force(nscb: bool, seed: int) -> None:
    wells = _wells(seed)
    wells[FEATURES] = wells[FEATURES] + np.random.default_rng(seed + 10).normal(size=(len(wells), 4)) * 10
    treatments = treatment_profiles(wells, FEATURES)
    predictions = classify_moa(treatments, FEATURES, exclude_same_batch=nscb)
    oracle = _brute_force_1nn(treatments, nscb=nscb)
    for _, row in predictions.iterrows():
        expected = oracle[(row[schema.JCP2022], row[schema.CONCENTRATION])]
        got = None if pd.isna(row["predicted_moa"]) else row["predicted_moa"]
        assert got == expected
        assert row["is_correct"] == (expected == row[schema.MOA])


def test_classify_moa_nscb_marks_moa_confined_to_one_week_unanswerable() -> None:
    # MoA C: both compounds are in week W2, so under NSCB no eligible candidate shares its MoA.
    treatments = treatment_profiles(_wells(), FEATURES)
    nscb = classify_moa(treatments, FEATURES, exclude_same_batch=True)
    assert set(nscb.loc[~nscb["is_answerable"], schema.JCP2022]) == {"c1", "c2"}
    summary = summarise_moa_accuracy(nscb)
    assert summary["n_queries"] == 8
    assert summary["n_unanswerable"] == 4
    nsc = classify_moa(treatments, FEATURES, exclude_same_batch=False)
    assert nsc["is_answerable"].all()
    assert summarise_moa_accuracy(nsc)["accuracy"] == 1.0  # MoA clusters are well separated


def test_classify_moa_ignores_unlabelled_treatments() -> None:
    wells = _wells()
    wells.loc[wells[schema.JCP2022] == "b2", schema.MOA] = pd.NA
    predictions = classify_moa(treatment_profiles(wells, FEATURES), FEATURES, exclude_same_batch=False)
    assert "b2" not in set(predictions[schema.JCP2022])
    assert "b2" not in set(predictions["neighbour_compound"].dropna())


def test_summarise_moa_accuracy_nothing_answerable_is_nan() -> None:
    predictions = pd.DataFrame({"is_answerable": [False], "is_correct": [False]})
    summary = summarise_moa_accuracy(predictions)
    assert np.isnan(summary["accuracy"])
    assert summary["n_unanswerable"] == 1


def test_scale_features_zero_mean_unit_sd_constant_feature_zero() -> None:
    wells = _wells()
    wells["emb_0003"] = 5.0
    scaled = scale_features(wells, FEATURES)
    np.testing.assert_allclose(scaled[FEATURES[:3]].mean(), 0.0, atol=1e-12)
    np.testing.assert_allclose(scaled[FEATURES[:3]].std(ddof=0), 1.0)
    assert (scaled["emb_0003"] == 0.0).all()


def test_replicate_retrieval_separated_treatments_have_map_one() -> None:
    wells = _wells()
    # Give every treatment its own tight, distinct direction.
    codes = pd.factorize(wells[schema.JCP2022] + wells[schema.CONCENTRATION].astype(str))[0]
    wells[FEATURES] = np.random.default_rng(0).normal(size=(12, 4))[codes]
    table = replicate_retrieval(wells, FEATURES, null_size=100)
    assert len(table) == 12
    np.testing.assert_allclose(table["mean_average_precision"], 1.0)


def test_replicate_retrieval_without_cross_plate_replicates_raises() -> None:
    wells = _wells()
    wells[schema.PLATE] = "one_plate"
    with pytest.raises(InvalidInputError, match="two plates"):
        replicate_retrieval(wells, FEATURES, null_size=100)


def test_evaluate_moa_profiles_drops_dmso_and_reports_every_metric(tmp_path) -> None:
    wells = _wells()
    dmso = wells.iloc[:3].assign(**{schema.JCP2022: "DMSO", schema.MOA: "DMSO", schema.CONCENTRATION: 0.0})
    metrics, predictions = evaluate_moa_profiles(
        pd.concat([wells, dmso], ignore_index=True),
        make_config(
            MoaEvaluationConfig,
            "bbbc021_evaluation.moa",
            env="bbbc021",
            null_size=100,
            null_cache_dir=str(tmp_path),  # not the project's data/ folder
        ),
    )
    assert metrics["n_treatments"] == 12
    assert metrics["n_wells"] == 36
    assert metrics["NSC"] == 1.0
    assert metrics["NSCB_n_queries"] == 8
    assert 0.0 <= metrics["replicate_map"] <= 1.0
    assert set(predictions["scenario"]) == {"NSC", "NSCB"}
    assert "DMSO" not in set(predictions[schema.JCP2022])


def test_evaluate_moa_profiles_only_controls_raises(tmp_path) -> None:
    wells = _wells().assign(**{schema.JCP2022: "DMSO"})
    with pytest.raises(InvalidInputError, match="DMSO"):
        evaluate_moa_profiles(
            wells,
            make_config(
                MoaEvaluationConfig,
                "bbbc021_evaluation.moa",
                env="bbbc021",
                null_size=100,
                null_cache_dir=str(tmp_path),
            ),
        )


def test_treatment_profiles_missing_moa_column_raises() -> None:
    with pytest.raises(InvalidInputError, match=schema.MOA):
        treatment_profiles(_wells().drop(columns=schema.MOA), FEATURES)


def test_treatment_profiles_missing_batch_raises() -> None:
    with pytest.raises(MissingColumnsError, match=schema.BATCH):
        treatment_profiles(_wells().drop(columns=schema.BATCH), FEATURES)


def test_treatment_profiles_nan_feature_raises() -> None:
    wells = _wells()
    wells.loc[4, "emb_0001"] = np.nan
    with pytest.raises(InvalidFeaturesError, match="emb_0001"):
        treatment_profiles(wells, FEATURES)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"treatment_aggregation": "max"}, "treatment_aggregation"),
        ({"feature_scaling": "whiten"}, "feature_scaling"),
        ({"null_size": 0}, "null_size"),
        ({"threshold": 1.5}, "threshold"),
    ],
)
def test_moa_evaluation_config_out_of_range_raises(kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidConfigError, match=match):
        make_config(MoaEvaluationConfig, "bbbc021_evaluation.moa", env="bbbc021", **kwargs)
