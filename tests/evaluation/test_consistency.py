import numpy as np
import pandas as pd
import pytest
from copairs.map import average_precision, mean_average_precision
from sklearn.metrics import average_precision_score

from micon import schema
from micon.errors import InvalidConfigError, InvalidInputError, MissingColumnsError
from micon.evaluation import annotation_map
from micon.evaluation import consistency as consistency_module
from micon.evaluation.consistency import annotation_average_precision

MOA = "Metadata_moa"


def _annotated(make_profiles, seed: int = 0) -> pd.DataFrame:
    profiles = make_profiles(n_compounds=6, n_sources=2, signal=0.8, seed=seed)
    moa = {"C0": "a", "C1": "a", "C2": "b", "C3": "b", "C4": "b", "C5": None}
    profiles[MOA] = profiles[schema.JCP2022].map(moa)
    return profiles


def _brute_ap(profiles: pd.DataFrame, exclude_same: tuple[str, ...] = ()) -> list[float]:
    """AP per annotated treated well (sklearn): positives = same MoA, other compound; negatives: other MoA;
    a well equal to the query on an ``exclude_same`` column is neither (NaN when no positive is left)."""
    table = profiles.loc[~profiles[schema.IS_CONTROL] & profiles[MOA].notna()].reset_index(drop=True)
    x = table[schema.feature_columns(table.columns)].to_numpy(dtype=np.float64)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    aps = []
    for i in range(len(table)):
        labels, scores = [], []
        for j in range(len(table)):
            if any(table.at[j, c] == table.at[i, c] for c in exclude_same):
                continue
            if table.at[j, MOA] != table.at[i, MOA]:
                labels.append(0)
            elif table.at[j, schema.JCP2022] != table.at[i, schema.JCP2022]:
                labels.append(1)
            else:
                continue
            scores.append(x[i] @ x[j])
        aps.append(average_precision_score(labels, scores) if any(labels) else np.nan)
    return aps


@pytest.mark.parametrize("seed", [0, 1])
def test_annotation_map_ap_equals_sklearn_brute_force(make_profiles, tmp_path, seed):
    profiles = _annotated(make_profiles, seed)
    features = schema.feature_columns(profiles.columns)
    ap_table, map_table = annotation_map(
        profiles, features, annotation_column=MOA, null_size=200, cache_dir=tmp_path
    )
    expected = _brute_ap(profiles)
    np.testing.assert_allclose(ap_table["average_precision"].to_numpy(dtype=float), expected, rtol=1e-6)
    assert 0.2 < np.mean(expected) < 0.99  # informative: neither random nor perfect
    assert set(map_table[MOA]) == {"a", "b"}
    per_moa = ap_table.groupby(MOA)["average_precision"].mean()
    np.testing.assert_allclose(
        map_table.set_index(MOA)["mean_average_precision"], per_moa.loc[map_table[MOA]]
    )


def test_annotation_map_equals_copairs_called_directly(make_profiles, tmp_path):
    profiles = _annotated(make_profiles)
    features = schema.feature_columns(profiles.columns)
    _, map_table = annotation_map(
        profiles, features, annotation_column=MOA, null_size=500, seed=4, cache_dir=tmp_path
    )
    wells = profiles.loc[~profiles[schema.IS_CONTROL] & profiles[MOA].notna()].reset_index(drop=True)
    direct_ap = average_precision(
        wells[[schema.JCP2022, MOA]].astype(str),
        wells[features].to_numpy(dtype=np.float64),
        pos_sameby=[MOA],
        pos_diffby=[schema.JCP2022],
        neg_sameby=[],
        neg_diffby=[MOA],
        distance="cosine",
        progress_bar=False,
    )
    direct = mean_average_precision(
        direct_ap, sameby=[MOA], null_size=500, threshold=0.05, seed=4, progress_bar=False, cache_dir=tmp_path
    )
    merged = map_table.merge(direct, on=MOA, suffixes=("", "_direct"))
    assert len(merged) == 2
    for column in ("mean_average_precision", "p_value", "corrected_p_value"):
        np.testing.assert_allclose(merged[column], merged[f"{column}_direct"], atol=0.0)


