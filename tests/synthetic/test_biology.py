from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator
from scipy import stats

from micon import schema
from micon.sources.synthetic import (
    CELL_COUNT_COLUMN,
    LATENT_VARIABLES,
    LIBRARY,
    ControlState,
    SyntheticScreen,
    Treatment,
    draw_cell_states,
    generate_screen,
    hill_response,
    treatment_of,
    truth_columns,
)
from micon.sources.synthetic.biology import REFERENCE_WEIGHTS, SUBPOPULATION_OFFSETS, subpopulation_weights
from micon.sources.synthetic.compounds import is_active

N_VARS = len(LATENT_VARIABLES)


def _draw(control: ControlState, treatment: Treatment, *, model: str, seed: int = 0, n: int = 20_000):
    return draw_cell_states(
        n,
        control,
        treatment,
        rng=np.random.default_rng(seed),
        cell_variability_sd=0.3,
        response_variability_log_sd=0.3,
        phenotype_strength=1.0,
        treatment_model=model,
    )


def _control(proliferation: float) -> ControlState:
    return ControlState(mean=np.zeros(N_VARS), weights=subpopulation_weights(proliferation), density=0.0)


def test_subpopulation_offsets_reference_mixture_is_zero_centred() -> None:
    np.testing.assert_allclose(np.asarray(REFERENCE_WEIGHTS) @ SUBPOPULATION_OFFSETS, 0.0, atol=1e-12)
    reference = _draw(_control(0.0), Treatment(program="none", magnitude=0.0, efficacy=0.0), model="additive")
    np.testing.assert_allclose(reference.latent.mean(axis=0), 0.0, atol=0.03)


def test_hill_response_below_threshold_exactly_zero_saturates_to_one() -> None:
    assert hill_response(10.0, 1000.0, hill_coefficient=1.0, threshold=0.1) == 0.0
    assert hill_response(10.0, 10.0, hill_coefficient=1.0, threshold=0.1) == pytest.approx(4 / 9)
    assert hill_response(10.0, 0.001, hill_coefficient=1.0, threshold=0.1) > 0.999


@pytest.mark.parametrize("model", ["state_dependent", "additive"])
def test_draw_cell_states_inactive_compound_exactly_dmso_cells(model: str) -> None:
    inactive = next(c for c in LIBRARY if c.name == "ibuprofen")
    treatment = Treatment(program="microtubule_destabilisation", magnitude=0.0, efficacy=1.0)
    dmso = _draw(_control(0.3), Treatment(program="none", magnitude=0.0, efficacy=0.0), model=model, n=500)
    for other in (treatment, Treatment(program=inactive.program, magnitude=0.0, efficacy=0.0)):
        drawn = _draw(_control(0.3), other, model=model, n=500)
        np.testing.assert_array_equal(drawn.latent, dmso.latent)
        assert not drawn.responder.any()


def test_draw_cell_states_responder_fraction_below_one() -> None:
    treatment = Treatment(program="microtubule_destabilisation", magnitude=1.0, efficacy=1.0)
    drawn = _draw(_control(0.0), treatment, model="state_dependent")
    assert 0.5 < drawn.responder.mean() < 0.95


def test_treatment_model_switches_state_dependence_between_cultures() -> None:
    """A mitotic arrest depends on proliferation under state_dependent, not under additive."""
    untreated = Treatment(program="none", magnitude=0.0, efficacy=0.0)
    arrest = Treatment(program="mitotic_arrest", magnitude=1.0, efficacy=1.0)
    effects = {}
    for model in ("state_dependent", "additive"):
        for name, proliferation in (("fast", 1.0), ("slow", -1.0)):
            control = _control(proliferation)
            shift = _draw(control, arrest, model=model).latent.mean(0) - _draw(
                control, untreated, model=model
            ).latent.mean(0)
            effects[(model, name)] = shift
    dna = LATENT_VARIABLES.index("dna_content")
    fast, slow = effects[("state_dependent", "fast")], effects[("state_dependent", "slow")]
    assert fast[dna] > 1.2 * slow[dna]  # more cycling cells, more of them arrest in G2/M
    np.testing.assert_allclose(effects[("additive", "fast")], effects[("additive", "slow")], atol=1e-9)


def test_treatment_uncoupler_scales_with_mitochondrial_mass_under_state_dependent() -> None:
    untreated = Treatment(program="none", magnitude=0.0, efficacy=0.0)
    uncoupler = Treatment(program="mitochondrial_depolarisation", magnitude=1.0, efficacy=1.0)
    potential = LATENT_VARIABLES.index("mito_potential")
    mass = LATENT_VARIABLES.index("mito_mass")
    changes = []
    for shift in (-0.5, 0.5):
        mean = np.zeros(N_VARS)
        mean[mass] = shift
        control = ControlState(mean=mean, weights=subpopulation_weights(0.0), density=0.0)
        treated = _draw(control, uncoupler, model="state_dependent").latent[:, potential].mean()
        changes.append(
            treated - _draw(control, untreated, model="state_dependent").latent[:, potential].mean()
        )
    assert changes[1] < 1.5 * changes[0] < 0  # more mitochondria, a larger drop of potential


