"""Compound table of the synthetic screen: real drugs, some as salts, charged forms or tautomers."""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rdkit import Chem, rdBase
from rdkit.Chem.MolStandardize import rdMolStandardize

from micon import schema
from micon.sources.synthetic.config import SyntheticScreenConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class CuratedCompound:
    """One approved drug or known bioactive of the embedded list.

    Attributes:
        name: Common name (documentation only; never written to tables).
        family: Pharmacological / scaffold family; members are structurally similar.
        smiles: Neutral parent SMILES.
        tautomer_smiles: The same molecule as a non-canonical tautomer, when one is curated.
    """

    name: str
    family: str
    smiles: str
    tautomer_smiles: str | None = None


def _c(name: str, family: str, smiles: str, tautomer: str | None = None) -> CuratedCompound:
    return CuratedCompound(name=name, family=family, smiles=smiles, tautomer_smiles=tautomer)


# Families keep similar pairs together (statins, beta-blockers, phenothiazines ...) so structure matters.
# Every parent is stable under RDKit's canonical tautomer (its InChIKey does not change), so the key
# given here equals the one a standardisation with a tautomer step computes. Drugs where that step drops
# stereo or moves a double bond (rosuvastatin, nifedipine, lorazepam, resveratrol, podophyllotoxin) are
# left out; naproxen and lovastatin are written without the stereocentre next to their carbonyl.
CURATED_COMPOUNDS: tuple[CuratedCompound, ...] = (
    _c("atorvastatin", "statin",
       "CC(C)c1c(C(=O)Nc2ccccc2)c(-c2ccccc2)c(-c2ccc(F)cc2)n1CC[C@@H](O)C[C@@H](O)CC(=O)O"),
    _c("pitavastatin", "statin", "OC(=O)C[C@H](O)C[C@H](O)/C=C/c1c(C2CC2)nc2ccccc2c1-c1ccc(F)cc1"),
    _c("fluvastatin", "statin", "CC(C)n1c(/C=C/[C@@H](O)C[C@@H](O)CC(=O)O)c(-c2ccc(F)cc2)c2ccccc21"),
    _c("simvastatin", "statin_lactone",
       "CCC(C)(C)C(=O)O[C@H]1C[C@@H](C)C=C2C=C[C@H](C)[C@H](CC[C@@H]3C[C@@H](O)CC(=O)O3)[C@@H]21"),
    _c("lovastatin", "statin_lactone",
       "CCC(C)C(=O)O[C@H]1C[C@@H](C)C=C2C=C[C@H](C)[C@H](CC[C@@H]3C[C@@H](O)CC(=O)O3)[C@@H]21"),
    _c("propranolol", "beta_blocker", "CC(C)NCC(O)COc1cccc2ccccc12"),
    _c("atenolol", "beta_blocker", "CC(C)NCC(O)COc1ccc(CC(N)=O)cc1"),
    _c("metoprolol", "beta_blocker", "COCCc1ccc(OCC(O)CNC(C)C)cc1"),
    _c("ibuprofen", "nsaid", "CC(C)Cc1ccc(C(C)C(=O)O)cc1"),
    _c("naproxen (racemic)", "nsaid", "COc1ccc2cc(C(C)C(=O)O)ccc2c1"),
    _c("diclofenac", "nsaid", "OC(=O)Cc1ccccc1Nc1c(Cl)cccc1Cl"),
    _c("indomethacin", "nsaid", "COc1ccc2c(c1)c(CC(=O)O)c(C)n2C(=O)c1ccc(Cl)cc1"),
    _c("aspirin", "nsaid", "CC(=O)Oc1ccccc1C(=O)O"),
    _c("celecoxib", "coxib", "Cc1ccc(-c2cc(C(F)(F)F)nn2-c2ccc(S(N)(=O)=O)cc2)cc1"),
    _c("caffeine", "xanthine", "Cn1c(=O)c2c(ncn2C)n(C)c1=O"),
    _c("theophylline", "xanthine", "Cn1c(=O)c2[nH]cnc2n(C)c1=O", "Cn1c(=O)c2nc[nH]c2n(C)c1=O"),
    _c("imatinib", "kinase_inhibitor", "Cc1ccc(NC(=O)c2ccc(CN3CCN(C)CC3)cc2)cc1Nc1nccc(-c2cccnc2)n1"),
    _c("gefitinib", "egfr_inhibitor", "COc1cc2ncnc(Nc3ccc(F)c(Cl)c3)c2cc1OCCCN1CCOCC1"),
    _c("erlotinib", "egfr_inhibitor", "COCCOc1cc2ncnc(Nc3cccc(C#C)c3)c2cc1OCCOC"),
    _c("chlorpromazine", "phenothiazine", "CN(C)CCCN1c2ccccc2Sc2ccc(Cl)cc21"),
    _c("promazine", "phenothiazine", "CN(C)CCCN1c2ccccc2Sc2ccccc21"),
    _c("fluoxetine", "ssri", "CNCCC(Oc1ccc(C(F)(F)F)cc1)c1ccccc1"),
    _c("sertraline", "ssri", "CN[C@H]1CC[C@@H](c2ccc(Cl)c(Cl)c2)c2ccccc21"),
    _c("diazepam", "benzodiazepine", "CN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc21"),
    _c("alprazolam", "benzodiazepine", "Cc1nnc2n1-c1ccc(Cl)cc1C(c1ccccc1)=NC2"),
    _c("verapamil", "phenylalkylamine", "COc1ccc(CCN(C)CCCC(C#N)(C(C)C)c2ccc(OC)c(OC)c2)cc1OC"),
    _c("gallopamil", "phenylalkylamine", "COc1ccc(CCN(C)CCCC(C#N)(C(C)C)c2cc(OC)c(OC)c(OC)c2)cc1OC"),
    _c("colchicine", "tubulin", "COC1=CC=C2C(=CC1=O)[C@H](CCC3=CC(=C(C(=C32)OC)OC)OC)NC(C)=O"),
    _c("demecolcine", "tubulin", "COC1=CC=C2C(=CC1=O)[C@H](CCC3=CC(=C(C(=C32)OC)OC)OC)NC"),
    _c("nocodazole", "benzimidazole", "COC(=O)Nc1nc2cc(C(=O)c3cccs3)ccc2[nH]1",
       "COC(=O)Nc1nc2ccc(C(=O)c3cccs3)cc2[nH]1"),
    _c("camptothecin", "topoisomerase", "CC[C@@]1(O)C(=O)OCc2c1cc1-c3nc4ccccc4cc3Cn1c2=O"),
    _c("fluorouracil", "antimetabolite", "O=c1[nH]cc(F)c(=O)[nH]1", "Oc1ncc(F)c(O)n1"),
    _c("tamoxifen", "serm", "CC/C(=C(\\c1ccccc1)c1ccc(OCCN(C)C)cc1)c1ccccc1"),
    _c("haloperidol", "butyrophenone", "O=C(CCCN1CCC(O)(c2ccc(Cl)cc2)CC1)c1ccc(F)cc1"),
    _c("loratadine", "antihistamine", "CCOC(=O)N1CCC(=C2c3ccc(Cl)cc3CCc3cccnc32)CC1"),
    _c("warfarin", "coumarin", "CC(=O)CC(c1ccccc1)c1c(O)c2ccccc2oc1=O"),
    _c("ciprofloxacin", "quinolone", "O=C(O)c1cn(C2CC2)c2cc(N3CCNCC3)c(F)cc2c1=O"),
    _c("levofloxacin", "quinolone", "C[C@H]1COc2c(N3CCN(C)CC3)c(F)cc3c(=O)c(C(=O)O)cn1c23"),
    _c("sildenafil", "pde5_inhibitor", "CCCc1nn(C)c2c(=O)[nH]c(-c3cc(S(=O)(=O)N4CCN(C)CC4)ccc3OCC)nc12",
       "CCCc1nn(C)c2c(O)nc(-c3cc(S(=O)(=O)N4CCN(C)CC4)ccc3OCC)nc12"),
    _c("lidocaine", "local_anaesthetic", "CCN(CC)CC(=O)Nc1c(C)cccc1C"),
    _c("procaine", "local_anaesthetic", "CCN(CC)CCOC(=O)c1ccc(N)cc1"),
    _c("quinine", "antimalarial", "COc1ccc2nccc([C@@H](O)[C@@H]3C[C@@H]4CCN3C[C@@H]4C=C)c2c1"),
    _c("chloroquine", "aminoquinoline", "CCN(CC)CCCC(C)Nc1ccnc2cc(Cl)ccc12"),
    _c("hydroxychloroquine", "aminoquinoline", "CCN(CCO)CCCC(C)Nc1ccnc2cc(Cl)ccc12"),
    _c("clotrimazole", "azole", "Clc1ccccc1C(c1ccccc1)(c1ccccc1)n1ccnc1"),
    _c("mebendazole", "benzimidazole", "COC(=O)Nc1nc2cc(C(=O)c3ccccc3)ccc2[nH]1"),
)  # fmt: skip

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


