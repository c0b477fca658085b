import hashlib

import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.errors import InvalidConfigError, InvalidInputError, MissingColumnsError, NoControlsError
from micon.training.sampler import DMSO_LABEL, TreatmentPairSampler


def _sampler(index: pd.DataFrame, **kwargs) -> TreatmentPairSampler:
    defaults = {"batch_rows": 8, "seed": 0, "steps_per_epoch": 5, "second_view": "reference"}
    return TreatmentPairSampler(index, **{**defaults, **kwargs})


def _rows(index: pd.DataFrame, ids: np.ndarray) -> pd.DataFrame:
    return index.set_index(schema.CROP_ID).loc[ids]


def test_treatment_pair_sampler_tiered_pairs_same_compound_different_wells(tiny_crop_index):
    sampler = _sampler(tiny_crop_index, second_view="tiered")
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
    [
        {"batch_rows": 0},
        {"rank": 2, "world_size": 2},
        {"splits": ("training",)},
        {"steps_per_epoch": 0},
        {"second_view": "furthest"},
    ],
)
def test_treatment_pair_sampler_bad_settings_raise(tiny_crop_index, kwargs):
    with pytest.raises(InvalidConfigError):
        _sampler(tiny_crop_index, **kwargs)


def _hand_index(wells: list[tuple[str, str, str, str, str]], crops_per_well: int = 2) -> pd.DataFrame:
    """Return a crop index from (source, batch, plate, well, compound); compound "DMSO" is a control."""
    rows = [
        {
            schema.SOURCE: s,
            schema.BATCH: b,
            schema.PLATE: p,
            schema.WELL: w,
            schema.SITE: str(k),  # one crop per site (image)
            schema.STANDARD_SMILES: schema.DMSO_SMILES if c == "DMSO" else c,
            schema.IS_CONTROL: c == "DMSO",
            schema.SPLIT: schema.SPLIT_TRAIN,
        }
        for s, b, p, w, c in wells
        for k in range(crops_per_well)
    ]
    index = pd.DataFrame(rows)
    index.insert(0, schema.CROP_ID, np.arange(len(index), dtype=np.int64))
    return index


def test_treatment_pair_sampler_second_view_from_another_source_when_possible(tiny_crop_index):
    # Every compound has train crops in both sources, so the top tier always applies.
    for batch in _sampler(tiny_crop_index, steps_per_epoch=10, second_view="tiered"):
        t1, t2 = _rows(tiny_crop_index, batch["treated_1"]), _rows(tiny_crop_index, batch["treated_2"])
        assert (t1[schema.SOURCE].to_numpy() != t2[schema.SOURCE].to_numpy()).all()


@pytest.mark.parametrize(
    ("wells", "differs"),
    [
        # Another source exists for C only from s1/b1/p1: C in s2 too, and in another batch of s1.
        (
            [("s1", "b1", "p1", "A01", "C"), ("s1", "b2", "p2", "A01", "C"), ("s2", "b3", "p3", "A01", "C")],
            schema.SOURCE,
        ),
        # One source: another batch beats another plate of the same batch.
        (
            [("s1", "b1", "p1", "A01", "C"), ("s1", "b1", "p2", "A01", "C"), ("s1", "b2", "p3", "A01", "C")],
            schema.BATCH,
        ),
        # One batch: another plate beats another well of the same plate.
        (
            [("s1", "b1", "p1", "A01", "C"), ("s1", "b1", "p1", "A02", "C"), ("s1", "b1", "p2", "A01", "C")],
            schema.PLATE,
        ),
        # One plate: another well.
        ([("s1", "b1", "p1", "A01", "C"), ("s1", "b1", "p1", "A02", "C")], schema.WELL),
    ],
)
def test_treatment_pair_sampler_tiers_source_then_batch_then_plate_then_well(wells, differs):
    dmso = sorted({(s, b, p) for s, b, p, _, _ in wells})
    index = _hand_index(wells + [(s, b, p, "P24", "DMSO") for s, b, p in dmso])
    sampler = _sampler(index, batch_rows=16, steps_per_epoch=10, second_view="tiered")
    first = index[schema.CROP_ID].iloc[0]
    seen = 0
    for batch in sampler:
        for i in np.flatnonzero(batch["treated_1"] == first):
            seen += 1
            t1 = index.set_index(schema.CROP_ID).loc[first]
            t2 = index.set_index(schema.CROP_ID).loc[batch["treated_2"][i]]
            assert t1[differs] != t2[differs]
            assert t1[schema.PLATE] != t2[schema.PLATE] or t1[schema.WELL] != t2[schema.WELL]
    assert seen > 0