def test_annotation_map_no_shared_annotation_raises(make_profiles, tmp_path):
    profiles = _annotated(make_profiles)
    profiles[MOA] = profiles[schema.JCP2022]  # every compound its own MoA: no positive pair
    with pytest.raises(InvalidInputError, match="no Metadata_moa value is shared by two compounds"):
        annotation_map(
            profiles, schema.feature_columns(profiles.columns), annotation_column=MOA, cache_dir=tmp_path
        )


def test_annotation_map_missing_column_raises(make_profiles):
    profiles = make_profiles()
    with pytest.raises(MissingColumnsError, match=MOA):
        annotation_map(profiles, schema.feature_columns(profiles.columns), annotation_column=MOA)


@pytest.mark.parametrize(
    ("kwargs", "match"), [({"null_size": 0}, "null_size"), ({"threshold": 1.0}, "threshold")]
)
def test_annotation_map_invalid_setting_raises(make_profiles, kwargs, match):
    profiles = _annotated(make_profiles)
    with pytest.raises(InvalidConfigError, match=match):
        annotation_map(profiles, schema.feature_columns(profiles.columns), annotation_column=MOA, **kwargs)


def test_annotation_map_not_same_source_equals_brute_force_without_same_source_wells(make_profiles, tmp_path):
    profiles = _annotated(make_profiles, seed=2)
    features = schema.feature_columns(profiles.columns)
    ap_table, _ = annotation_map(
        profiles,
        features,
        annotation_column=MOA,
        exclude_same=[schema.SOURCE],
        null_size=200,
        cache_dir=tmp_path,
    )
    expected = _brute_ap(profiles, (schema.SOURCE,))
    np.testing.assert_allclose(ap_table["average_precision"].to_numpy(dtype=float), expected, rtol=1e-6)
    assert (ap_table["n_total_pairs"] < len(ap_table) / 2 + 1).all()  # only the other source's wells


@pytest.mark.parametrize("exclude_same", [(), (schema.SOURCE,), (schema.SOURCE, schema.BATCH)])
def test_annotation_average_precision_equals_copairs_pairs_with_ties(
    make_profiles, monkeypatch, exclude_same
):
    profiles = _annotated(make_profiles, seed=3)
    wells = profiles.loc[~profiles[schema.IS_CONTROL] & profiles[MOA].notna()].reset_index(drop=True)
    features = schema.feature_columns(wells.columns)
    wells.loc[10:19, features] = wells.loc[0:9, features].to_numpy()  # exact ties between compounds and MoAs
    values = wells[features].to_numpy(dtype=np.float64)
    meta = wells[[schema.JCP2022, MOA, *exclude_same]].astype(str)
    expected = average_precision(
        meta,
        values,
        pos_sameby=[MOA],
        pos_diffby=[schema.JCP2022, *exclude_same],
        neg_sameby=[],
        neg_diffby=[MOA, *exclude_same],
        distance="cosine",
        progress_bar=False,
    )
    monkeypatch.setattr(consistency_module, "_BLOCK_CELLS", 100)  # several query blocks
    ap = annotation_average_precision(
        values,
        compounds=pd.factorize(meta[schema.JCP2022])[0],
        annotations=pd.factorize(meta[MOA])[0],
        exclusions=[pd.factorize(meta[c])[0] for c in exclude_same],
    )
    for column in ("n_pos_pairs", "n_total_pairs"):
        np.testing.assert_array_equal(ap[column], expected[column].to_numpy())
    for column in ("average_precision", "normalized_average_precision"):
        np.testing.assert_allclose(ap[column], expected[column].to_numpy(dtype=float), rtol=1e-12)