def test_generate_screen_inactive_compound_wells_distributed_like_dmso(tiny_screen: SyntheticScreen) -> None:
    truth = tiny_screen.well_truth
    annotations = tiny_screen.compound_annotations.set_index(schema.JCP2022)
    inactive = annotations.index[~annotations["is_active"] & (annotations["name"] != "DMSO")]
    columns = truth_columns()
    dmso = truth[truth[schema.JCP2022] == schema.DMSO_JCP2022]
    treated_inactive = truth[truth[schema.JCP2022].isin(inactive)]
    # Both groups sit on every plate in the same proportions: their well means share one distribution.
    assert len(treated_inactive) >= len(dmso)
    p_values = [stats.ks_2samp(dmso[c], treated_inactive[c]).pvalue for c in columns]
    assert min(p_values) > 0.001


def test_generate_screen_mechanism_shared_across_unrelated_structures() -> None:
    """Unrelated drugs of one mechanism shift the truth alike; different mechanisms do not."""
    from tests.synthetic.conftest import make_tiny_config

    n_active = sum(is_active(c, make_tiny_config()) for c in LIBRARY)
    config = make_tiny_config(
        n_compounds=n_active,
        inactive_fraction=0.0,
        n_invalid_compounds=0,
        n_plates_per_batch=1,
        field_size_px=160,
        mean_cells_per_field=30.0,
    )
    screen = generate_screen(config)
    truth, annotations = screen.well_truth, screen.compound_annotations.set_index(schema.JCP2022)
    columns = truth_columns()
    dmso = truth[truth[schema.JCP2022] == schema.DMSO_JCP2022].groupby(schema.PLATE)[columns].mean()
    shifts = truth[columns] - dmso.loc[truth[schema.PLATE]].to_numpy()
    profile = shifts.groupby(truth[schema.JCP2022]).mean().drop(schema.DMSO_JCP2022)
    names = annotations.loc[profile.index, "name"]

    def cosine(a: str, b: str) -> float:
        x, y = profile.loc[names[names == a].index[0]], profile.loc[names[names == b].index[0]]
        return float(x @ y / np.linalg.norm(x) / np.linalg.norm(y))

    present = set(names)
    pairs_same = [p for p in (("colchicine", "combretastatin A4"), ("bortezomib", "MG-132"),
                              ("cycloheximide", "emetine"), ("FCCP", "niclosamide"),
                              ("cytochalasin B", "latrunculin B"), ("vorinostat", "romidepsin"))
                  if set(p) <= present]  # fmt: skip
    assert len(pairs_same) >= 2
    smiles = {c.name: c.smiles for c in LIBRARY}
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    for a, b in pairs_same:  # structurally unrelated members of one mechanism
        fa, fb = (generator.GetFingerprint(Chem.MolFromSmiles(smiles[n])) for n in (a, b))
        assert DataStructs.TanimotoSimilarity(fa, fb) < 0.4, (a, b)
    same = [cosine(a, b) for a, b in pairs_same]
    different = [cosine(a, c) for a, _ in pairs_same for c, _ in pairs_same if a != c]
    assert np.mean(same) > 0.7
    assert np.mean(same) > np.mean(different) + 0.4


def test_treatment_of_inactive_compounds_is_untreated() -> None:
    from tests.synthetic.conftest import make_tiny_config

    config = make_tiny_config()
    for compound in LIBRARY:
        treatment = treatment_of(compound, config)
        assert (treatment.magnitude > 0) == is_active(compound, config)
        if not is_active(compound, config):
            assert treatment.program == "none"


def test_well_truth_columns_one_row_per_well(tiny_screen: SyntheticScreen) -> None:
    truth = tiny_screen.well_truth
    assert len(truth) == len(tiny_screen.well_table)
    assert list(truth.columns[:4]) == [schema.SOURCE, schema.PLATE, schema.WELL, schema.JCP2022]
    assert set(truth_columns()) <= set(truth.columns)
    # every non-metadata column is scored as the known truth: the latent state and density, never the count
    assert schema.feature_columns(truth.columns) == [*truth_columns(), "truth_density"]
    assert CELL_COUNT_COLUMN.startswith("Metadata_") and (truth[CELL_COUNT_COLUMN] >= 1).all()
    pd.testing.assert_frame_equal(
        truth[[schema.PLATE, schema.WELL]], tiny_screen.well_table[[schema.PLATE, schema.WELL]]
    )
