"""The synthetic screen's compound library: real drugs, their mechanism of action, potency and efficacy.

The library is data, not a model of chemistry: the generator never reads a structure (no fingerprint,
no descriptor) to decide what a compound does. A compound's phenotype follows its mechanism's program
(``biology.PROGRAMS``), scaled by its efficacy and by a Hill curve of its potency at the screened
concentration. SMILES are the Drug Repurposing Hub's (as shipped in the JUMP and BBBC021 metadata) or
well-known drugs' written out; every parent parses in RDKit and its InChIKey does not change under the
project's standardisation (cleanup, largest fragment, uncharge, canonical tautomer), which
``tests/synthetic/test_library.py`` checks.

Potencies (``ec50_uM``) are order-of-magnitude cellular potencies from the literature (rounded; sub-µM
for the clinical cytotoxics, near or above 10 µM for weak or selective tool compounds); they set which
compounds act at the screened dose, not fine dose-response shapes. ``efficacy`` is the size of the
mechanism's phenotype in a fully responding cell relative to the program (1 = the program's size);
0 marks a drug whose target has no morphological consequence in U2OS cells at any dose tested in
Cell Painting (e.g. a beta blocker: the receptor is not what cultured U2OS cells depend on).
"""

from __future__ import annotations

from dataclasses import dataclass

#: Mechanism label of DMSO wells (the vehicle control).
DMSO_MOA = "DMSO"


@dataclass(frozen=True, kw_only=True)
class LibraryCompound:
    """One real drug or tool compound of the library.

    Attributes:
        name: Common name (written to the compound annotation table, never to the raw compound table).
        moa: Mechanism-of-action label, as the Drug Repurposing Hub words it.
        program: Key of ``biology.PROGRAMS``: the morphological programme the mechanism triggers in
            U2OS cells (several labels can share one, e.g. mTOR and PI3K inhibitors).
        family: Scaffold / analogue series; members are structurally similar (e.g. benzimidazole
            carbamates, camptothecins), whatever their activity.
        smiles: Neutral parent SMILES.
        ec50_uM: Cellular potency, µM.
        efficacy: Phenotype size of a fully responding cell, relative to the programme (0: none).
        tautomer_smiles: The same molecule as a non-canonical tautomer, when one is curated.
    """

    name: str
    moa: str
    program: str
    family: str
    smiles: str
    ec50_uM: float
    efficacy: float
    tautomer_smiles: str | None = None


def _c(  # noqa: PLR0913
    name: str,
    moa: str,
    program: str,
    family: str,
    smiles: str,
    ec50_uM: float,
    efficacy: float,
    tautomer: str | None = None,
) -> LibraryCompound:
    return LibraryCompound(
        name=name, moa=moa, program=program, family=family, smiles=smiles,
        ec50_uM=ec50_uM, efficacy=efficacy, tautomer_smiles=tautomer,
    )  # fmt: skip


_TUBULIN_DOWN = "tubulin polymerization inhibitor"
_TUBULIN_UP = "tubulin polymerization promoter"
_NONE = "none"

