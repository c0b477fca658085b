import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.errors import InvalidFeaturesError, InvalidInputError, MissingColumnsError
from micon.evaluation import retrieval as retrieval_module
from micon.evaluation import retrieve_replicates, summarise_retrieval

KS = (1, 3, 5)
SCENARIOS = {
    "NR": (),
    "NSB": (schema.BATCH,),
    "NSS": (schema.SOURCE,),
    "NSL": (schema.PLATE_LAYOUT,),
    "NSB+plate": (schema.BATCH, schema.PLATE),
}


def _brute_force(profiles: pd.DataFrame, exclude_same, ks) -> pd.DataFrame:
    treated = profiles.loc[~profiles[schema.IS_CONTROL]].reset_index(drop=True)
    features = schema.feature_columns(treated.columns)
    x = treated[features].to_numpy(dtype=np.float64)
    rows = []
    for i in range(len(treated)):
        candidates = []
        for j in range(len(treated)):
            if i == j or any(treated.at[j, c] == treated.at[i, c] for c in exclude_same):
                continue
            cosine = x[i] @ x[j] / (np.linalg.norm(x[i]) * np.linalg.norm(x[j]))
            candidates.append((cosine, treated.at[j, schema.JCP2022] == treated.at[i, schema.JCP2022]))
        candidates.sort(key=lambda item: -item[0])
        row = {"n_eligible_replicates": sum(is_rep for _, is_rep in candidates)}
        for k in ks:
            row[f"hit_at_{k}"] = any(is_rep for _, is_rep in candidates[:k])
        rows.append(row)
    return pd.DataFrame(rows)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_retrieve_replicates_random_data_matches_brute_force(make_profiles, scenario):
    profiles = make_profiles(
        n_sources=2, n_batches=2, n_plates=2, n_compounds=4, n_dmso=2, signal=0.7, seed=3
    )
    # two plate layouts, alternating over the plates (the plates' last digit)
    profiles.insert(0, schema.PLATE_LAYOUT, "layout_" + profiles[schema.PLATE].str[-1])
    features = schema.feature_columns(profiles.columns)
    hits = retrieve_replicates(profiles, features, exclude_same=SCENARIOS[scenario], ks=KS)
    expected = _brute_force(profiles, SCENARIOS[scenario], KS)
    assert len(hits) == int((~profiles[schema.IS_CONTROL]).sum())
    np.testing.assert_array_equal(hits["n_eligible_replicates"], expected["n_eligible_replicates"])
    for k in KS:
        np.testing.assert_array_equal(hits[f"hit_at_{k}"], expected[f"hit_at_{k}"])
        assert hits[f"hit_at_{k}"].dtype == bool
    # not every query hits at k=1 on this noisy toy, so the comparison is informative
    assert 0 < hits["hit_at_1"].mean() < 1


def test_retrieve_replicates_small_blocks_give_same_result(make_profiles, monkeypatch):
    profiles = make_profiles(signal=0.7, seed=5)
    features = schema.feature_columns(profiles.columns)
    whole = retrieve_replicates(profiles, features, exclude_same=(schema.BATCH,), ks=KS)
    monkeypatch.setattr(retrieval_module, "_BLOCK_CELLS", 50)
    blocked = retrieve_replicates(profiles, features, exclude_same=(schema.BATCH,), ks=KS)
    pd.testing.assert_frame_equal(whole, blocked)


def _hand_table() -> pd.DataFrame:
    """Query q (batch b1); an identical replicate in b1; a weaker replicate in b2; a decoy in b2."""
    return pd.DataFrame(
        {
            schema.SOURCE: ["s1", "s1", "s2", "s2", "s1"],
            schema.BATCH: ["b1", "b1", "b2", "b2", "b1"],
            schema.PLATE: ["p1", "p2", "p3", "p3", "p1"],
            schema.WELL: ["A01", "A01", "A01", "A02", "A03"],
            schema.JCP2022: ["X", "X", "X", "Y", schema.DMSO_JCP2022],
            schema.IS_CONTROL: [False, False, False, False, True],
            "emb_0000": [1.0, 1.0, 0.2, 0.9, 1.0],
            "emb_0001": [0.0, 0.0, 1.0, 0.1, 0.0],
        }
    )


def test_retrieve_replicates_same_batch_candidate_never_counts():
    table = _hand_table()
    nr = retrieve_replicates(table, ["emb_0000", "emb_0001"], exclude_same=(), ks=(1, 2))
    nsb = retrieve_replicates(table, ["emb_0000", "emb_0001"], exclude_same=(schema.BATCH,), ks=(1, 2))
    assert nr.loc[0, "hit_at_1"]  # the identical replicate in the same batch ranks first
    assert nr.loc[0, "n_eligible_replicates"] == 2
    assert not nsb.loc[0, "hit_at_1"]  # under NSB it is gone; the decoy Y ranks above the b2 replicate
    assert nsb.loc[0, "hit_at_2"]
    assert nsb.loc[0, "n_eligible_replicates"] == 1


