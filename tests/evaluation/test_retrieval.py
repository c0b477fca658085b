import logging
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.errors import InvalidFeaturesError, InvalidInputError, MissingColumnsError
from micon.evaluation import (
    assign_plate_layouts,
    retrieve_mechanism,
    retrieve_replicates,
    retrieve_replicates_at_levels,
    summarise_retrieval,
)
from micon.evaluation import retrieval as retrieval_module
from micon.evaluation.neighbours import EXACT, NeighbourSearchConfig, unit_rows

# A graph over a hundred wells: small enough to be exhaustive.
SMALL_HNSW = replace(EXACT, mode="hnsw", hnsw_m=16, hnsw_ef_construction=64, hnsw_ef_search=64)

KS = (1, 3, 5)
SCENARIOS = {
    "NR": (),
    "NSB": (schema.BATCH,),
    "NSS": (schema.SOURCE,),
    "NSL": (schema.WELL,),
    "NSSL": (schema.SOURCE, schema.WELL),
    "NSPL": (schema.PLATE_LAYOUT,),
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
    # well positions shuffled per plate, so that a compound's replicates sit at different positions (NSL)
    rng = np.random.default_rng(0)
    for rows in profiles.groupby(schema.PLATE).indices.values():
        column = profiles.columns.get_loc(schema.WELL)
        profiles.iloc[rows, column] = rng.permutation(profiles.iloc[rows, column].to_numpy())
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


def _morphohelm_run_knn(profiles: pd.DataFrame, paradigm: str, k: int) -> dict[int, bool]:
    """MorphoHELM's ``run_knn`` (benchmarks/replicate_analysis/run_replicate_analysis_sweep.py), transcribed.

    Returns query row -> hit for the queries it counts (those with a same-compound well in the pool).
    Its ``Not Same Layout`` pool drops wells at the query's well position; ``Not Same Source Layout``
    those of the query's source or well position.
    """
    x = profiles[schema.feature_columns(profiles.columns)].to_numpy(np.float64)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    compounds = profiles[schema.JCP2022].to_numpy()
    batches, sources = profiles[schema.BATCH].to_numpy(), profiles[schema.SOURCE].to_numpy()
    wells = profiles[schema.WELL].to_numpy()
    hits = {}
    for q in range(len(x)):
        sims = x[q] @ x.T
        if paradigm == "No Restriction":
            pool = np.flatnonzero(np.arange(len(x)) != q)
        elif paradigm == "Not Same Batch":
            pool = np.flatnonzero(batches != batches[q])
        elif paradigm == "Not Same Source":
            pool = np.flatnonzero(sources != sources[q])
        elif paradigm == "Not Same Layout":
            pool = np.flatnonzero(wells != wells[q])
        else:  # "Not Same Source Layout"
            pool = np.flatnonzero((sources != sources[q]) & (wells != wells[q]))
        if not (compounds[pool] == compounds[q]).any():
            continue
        top = pool[np.argsort(-sims[pool])[:k]]
        hits[q] = bool((compounds[top] == compounds[q]).any())
    return hits


def _layout_table(seed: int = 0) -> pd.DataFrame:
    """Treated wells on 8 plates of 2 sources; plates 0-3 share one layout, plates 4-7 shuffle positions.

    A compound sits at the same well on the plates of the shared layout and elsewhere on the others, so
    excluding the query's well position (NSL) and excluding plates of its layout (NSPL) differ.
    """
    rng = np.random.default_rng(seed)
    n_compounds, dim = 6, 5
    centroids = rng.normal(size=(n_compounds, dim))
    rows, values = [], []
    for plate in range(8):
        positions = np.arange(n_compounds) if plate < 4 else rng.permutation(n_compounds)
        for compound in range(n_compounds):
            rows.append(
                {
                    schema.SOURCE: f"s{plate % 2}",
                    schema.BATCH: f"b{plate % 4}",
                    schema.PLATE: f"p{plate}",
                    schema.WELL: f"A{positions[compound]:02d}",
                    schema.JCP2022: f"C{compound}",
                    schema.IS_CONTROL: False,
                }
            )
            values.append(centroids[compound] + rng.normal(size=dim) * 0.9)
    table = pd.concat(
        [pd.DataFrame(rows), pd.DataFrame(values, columns=schema.embedding_columns(dim))], axis=1
    )
    return assign_plate_layouts(table)


@pytest.mark.parametrize(
    ("level", "exclude_same", "paradigm"),
    [
        ("NR", (), "No Restriction"),
        ("NSB", (schema.BATCH,), "Not Same Batch"),
        ("NSS", (schema.SOURCE,), "Not Same Source"),
        ("NSL", (schema.WELL,), "Not Same Layout"),
        ("NSSL", (schema.SOURCE, schema.WELL), "Not Same Source Layout"),
    ],
)
@pytest.mark.parametrize("k", [1, 3])
def test_retrieve_replicates_levels_match_morphohelm_run_knn(level, exclude_same, paradigm, k):
    table = _layout_table()
    hits = retrieve_replicates(
        table, schema.feature_columns(table.columns), exclude_same=exclude_same, ks=[k]
    )
    expected = _morphohelm_run_knn(table, paradigm, k)
    counted = np.flatnonzero(hits["n_eligible_replicates"].to_numpy() > 0)
    assert sorted(expected) == counted.tolist()  # the same queries are counted
    assert [expected[q] for q in counted] == hits.loc[counted, f"hit_at_{k}"].tolist()
    assert summarise_retrieval(hits, [k])[f"top{k}"] == pytest.approx(np.mean(list(expected.values())))


def test_retrieve_replicates_nsl_differs_from_nspl_on_shuffled_layouts():
    table = _layout_table()
    features = schema.feature_columns(table.columns)
    nsl = retrieve_replicates(table, features, exclude_same=[schema.WELL], ks=[1])
    nspl = retrieve_replicates(table, features, exclude_same=[schema.PLATE_LAYOUT], ks=[1])
    # a query on a shared-layout plate: NSPL keeps only the 4 shuffled plates; NSL drops every replicate
    # at its own well position (the 3 other shared-layout plates plus any shuffled plate that matches)
    assert table[schema.PLATE_LAYOUT].nunique() > 1
    assert not np.array_equal(nsl["n_eligible_replicates"], nspl["n_eligible_replicates"])
    first = (table[schema.PLATE] == "p0").to_numpy()
    assert (nspl.loc[first, "n_eligible_replicates"] == 4).all()
    assert (nsl.loc[first, "n_eligible_replicates"] <= 4).all()


def _mechanism_table() -> pd.DataFrame:
    """Wells on a circle (angle in degrees): compound, MoA, source.

    A (m1): 0, 1; B (m1): 3, 4; F (m1): 8.5, 9; E (m3): 7.5, 7.7; C (m2): 10, 11; D (m2): 12, 13;
    DMSO (labelled "DMSO"): 2.
    """
    wells = [
        ("A", "m1", "s0", 0.0),
        ("A", "m1", "s0", 1.0),
        ("B", "m1", "s0", 3.0),
        ("B", "m1", "s0", 4.0),
        ("F", "m1", "s1", 8.5),
        ("F", "m1", "s1", 9.0),
        ("E", "m3", "s1", 7.5),
        ("E", "m3", "s1", 7.7),
        ("C", "m2", "s1", 10.0),
        ("C", "m2", "s1", 11.0),
        ("D", "m2", "s1", 12.0),
        ("D", "m2", "s1", 13.0),
        (schema.DMSO_JCP2022, "DMSO", "s0", 2.0),
    ]
    radians = np.deg2rad([angle for *_, angle in wells])
    return pd.DataFrame(
        {
            schema.SOURCE: [source for _, _, source, _ in wells],
            schema.WELL: [f"A{i:02d}" for i in range(len(wells))],
            schema.JCP2022: [compound for compound, *_ in wells],
            schema.MOA: [moa for _, moa, *_ in wells],
            schema.IS_CONTROL: [compound == schema.DMSO_JCP2022 for compound, *_ in wells],
            "emb_0000": np.cos(radians),
            "emb_0001": np.sin(radians),
        }
    )


def test_retrieve_mechanism_hits_other_compounds_of_the_same_moa_only():
    table = _mechanism_table()
    hits = retrieve_mechanism(
        table, ["emb_0000", "emb_0001"], annotation_column=schema.MOA, exclude_same=(), ks=[1, 2]
    )
    assert schema.DMSO_JCP2022 not in set(hits[schema.JCP2022])  # DMSO never a query
    by_compound = hits.groupby(schema.JCP2022)
    # A's nearest other compound is B (m1): a hit, though A's own replicate is nearer still
    assert by_compound["hit_at_1"].all()["A"]
    assert (by_compound["n_eligible_replicates"].first()[["A", "B", "F"]] == 4).all()
    # F at 9 degrees: nearest other compound is C at 10 (m2), then E at 7.7 (m3): no m1 in its top 2
    assert not hits.loc[hits[schema.WELL] == "A05", "hit_at_2"].item()
    # E is the only m3 compound: its own replicate is never a positive
    assert (by_compound["n_eligible_replicates"].first()["E"] == 0) and not by_compound["hit_at_2"].any()["E"]
    # D's nearest other compound is C (m2); C at 10 degrees has F (m1) at 9 nearer than D at 12
    assert by_compound["hit_at_1"].all()["D"]
    assert not hits.loc[hits[schema.WELL] == "A08", "hit_at_1"].item()


def test_retrieve_mechanism_not_same_source_drops_candidates_of_the_query_source():
    table = _mechanism_table()
    hits = retrieve_mechanism(
        table, ["emb_0000", "emb_0001"], annotation_column=schema.MOA, exclude_same=[schema.SOURCE], ks=[1, 2]
    )
    a = hits.loc[hits[schema.JCP2022] == "A"]
    # from source s0, A sees only s1 wells: E (7.5, m3) is nearest, then E again, then F (8.5, m1)
    assert (a["n_eligible_replicates"] == 2).all()
    assert not a["hit_at_1"].any() and not a["hit_at_2"].any()
    assert (hits.loc[hits[schema.JCP2022] == "F", "n_eligible_replicates"] == 4).all()  # A and B, on s0


def _ranked_oracle(profiles: pd.DataFrame, exclude_same, ks) -> pd.DataFrame:
    """Full ranking of every remaining candidate, similarity descending and row ascending among ties."""
    treated = profiles.loc[~profiles[schema.IS_CONTROL]].reset_index(drop=True)
    unit = unit_rows(treated[schema.feature_columns(treated.columns)].to_numpy(dtype=np.float64))
    similarity = unit @ unit.T
    compounds = treated[schema.JCP2022].to_numpy()
    columns = [treated[c].to_numpy() for c in exclude_same]
    rows = []
    for i in range(len(treated)):
        keep = np.arange(len(treated)) != i
        for values in columns:
            keep &= values != values[i]
        candidates = np.flatnonzero(keep)
        ranked = candidates[np.lexsort((candidates, -similarity[i, candidates]))]
        is_rep = compounds[ranked] == compounds[i]
        rows.append(
            {
                "n_eligible_replicates": int(is_rep.sum()),
                **{f"hit_at_{k}": bool(is_rep[:k].any()) for k in ks},
            }
        )
    return pd.DataFrame(rows)


def _tied_profiles(make_profiles) -> pd.DataFrame:
    """Random profiles where many wells repeat another well's features exactly (ties of every kind)."""
    profiles = make_profiles(
        n_sources=2, n_batches=2, n_plates=2, n_compounds=6, n_dmso=2, signal=0.5, seed=7
    )
    features = schema.feature_columns(profiles.columns)
    rng = np.random.default_rng(1)
    treated = np.flatnonzero(~profiles[schema.IS_CONTROL].to_numpy())
    sources = rng.choice(treated, size=len(treated) // 2)
    targets = rng.choice(treated, size=len(treated) // 2)
    profiles.loc[profiles.index[targets], features] = profiles.loc[
        profiles.index[sources], features
    ].to_numpy()
    return profiles


@pytest.mark.parametrize("scenario", ["NR", "NSB", "NSS", "NSSL"])
def test_retrieve_replicates_ties_ranked_by_row_as_full_sort(make_profiles, scenario, monkeypatch):
    profiles = _tied_profiles(make_profiles)
    features = schema.feature_columns(profiles.columns)
    expected = _ranked_oracle(profiles, SCENARIOS[scenario], KS)
    hits = retrieve_replicates(profiles, features, exclude_same=SCENARIOS[scenario], ks=KS)
    monkeypatch.setattr(retrieval_module, "_BLOCK_CELLS", 64)  # several blocks
    blocked = retrieve_replicates(profiles, features, exclude_same=SCENARIOS[scenario], ks=KS)
    for table in (hits, blocked):
        np.testing.assert_array_equal(table["n_eligible_replicates"], expected["n_eligible_replicates"])
        for k in KS:
            np.testing.assert_array_equal(table[f"hit_at_{k}"], expected[f"hit_at_{k}"])


def test_retrieve_replicates_short_neighbour_list_counts_every_candidate(make_profiles, monkeypatch):
    # a list of 1 nearest row rarely settles a rank: the fallback over every candidate does
    profiles = make_profiles(n_sources=3, n_batches=2, n_plates=3, n_compounds=8, signal=0.7, seed=2)
    features = schema.feature_columns(profiles.columns)
    levels = {"NR": (), "NSB": (schema.BATCH,), "NSS": (schema.SOURCE,)}
    monkeypatch.setattr(retrieval_module, "_list_length", lambda n, k_max: 1)
    tables = retrieve_replicates_at_levels(profiles, features, levels=levels, ks=KS)
    for name, exclude_same in levels.items():
        expected = _ranked_oracle(profiles, exclude_same, KS)
        for k in KS:
            np.testing.assert_array_equal(tables[name][f"hit_at_{k}"], expected[f"hit_at_{k}"])


def test_retrieve_replicates_hnsw_agrees_with_exact(make_profiles):
    profiles = make_profiles(n_sources=3, n_batches=2, n_plates=3, n_compounds=8, signal=0.7, seed=4)
    features = schema.feature_columns(profiles.columns)
    hnsw = SMALL_HNSW
    for exclude_same in ((), (schema.BATCH,), (schema.SOURCE,)):
        exact = retrieve_replicates(profiles, features, exclude_same=exclude_same, ks=KS)
        approximate = retrieve_replicates(profiles, features, exclude_same=exclude_same, ks=KS, search=hnsw)
        pd.testing.assert_frame_equal(exact, approximate)  # a graph over 100 wells is exhaustive


def test_retrieve_replicates_hnsw_filtered_search_settles_short_lists(make_profiles, monkeypatch):
    # with a 1-row shared list nearly every rank comes from the per-group filtered HNSW search
    profiles = make_profiles(n_sources=3, n_batches=2, n_plates=3, n_compounds=8, signal=0.7, seed=4)
    features = schema.feature_columns(profiles.columns)
    levels = {"NR": (), "NSB": (schema.BATCH,), "NSSL": (schema.SOURCE, schema.WELL)}
    hnsw = SMALL_HNSW
    exact = retrieve_replicates_at_levels(profiles, features, levels=levels, ks=KS)
    monkeypatch.setattr(retrieval_module, "_list_length", lambda n, k_max: 1)
    approximate = retrieve_replicates_at_levels(profiles, features, levels=levels, ks=KS, search=hnsw)
    for name in levels:
        pd.testing.assert_frame_equal(exact[name], approximate[name])


def _projected(candidates: int, dims: int = 3) -> NeighbourSearchConfig:
    return NeighbourSearchConfig(
        mode="projected",
        approximate_min_wells=2,
        projection_dims=dims,
        projection_candidates=candidates,
        hnsw_m=16,
        hnsw_ef_construction=64,
        hnsw_ef_search=64,
    )


@pytest.mark.parametrize(
    ("candidates", "dims"),
    [
        (500, 3),  # every well a candidate: the projection only orders them, the exact re-rank decides
        (2, 6),  # the full dimension (no projection error), a 2-row shared list: nearly every rank comes
        # from the restricted search of the query's exclusion group
    ],
)
def test_retrieve_replicates_projected_equals_exact_when_the_search_is_exhaustive(
    make_profiles, candidates, dims
):
    profiles = make_profiles(n_sources=3, n_batches=2, n_plates=3, n_compounds=8, signal=0.7, seed=4)
    features = schema.feature_columns(profiles.columns)
    levels = {"NR": (), "NSB": (schema.BATCH,), "NSS": (schema.SOURCE,), "NSSL": (schema.SOURCE, schema.WELL)}
    exact = retrieve_replicates_at_levels(profiles, features, levels=levels, ks=KS)
    search = _projected(candidates, dims=dims)
    projected = retrieve_replicates_at_levels(profiles, features, levels=levels, ks=KS, search=search)
    for name in levels:
        pd.testing.assert_frame_equal(exact[name], projected[name])


def test_retrieve_replicates_projected_settles_misses_by_rows_near_the_query(
    make_profiles, caplog, monkeypatch
):
    # a 1-row shared list settles few ranks: most misses are shown by k_max rows of the rough search
    # that rank before the best replicate (exact evidence), the rest by the restricted search; the
    # result is that of exact search
    profiles = make_profiles(n_sources=3, n_batches=2, n_plates=3, n_compounds=8, signal=0.3, seed=6)
    features = schema.feature_columns(profiles.columns)
    levels = {"NR": (), "NSB": (schema.BATCH,), "NSS": (schema.SOURCE,)}
    exact = retrieve_replicates_at_levels(profiles, features, levels=levels, ks=KS)
    monkeypatch.setattr(retrieval_module, "_list_length", lambda n, k_max: 1)
    search = _projected(1, 6)
    with caplog.at_level(logging.INFO, logger=retrieval_module.__name__):
        projected = retrieve_replicates_at_levels(profiles, features, levels=levels, ks=KS, search=search)
    for name in levels:
        pd.testing.assert_frame_equal(exact[name], projected[name])
    messages = [r.getMessage() for r in caplog.records]
    proven = [int(m.group(1)) for text in messages if (m := re.search(r"(\d+) shown missed", text))]
    assert len(proven) == len(levels) and sum(proven) > 0


def test_retrieve_replicates_projected_nss_never_counts_same_source_candidates(make_profiles):
    # strong source offsets: every query's nearest wells are of its own source; a search that let one of
    # them through at NSS would rank it before the replicate. A short candidate list (8 of 144 wells) in
    # the full dimension (6: no projection error) must still find the other sources' wells, from the
    # search restricted to them.
    profiles = make_profiles(n_sources=3, n_batches=2, n_plates=3, n_compounds=8, signal=1.0, seed=5)
    features = schema.feature_columns(profiles.columns)
    offset = {
        s: np.random.default_rng(i).normal(size=len(features)) * 5
        for i, s in enumerate(["source_0", "source_1", "source_2"])
    }
    profiles[features] += np.stack(profiles[schema.SOURCE].map(offset).to_list())
    expected = _brute_force(profiles, (schema.SOURCE,), KS)
    hits = retrieve_replicates(
        profiles, features, exclude_same=(schema.SOURCE,), ks=KS, search=_projected(8, dims=6)
    )
    np.testing.assert_array_equal(hits["n_eligible_replicates"], expected["n_eligible_replicates"])
    for k in KS:
        np.testing.assert_array_equal(hits[f"hit_at_{k}"], expected[f"hit_at_{k}"])
