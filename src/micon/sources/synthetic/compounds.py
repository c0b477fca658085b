"""Compound table of the synthetic screen: library drugs, some as salts, charged forms or tautomers."""

from __future__ import annotations

import logging
import math
import zlib

import numpy as np
import pandas as pd
from rdkit import Chem, rdBase
from rdkit.Chem.MolStandardize import rdMolStandardize

from micon import schema
from micon.sources.synthetic.biology import LATENT_VARIABLES, Treatment, hill_response
from micon.sources.synthetic.config import SyntheticScreenConfig
from micon.sources.synthetic.library import DMSO_MOA, LIBRARY, LibraryCompound

#: Columns of the compound annotation table besides ``schema.JCP2022`` and ``schema.MOA``.
ANNOTATION_COLUMNS: tuple[str, ...] = (
    "name", "program", "family", "ec50_uM", "efficacy", "response", "is_active", "has_valid_smiles"
)  # fmt: skip

logger = logging.getLogger(__name__)


# A basic amine that a salt or a charged form protonates: not an amide, aniline, sulfonamide or carbamate.
_BASIC_AMINE = Chem.MolFromSmarts("[NX3;H0,H1,H2;!$(N-[C,S]=[O,N,S]);!$(N-a);!$(N-S);!$(N=*);!$(N#*)]")
_CARBOXYLIC_ACID = Chem.MolFromSmarts("[CX3](=O)[OX2H1]")
# Invalid SMILES derived from a parent, each a different kind of defect RDKit rejects.
_INVALID_KINDS: tuple[str, ...] = ("unclosed_ring", "pentavalent_carbon", "non_kekulizable_ring")


def neutral_parent(smiles: str) -> Chem.Mol | None:
    """Return the neutral parent of a SMILES: cleanup, largest fragment, uncharge; ``None`` if unparseable.

    No tautomer canonicalisation here: RDKit's canonical tautomer can drop stereo, and the standard
    InChI already merges mobile-hydrogen tautomers, which is all the curated tautomer forms use.
    """
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(smiles)
        if mol is None:
            return None
        mol = rdMolStandardize.Cleanup(mol)
        mol = rdMolStandardize.LargestFragmentChooser().choose(mol)
        return rdMolStandardize.Uncharger().uncharge(mol)


def parent_inchikey(smiles: str) -> str:
    """Return the InChIKey of the neutral parent of ``smiles``, or ``""`` when RDKit cannot parse it."""
    mol = neutral_parent(smiles)
    if mol is None:
        return ""
    with rdBase.BlockLogs():
        return Chem.MolToInchiKey(mol)


def treatment_of(compound: LibraryCompound, config: SyntheticScreenConfig) -> Treatment:
    """Return what ``compound`` does at the screened concentration: programme, response, efficacy, off-target.

    The off-target change (``off_target_sd`` per latent variable) makes two drugs of one mechanism
    alike but not identical, as in real screens; it is drawn from the drug's name and the screen seed.
    """
    response = hill_response(
        config.concentration_uM,
        compound.ec50_uM,
        hill_coefficient=config.hill_coefficient,
        threshold=config.response_threshold,
    )
    if compound.program == "none" or compound.efficacy == 0.0 or response == 0.0:
        return Treatment(program="none", magnitude=0.0, efficacy=0.0)
    # Off-target change: seeded by the drug's name (never its structure) and the screen seed.
    rng = np.random.default_rng([config.seed, zlib.crc32(f"off_target:{compound.name}".encode())])
    off_target = rng.normal(0.0, config.off_target_sd, len(LATENT_VARIABLES))
    return Treatment(
        program=compound.program,
        magnitude=response,
        efficacy=compound.efficacy,
        off_target=tuple(float(v) for v in off_target),
    )


def is_active(compound: LibraryCompound, config: SyntheticScreenConfig) -> bool:
    """Return whether ``compound`` changes any cell at the screened concentration."""
    return treatment_of(compound, config).magnitude > 0.0


def generate_compounds(config: SyntheticScreenConfig) -> pd.DataFrame:
    """Draw the screen's compounds from the library and write some in salt, charged or tautomer form.

    At least ``ceil(inactive_fraction * n_compounds)`` parents are inactive at the screened dose (drawn
    family by family, families in seeded order, so similar compounds appear together); the others are
    active, drawn round-robin over the mechanisms' programmes (seeded order) so that most drawn
    programmes have several members. ``n_salt_forms`` parents are written as salts, ``n_charged_forms``
    charged without counter-ion and ``n_noncanonical_forms`` as another tautomer or in random atom order;
    each resolves to its parent under cleanup / largest fragment / uncharge / canonical tautomer.
    ``n_invalid_compounds`` rows carry SMILES RDKit cannot parse (a registration error: the physical
    compound, a library drug not otherwise drawn, still acts in its wells). DMSO is the last row.

    Args:
        config: Screen settings (seed, compound counts, dose).

    Returns:
        One row per compound with ``schema.JCP2022`` (``JCP2022_9`` + 5 digits; DMSO's real id),
        ``schema.SMILES`` and ``schema.INCHIKEY`` (neutral parent's key; ``""`` for invalid SMILES).
    """
    return _draw_compounds(config)[0]


