import pandas as pd
import pytest

from micon import schema
from micon.errors import InvalidConfigError, InvalidInputError, MissingColumnsError
from micon.metadata import SplitConfig, assign_splits, join_well_metadata, split_summary
from micon.sources.jump.cpg0016 import JUMP_PROFILE
from tests.parameters import make_config


@pytest.fixture
def well_metadata(plates, wells, compounds) -> pd.DataFrame:
    return join_well_metadata(plates, wells, compounds, profile=JUMP_PROFILE)[0]


def test_assign_splits_same_seed_gives_same_splits(well_metadata):
    config = make_config(SplitConfig, "data_engineering.splits", seed=3)
    first = assign_splits(well_metadata, config)
    second = assign_splits(well_metadata.sample(frac=1.0, random_state=0), config).loc[first.index]
    pd.testing.assert_series_equal(first[schema.SPLIT], second[schema.SPLIT])


def test_assign_splits_different_seeds_change_choices(well_metadata):
    splits = {
        tuple(
            assign_splits(well_metadata, make_config(SplitConfig, "data_engineering.splits", seed=s))[
                schema.SPLIT
            ]
        )
        for s in range(6)
    }
    assert len(splits) > 1


def test_assign_splits_labels_are_known_and_input_untouched(well_metadata):
    before = well_metadata.copy()
    result = assign_splits(
        well_metadata, make_config(SplitConfig, "data_engineering.splits", val_batches_per_source=1)
    )
    assert set(result[schema.SPLIT]) <= set(schema.SPLITS)
    assert set(result[schema.SPLIT]) == set(schema.SPLITS)
    pd.testing.assert_frame_equal(well_metadata, before)
    pd.testing.assert_frame_equal(result.drop(columns=schema.SPLIT), before)


def test_assign_splits_no_batch_in_two_of_train_val_test(well_metadata):
    result = assign_splits(
        well_metadata,
        make_config(
            SplitConfig,
            "data_engineering.splits",
            seed=1,
            ood_compound_fraction=0.0,
            val_batches_per_source=1,
        ),
    )
    in_domain = result[result[schema.SPLIT].isin([schema.SPLIT_TRAIN, schema.SPLIT_VAL, schema.SPLIT_TEST])]
    assert (in_domain.groupby(schema.BATCH)[schema.SPLIT].nunique() == 1).all()
    per_source = in_domain.groupby([schema.SOURCE, schema.SPLIT])[schema.BATCH].nunique().unstack()
    assert (per_source[schema.SPLIT_TEST] == 1).all()
    assert (per_source[schema.SPLIT_VAL] == 1).all()
    assert (per_source[schema.SPLIT_TRAIN] == 2).all()


def test_assign_splits_ood_source_covers_exactly_held_out_sources(well_metadata):
    result = assign_splits(
        well_metadata, make_config(SplitConfig, "data_engineering.splits", ood_sources=("source_1",))
    )
    is_ood = result[schema.SPLIT] == schema.SPLIT_OOD_SOURCE
    assert (is_ood == (result[schema.SOURCE] == "source_1")).all()


def test_assign_splits_drawn_ood_sources_count_matches_config(well_metadata):
    result = assign_splits(
        well_metadata, make_config(SplitConfig, "data_engineering.splits", n_ood_sources=2, seed=5)
    )
    assert result.loc[result[schema.SPLIT] == schema.SPLIT_OOD_SOURCE, schema.SOURCE].nunique() == 2
    none = assign_splits(well_metadata, make_config(SplitConfig, "data_engineering.splits", n_ood_sources=0))
    assert schema.SPLIT_OOD_SOURCE not in set(none[schema.SPLIT])


def test_assign_splits_dmso_never_ood_compound(well_metadata):
    for seed in range(5):
        result = assign_splits(
            well_metadata,
            make_config(SplitConfig, "data_engineering.splits", seed=seed, ood_compound_fraction=0.9),
        )
        dmso = result[result[schema.JCP2022] == schema.DMSO_JCP2022]
        assert schema.SPLIT_OOD_COMPOUND not in set(dmso[schema.SPLIT])