def generate_compounds(config: SyntheticScreenConfig) -> pd.DataFrame:
    """Draw the screen's compounds from the curated list and write some in salt, charged or tautomer form.

    Parents are drawn family by family (families in seeded order) so similar compounds appear together.
    Of the ``n_compounds`` parents, ``n_salt_forms`` are written as salts, ``n_charged_forms`` charged
    without counter-ion and ``n_noncanonical_forms`` as another tautomer or in random atom order; each
    resolves to its parent under cleanup / largest fragment / uncharge / canonical tautomer.
    ``n_invalid_compounds`` rows carry SMILES RDKit cannot parse. DMSO is the last row.

    Args:
        config: Screen settings (seed and compound counts).

    Returns:
        One row per compound with ``schema.JCP2022`` (``JCP2022_9`` + 5 digits; DMSO's real id),
        ``schema.SMILES`` and ``schema.INCHIKEY`` (neutral parent's key; ``""`` for invalid SMILES).
    """
    rng = np.random.default_rng([config.seed, zlib.crc32(b"compounds")])
    families = list(dict.fromkeys(c.family for c in CURATED_COMPOUNDS))
    ordered = [c for f in rng.permutation(families) for c in CURATED_COMPOUNDS if c.family == f]
    parents, spare = ordered[: config.n_compounds], ordered[config.n_compounds :]
    smiles = [c.smiles for c in parents]
    _apply_forms(parents, smiles, rng=rng, config=config)
    invalid_sources = spare or ordered
    invalid = [
        _invalid_smiles(
            invalid_sources[i % len(invalid_sources)].smiles, _INVALID_KINDS[i % len(_INVALID_KINDS)]
        )
        for i in range(config.n_invalid_compounds)
    ]
    n_ids = len(smiles) + len(invalid)
    ids = [f"JCP2022_9{n:05d}" for n in np.sort(rng.choice(100_000, size=n_ids, replace=False))]
    table = pd.DataFrame(
        {
            schema.JCP2022: [*ids, schema.DMSO_JCP2022],
            schema.SMILES: [*smiles, *invalid, schema.DMSO_SMILES],
        }
    )
    # Keys of the curated parents, not of the written forms: the parent is what JUMP's key names.
    keys = [parent_inchikey(c.smiles) for c in parents] + [""] * len(invalid)
    table[schema.INCHIKEY] = [*keys, parent_inchikey(schema.DMSO_SMILES)]
    logger.info(
        "generated %d compounds (%d salt, %d charged, %d non-canonical forms, %d invalid) + DMSO",
        len(parents), config.n_salt_forms, config.n_charged_forms, config.n_noncanonical_forms, len(invalid),
    )  # fmt: skip
    return table


def _apply_forms(
    parents: list[CuratedCompound],
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