# Active mechanisms: several structurally unrelated members each, plus analogue series in which a
# member is inactive at the dose (thiabendazole, sodium butyrate, hydroxyurea, 2,4-dinitrophenol) or
# acts otherwise (omeprazole: a benzimidazole proton-pump inhibitor; aloxistatin: a peptide epoxide
# cysteine-protease inhibitor, a peptide like MG-132; cyclophosphamide: a prodrug needing liver CYPs).
ACTIVE_COMPOUNDS: tuple[LibraryCompound, ...] = (
    _c("colchicine", _TUBULIN_DOWN, "microtubule_destabilisation", "colchicinoid",
       "COc1cc2CC[C@H](NC(C)=O)c3cc(=O)c(OC)ccc3-c2c(OC)c1OC", 0.03, 1.0),
    _c("demecolcine", _TUBULIN_DOWN, "microtubule_destabilisation", "colchicinoid",
       "COC1=CC=C2C(=CC1=O)[C@H](CCC3=CC(=C(C(=C32)OC)OC)OC)NC", 0.05, 1.0),
    _c("nocodazole", _TUBULIN_DOWN, "microtubule_destabilisation", "benzimidazole_carbamate",
       "COC(=O)Nc1nc2cc(C(=O)c3cccs3)ccc2[nH]1", 0.1, 1.0, "COC(=O)Nc1nc2ccc(C(=O)c3cccs3)cc2[nH]1"),
    _c("mebendazole", _TUBULIN_DOWN, "microtubule_destabilisation", "benzimidazole_carbamate",
       "COC(=O)Nc1nc2cc(C(=O)c3ccccc3)ccc2[nH]1", 0.3, 0.9),
    _c("albendazole", _TUBULIN_DOWN, "microtubule_destabilisation", "benzimidazole_carbamate",
       "CCCSc1ccc2[nH]c(NC(=O)OC)nc2c1", 1.0, 0.8),
    _c("oxibendazole", _TUBULIN_DOWN, "microtubule_destabilisation", "benzimidazole_carbamate",
       "CCCOc1ccc2[nH]c(NC(=O)OC)nc2c1", 1.5, 0.8),
    _c("thiabendazole", _TUBULIN_DOWN, "microtubule_destabilisation", "benzimidazole",
       "c1ccc2[nH]c(-c3cscn3)nc2c1", 300.0, 0.6),
    _c("combretastatin A4", _TUBULIN_DOWN, "microtubule_destabilisation", "stilbene",
       "COc1ccc(/C=C\\c2cc(OC)c(OC)c(OC)c2)cc1O", 0.01, 1.0),
    _c("vincristine", _TUBULIN_DOWN, "microtubule_destabilisation", "vinca_alkaloid",
       "CC[C@]1(O)C[C@@H]2C[N@](C1)CCc1c([nH]c3ccccc13)[C@@](C2)(C(=O)OC)c1cc2c(cc1OC)N(C=O)"
       "[C@@H]1[C@]22CCN3CC=C[C@](CC)([C@@H]23)[C@@H](OC(C)=O)[C@]1(O)C(=O)OC", 0.01, 1.0),
    _c("lexibulin (CYT-997)", _TUBULIN_DOWN, "microtubule_destabilisation", "aminopyrimidine",
       "CCCC(Nc1nc(-c2ccc(NC(=O)NCC)c(OC)c2)ncc1C)c1cccnc1", 0.05, 0.9),
    _c("epothilone B", _TUBULIN_UP, "microtubule_stabilisation", "epothilone",
       "CC(=Cc1csc(C)n1)C1CC2OC2(C)CCCC(C)C(O)C(C)C(=O)C(C)(C)C(O)CC(=O)O1", 0.005, 1.0),
    _c("ixabepilone", _TUBULIN_UP, "microtubule_stabilisation", "epothilone",
       "CC(=Cc1csc(C)n1)C1CC2OC2(C)CCCC(C)C(O)C(C)C(=O)C(C)(C)C(O)CC(=O)N1", 0.02, 0.9),
    _c("camptothecin", "topoisomerase inhibitor", "dna_damage", "camptothecin",
       "CC[C@@]1(O)C(=O)OCc2c1cc1-c3nc4ccccc4cc3Cn1c2=O", 0.05, 1.0),
    _c("topotecan", "topoisomerase inhibitor", "dna_damage", "camptothecin",
       "CC[C@@]1(O)C(=O)OCc2c1cc1-c3nc4ccc(O)c(CN(C)C)c4cc3Cn1c2=O", 0.1, 0.9),
    _c("etoposide", "topoisomerase inhibitor", "dna_damage", "podophyllotoxin_glycoside",
       "COc1cc(C2c3cc4c(cc3C(OC3OC5COC(C)OC5C(O)C3O)C3COC(=O)C23)OCO4)cc(OC)c1O", 2.0, 0.9),
    _c("vorinostat", "HDAC inhibitor", "chromatin_decondensation", "hydroxamate",
       "ONC(=O)CCCCCCC(=O)Nc1ccccc1", 1.0, 1.0),
    _c("romidepsin", "HDAC inhibitor", "chromatin_decondensation", "depsipeptide",
       "CCC1=NC(=O)C2CSSCCC=CC(CC(=O)NC(C(C)C)C(=O)N2)OC(=O)C(C(C)C)NC1=O", 0.005, 1.0),
    _c("entinostat", "HDAC inhibitor", "chromatin_decondensation", "benzamide",
       "Nc1ccccc1NC(=O)c1ccc(CNC(=O)OCc2cccnc2)cc1", 1.0, 0.8),
    _c("RGFP966", "HDAC inhibitor", "chromatin_decondensation", "benzamide",
       "Nc1cc(F)ccc1NC(=O)C=Cc1cnn(CC=Cc2ccccc2)c1", 5.0, 0.6),
    _c("droxinostat", "HDAC inhibitor", "chromatin_decondensation", "hydroxamate",
       "Cc1cc(Cl)ccc1OCCCC(=O)NO", 30.0, 0.6),
    _c("butyric acid", "HDAC inhibitor", "chromatin_decondensation", "short_chain_fatty_acid",
       "CCCC(=O)O", 1000.0, 0.8),
    _c("geldanamycin", "HSP90 inhibitor", "proteotoxic_stress", "ansamycin",
       "COC1=CC(C)=Cc2c(O)c(cc(O)c2OC)NC(=O)C(C)CC=CC(OC)C(OC(N)=O)C(C)=CC(C)C1O", 0.05, 1.0),
    _c("ganetespib", "HSP90 inhibitor", "proteotoxic_stress", "triazolone",
       "CC(C)c1cc(-c2n[nH]c(=O)n2-c2ccc3c(ccn3C)c2)c(O)cc1O", 0.05, 1.0),
    _c("NVP-HSP990", "HSP90 inhibitor", "proteotoxic_stress", "aminopyrimidine_lactam",
       "COc1cccc(-c2cc(F)ccc2C2Cc3nc(N)nc(C)c3C(=O)N2)n1", 0.05, 0.9),
    _c("bortezomib", "proteasome inhibitor", "proteasome_stress", "peptide_boronate",
       "CC(C)CC(NC(=O)C(Cc1ccccc1)NC(=O)c1cnccn1)B(O)O", 0.01, 1.0),
    _c("MG-132", "proteasome inhibitor", "proteasome_stress", "peptide_aldehyde",
       "CC(C)CC(C=O)NC(=O)C(CC(C)C)NC(=O)C(CC(C)C)NC(=O)OCc1ccccc1", 0.5, 1.0),
    _c("delanzomib", "proteasome inhibitor", "proteasome_stress", "peptide_boronate",
       "CC(=O)C(NC(=O)c1cccc(-c2ccccc2)n1)C(O)NC(CC(C)C)B(O)O", 0.02, 1.0),
    _c("aloxistatin", "cysteine protease inhibitor", _NONE, "peptide_epoxide",
       "CCOC(=O)C1OC1C(=O)NC(CC(C)C)C(=O)NCCC(C)C", 5.0, 0.0),
    _c("sirolimus", "mTOR inhibitor", "growth_inhibition", "macrolide",
       "COC1CC2CCC(C)C(O)(O2)C(=O)C(=O)N2CCCCC2C(=O)OC(C(C)CC2CCC(O)C(OC)C2)CC(=O)C(C)=CC(C)C(O)"
       "C(OC)C(=O)C(C)CC(C)C=CC=CC=C1C", 0.001, 0.8),
    _c("AZD2014", "mTOR inhibitor", "growth_inhibition", "pyridopyrimidine",
       "CNC(=O)c1cccc(-c2ccc3c(N4CCOCC4C)nc(N4CCOCC4C)nc3n2)c1", 0.1, 1.0),
    _c("buparlisib", "PI3K inhibitor", "growth_inhibition", "morpholinopyrimidine",
       "Nc1cc(C(F)(F)F)c(-c2cc(N3CCOCC3)nc(N3CCOCC3)n2)cn1", 0.5, 1.0),
    _c("LY294002", "PI3K inhibitor", "growth_inhibition", "chromone",
       "O=c1cc(N2CCOCC2)oc2c(-c3ccccc3)cccc12", 5.0, 0.8),
    _c("AMG900", "Aurora kinase inhibitor", "cytokinesis_failure", "phthalazinamine",
       "Cc1csc(-c2nnc(Nc3ccc(Oc4ncccc4-c4ccnc(N)n4)cc3)c3ccccc23)c1", 0.01, 1.0),
    _c("danusertib", "Aurora kinase inhibitor", "cytokinesis_failure", "pyrrolopyrazole",
       "COC(C(=O)N1Cc2[nH]nc(NC(=O)c3ccc(N4CCN(C)CC4)cc3)c2C1)c1ccccc1", 0.1, 1.0),
    _c("GSK1070916", "Aurora kinase inhibitor", "cytokinesis_failure", "azaindole",
       "CCn1cc(-c2ccnc3[nH]c(-c4cccc(CN(C)C)c4)cc23)c(-c2ccc(NC(=O)N(C)C)cc2)n1", 0.01, 1.0),
    _c("tozasertib", "Aurora kinase inhibitor", "cytokinesis_failure", "aminopyrazole",
       "Cc1cc(Nc2cc(N3CCN(C)CC3)nc(Sc3ccc(NC(=O)C4CC4)cc3)n2)n[nH]1", 0.1, 1.0),
    _c("BI-2536", "PLK inhibitor", "mitotic_arrest", "dihydropteridinone",
       "CCC1C(=O)N(C)c2cnc(Nc3ccc(C(=O)NC4CCN(C)CC4)cc3OC)nc2N1C1CCCC1", 0.005, 1.0),
    _c("ispinesib", "kinesin inhibitor", "mitotic_arrest", "quinazolinone",
       "Cc1ccc(C(=O)N(CCCN)C(c2nc3cc(Cl)ccc3c(=O)n2Cc2ccccc2)C(C)C)cc1", 0.005, 1.0),
    _c("purvalanol A", "CDK inhibitor", "g1_arrest", "purine",
       "CC(C)C(CO)Nc1nc(Nc2cccc(Cl)c2)c2ncn(C(C)C)c2n1", 5.0, 0.8),
    _c("aminopurvalanol A", "CDK inhibitor", "g1_arrest", "purine",
       "CC(C)C(CO)Nc1nc(Nc2cc(N)cc(Cl)c2)c2ncn(C(C)C)c2n1", 2.0, 0.8),
    _c("roscovitine", "CDK inhibitor", "g1_arrest", "purine",
       "CCC(CO)Nc1nc(NCc2ccccc2)c2ncn(C(C)C)c2n1", 15.0, 0.8),
    _c("palbociclib", "CDK inhibitor", "g1_arrest", "pyridopyrimidine",
       "CC(=O)c1c(C)c2cnc(Nc3ccc(N4CCNCC4)cn3)nc2n(C2CCCC2)c1=O", 0.1, 0.9),
    _c("THZ1", "CDK inhibitor", "g1_arrest", "aminopyrimidine_indole",
       "CN(C)C/C=C/C(=O)Nc1ccc(C(=O)Nc2cccc(Nc3ncc(Cl)c(-c4c[nH]c5ccccc45)n3)c2)cc1", 0.05, 1.0),
    _c("methotrexate", "dihydrofolate reductase inhibitor", "replication_stress", "antifolate",
       "CN(Cc1cnc2nc(N)nc(N)c2n1)c1ccc(C(=O)NC(CCC(=O)O)C(=O)O)cc1", 0.05, 0.9),
    _c("fluorouracil", "thymidylate synthase inhibitor", "replication_stress", "fluoropyrimidine",
       "O=c1[nH]cc(F)c(=O)[nH]1", 5.0, 0.8, "Oc1ncc(F)c(O)n1"),
    _c("floxuridine", "thymidylate synthase inhibitor", "replication_stress", "fluoropyrimidine",
       "OC[C@H]1O[C@H](C[C@@H]1O)n1cc(F)c(=O)[nH]c1=O", 0.05, 0.9),
    _c("gemcitabine", "ribonucleotide reductase inhibitor", "replication_stress", "nucleoside",
       "Nc1ccn([C@@H]2O[C@H](CO)[C@@H](O)C2(F)F)c(=O)n1", 0.02, 1.0),
    _c("hydroxyurea", "ribonucleotide reductase inhibitor", "replication_stress", "urea",
       "NC(=O)NO", 300.0, 0.8),
    _c("chlorambucil", "DNA alkylating agent", "replication_stress", "nitrogen_mustard",
       "OC(=O)CCCc1ccc(cc1)N(CCCl)CCCl", 8.0, 0.8),
    _c("cyclophosphamide", "DNA alkylating agent", _NONE, "nitrogen_mustard",
       "O=P1(N(CCCl)CCCl)NCCCO1", 1000.0, 0.0),
    _c("FCCP", "mitochondrial uncoupler", "mitochondrial_depolarisation", "carbonyl_cyanide_hydrazone",
       "N#CC(C#N)=NNc1ccc(OC(F)(F)F)cc1", 0.5, 1.0),
    _c("CCCP", "mitochondrial uncoupler", "mitochondrial_depolarisation", "carbonyl_cyanide_hydrazone",
       "N#CC(C#N)=NNc1cccc(Cl)c1", 1.0, 1.0),
    _c("niclosamide", "mitochondrial uncoupler", "mitochondrial_depolarisation", "salicylanilide",
       "O=C(Nc1ccc([N+](=O)[O-])cc1Cl)c1cc(Cl)ccc1O", 0.5, 1.0),
    _c("2,4-dinitrophenol", "mitochondrial uncoupler", "mitochondrial_depolarisation", "nitrophenol",
       "Oc1ccc([N+](=O)[O-])cc1[N+](=O)[O-]", 200.0, 1.0),
    _c("BAY-87-2243", "mitochondrial complex I inhibitor", "mitochondrial_depolarisation", "oxadiazole",
       "Cc1cc(-c2nc(-c3ccc(OC(F)(F)F)cc3)no2)nn1Cc1ccnc(N2CCN(C3CC3)CC2)c1", 0.01, 0.8),
    _c("cycloheximide", "protein synthesis inhibitor", "translation_arrest", "glutarimide",
       "CC1CC(C)C(=O)C(C(O)CC2CC(=O)NC(=O)C2)C1", 0.5, 1.0),
    _c("anisomycin", "protein synthesis inhibitor", "translation_arrest", "pyrrolidine",
       "COc1ccc(C[C@H]2NC[C@H](O)[C@H]2OC(C)=O)cc1", 0.1, 1.0),
    _c("emetine", "protein synthesis inhibitor", "translation_arrest", "isoquinoline_alkaloid",
       "CC[C@H]1CN2CCc3cc(OC)c(OC)cc3[C@@H]2C[C@@H]1C[C@H]1NCCc2cc(OC)c(OC)cc12", 0.1, 1.0),
    _c("homoharringtonine", "protein synthesis inhibitor", "translation_arrest", "cephalotaxine",
       "COC(=O)CC(O)(CCCC(C)(C)O)C(=O)OC1C(OC)=CC23CCCN2CCc2cc4c(cc2C13)OCO4", 0.05, 1.0),
    _c("puromycin", "protein synthesis inhibitor", "translation_arrest", "aminonucleoside",
       "COc1ccc(CC(N)C(=O)NC2C(CO)OC(n3cnc4c(N(C)C)ncnc43)C2O)cc1", 1.0, 1.0),
    _c("cytochalasin B", "actin polymerization inhibitor", "actin_disruption", "cytochalasin",
       "C[C@H]1[C@H]2[C@H](Cc3ccccc3)NC(=O)[C@]22OC(=O)/C=C/[C@H](O)CCC[C@@H](C)C/C=C/[C@H]2[C@H](O)"
       "C1=C", 1.0, 1.0),
    _c("latrunculin B", "actin polymerization inhibitor", "actin_disruption", "macrolide_thiazolidinone",
       "C[C@H]1CC[C@@H]2C[C@H](C[C@@](O)(O2)[C@@H]2CSC(=O)N2)OC(=O)/C=C(C)\\CC/C=C\\1", 0.2, 1.0),
    _c("RKI-1447", "ROCK inhibitor", "cytoskeletal_relaxation", "thiazolyl_urea",
       "O=C(Nc1nc(-c2ccncc2)cs1)NCc1cccc(O)c1", 0.5, 0.8),
    _c("omeprazole", "ATPase inhibitor", _NONE, "benzimidazole",
       "COc1ccc2[nH]c(S(=O)Cc3ncc(C)c(OC)c3C)nc2c1", 10.0, 0.0),
)  # fmt: skip