def test_treatment_pair_sampler_dmso_control_labels_are_minus_one(tiny_crop_index):
    for batch in _sampler(tiny_crop_index):
        assert batch["control_labels_1"].dtype == np.int64
        assert (batch["control_labels_1"] == DMSO_LABEL).all() and (
            batch["control_labels_2"] == DMSO_LABEL
        ).all()


def test_treatment_pair_sampler_same_plate_controls_other_compound_of_plate(tiny_crop_index):
    treated_only = tiny_crop_index[~tiny_crop_index[schema.IS_CONTROL]]
    sampler = _sampler(treated_only, controls="same_plate", batch_rows=16, steps_per_epoch=10)
    for batch in sampler:
        for view in ("1", "2"):
            treated = _rows(treated_only, batch[f"treated_{view}"])
            control = _rows(treated_only, batch[f"control_{view}"])
            assert (control[schema.PLATE].to_numpy() == treated[schema.PLATE].to_numpy()).all()
            assert (
                control[schema.STANDARD_SMILES].to_numpy() != treated[schema.STANDARD_SMILES].to_numpy()
            ).all()
            names = np.array(sampler.compounds)[batch[f"control_labels_{view}"]]
            assert (names == control[schema.STANDARD_SMILES].to_numpy()).all()


def test_treatment_pair_sampler_same_plate_includes_dmso_labelled_minus_one(tiny_crop_index):
    labels = np.concatenate(
        [b["control_labels_1"] for b in _sampler(tiny_crop_index, controls="same_plate", steps_per_epoch=20)]
    )
    assert (labels == DMSO_LABEL).any() and (labels >= 0).any()


def test_treatment_pair_sampler_same_plate_single_compound_plate_falls_back_to_batch():
    wells = [("s1", "b1", "p1", "A01", "C"), ("s1", "b1", "p1", "A02", "C"), ("s1", "b1", "p2", "A01", "C")]
    wells += [("s1", "b1", "p2", "A02", "D"), ("s1", "b1", "p2", "A03", "D")]
    index = _hand_index(wells)
    for batch in _sampler(index, controls="same_plate", steps_per_epoch=10):
        control = _rows(index, batch["control_1"])
        treated = _rows(index, batch["treated_1"])
        is_c = treated[schema.STANDARD_SMILES].to_numpy() == "C"
        # C's controls are D crops, which lie only on p2; D's controls are C crops, on p2 as well.
        assert (control[schema.STANDARD_SMILES].to_numpy()[is_c] == "D").all()
        assert (control[schema.PLATE].to_numpy() == "p2").all()


def test_treatment_pair_sampler_same_plate_no_other_compound_raises_naming_plate():
    index = _hand_index([("s1", "b1", "p1", "A01", "C"), ("s1", "b1", "p1", "A02", "C")])
    with pytest.raises(NoControlsError, match="'p1'.*other than 'C'"):
        _sampler(index, controls="same_plate")


