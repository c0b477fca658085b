"""Real-data checks: LINCS replicate and MoA mAP; the JUMP profiling recipe's outputs reproduced by step."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.evaluation import (
    NormalizationConfig,
    annotation_map,
    harmonize_profiles,
    normalize_profiles,
    replicate_map,
    summarise_replicability,
)
from tests.parameters import make_config
from tests.shared_data import require_shared

# The JUMP recipe's negative-control codes (DMSO and the ORF/CRISPR negative controls).
RECIPE_NEGCON_CODES = {
    "JCP2022_800001",
    "JCP2022_800002",
    "JCP2022_033924",
    "JCP2022_915131",
    "JCP2022_915130",
    "JCP2022_915129",
    "JCP2022_915128",
}
RECIPE_PREPROCESSING = ["variance_filter", "mad_robustize", "inverse_normal_transform", "feature_select"]


def _lincs_profiles() -> tuple[pd.DataFrame, list[str]]:
    path = require_shared("profiles/lincs_SQ00015054/SQ00015054_normalized_feature_select.csv.gz")
    raw = pd.read_csv(path)
    features = schema.feature_columns(raw.columns)
    is_control = raw["Metadata_broad_sample"].eq("DMSO").to_numpy()
    metadata = pd.DataFrame(
        {
            schema.SOURCE: "lincs",
            schema.BATCH: raw["Metadata_Batch_Number"].astype(str),
            schema.PLATE: raw["Metadata_Plate"],
            schema.WELL: raw["Metadata_Well"],
            schema.JCP2022: np.where(is_control, schema.DMSO_JCP2022, raw["Metadata_pert_id"]),
            schema.IS_CONTROL: is_control,
            "Metadata_moa": raw["Metadata_moa"],
        }
    )
    return pd.concat([metadata, raw[features]], axis=1), features


@pytest.mark.realdata
@pytest.mark.slow
def test_lincs_plate_replicate_and_moa_map(tmp_path):
    profiles, features = _lincs_profiles()
    _, replicate = replicate_map(
        profiles, features, exclude_same=(), null_size=10000, seed=0, cache_dir=tmp_path
    )
    replicability = summarise_replicability(replicate)
    # 58 compounds, each at 6 doses (2 twice) on one plate, ranked against that plate's 24 DMSO wells
    assert len(replicate) == 58
    assert replicability["map"] == pytest.approx(0.618, abs=0.005)
    assert replicability["fraction_retrieved"] == pytest.approx(0.534, abs=0.05)

    ap, moa = annotation_map(
        profiles, features, annotation_column="Metadata_moa", null_size=10000, seed=0, cache_dir=tmp_path
    )
    # 5 MoAs are shared by two or more compounds (60 wells); positives are other compounds of the MoA
    assert len(moa) == 5 and int((ap["n_pos_pairs"] > 0).sum()) == 60
    assert summarise_replicability(moa)["map"] == pytest.approx(0.071, abs=0.005)


def _recipe_inputs(scenario: str, sources: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return the fixture's input wells of ``sources`` (compound ids from its output) and both outputs."""
    root = require_shared("profiles/jump_recipe_fixtures")
    expected = pd.read_parquet(root / "outputs" / scenario / "profiles_var_mad_int_featselect.parquet")
    harmonized = pd.read_parquet(
        root / "outputs" / scenario / "profiles_var_mad_int_featselect_harmony.parquet"
    )
    frames = []
    for source in sources:
        for path in sorted((root / "inputs/profiles" / source / "workspace/profiles").glob("*/*/*.parquet")):
            plate = pd.read_parquet(path)
            plate.insert(1, schema.BATCH, path.parts[-3])
            frames.append(plate)
    inputs = pd.concat(frames, ignore_index=True).merge(
        expected[[*schema.WELL_KEY, schema.JCP2022]],
        on=list(schema.WELL_KEY),
        how="inner",
        validate="one_to_one",
    )
    inputs.insert(4, schema.IS_CONTROL, inputs[schema.JCP2022].isin(RECIPE_NEGCON_CODES).to_numpy())
    return inputs, expected, harmonized


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("scenario", "sources", "untied_tolerance"),
    [
        ("compound_trimmed_public", ["source_5"], 1e-6),
        ("pipeline_1_trimmed_public", ["source_4", "source_5", "source_13"], 0.02),
    ],
)
def test_recipe_var_mad_int_featselect_reproduced(scenario, sources, untied_tolerance):
    inputs, expected, _ = _recipe_inputs(scenario, sources)
    ours, step_log = normalize_profiles(
        inputs,
        make_config(
            NormalizationConfig,
            "reporting.normalization",
            chains={"recipe": RECIPE_PREPROCESSING},
            epsilon=0.0,
        ),
        chain="recipe",
    )
    assert list(step_log["n_features_out"]) == [3, 3, 3, 3]  # the trimmed fixture keeps its 3 features
    merged = ours.merge(expected, on=list(schema.WELL_KEY), suffixes=("", "_recipe"), validate="one_to_one")
    assert len(merged) == len(expected)
    for feature in schema.feature_columns(expected.columns):
        mine, recipe = merged[feature].to_numpy(float), merged[f"{feature}_recipe"].to_numpy(float)
        # the recipe breaks ties at random, we average them: tied wells differ within their tie group
        untied = ~pd.Series(mine).duplicated(keep=False).to_numpy()
        assert np.abs(mine - recipe)[untied].max() < untied_tolerance, feature
        assert np.abs(mine - recipe).max() < 0.03, feature
        assert np.corrcoef(mine, recipe)[0, 1] > 0.99999, feature


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("scenario", "sources", "batch_column"),
    [
        ("compound_trimmed_public", ["source_5"], schema.PLATE),
        ("pipeline_1_trimmed_public", ["source_4", "source_5", "source_13"], schema.BATCH),
    ],
)
def test_recipe_harmony_reproduced_from_recipe_featselect(scenario, sources, batch_column):
    inputs, expected, harmonized = _recipe_inputs(scenario, sources)
    features = schema.feature_columns(expected.columns)
    profiles = expected.merge(inputs[[*schema.WELL_KEY, schema.BATCH]], on=list(schema.WELL_KEY))
    profiles = profiles[[*schema.metadata_columns(profiles.columns), *features]]
    # the recipe's settings: max_iter_harmony=20, nclust=300 (harmonypy 2.x here, older there)
    ours = harmonize_profiles(profiles, batch_column=batch_column, max_iter=20, n_clusters=300, seed=0)
    merged = ours.merge(harmonized, on=list(schema.WELL_KEY), validate="one_to_one")
    for i, feature in enumerate(features, start=1):
        assert np.corrcoef(merged[feature], merged[f"X_{i}"])[0, 1] > 0.97, feature
