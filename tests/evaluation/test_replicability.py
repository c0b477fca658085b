import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score

from micon import schema
from micon.errors import InvalidConfigError, InvalidInputError, MissingColumnsError, NoControlsError
from micon.evaluation import replicate_map, summarise_replicability


def _hand_ap(profiles: pd.DataFrame, exclude_same, controls_same) -> list[float]:
    """AP per treated well by sklearn: positives = same compound differing on exclude_same; negatives =
    DMSO wells sharing controls_same with the query."""
    table = profiles.reset_index(drop=True)
    x = table[schema.feature_columns(table.columns)].to_numpy(dtype=np.float64)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    aps = []
    for i in np.flatnonzero(~table[schema.IS_CONTROL].to_numpy()):
        labels, scores = [], []
        for j in range(len(table)):
            if j == i:
                continue
            if table.at[j, schema.IS_CONTROL]:
                if all(table.at[j, c] == table.at[i, c] for c in controls_same):
                    labels.append(0)
                    scores.append(x[i] @ x[j])
            elif table.at[j, schema.JCP2022] == table.at[i, schema.JCP2022] and all(
                table.at[j, c] != table.at[i, c] for c in exclude_same
            ):
                labels.append(1)
                scores.append(x[i] @ x[j])
        aps.append(average_precision_score(labels, scores) if any(labels) else np.nan)
    return aps


@pytest.mark.parametrize(
    ("exclude_same", "controls_same"),
    [((), schema.PLATE_KEY), ((schema.BATCH,), schema.PLATE_KEY), ((schema.SOURCE,), ())],
)
def test_replicate_map_ap_equals_sklearn_average_precision(
    make_profiles, tmp_path, exclude_same, controls_same
):
    profiles = make_profiles(
        n_sources=2, n_batches=2, n_plates=2, n_compounds=3, n_dmso=2, signal=0.8, seed=2
    )
    features = schema.feature_columns(profiles.columns)
    ap_table, map_table = replicate_map(
        profiles,
        features,
        exclude_same=exclude_same,
        controls_same=controls_same,
        null_size=200,
        cache_dir=tmp_path,
    )
    expected = _hand_ap(profiles, exclude_same, controls_same)
    assert len(ap_table) == int((~profiles[schema.IS_CONTROL]).sum())
    np.testing.assert_allclose(ap_table["average_precision"].to_numpy(dtype=float), expected, rtol=1e-6)
    assert not (0.999 < np.nanmean(expected))  # an informative case, not all perfect
    per_compound = ap_table.groupby(schema.JCP2022)["average_precision"].mean()
    np.testing.assert_allclose(
        map_table.set_index(schema.JCP2022)["mean_average_precision"],
        per_compound.loc[map_table[schema.JCP2022]],
        rtol=1e-6,
    )


def test_replicate_map_tables_have_documented_columns(profiles, tmp_path):
    ap_table, map_table = replicate_map(
        profiles, schema.feature_columns(profiles.columns), exclude_same=(), null_size=100, cache_dir=tmp_path
    )
    assert {"average_precision", "n_pos_pairs", "n_total_pairs", schema.WELL, schema.PLATE} <= set(
        ap_table.columns
    )
    assert list(map_table.columns) == [
        schema.JCP2022,
        "mean_average_precision",
        "p_value",
        "corrected_p_value",
        "below_p",
        "below_corrected_p",
    ]
    assert len(map_table) == 5
    assert (map_table["corrected_p_value"] >= map_table["p_value"] - 1e-12).all()


def test_replicate_map_same_seed_same_p_values(profiles, tmp_path):
    features = schema.feature_columns(profiles.columns)
    first = replicate_map(
        profiles, features, exclude_same=(), null_size=100, seed=7, cache_dir=tmp_path / "a"
    )[1]
    second = replicate_map(
        profiles, features, exclude_same=(), null_size=100, seed=7, cache_dir=tmp_path / "b"
    )[1]
    pd.testing.assert_frame_equal(first, second)


def test_replicate_map_strong_signal_all_compounds_retrieved(make_profiles, tmp_path):
    profiles = make_profiles(signal=5.0)
    _, map_table = replicate_map(
        profiles,
        schema.feature_columns(profiles.columns),
        exclude_same=(schema.BATCH,),
        null_size=1000,
        cache_dir=tmp_path,
    )
    summary = summarise_replicability(map_table)
    assert summary["fraction_retrieved"] == 1.0
    assert summary["map"] > 0.9


def test_replicate_map_no_positive_pair_raises_naming_scenario(make_profiles, tmp_path):
    profiles = make_profiles(n_sources=1)
    with pytest.raises(InvalidInputError, match=schema.SOURCE):
        replicate_map(
            profiles,
            schema.feature_columns(profiles.columns),
            exclude_same=(schema.SOURCE,),
            null_size=10,
            cache_dir=tmp_path,
        )


def test_replicate_map_no_dmso_raises(profiles, tmp_path):
    treated = profiles.loc[~profiles[schema.IS_CONTROL]]
    with pytest.raises(NoControlsError, match="no DMSO"):
        replicate_map(treated, schema.feature_columns(profiles.columns), exclude_same=(), cache_dir=tmp_path)


def test_replicate_map_no_dmso_on_query_plates_raises(make_profiles, tmp_path):
    profiles = make_profiles()
    # keep DMSO only on a plate without treated wells
    dmso = profiles.loc[profiles[schema.IS_CONTROL]].head(2).assign(**{schema.PLATE: "plate_dmso_only"})
    table = pd.concat([profiles.loc[~profiles[schema.IS_CONTROL]], dmso], ignore_index=True)
    with pytest.raises(NoControlsError, match=schema.PLATE):
        replicate_map(
            table, schema.feature_columns(table.columns), exclude_same=(), null_size=10, cache_dir=tmp_path
        )


@pytest.mark.parametrize(
    ("kwargs", "match"), [({"null_size": 0}, "null_size"), ({"threshold": 1.5}, "threshold")]
)
def test_replicate_map_invalid_setting_raises(profiles, kwargs, match):
    with pytest.raises(InvalidConfigError, match=match):
        replicate_map(profiles, schema.feature_columns(profiles.columns), exclude_same=(), **kwargs)


def test_replicate_map_reserved_column_in_exclude_same_raises(profiles):
    with pytest.raises(InvalidInputError, match=schema.IS_CONTROL):
        replicate_map(profiles, schema.feature_columns(profiles.columns), exclude_same=(schema.IS_CONTROL,))


def test_replicate_map_missing_column_raises(profiles):
    with pytest.raises(MissingColumnsError, match="Metadata_Lab"):
        replicate_map(profiles, schema.feature_columns(profiles.columns), exclude_same=("Metadata_Lab",))


def test_summarise_replicability_mean_and_fraction():
    table = pd.DataFrame(
        {"mean_average_precision": [0.2, 0.6, 1.0], "below_corrected_p": [False, True, True]}
    )
    assert summarise_replicability(table) == {
        "map": pytest.approx(0.6),
        "fraction_retrieved": pytest.approx(2 / 3),
    }


def test_summarise_replicability_empty_table_gives_nan():
    table = pd.DataFrame({"mean_average_precision": [], "below_corrected_p": []})
    summary = summarise_replicability(table)
    assert np.isnan(summary["map"]) and np.isnan(summary["fraction_retrieved"])


def test_summarise_replicability_missing_column_raises():
    with pytest.raises(MissingColumnsError, match="below_corrected_p"):
        summarise_replicability(pd.DataFrame({"mean_average_precision": [0.5]}))