def generate_compound_annotations(config: SyntheticScreenConfig) -> pd.DataFrame:
    """Return what each compound of ``generate_compounds(config)`` is and does (the known truth).

    Returns:
        One row per compound (same order, DMSO last) with ``schema.JCP2022``, ``schema.MOA`` (the
        mechanism label; ``"DMSO"`` for DMSO) and ``ANNOTATION_COLUMNS``: the drug's name, programme,
        analogue family, potency (EC50, µM), efficacy, thresholded Hill response at the screened
        concentration, whether it is active there and whether its written SMILES parses.
    """
    table, compounds, valid = _draw_compounds(config)
    rows = []
    for compound, has_valid in zip(compounds, valid, strict=True):
        treatment = treatment_of(compound, config)
        rows.append((
            compound.moa, compound.name, compound.program, compound.family, compound.ec50_uM,
            compound.efficacy, treatment.magnitude, treatment.magnitude > 0.0, has_valid,
        ))  # fmt: skip
    rows.append((DMSO_MOA, "DMSO", "none", "vehicle", float("nan"), 0.0, 0.0, False, True))
    annotations = pd.DataFrame(rows, columns=[schema.MOA, *ANNOTATION_COLUMNS])
    annotations.insert(0, schema.JCP2022, table[schema.JCP2022].to_numpy())
    return annotations


def select_library_compounds(
    config: SyntheticScreenConfig, rng: np.random.Generator
) -> tuple[list[LibraryCompound], list[LibraryCompound]]:
    """Return ``(parents, spare)``: the drawn parents (actives first) and the undrawn rest, seeded order."""
    active = [c for c in LIBRARY if is_active(c, config)]
    inactive = [c for c in LIBRARY if not is_active(c, config)]
    n_inactive = min(len(inactive), math.ceil(config.inactive_fraction * config.n_compounds))
    n_active = min(len(active), config.n_compounds - n_inactive)
    n_inactive = config.n_compounds - n_active
    programs = [str(p) for p in rng.permutation(sorted({c.program for c in active}))]
    queues = {
        p: [active[i] for i in rng.permutation(len(active)) if active[i].program == p] for p in programs
    }
    chosen_active: list[LibraryCompound] = []
    while len(chosen_active) < n_active:
        for program in programs:
            if queues[program] and len(chosen_active) < n_active:
                chosen_active.append(queues[program].pop(0))
    families = [str(f) for f in rng.permutation(sorted({c.family for c in inactive}))]
    ordered_inactive = [c for f in families for c in inactive if c.family == f]
    if n_inactive > len(ordered_inactive):
        logger.warning("only %d inactive compounds for %d inactive draws", len(ordered_inactive), n_inactive)
    parents = chosen_active + ordered_inactive[:n_inactive]
    chosen = {c.name for c in parents}
    spare = [c for f in families for c in inactive if c.family == f and c.name not in chosen]
    spare += [c for p in programs for c in queues[p]]
    return parents, spare


def _draw_compounds(config: SyntheticScreenConfig) -> tuple[pd.DataFrame, list[LibraryCompound], list[bool]]:
    """Return the compound table, the library compound behind each non-DMSO row and whether it parses."""
    rng = np.random.default_rng([config.seed, zlib.crc32(b"compounds")])
    parents, spare = select_library_compounds(config, rng)
    smiles = [c.smiles for c in parents]
    _apply_forms(parents, smiles, rng=rng, config=config)
    invalid_sources = [spare[i % len(spare)] for i in range(config.n_invalid_compounds)]
    invalid = [
        _invalid_smiles(c.smiles, _INVALID_KINDS[i % len(_INVALID_KINDS)])
        for i, c in enumerate(invalid_sources)
    ]
    n_ids = len(smiles) + len(invalid)
    ids = [f"JCP2022_9{n:05d}" for n in np.sort(rng.choice(100_000, size=n_ids, replace=False))]
    table = pd.DataFrame(
        {
            schema.JCP2022: [*ids, schema.DMSO_JCP2022],
            schema.SMILES: [*smiles, *invalid, schema.DMSO_SMILES],
        }
    )
    # Keys of the library parents, not of the written forms: the parent is what JUMP's key names.
    keys = [parent_inchikey(c.smiles) for c in parents] + [""] * len(invalid)
    table[schema.INCHIKEY] = [*keys, parent_inchikey(schema.DMSO_SMILES)]
    logger.info(
        "drew %d compounds (%d active at %.3g uM; %d salt, %d charged, %d non-canonical forms, %d invalid)"
        " + DMSO",
        len(parents), sum(is_active(c, config) for c in parents), config.concentration_uM,
        config.n_salt_forms, config.n_charged_forms, config.n_noncanonical_forms, len(invalid),
    )  # fmt: skip
    return table, [*parents, *invalid_sources], [True] * len(parents) + [False] * len(invalid)


