import math

import pandas as pd
import pytest

from micon import schema
from micon.chem import ParallelConfig, StandardizationConfig, inchikey_agreement, summarise_agreement
from micon.chem.agreement import APPLIED, FAILURE, FIRST_BLOCK_EQUAL, FULL_KEY_EQUAL, PERTURBATION
from micon.errors import InvalidInputError, MissingColumnsError, UnknownNameError
from tests.parameters import make_config
from tests.shared_data import require_shared

CONFIG = make_config(StandardizationConfig, "data_engineering.standardization")
SERIAL = make_config(ParallelConfig, "data_engineering.standardization_parallel", n_jobs=1, progress=False)
ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
ASPIRIN_INCHIKEY = "BSYNRYMUTXBXSQ-UHFFFAOYSA-N"
# Full-key agreement with JUMP on all 5,641 compounds (bench_standardize.py, seed 0): as given 0.9875,
# salt 0.9877, solvent 0.9879, charged 0.9938 (1,285 applied), random order 0.9880, tautomer 0.9831
# (4,191 applied). On a 300-compound sample (about 70 charged, 220 tautomers) the binomial sd is at most
# 0.013, so 0.95 sits more than 2.5 sd below every measured value.
MIN_AGREEMENT = dict.fromkeys(("as_given", "salt", "solvent", "charged", "random_order", "tautomer"), 0.95)


def _compounds() -> pd.DataFrame:
    return pd.DataFrame(
        {
            schema.JCP2022: ["A", "B", "C", "D", "E"],
            schema.SMILES: [ASPIRIN, ASPIRIN, "CC(=O)Nc1ccc(O)cc1", None, "C1CC("],
            schema.INCHIKEY: [
                ASPIRIN_INCHIKEY,  # A: the right key
                "BSYNRYMUTXBXSQ-UHFFFAOYSA-M",  # B: same connectivity, another protonation
                ASPIRIN_INCHIKEY,  # C: paracetamol given aspirin's key
                ASPIRIN_INCHIKEY,  # D: no SMILES
                ASPIRIN_INCHIKEY,  # E: unreadable SMILES
            ],
        }
    )


def test_inchikey_agreement_counts_by_hand():
    details = inchikey_agreement(_compounds(), CONFIG, SERIAL, kinds=("salt", "charged"))
    assert len(details) == 5 * 3
    assert list(details[PERTURBATION].unique()) == ["as_given", "salt", "charged"]
    summary = summarise_agreement(details).set_index(PERTURBATION)
    counts = ["n_compounds", "n_applied", "n_standardized", "n_full_key_equal", "n_first_block_equal"]
    assert summary[counts].to_dict("index") == {
        # A, B, C, E have SMILES; E fails; A agrees fully, B on the first block only.
        "as_given": dict(zip(counts, [5, 4, 3, 1, 2], strict=True)),
        # E cannot be perturbed; A, B, C get a salt.
        "salt": dict(zip(counts, [5, 3, 3, 1, 2], strict=True)),
        # Only the acids A and B can be charged.
        "charged": dict(zip(counts, [5, 2, 2, 1, 2], strict=True)),
    }
    assert summary.loc["as_given", "full_key_agreement"] == pytest.approx(1 / 4)
    assert summary.loc["salt", "first_block_agreement"] == pytest.approx(2 / 3)
    assert summary.loc["charged", "full_key_agreement"] == pytest.approx(1 / 2)


def test_inchikey_agreement_rows_explain_each_outcome():
    details = inchikey_agreement(_compounds(), CONFIG, SERIAL, kinds=("salt",)).set_index(
        [PERTURBATION, schema.JCP2022]
    )
    invalid = details.loc[("as_given", "E")]
    assert invalid[APPLIED] and not invalid[FULL_KEY_EQUAL]
    assert "'C1CC('" in invalid[FAILURE]
    assert "C1CC(" in details.loc[("salt", "E"), "perturbation_detail"]
    assert details.loc[("salt", "D"), "perturbation_detail"] == "no SMILES"
    assert details.loc[("salt", "A"), schema.STANDARD_INCHIKEY] == ASPIRIN_INCHIKEY
    assert details.loc[("salt", "B"), FIRST_BLOCK_EQUAL] and not details.loc[("salt", "B"), FULL_KEY_EQUAL]


def test_summarise_agreement_is_nan_where_nothing_applied():
    compounds = pd.DataFrame({schema.JCP2022: ["X"], schema.SMILES: ["c1ccccc1"], schema.INCHIKEY: [""]})
    summary = summarise_agreement(inchikey_agreement(compounds, CONFIG, SERIAL, kinds=("charged",)))
    charged = summary.set_index(PERTURBATION).loc["charged"]
    assert charged["n_applied"] == 0
    assert math.isnan(charged["full_key_agreement"])


def test_inchikey_agreement_unknown_kind_raises():
    with pytest.raises(UnknownNameError, match="'isotope'"):
        inchikey_agreement(_compounds(), CONFIG, SERIAL, kinds=("salt", "isotope"))


def test_inchikey_agreement_missing_column_raises_naming_it():
    with pytest.raises(MissingColumnsError, match=schema.INCHIKEY):
        inchikey_agreement(_compounds().drop(columns=schema.INCHIKEY), CONFIG, SERIAL)


def test_inchikey_agreement_empty_table_raises():
    with pytest.raises(InvalidInputError, match="empty"):
        inchikey_agreement(_compounds().head(0), CONFIG, SERIAL)


def test_summarise_agreement_missing_column_raises():
    with pytest.raises(MissingColumnsError, match=FULL_KEY_EQUAL):
        summarise_agreement(pd.DataFrame({PERTURBATION: ["as_given"]}))


@pytest.mark.realdata
@pytest.mark.slow
def test_jump_sample_agrees_with_jump_inchikeys_as_given_and_perturbed():
    path = require_shared("jump/compound.csv.gz")
    compounds = pd.read_csv(path).dropna(subset=[schema.SMILES]).sample(n=300, random_state=0)
    details = inchikey_agreement(
        compounds,
        CONFIG,
        make_config(
            ParallelConfig,
            "data_engineering.standardization_parallel",
            n_jobs=2,
            chunk_size=64,
            progress=False,
        ),
    )
    summary = summarise_agreement(details).set_index(PERTURBATION)
    assert (summary["n_compounds"] == 300).all()
    for kind, threshold in MIN_AGREEMENT.items():
        agreement = summary.loc[kind, "full_key_agreement"]
        assert agreement >= threshold, f"{kind}: agreement with JUMP's InChIKey {agreement:.3f} < {threshold}"
    assert summary.loc["charged", "n_applied"] >= 30  # basic amines and acids are common in JUMP
    assert summary.loc["tautomer", "n_applied"] >= 150