def test_treatment_pair_sampler_same_plate_same_seed_same_batches(tiny_crop_index):
    runs = [list(_sampler(tiny_crop_index, controls="same_plate", seed=5)) for _ in range(2)]
    for a, b in zip(*runs, strict=True):
        assert all(np.array_equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("world_size", [2, 4])
def test_treatment_pair_sampler_union_of_ranks_independent_of_world_size(tiny_crop_index, world_size):
    rows = 8 // world_size
    ranks = [
        _sampler(tiny_crop_index, batch_rows=rows, rank=r, world_size=world_size, controls="same_plate")
        for r in range(world_size)
    ]
    single = _sampler(tiny_crop_index, batch_rows=8, controls="same_plate")
    for step in range(3):
        parts = [s.sample_batch(step) for s in ranks]
        whole = single.sample_batch(step)
        for key, value in whole.items():
            assert np.array_equal(np.concatenate([p[key] for p in parts]), value)
        firsts = [set(p["treated_1"]) for p in parts]
        assert sum(len(f) for f in firsts) == len(set().union(*firsts))


def test_treatment_pair_sampler_resume_at_yields_remaining_batches_once(tiny_crop_index):
    sampler = _sampler(tiny_crop_index, steps_per_epoch=5)
    sampler.resume_at(epoch=1, step=3)
    resumed = list(sampler)
    assert len(resumed) == 2
    for step, batch in zip((3, 4), resumed, strict=True):
        expected = sampler.sample_batch(step, epoch=1)
        assert all(np.array_equal(batch[k], expected[k]) for k in expected)
    assert len(list(sampler)) == 5  # later iterations start at step 0


@pytest.mark.parametrize(("epoch", "step"), [(-1, 0), (0, 6)])
def test_treatment_pair_sampler_resume_at_out_of_range_raises(tiny_crop_index, epoch, step):
    with pytest.raises(InvalidConfigError, match="resume"):
        _sampler(tiny_crop_index, steps_per_epoch=5).resume_at(epoch=epoch, step=step)


def test_treatment_pair_sampler_unknown_controls_raises(tiny_crop_index):
    with pytest.raises(InvalidConfigError, match="controls"):
        _sampler(tiny_crop_index, controls="plate")


def test_treatment_pair_sampler_reference_second_view_is_any_other_image_of_the_compound():
    # As the MICON reference code: any other image of the compound, whatever its well, plate, batch or
    # source; never the first view's own image. Two crops per site here, so a crop's site-mate exists.
    wells = [("s1", "b1", "p1", "A01", "C"), ("s1", "b1", "p1", "A02", "C"), ("s2", "b2", "p2", "A01", "C")]
    dmso = [("s1", "b1", "p1", "P24", "DMSO"), ("s2", "b2", "p2", "P24", "DMSO")]
    index = _hand_index(wells + dmso, crops_per_well=2)
    index = pd.concat([index, index.assign(**{schema.CROP_ID: index[schema.CROP_ID] + len(index)})])
    index = index.reset_index(drop=True)  # each (well, site) now holds two crops: one image, two cells
    rows = index.set_index(schema.CROP_ID)
    first = index[schema.CROP_ID].iloc[0]
    image = [schema.SOURCE, schema.PLATE, schema.WELL, schema.SITE]
    seconds = []
    for batch in _sampler(index, batch_rows=16, steps_per_epoch=40):
        seconds += [batch["treated_2"][i] for i in np.flatnonzero(batch["treated_1"] == first)]
    t2 = rows.loc[seconds]
    assert len(t2) > 30
    assert not (t2[image] == rows.loc[first, image]).all(axis=1).any()  # never the same image
    # any other image: the same well (other site), another well of the plate and another source all occur
    same_well = (t2[schema.PLATE] == rows.loc[first, schema.PLATE]) & (
        t2[schema.WELL] == rows.loc[first, schema.WELL]
    )
    assert (
        same_well.any()
        and (~same_well & (t2[schema.SOURCE] == "s1")).any()
        and (t2[schema.SOURCE] == "s2").any()
    )


def test_treatment_pair_sampler_tiered_second_view_takes_the_most_different_tier():
    wells = [("s1", "b1", "p1", "A01", "C"), ("s1", "b1", "p1", "A02", "C"), ("s2", "b2", "p2", "A01", "C")]
    dmso = [("s1", "b1", "p1", "P24", "DMSO"), ("s2", "b2", "p2", "P24", "DMSO")]
    index = _hand_index(wells + dmso, crops_per_well=2)
    rows = index.set_index(schema.CROP_ID)
    for batch in _sampler(index, batch_rows=16, steps_per_epoch=10, second_view="tiered"):
        t1, t2 = rows.loc[batch["treated_1"]], rows.loc[batch["treated_2"]]
        assert (t1[schema.SOURCE].to_numpy() != t2[schema.SOURCE].to_numpy()).all()


def test_treatment_pair_sampler_reference_and_tiered_share_the_first_view(tiny_crop_index):
    reference = _sampler(tiny_crop_index).sample_batch(0)
    tiered = _sampler(tiny_crop_index, second_view="tiered").sample_batch(0)
    assert np.array_equal(reference["treated_1"], tiered["treated_1"])


def test_treatment_pair_sampler_crops_are_any_training_crop_dmso_included(tiny_crop_index):
    sampler = _sampler(tiny_crop_index, steps_per_epoch=10)
    train = tiny_crop_index[tiny_crop_index[schema.SPLIT] == schema.SPLIT_TRAIN]
    drawn = np.concatenate([batch["crops"] for batch in sampler])
    assert drawn.size == 10 * 2 * 8
    assert set(drawn) <= set(train[schema.CROP_ID])
    rows = tiny_crop_index.set_index(schema.CROP_ID).loc[drawn]
    assert rows[schema.IS_CONTROL].any() and (~rows[schema.IS_CONTROL]).any()


def _fallback_screen() -> pd.DataFrame:
    """Return a seeded 440-crop table with repeats, plates without DMSO and a single-well compound."""
    rng = np.random.default_rng(0)
    rows = []
    for s in range(2):
        for b in range(2):
            for p in range(3):
                for w in range(12):
                    compound = int(rng.integers(0, 15))
                    control = w < 2 and not (p == 2 and b == 1)  # plates s*b1p2 lack DMSO: fallback
                    split = schema.SPLIT_TEST if (s, b) == (1, 1) else schema.SPLIT_TRAIN
                    for site in range(int(rng.integers(1, 3))):
                        for _ in range(int(rng.integers(1, 4))):
                            rows.append(
                                {
                                    schema.SOURCE: f"s{s}",
                                    schema.BATCH: f"b{b}",
                                    schema.PLATE: f"s{s}b{b}p{p}",
                                    schema.WELL: f"W{w}",
                                    schema.SITE: str(site),
                                    schema.STANDARD_SMILES: "C" if control else "C" * (compound + 2) + "O",
                                    schema.IS_CONTROL: control,
                                    schema.SPLIT: split,
                                }
                            )
    single_well = {schema.WELL: "W99", schema.STANDARD_SMILES: "C" * 21 + "N", schema.IS_CONTROL: False}
    rows.append({**rows[-1], **single_well})
    table = pd.DataFrame(rows)
    table.insert(0, schema.CROP_ID, np.arange(len(table), dtype=np.int64))
    return table


def test_treatment_pair_sampler_vectorised_setup_draws_the_batches_of_the_looped_one():
    # The digest of every batch drawn by the sampler before its set-up was vectorised (commit 6289dfe,
    # per-compound and per-(plate, compound) Python loops), over both control modes, both second views,
    # one and two ranks: the vectorised set-up must draw exactly the same crops.
    table = _fallback_screen()
    digest = hashlib.sha256()
    for controls in ("dmso", "same_plate"):
        for view in ("reference", "tiered"):
            for world_size, rank in ((1, 0), (2, 1)):
                sampler = _sampler(
                    table,
                    batch_rows=16,
                    splits=("train", "test"),
                    seed=3,
                    rank=rank,
                    world_size=world_size,
                    steps_per_epoch=4,
                    controls=controls,
                    second_view=view,
                )
                digest.update(repr(sampler.compounds).encode())
                for batch in sampler:
                    for key in sorted(batch):
                        digest.update(key.encode())
                        digest.update(np.ascontiguousarray(batch[key], dtype=np.int64).tobytes())
    assert len(table) == 440
    assert digest.hexdigest() == "18fccda982e9941d51d0ef8c84304f6e0c62c688c4acf35eaf9bd24a554175b5"
