import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.errors import InvalidConfigError, InvalidInputError, MissingColumnsError, NoControlsError
from micon.training.sampler import TreatmentPairSampler


def _sampler(index: pd.DataFrame, **kwargs) -> TreatmentPairSampler:
    defaults = {"batch_rows": 8, "seed": 0, "steps_per_epoch": 5}
    return TreatmentPairSampler(index, **{**defaults, **kwargs})


def _rows(index: pd.DataFrame, ids: np.ndarray) -> pd.DataFrame:
    return index.set_index(schema.CROP_ID).loc[ids]


def test_treatment_pair_sampler_pairs_same_compound_different_wells(tiny_crop_index):
    sampler = _sampler(tiny_crop_index)
    for batch in sampler:
        t1, t2 = _rows(tiny_crop_index, batch["treated_1"]), _rows(tiny_crop_index, batch["treated_2"])
        assert (t1[schema.STANDARD_SMILES].to_numpy() == t2[schema.STANDARD_SMILES].to_numpy()).all()
        assert (~t1[schema.IS_CONTROL]).all() and (~t2[schema.IS_CONTROL]).all()
        same_well = (t1[schema.PLATE].to_numpy() == t2[schema.PLATE].to_numpy()) & (
            t1[schema.WELL].to_numpy() == t2[schema.WELL].to_numpy()
        )
        assert not same_well.any()
        # Every compound has wells in another train batch, so the most different tier is always used.
        assert (
            t1[schema.BATCH].to_numpy() + t1[schema.SOURCE].to_numpy()
            != t2[schema.BATCH].to_numpy() + t2[schema.SOURCE].to_numpy()
        ).all()
        names = np.array(sampler.compounds)[batch["compound_index"]]
        assert (names == t1[schema.STANDARD_SMILES].to_numpy()).all()


def test_treatment_pair_sampler_controls_dmso_on_plate_of_treated(tiny_crop_index):
    for batch in _sampler(tiny_crop_index):
        for view in ("1", "2"):
            treated = _rows(tiny_crop_index, batch[f"treated_{view}"])
            control = _rows(tiny_crop_index, batch[f"control_{view}"])
            assert control[schema.IS_CONTROL].all()
            assert (control[schema.PLATE].to_numpy() == treated[schema.PLATE].to_numpy()).all()


def test_treatment_pair_sampler_never_yields_crops_outside_splits(tiny_crop_index):
    allowed = set(tiny_crop_index.loc[tiny_crop_index[schema.SPLIT] == schema.SPLIT_TRAIN, schema.CROP_ID])
    sampler = _sampler(tiny_crop_index, batch_rows=32, steps_per_epoch=20)
    drawn = {
        int(i)
        for batch in sampler
        for k in ("treated_1", "treated_2", "control_1", "control_2")
        for i in batch[k]
    }
    assert drawn <= allowed
    assert len(drawn) > len(allowed) // 2


def test_treatment_pair_sampler_same_seed_same_batches_other_seed_or_epoch_differs(tiny_crop_index):
    first = [b["treated_1"] for b in _sampler(tiny_crop_index, seed=3)]
    again = [b["treated_1"] for b in _sampler(tiny_crop_index, seed=3)]
    other = [b["treated_1"] for b in _sampler(tiny_crop_index, seed=4)]
    next_epoch = _sampler(tiny_crop_index, seed=3)
    next_epoch.set_epoch(1)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))
    assert not all(np.array_equal(a, b["treated_1"]) for a, b in zip(first, next_epoch, strict=True))


def test_treatment_pair_sampler_ranks_disjoint_and_union_is_single_process_batch(tiny_crop_index):
    ranks = [_sampler(tiny_crop_index, batch_rows=4, rank=r, world_size=2) for r in range(2)]
    single = _sampler(tiny_crop_index, batch_rows=8)
    for step in range(5):
        parts = [s.sample_batch(step) for s in ranks]
        assert not set(parts[0]["treated_1"]) & set(parts[1]["treated_1"])
        whole = single.sample_batch(step)
        for key, value in whole.items():
            assert np.array_equal(np.concatenate([p[key] for p in parts]), value)


def test_treatment_pair_sampler_plate_without_dmso_falls_back_to_batch(tiny_crop_index):
    plate = "source_1_batch_1_plate_1"
    index = tiny_crop_index[~((tiny_crop_index[schema.PLATE] == plate) & tiny_crop_index[schema.IS_CONTROL])]
    for batch in _sampler(index, steps_per_epoch=10):
        treated = _rows(index, batch["treated_1"])
        control = _rows(index, batch["control_1"])
        on_plate = treated[schema.PLATE].to_numpy() == plate
        assert (control[schema.BATCH].to_numpy()[on_plate] == "batch_1").all()
        assert (control[schema.SOURCE].to_numpy()[on_plate] == "source_1").all()


def test_treatment_pair_sampler_source_without_dmso_raises_naming_plate(tiny_crop_index):
    index = tiny_crop_index[
        ~((tiny_crop_index[schema.SOURCE] == "source_1") & tiny_crop_index[schema.IS_CONTROL])
    ]
    with pytest.raises(NoControlsError, match="source_1_batch_1_plate_1"):
        _sampler(index)


def test_treatment_pair_sampler_single_well_compounds_only_raises(tiny_crop_index):
    first_plate = tiny_crop_index[schema.PLATE] == "source_1_batch_1_plate_1"
    with pytest.raises(InvalidInputError, match="two wells"):
        _sampler(tiny_crop_index[first_plate])


def test_treatment_pair_sampler_missing_column_raises(tiny_crop_index):
    with pytest.raises(MissingColumnsError, match=schema.WELL):
        _sampler(tiny_crop_index.drop(columns=[schema.WELL]))


@pytest.mark.parametrize(
    "kwargs",
    [{"batch_rows": 0}, {"rank": 2, "world_size": 2}, {"splits": ("training",)}, {"steps_per_epoch": 0}],
)
def test_treatment_pair_sampler_bad_settings_raise(tiny_crop_index, kwargs):
    with pytest.raises(InvalidConfigError):
        _sampler(tiny_crop_index, **kwargs)
