import numpy as np
import pytest

from micon.chem import morgan_fingerprint, morgan_fingerprints
from micon.chem.fingerprints import tanimoto_similarity
from micon.errors import InvalidConfigError, InvalidSmilesError


def test_morgan_fingerprint_valid_smiles_gives_binary_uint8_vector():
    fp = morgan_fingerprint("CC(=O)Oc1ccccc1C(=O)O")
    assert fp.shape == (2048,)
    assert fp.dtype == np.uint8
    assert set(np.unique(fp)) <= {0, 1}
    assert fp.sum() > 0


def test_morgan_fingerprint_same_molecule_different_smiles_gives_same_bits():
    np.testing.assert_array_equal(morgan_fingerprint("OCC"), morgan_fingerprint("CCO"))


def test_morgan_fingerprint_radius_and_size_change_bits():
    small = morgan_fingerprint("c1ccccc1CCN", radius=1, n_bits=64)
    assert small.shape == (64,)
    assert morgan_fingerprint("c1ccccc1CCN", radius=0).sum() < morgan_fingerprint("c1ccccc1CCN").sum()


def test_morgan_fingerprints_list_gives_matrix_in_order():
    smiles = ["CCO", "c1ccccc1", "C"]
    fps = morgan_fingerprints(smiles, n_bits=512)
    assert fps.shape == (3, 512)
    assert fps.dtype == np.uint8
    for row, s in zip(fps, smiles, strict=True):
        np.testing.assert_array_equal(row, morgan_fingerprint(s, n_bits=512))


def test_morgan_fingerprints_empty_list_gives_empty_matrix():
    assert morgan_fingerprints([], n_bits=16).shape == (0, 16)


def test_morgan_fingerprint_invalid_smiles_raises_naming_it():
    with pytest.raises(InvalidSmilesError, match="C1CC"):
        morgan_fingerprint("C1CC(")


@pytest.mark.parametrize(("radius", "n_bits", "name"), [(-1, 2048, "radius"), (2, 0, "n_bits")])
def test_morgan_fingerprint_bad_arguments_raise(radius, n_bits, name):
    with pytest.raises(InvalidConfigError, match=name):
        morgan_fingerprint("CCO", radius=radius, n_bits=n_bits)


def test_tanimoto_similarity_matches_hand_count():
    bits = np.array([[1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0], [1, 1, 0, 0]], dtype=np.uint8)
    sim = tanimoto_similarity(bits)
    # |a & b| / |a | b|: rows 0-1 share 1 of 3 set bits; identical rows 1; two empty rows 1, empty vs set 0.
    assert sim.dtype == np.float32
    assert sim[0, 1] == pytest.approx(1 / 3)
    assert sim[0, 3] == 1.0
    assert sim[2, 2] == 1.0
    assert sim[0, 2] == 0.0
    np.testing.assert_allclose(sim, sim.T)