# Drugs without a morphological phenotype in U2OS at the screened dose (Cell Painting screens find most
# approved drugs inactive at 10 µM), labelled with their real mechanism. Families keep similar pairs
# together (statins, beta-blockers, phenothiazines ...). Every parent is stable under RDKit's canonical
# tautomer; drugs where that step drops stereo or moves a double bond (rosuvastatin, nifedipine,
# lorazepam, resveratrol) are left out; naproxen and lovastatin are written without the stereocentre
# next to their carbonyl.
INACTIVE_COMPOUNDS: tuple[LibraryCompound, ...] = (
    _c("atorvastatin", "HMGCR inhibitor", _NONE, "statin",
       "CC(C)c1c(C(=O)Nc2ccccc2)c(-c2ccccc2)c(-c2ccc(F)cc2)n1CC[C@@H](O)C[C@@H](O)CC(=O)O", 1.0, 0.0),
    _c("pitavastatin", "HMGCR inhibitor", _NONE, "statin",
       "OC(=O)C[C@H](O)C[C@H](O)/C=C/c1c(C2CC2)nc2ccccc2c1-c1ccc(F)cc1", 1.0, 0.0),
    _c("fluvastatin", "HMGCR inhibitor", _NONE, "statin",
       "CC(C)n1c(/C=C/[C@@H](O)C[C@@H](O)CC(=O)O)c(-c2ccc(F)cc2)c2ccccc21", 1.0, 0.0),
    _c("simvastatin", "HMGCR inhibitor", _NONE, "statin_lactone",
       "CCC(C)(C)C(=O)O[C@H]1C[C@@H](C)C=C2C=C[C@H](C)[C@H](CC[C@@H]3C[C@@H](O)CC(=O)O3)[C@@H]21",
       1.0, 0.0),
    _c("lovastatin", "HMGCR inhibitor", _NONE, "statin_lactone",
       "CCC(C)C(=O)O[C@H]1C[C@@H](C)C=C2C=C[C@H](C)[C@H](CC[C@@H]3C[C@@H](O)CC(=O)O3)[C@@H]21",
       1.0, 0.0),
    _c("propranolol", "adrenergic receptor antagonist", _NONE, "beta_blocker",
       "CC(C)NCC(O)COc1cccc2ccccc12", 0.01, 0.0),
    _c("atenolol", "adrenergic receptor antagonist", _NONE, "beta_blocker",
       "CC(C)NCC(O)COc1ccc(CC(N)=O)cc1", 0.1, 0.0),
    _c("metoprolol", "adrenergic receptor antagonist", _NONE, "beta_blocker",
       "COCCc1ccc(OCC(O)CNC(C)C)cc1", 0.1, 0.0),
    _c("ibuprofen", "cyclooxygenase inhibitor", _NONE, "nsaid", "CC(C)Cc1ccc(C(C)C(=O)O)cc1", 5.0, 0.0),
    _c("naproxen (racemic)", "cyclooxygenase inhibitor", _NONE, "nsaid",
       "COc1ccc2cc(C(C)C(=O)O)ccc2c1", 5.0, 0.0),
    _c("diclofenac", "cyclooxygenase inhibitor", _NONE, "nsaid", "OC(=O)Cc1ccccc1Nc1c(Cl)cccc1Cl", 0.1, 0.0),
    _c("indomethacin", "cyclooxygenase inhibitor", _NONE, "nsaid",
       "COc1ccc2c(c1)c(CC(=O)O)c(C)n2C(=O)c1ccc(Cl)cc1", 0.1, 0.0),
    _c("aspirin", "cyclooxygenase inhibitor", _NONE, "nsaid", "CC(=O)Oc1ccccc1C(=O)O", 50.0, 0.0),
    _c("celecoxib", "cyclooxygenase inhibitor", _NONE, "coxib",
       "Cc1ccc(-c2cc(C(F)(F)F)nn2-c2ccc(S(N)(=O)=O)cc2)cc1", 0.05, 0.0),
    _c("caffeine", "adenosine receptor antagonist", _NONE, "xanthine", "Cn1c(=O)c2c(ncn2C)n(C)c1=O",
       30.0, 0.0),
    _c("theophylline", "adenosine receptor antagonist", _NONE, "xanthine", "Cn1c(=O)c2[nH]cnc2n(C)c1=O",
       20.0, 0.0, "Cn1c(=O)c2nc[nH]c2n(C)c1=O"),
    _c("imatinib", "Bcr-Abl kinase inhibitor", _NONE, "phenylaminopyrimidine",
       "Cc1ccc(NC(=O)c2ccc(CN3CCN(C)CC3)cc2)cc1Nc1nccc(-c2cccnc2)n1", 0.5, 0.0),
    _c("gefitinib", "EGFR inhibitor", _NONE, "anilinoquinazoline",
       "COc1cc2ncnc(Nc3ccc(F)c(Cl)c3)c2cc1OCCCN1CCOCC1", 0.05, 0.0),
    _c("erlotinib", "EGFR inhibitor", _NONE, "anilinoquinazoline",
       "COCCOc1cc2ncnc(Nc3cccc(C#C)c3)c2cc1OCCOC", 0.05, 0.0),
    _c("chlorpromazine", "dopamine receptor antagonist", _NONE, "phenothiazine",
       "CN(C)CCCN1c2ccccc2Sc2ccc(Cl)cc21", 0.05, 0.0),
    _c("promazine", "dopamine receptor antagonist", _NONE, "phenothiazine",
       "CN(C)CCCN1c2ccccc2Sc2ccccc21", 0.1, 0.0),
    _c("fluoxetine", "serotonin reuptake inhibitor", _NONE, "ssri",
       "CNCCC(Oc1ccc(C(F)(F)F)cc1)c1ccccc1", 0.05, 0.0),
    _c("sertraline", "serotonin reuptake inhibitor", _NONE, "ssri",
       "CN[C@H]1CC[C@@H](c2ccc(Cl)c(Cl)c2)c2ccccc21", 0.05, 0.0),
    _c("diazepam", "benzodiazepine receptor agonist", _NONE, "benzodiazepine",
       "CN1C(=O)CN=C(c2ccccc2)c2cc(Cl)ccc21", 0.05, 0.0),
    _c("alprazolam", "benzodiazepine receptor agonist", _NONE, "benzodiazepine",
       "Cc1nnc2n1-c1ccc(Cl)cc1C(c1ccccc1)=NC2", 0.05, 0.0),
    _c("verapamil", "calcium channel blocker", _NONE, "phenylalkylamine",
       "COc1ccc(CCN(C)CCCC(C#N)(C(C)C)c2ccc(OC)c(OC)c2)cc1OC", 0.5, 0.0),
    _c("gallopamil", "calcium channel blocker", _NONE, "phenylalkylamine",
       "COc1ccc(CCN(C)CCCC(C#N)(C(C)C)c2cc(OC)c(OC)c(OC)c2)cc1OC", 0.5, 0.0),
    _c("tamoxifen", "estrogen receptor antagonist", _NONE, "triphenylethylene",
       "CC/C(=C(\\c1ccccc1)c1ccc(OCCN(C)C)cc1)c1ccccc1", 0.1, 0.0),
    _c("haloperidol", "dopamine receptor antagonist", _NONE, "butyrophenone",
       "O=C(CCCN1CCC(O)(c2ccc(Cl)cc2)CC1)c1ccc(F)cc1", 0.01, 0.0),
    _c("loratadine", "histamine receptor antagonist", _NONE, "tricyclic_antihistamine",
       "CCOC(=O)N1CCC(=C2c3ccc(Cl)cc3CCc3cccnc32)CC1", 0.05, 0.0),
    _c("hydroxyzine", "histamine receptor antagonist", _NONE, "diphenylmethylpiperazine",
       "OCCOCCN1CCN(C(c2ccccc2)c2ccc(Cl)cc2)CC1", 0.01, 0.0),
    _c("warfarin", "vitamin K antagonist", _NONE, "coumarin", "CC(=O)CC(c1ccccc1)c1c(O)c2ccccc2oc1=O",
       1.0, 0.0),
    _c("ciprofloxacin", "bacterial DNA gyrase inhibitor", _NONE, "quinolone",
       "O=C(O)c1cn(C2CC2)c2cc(N3CCNCC3)c(F)cc2c1=O", 1.0, 0.0),
    _c("levofloxacin", "bacterial DNA gyrase inhibitor", _NONE, "quinolone",
       "C[C@H]1COc2c(N3CCN(C)CC3)c(F)cc3c(=O)c(C(=O)O)cn1c23", 1.0, 0.0),
    _c("sildenafil", "phosphodiesterase inhibitor", _NONE, "pyrazolopyrimidinone",
       "CCCc1nn(C)c2c(=O)[nH]c(-c3cc(S(=O)(=O)N4CCN(C)CC4)ccc3OCC)nc12", 0.01, 0.0,
       "CCCc1nn(C)c2c(O)nc(-c3cc(S(=O)(=O)N4CCN(C)CC4)ccc3OCC)nc12"),
    _c("lidocaine", "sodium channel blocker", _NONE, "local_anaesthetic", "CCN(CC)CC(=O)Nc1c(C)cccc1C",
       10.0, 0.0),
    _c("procaine", "sodium channel blocker", _NONE, "local_anaesthetic", "CCN(CC)CCOC(=O)c1ccc(N)cc1",
       10.0, 0.0),
    _c("quinine", "antimalarial", _NONE, "cinchona_alkaloid",
       "COc1ccc2nccc([C@@H](O)[C@@H]3C[C@@H]4CCN3C[C@@H]4C=C)c2c1", 1.0, 0.0),
    _c("chloroquine", "autophagy inhibitor", _NONE, "aminoquinoline", "CCN(CC)CCCC(C)Nc1ccnc2cc(Cl)ccc12",
       20.0, 0.0),
    _c("hydroxychloroquine", "autophagy inhibitor", _NONE, "aminoquinoline",
       "CCN(CCO)CCCC(C)Nc1ccnc2cc(Cl)ccc12", 30.0, 0.0),
    _c("clotrimazole", "lanosterol demethylase inhibitor", _NONE, "azole",
       "Clc1ccccc1C(c1ccccc1)(c1ccccc1)n1ccnc1", 1.0, 0.0),
    _c("diltiazem", "calcium channel blocker", _NONE, "benzothiazepine",
       "COc1ccc(C2Sc3ccccc3N(CCN(C)C)C(=O)C2OC(C)=O)cc1", 0.5, 0.0),
    _c("trazodone", "serotonin receptor antagonist", _NONE, "triazolopyridine",
       "O=c1n(CCCN2CCN(c3cccc(Cl)c3)CC2)nc2ccccn12", 0.1, 0.0),
    _c("miconazole", "lanosterol demethylase inhibitor", _NONE, "azole",
       "Clc1ccc(COC(Cn2ccnc2)c2ccc(Cl)cc2Cl)c(Cl)c1", 1.0, 0.0),
    _c("ruxolitinib", "JAK inhibitor", _NONE, "pyrrolopyrimidine",
       "N#CCC(C1CCCC1)n1cc(-c2ncnc3[nH]ccc23)cn1", 0.01, 0.0),
    _c("veliparib", "PARP inhibitor", _NONE, "benzimidazole_carboxamide",
       "CC1(c2nc3c(C(N)=O)cccc3[nH]2)CCCN1", 0.01, 0.0),
)  # fmt: skip

#: The whole library: actives of the screened dose first, then the drugs inactive at any dose.
LIBRARY: tuple[LibraryCompound, ...] = ACTIVE_COMPOUNDS + INACTIVE_COMPOUNDS