def test_retrieve_replicates_dmso_never_query_nor_candidate():
    table = _hand_table()
    hits = retrieve_replicates(table, ["emb_0000", "emb_0001"], exclude_same=(), ks=(1,))
    assert list(hits[schema.JCP2022]) == ["X", "X", "X", "Y"]
    assert hits.loc[0, "hit_at_1"]  # the DMSO well identical to the query is not a candidate


def test_retrieve_replicates_query_without_eligible_replicate_kept_with_zero():
    table = _hand_table()
    hits = retrieve_replicates(table, ["emb_0000", "emb_0001"], exclude_same=(schema.SOURCE,), ks=(1, 10))
    y = hits.loc[hits[schema.JCP2022] == "Y"].iloc[0]
    assert y["n_eligible_replicates"] == 0
    assert not y["hit_at_1"] and not y["hit_at_10"]
    assert len(hits) == 4


def test_retrieve_replicates_returns_query_metadata_and_counts(make_profiles):
    profiles = make_profiles()
    hits = retrieve_replicates(profiles, schema.feature_columns(profiles.columns), exclude_same=(), ks=(1,))
    metadata = schema.metadata_columns(profiles.columns)
    assert list(hits.columns) == [*metadata, "n_eligible_replicates", "hit_at_1"]
    assert hits["n_eligible_replicates"].dtype == np.int64


@pytest.mark.parametrize("ks", [(0,), (1, -2), (), (1.5,)])
def test_retrieve_replicates_invalid_k_raises(profiles, ks):
    with pytest.raises(InvalidInputError, match="k"):
        retrieve_replicates(profiles, schema.feature_columns(profiles.columns), exclude_same=(), ks=ks)


def test_retrieve_replicates_missing_exclude_column_raises_value_error(profiles):
    with pytest.raises(MissingColumnsError, match="Metadata_Lab"):
        retrieve_replicates(
            profiles, schema.feature_columns(profiles.columns), exclude_same=("Metadata_Lab",), ks=(1,)
        )
    assert issubclass(MissingColumnsError, ValueError)


def test_retrieve_replicates_compound_in_exclude_same_raises(profiles):
    with pytest.raises(InvalidInputError, match=schema.JCP2022):
        retrieve_replicates(
            profiles, schema.feature_columns(profiles.columns), exclude_same=(schema.JCP2022,), ks=(1,)
        )


def test_retrieve_replicates_infinite_feature_raises_naming_column_and_well(profiles):
    profiles.loc[2, "emb_0003"] = np.inf
    well = profiles.loc[2, schema.WELL]
    with pytest.raises(InvalidFeaturesError, match=rf"emb_0003.*Well={well}"):
        retrieve_replicates(profiles, schema.feature_columns(profiles.columns), exclude_same=(), ks=(1,))


def test_retrieve_replicates_missing_batch_value_raises(profiles):
    profiles[schema.BATCH] = profiles[schema.BATCH].astype(object)
    profiles.loc[3, schema.BATCH] = None
    with pytest.raises(InvalidInputError, match=schema.BATCH):
        retrieve_replicates(
            profiles, schema.feature_columns(profiles.columns), exclude_same=(schema.BATCH,), ks=(1,)
        )


def test_summarise_retrieval_mean_over_queries_with_replicates():
    hits = pd.DataFrame(
        {
            "n_eligible_replicates": [2, 0, 1, 3],
            "hit_at_1": [True, False, False, True],
            "hit_at_5": [True, False, True, True],
        }
    )
    summary = summarise_retrieval(hits, (1, 5))
    assert summary == {"top1": pytest.approx(2 / 3), "top5": 1.0, "n_queries": 3}


def test_summarise_retrieval_no_eligible_query_gives_nan():
    hits = pd.DataFrame({"n_eligible_replicates": [0, 0], "hit_at_1": [False, False]})
    summary = summarise_retrieval(hits, (1,))
    assert np.isnan(summary["top1"]) and summary["n_queries"] == 0


def test_summarise_retrieval_missing_hit_column_raises():
    hits = pd.DataFrame({"n_eligible_replicates": [1], "hit_at_1": [True]})
    with pytest.raises(MissingColumnsError, match="hit_at_10"):
        summarise_retrieval(hits, (1, 10))