def test_assign_splits_held_out_compounds_have_no_in_domain_wells(well_metadata):
    result = assign_splits(
        well_metadata, make_config(SplitConfig, "data_engineering.splits", seed=2, ood_compound_fraction=0.25)
    )
    held_out = set(result.loc[result[schema.SPLIT] == schema.SPLIT_OOD_COMPOUND, schema.JCP2022])
    treated = set(
        result.loc[~result[schema.IS_CONTROL] & (result[schema.SPLIT] != "ood_source"), schema.JCP2022]
    )
    assert len(held_out) == round(0.25 * len(treated))
    in_domain = result[result[schema.SPLIT].isin([schema.SPLIT_TRAIN, schema.SPLIT_VAL, schema.SPLIT_TEST])]
    assert not held_out & set(in_domain[schema.JCP2022])


def test_assign_splits_explicit_ood_compounds_used(well_metadata):
    result = assign_splits(
        well_metadata, make_config(SplitConfig, "data_engineering.splits", ood_compounds=("JCP2022_000001",))
    )
    ood = result[result[schema.SPLIT] == schema.SPLIT_OOD_COMPOUND]
    assert set(ood[schema.JCP2022]) == {"JCP2022_000001"}


def test_assign_splits_too_few_batches_raises_naming_source(well_metadata):
    with pytest.raises(InvalidConfigError, match="source_0"):
        assign_splits(
            well_metadata,
            make_config(
                SplitConfig,
                "data_engineering.splits",
                ood_sources=("source_2",),
                test_batches_per_source=3,
                val_batches_per_source=1,
            ),
        )


def test_assign_splits_unknown_ood_source_raises(well_metadata):
    with pytest.raises(InvalidConfigError, match="source_7"):
        assign_splits(
            well_metadata, make_config(SplitConfig, "data_engineering.splits", ood_sources=("source_7",))
        )


def test_assign_splits_all_sources_held_out_raises(well_metadata):
    with pytest.raises(InvalidConfigError, match="no source to train"):
        assign_splits(well_metadata, make_config(SplitConfig, "data_engineering.splits", n_ood_sources=3))


def test_assign_splits_unknown_ood_compound_raises(well_metadata):
    with pytest.raises(InvalidConfigError, match="JCP2022_999999"):
        assign_splits(
            well_metadata,
            make_config(SplitConfig, "data_engineering.splits", ood_compounds=("JCP2022_999999",)),
        )


def test_assign_splits_missing_column_raises(well_metadata):
    with pytest.raises(MissingColumnsError, match=schema.BATCH):
        assign_splits(
            well_metadata.drop(columns=schema.BATCH), make_config(SplitConfig, "data_engineering.splits")
        )


def test_assign_splits_empty_table_raises(well_metadata):
    with pytest.raises(InvalidInputError, match="empty"):
        assign_splits(well_metadata.iloc[:0], make_config(SplitConfig, "data_engineering.splits"))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"seed": -1},
        {"n_ood_sources": -1},
        {"test_batches_per_source": 1.5},
        {"ood_compound_fraction": 1.0},
        {"ood_sources": ()},
        {"ood_sources": "source_0"},
        {"ood_sources": []},
        {"ood_compounds": (schema.DMSO_JCP2022,)},
    ],
)
def test_split_config_bad_value_raises(kwargs):
    with pytest.raises(InvalidConfigError, match=next(iter(kwargs))):
        make_config(SplitConfig, "data_engineering.splits", **kwargs)


def test_split_config_lists_from_parameters_files_become_tuples():
    config = make_config(
        SplitConfig, "data_engineering.splits", ood_sources=["source_0"], ood_compounds=["JCP2022_000001"]
    )
    assert config.ood_sources == ("source_0",) and config.ood_compounds == ("JCP2022_000001",)


def test_split_summary_counts_every_well_once(well_metadata):
    result = assign_splits(well_metadata, make_config(SplitConfig, "data_engineering.splits", seed=4))
    summary = split_summary(result)
    assert list(summary.columns) == [schema.SPLIT, schema.SOURCE, "n_wells", "n_dmso_wells", "n_compounds"]
    assert summary["n_wells"].sum() == len(result)
    assert summary["n_dmso_wells"].sum() == result[schema.IS_CONTROL].sum()
    order = [schema.SPLITS.index(s) for s in summary[schema.SPLIT]]
    assert order == sorted(order)