def _apply_forms(
    parents: list[LibraryCompound],
    smiles: list[str],
    *,
    rng: np.random.Generator,
    config: SyntheticScreenConfig,
) -> None:
    """Rewrite, in place, some ``smiles`` as salt, charged or non-canonical forms of their parent."""
    mols = [Chem.MolFromSmiles(c.smiles) for c in parents]
    is_salifiable = [m.HasSubstructMatch(_BASIC_AMINE) or m.HasSubstructMatch(_CARBOXYLIC_ACID) for m in mols]
    order = [int(i) for i in rng.permutation(len(parents))]
    # Ionisable parents go first to salts and charged forms; the rest fill in as non-canonical forms.
    ionisable = [i for i in order if is_salifiable[i]]
    others = [i for i in order if not is_salifiable[i]]
    n_ionic = min(config.n_salt_forms + config.n_charged_forms, len(ionisable))
    if n_ionic < config.n_salt_forms + config.n_charged_forms:
        logger.warning("only %d ionisable parents for salt + charged forms", len(ionisable))
    ionic, rest = ionisable[:n_ionic], others + ionisable[n_ionic:]
    for k, i in enumerate(ionic):
        form = _salt_form if k < config.n_salt_forms else _charged_form
        smiles[i] = form(mols[i], variant=k)
    # Parents with a curated tautomer first, so tautomer forms appear whenever one was drawn.
    rest.sort(key=lambda i: parents[i].tautomer_smiles is None)
    for i in rest[: config.n_noncanonical_forms]:
        source = parents[i].tautomer_smiles or parents[i].smiles
        mol = Chem.MolFromSmiles(source)
        smiles[i] = Chem.MolToRandomSmilesVect(mol, 1, randomSeed=int(rng.integers(1, 2**31 - 1)))[0]


def _salt_form(mol: Chem.Mol, *, variant: int) -> str:
    """Return ``mol`` as a hydrochloride / mesylate (amine) or sodium carboxylate (acid) salt SMILES."""
    if mol.HasSubstructMatch(_CARBOXYLIC_ACID) and (
        variant % 2 == 0 or not mol.HasSubstructMatch(_BASIC_AMINE)
    ):
        return f"{_ionised(mol, acid=True)}.[Na+]"
    counter_ion = ("Cl", "CS(=O)(=O)O")[variant % 2]
    return f"{Chem.MolToSmiles(mol)}.{counter_ion}"


def _charged_form(mol: Chem.Mol, *, variant: int) -> str:
    """Return ``mol`` with a protonated amine ([NH+]) or a carboxylate, without counter-ion."""
    use_acid = mol.HasSubstructMatch(_CARBOXYLIC_ACID) and (
        variant % 2 == 1 or not mol.HasSubstructMatch(_BASIC_AMINE)
    )
    return _ionised(mol, acid=use_acid)


def _ionised(mol: Chem.Mol, *, acid: bool) -> str:
    """Return the SMILES of ``mol`` with its first carboxylic acid deprotonated or basic amine protonated."""
    rw = Chem.RWMol(mol)
    if acid:
        atom = rw.GetAtomWithIdx(rw.GetSubstructMatch(_CARBOXYLIC_ACID)[2])
        atom.SetFormalCharge(-1)
    else:
        atom = rw.GetAtomWithIdx(rw.GetSubstructMatch(_BASIC_AMINE)[0])
        atom.SetNumExplicitHs(atom.GetTotalNumHs() + 1)
        atom.SetFormalCharge(1)
    atom.SetNoImplicit(True)
    if acid:
        atom.SetNumExplicitHs(0)
    Chem.SanitizeMol(rw)
    return Chem.MolToSmiles(rw)


def _invalid_smiles(smiles: str, kind: str) -> str:
    """Return a SMILES RDKit rejects, derived from ``smiles`` by one defect of the given kind."""
    if kind == "unclosed_ring":
        return f"{smiles}9"  # ring bond 9 opened on the last atom and never closed
    if kind == "pentavalent_carbon":
        return f"C(C)(C)(C)(C){smiles}"  # four branches plus the next atom: five bonds
    return f"{smiles}.c1cccc1"  # a five-membered all-aromatic carbon ring has no Kekulé form
