import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.errors import InvalidConfigError, InvalidFeaturesError, InvalidInputError, MissingColumnsError
from micon.evaluation import aggregate_to_wells
from tests.parameters import parameter

DIM = 3


def _aggregate(crops: pd.DataFrame, **overrides: object) -> pd.DataFrame:
    """Aggregate with the reporting parameters, ``overrides`` replaced."""
    return aggregate_to_wells(crops, **{**parameter("reporting.aggregation"), **overrides})


@pytest.fixture
def crops() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    wells = [
        ("s1", "b1", "p1", "A01", "JCP_A", False),
        ("s1", "b1", "p1", "A02", schema.DMSO_JCP2022, True),
        ("s2", "b2", "p1", "A01", "JCP_B", False),
    ]  # same plate and well names in another source
    sizes = [3, 2, 4]
    rows = []
    crop_id = 0
    for (source, batch, plate, well, jcp, control), size in zip(wells, sizes, strict=True):
        for i in range(size):
            rows.append(
                {
                    schema.SOURCE: source,
                    schema.BATCH: batch,
                    schema.PLATE: plate,
                    schema.PLATE_TYPE: "COMPOUND",
                    schema.WELL: well,
                    schema.SITE: str(i % 2 + 1),
                    schema.JCP2022: jcp,
                    schema.STANDARD_SMILES: "C" if not control else schema.DMSO_SMILES,
                    schema.STANDARD_INCHIKEY: f"KEY-{jcp}",
                    schema.IS_CONTROL: control,
                    schema.SPLIT: "test",
                    schema.CROP_ID: crop_id,
                    schema.CELL_X: float(rng.uniform(0, 100)),
                    schema.CELL_Y: float(rng.uniform(0, 100)),
                }
            )
            crop_id += 1
    table = pd.DataFrame(rows)
    feats = pd.DataFrame(
        rng.normal(size=(len(table), DIM)).astype(np.float32), columns=schema.embedding_columns(DIM)
    )
    return pd.concat([table, feats], axis=1)


@pytest.mark.parametrize("operation", ["mean", "median"])
def test_aggregate_to_wells_features_match_groupby(crops, operation):
    wells = _aggregate(crops, operation=operation, via_sites=False)
    features = schema.embedding_columns(DIM)
    expected = (
        crops.groupby(list(schema.WELL_KEY))[features]
        .agg(operation)
        .reset_index()
        .sort_values(list(schema.WELL_KEY))
        .reset_index(drop=True)
    )
    assert len(wells) == 3
    pd.testing.assert_frame_equal(wells[list(schema.WELL_KEY)], expected[list(schema.WELL_KEY)])
    np.testing.assert_allclose(wells[features].to_numpy(), expected[features].to_numpy(), rtol=1e-6)


def test_aggregate_to_wells_cell_count_counts_crops(crops):
    wells = _aggregate(crops)
    counts = dict(
        zip(zip(wells[schema.SOURCE], wells[schema.WELL], strict=True), wells[schema.CELL_COUNT], strict=True)
    )
    assert counts == {("s1", "A01"): 3, ("s1", "A02"): 2, ("s2", "A01"): 4}
    assert wells[schema.CELL_COUNT].dtype == np.int64


def test_aggregate_to_wells_metadata_well_level_kept_per_crop_dropped(crops):
    crops = crops.assign(Metadata_Varying=np.arange(len(crops)).astype(str))
    wells = _aggregate(crops)
    expected_metadata = [
        schema.SOURCE,
        schema.BATCH,
        schema.PLATE,
        schema.PLATE_TYPE,
        schema.WELL,
        schema.JCP2022,
        schema.STANDARD_SMILES,
        schema.STANDARD_INCHIKEY,
        schema.IS_CONTROL,
        schema.SPLIT,
    ]
    assert list(wells.columns) == [*expected_metadata, schema.CELL_COUNT, *schema.embedding_columns(DIM)]
    assert wells[schema.IS_CONTROL].dtype == bool
    assert wells[schema.IS_CONTROL].tolist() == [False, True, False]


def test_aggregate_to_wells_float32_input_float32_output(crops):
    wells = _aggregate(crops)
    assert all(wells[c].dtype == np.float32 for c in schema.embedding_columns(DIM))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_aggregate_to_wells_nonfinite_feature_raises_naming_column_and_well(crops, bad):
    crops.loc[4, "emb_0001"] = bad  # the 5th crop lies in well s1/p1/A02
    with pytest.raises(InvalidFeaturesError, match=r"emb_0001.*Well=A02"):
        _aggregate(crops)


def test_aggregate_to_wells_unknown_operation_raises(crops):
    with pytest.raises(InvalidConfigError, match="max"):
        _aggregate(crops, operation="max")


def test_aggregate_to_wells_empty_input_raises(crops):
    with pytest.raises(InvalidInputError, match="empty"):
        _aggregate(crops.iloc[:0])


def test_aggregate_to_wells_missing_well_column_raises(crops):
    with pytest.raises(MissingColumnsError, match=schema.WELL):
        _aggregate(crops.drop(columns=[schema.WELL]))


def test_aggregate_to_wells_no_features_raises(crops):
    with pytest.raises(InvalidInputError, match="no feature"):
        _aggregate(crops.drop(columns=schema.embedding_columns(DIM)))


def test_aggregate_to_wells_missing_well_key_value_raises(crops):
    crops[schema.PLATE] = crops[schema.PLATE].astype(object)
    crops.loc[0, schema.PLATE] = None
    with pytest.raises(InvalidInputError, match=schema.PLATE):
        _aggregate(crops)


@pytest.mark.parametrize("operation", ["mean", "median"])
def test_aggregate_to_wells_via_sites_weighs_sites_equally(crops, operation):
    wells = _aggregate(crops, operation=operation, via_sites=True)
    features = schema.feature_columns(crops.columns)
    reduce = np.mean if operation == "mean" else np.median
    for _, well in wells.iterrows():
        rows = crops.loc[
            (crops[schema.SOURCE] == well[schema.SOURCE])
            & (crops[schema.PLATE] == well[schema.PLATE])
            & (crops[schema.WELL] == well[schema.WELL])
        ]
        site_profiles = [reduce(site[features].to_numpy(), axis=0) for _, site in rows.groupby(schema.SITE)]
        np.testing.assert_allclose(
            well[features].to_numpy(dtype=float), reduce(site_profiles, axis=0), rtol=1e-6
        )
        assert well[schema.CELL_COUNT] == len(rows)  # the cell count still counts crops


def test_aggregate_to_wells_via_sites_differs_from_direct_when_sites_unequal(crops):
    direct = _aggregate(crops, via_sites=False)
    via_sites = _aggregate(crops, via_sites=True)
    features = schema.feature_columns(crops.columns)
    # the first well has 3 crops on 2 sites (2 + 1): site weighting changes its mean
    assert not np.allclose(
        direct.loc[0, features].to_numpy(float), via_sites.loc[0, features].to_numpy(float)
    )
    pd.testing.assert_frame_equal(
        direct[schema.metadata_columns(direct.columns)], via_sites[schema.metadata_columns(via_sites.columns)]
    )


def test_aggregate_to_wells_via_sites_without_site_column_raises(crops):
    with pytest.raises(MissingColumnsError, match=schema.SITE):
        _aggregate(crops.drop(columns=[schema.SITE]), via_sites=True)


def _truth(crops: pd.DataFrame) -> pd.DataFrame:
    """A reference table for the fixture's wells plus one well without crops."""
    wells = crops.drop_duplicates(list(schema.WELL_KEY))[[*schema.WELL_KEY, schema.JCP2022]]
    extra = pd.DataFrame([{schema.SOURCE: "s3", schema.PLATE: "p9", schema.WELL: "B02", schema.JCP2022: "X"}])
    truth = pd.concat([wells, extra], ignore_index=True)
    truth["truth_size"] = np.arange(len(truth), dtype=float)
    truth["truth_stress"] = -np.arange(len(truth), dtype=float)
    return truth


def test_reference_well_profiles_match_the_methods_wells_and_metadata(crops):
    from micon.evaluation import reference_well_profiles

    truth = _truth(crops)
    reference = reference_well_profiles(truth, crops.drop(columns=schema.embedding_columns(DIM)))
    method = _aggregate(crops)
    metadata = schema.metadata_columns(method.columns)
    # The same wells, in the same order, with the same metadata (the well without crops is not scored).
    pd.testing.assert_frame_equal(reference[metadata], method[metadata])
    assert schema.feature_columns(reference.columns) == ["truth_size", "truth_stress"]
    by_well = truth.set_index(list(schema.WELL_KEY))["truth_size"]
    expected = [by_well[tuple(k)] for k in reference[list(schema.WELL_KEY)].itertuples(index=False)]
    np.testing.assert_array_equal(reference["truth_size"], expected)


def test_reference_well_profiles_refuse_a_missing_well_or_another_compound(crops):
    from micon.evaluation import reference_well_profiles

    index = crops.drop(columns=schema.embedding_columns(DIM))
    truth = _truth(crops)
    with pytest.raises(InvalidInputError, match="lacks 1 well"):
        reference_well_profiles(truth.iloc[1:], index)
    other = truth.copy()
    other.loc[0, schema.JCP2022] = "JCP_OTHER"
    with pytest.raises(InvalidInputError, match="another compound"):
        reference_well_profiles(other, index)
    with pytest.raises(InvalidInputError, match="repeats"):
        reference_well_profiles(pd.concat([truth, truth.iloc[:1]]), index)
    nan = truth.copy()
    nan.loc[0, "truth_size"] = np.nan
    with pytest.raises(InvalidFeaturesError):
        reference_well_profiles(nan, index)


def test_reference_well_profiles_score_only_feature_columns(crops):
    from micon.evaluation import reference_well_profiles

    truth = _truth(crops).assign(Metadata_CellsDrawn=7)  # a count kept as metadata is not a feature
    reference = reference_well_profiles(truth, crops.drop(columns=schema.embedding_columns(DIM)))
    assert schema.feature_columns(reference.columns) == ["truth_size", "truth_stress"]
    assert "Metadata_CellsDrawn" not in reference.columns
