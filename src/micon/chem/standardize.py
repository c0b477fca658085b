"""Standardise compound structures to a canonical parent: cleanup, largest fragment, uncharge, tautomer.

The steps follow JUMP's ``jump_smiles`` (broadinstitute/jump_smiles), built on RDKit's
``rdMolStandardize``: salts and solvents are stripped to the largest organic fragment, charges are
neutralised where chemistry allows and one canonical tautomer is chosen, so that a hydrochloride, a
sodium salt or another tautomer of a compound all map to one canonical isomeric SMILES and InChIKey.
JUMP's keys also drop stereochemistry (MolVS ``stereo_parent``); set ``remove_stereo`` to do the same.
RDKit's normaliser writes sulfoxides charge-separated, as JUMP's SMILES do: DMSO becomes
``C[S+](C)[O-]`` (InChIKey unchanged, IAZDPXIOMUYVGZ-UHFFFAOYSA-N).

Many SMILES are standardised in chunks over worker processes (:func:`standardize_many`, see
:mod:`micon.chem.parallel`); the result does not depend on the number of workers.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd
from rdkit import Chem, rdBase
from rdkit.Chem.MolStandardize import rdMolStandardize

from micon import schema
from micon.chem.classify import StructureProblem, find_structure_problem
from micon.chem.parallel import ParallelConfig, map_in_chunks
from micon.chem.parse import parse_smiles, rdkit_reason
from micon.contracts import COMPOUND_TABLE, REASON_INVALID_IDENTIFIER, conform_table, invalid_key_rows
from micon.errors import InvalidConfigError, InvalidInputError, InvalidSmilesError
from micon.quarantine import finish_stage, make_quarantine

logger = logging.getLogger(__name__)

_STAGE = "standardize_compounds"
_COMPOUND_KEY: tuple[str, ...] = (schema.JCP2022, schema.SMILES)
REASON_INVALID_SMILES = "invalid_smiles"

UnusualEntryPolicy = Literal["quarantine", "keep_whole"]
UNUSUAL_ENTRY_POLICIES: tuple[str, ...] = UnusualEntryPolicy.__args__


@dataclass(frozen=True, kw_only=True)
class StandardizationConfig:
    """Which standardisation steps run, in this order.

    Attributes:
        cleanup: ``rdMolStandardize.Cleanup``: remove Hs, disconnect metals, normalise functional
            groups, reionise.
        largest_fragment: Keep the largest organic fragment (drops counter-ions, salts, solvents).
        uncharge: Neutralise charges where a neutral form exists (``Uncharger``).
        remove_stereo: Drop stereochemistry, as JUMP's ``stereo_parent`` does (off in conf/base:
            the standard SMILES stays isomeric).
        canonical_tautomer: Replace the molecule by RDKit's canonical tautomer. RDKit then drops
            stereo on atoms and bonds that change between tautomers (e.g. the alpha carbon of an
            amino acid), so enantiomers with such a centre share one standard SMILES. It costs
            about 80% of the time, and on JUMP's compounds it trades agreement with JUMP's keys
            (which are the keys of JUMP's SMILES as written) for tautomer invariance: on, 98.8%
            agree as given and 98.3% of other tautomers map back; off, 99.9% and 42% (InChI's
            mobile-H layer unifies only some tautomers). See benchmarks/bench_standardize.py.
        max_tautomers: Most tautomers the enumerator builds per molecule (bounds the time spent on
            molecules with many tautomers).
        unusual_entries: What happens to an entry whose largest organic fragment is not the compound
            (:func:`~micon.chem.classify.find_structure_problem`): a metal complex or organometallic
            (``contains_metal``), an inorganic entry (``inorganic``) or a salt without an organic parent
            (``salt_only``). ``"quarantine"`` (conf/base) rejects it with that reason; ``"keep_whole"``
            keeps every fragment as written (canonical SMILES of the whole entry, no step applied).
            Counter-ions of an organic parent (HCl, Na+, mesylate) are stripped either way.
    """

    cleanup: bool
    largest_fragment: bool
    uncharge: bool
    remove_stereo: bool
    canonical_tautomer: bool
    max_tautomers: int
    unusual_entries: UnusualEntryPolicy

    def __post_init__(self) -> None:
        for name in ("cleanup", "largest_fragment", "uncharge", "remove_stereo", "canonical_tautomer"):
            value = getattr(self, name)
            if not isinstance(value, bool):
                raise InvalidConfigError(f"StandardizationConfig.{name} must be a bool, got {value!r}")
        if isinstance(self.max_tautomers, bool) or not isinstance(self.max_tautomers, int):
            raise InvalidConfigError(
                f"StandardizationConfig.max_tautomers must be an int, got {self.max_tautomers!r}"
            )
        if self.max_tautomers < 1:
            raise InvalidConfigError(
                f"StandardizationConfig.max_tautomers must be >= 1, got {self.max_tautomers}"
            )
        if self.unusual_entries not in UNUSUAL_ENTRY_POLICIES:
            raise InvalidConfigError(
                f"StandardizationConfig.unusual_entries must be one of {UNUSUAL_ENTRY_POLICIES}, "
                f"got {self.unusual_entries!r}"
            )


@dataclass(frozen=True, kw_only=True)
class StandardizedMolecule:
    """A standardised parent structure.

    Attributes:
        smiles: RDKit canonical isomeric SMILES of the parent.
        inchikey: Standard InChIKey of the parent.
    """

    smiles: str
    inchikey: str


@dataclass(frozen=True, kw_only=True)
class StandardizationFailure:
    """Why a SMILES could not be standardised.

    Attributes:
        reason: The message: the SMILES and RDKit's reason, or what makes the entry unusual.
        code: The quarantine reason: ``invalid_smiles``, or one of ``contains_metal``, ``inorganic``,
            ``salt_only`` (:data:`~micon.chem.classify.STRUCTURE_REASONS`).
    """

    reason: str
    code: str = REASON_INVALID_SMILES


@functools.lru_cache(maxsize=8)
def _tautomer_enumerator(max_tautomers: int) -> rdMolStandardize.TautomerEnumerator:
    """Return a shared tautomer enumerator bounded to ``max_tautomers``."""
    enumerator = rdMolStandardize.TautomerEnumerator()
    enumerator.SetMaxTautomers(max_tautomers)
    return enumerator


def _standardize_mol(mol: Chem.Mol, config: StandardizationConfig) -> Chem.Mol:
    """Apply the configured steps to a sanitised molecule (RDKit may raise on exotic input)."""
    if config.cleanup:
        mol = rdMolStandardize.Cleanup(mol)
    if config.largest_fragment:
        mol = rdMolStandardize.LargestFragmentChooser(preferOrganic=True).choose(mol)
    if config.uncharge:
        mol = rdMolStandardize.Uncharger(canonicalOrder=True).uncharge(mol)
    if config.remove_stereo:
        mol = Chem.Mol(mol)
        Chem.RemoveStereochemistry(mol)
    if config.canonical_tautomer:
        mol = _tautomer_enumerator(config.max_tautomers).Canonicalize(mol)
    return mol


def standardize_smiles(smiles: str, config: StandardizationConfig) -> StandardizedMolecule:
    """Return the canonical parent structure of a SMILES.

    Args:
        smiles: Input SMILES, possibly a salt, charged or a non-canonical tautomer.
        config: Which steps run.

    Returns:
        The parent's canonical isomeric SMILES and InChIKey.

    Raises:
        InvalidSmilesError: The SMILES is empty, unparseable or unsanitisable, or a standardisation
            step fails; the message quotes the SMILES and RDKit's reason.
        UnusualStructureError: ``config.unusual_entries`` is ``"quarantine"`` and the entry is a metal
            complex, inorganic or a salt without an organic parent (its ``code`` says which).

    Examples:
        >>> config = StandardizationConfig(
        ...     cleanup=True, largest_fragment=True, uncharge=True, remove_stereo=False,
        ...     canonical_tautomer=True, max_tautomers=1000,
        ... )
        >>> standardize_smiles("CC(=O)Oc1ccccc1C(=O)[O-].[Na+]", config).inchikey
        'BSYNRYMUTXBXSQ-UHFFFAOYSA-N'
    """
    mol = parse_smiles(smiles)
    problem = find_structure_problem(mol)
    if problem is not None and config.unusual_entries == "quarantine":
        raise UnusualStructureError(problem, smiles)
    with rdBase.BlockLogs(), rdBase.CaptureErrorLog() as log:
        try:
            parent = mol if problem is not None else _standardize_mol(mol, config)
            standard_smiles = Chem.MolToSmiles(parent, isomericSmiles=True)
            inchikey = Chem.MolToInchiKey(parent)
        except (RuntimeError, ValueError) as err:
            raise InvalidSmilesError(
                f"RDKit cannot standardise SMILES {smiles!r}: {err}; {rdkit_reason(log.messages)}"
            ) from err
    if parent.GetNumAtoms() == 0 or not standard_smiles:
        raise InvalidSmilesError(f"standardising SMILES {smiles!r} left no atoms")
    if not inchikey:
        raise InvalidSmilesError(
            f"RDKit gives no InChIKey for SMILES {smiles!r} (parent {standard_smiles!r}): "
            f"{rdkit_reason(log.messages)}"
        )
    return StandardizedMolecule(smiles=standard_smiles, inchikey=inchikey)


class UnusualStructureError(InvalidSmilesError):
    """An entry is not a single organic parent with counter-ions: a metal complex, inorganic or salt-only.

    Attributes:
        code: The quarantine reason (``contains_metal``, ``inorganic`` or ``salt_only``).
    """

    def __init__(self, problem: StructureProblem, smiles: str) -> None:
        super().__init__(f"SMILES {smiles!r}: {problem.detail}")
        self.code = problem.code


def _standardize_or_failure(
    smiles: str, config: StandardizationConfig
) -> StandardizedMolecule | StandardizationFailure:
    """Return the standardised molecule, or the failure with its reason (runs in a worker)."""
    try:
        return standardize_smiles(smiles, config)
    except UnusualStructureError as err:
        return StandardizationFailure(reason=str(err), code=err.code)
    except InvalidSmilesError as err:
        return StandardizationFailure(reason=str(err))


def standardize_many(
    smiles: Sequence[str], config: StandardizationConfig, parallel: ParallelConfig
) -> list[StandardizedMolecule | StandardizationFailure]:
    """Standardise many SMILES, in chunks over worker processes, keeping their order.

    Each SMILES gives exactly what :func:`standardize_smiles` gives for it, whatever the number of
    workers; RDKit's log lines stay per molecule (in the failure's reason), never on stderr.

    Args:
        smiles: The SMILES, in order (repeats are standardised again; deduplicate first to save time).
        config: Which steps run.
        parallel: Worker processes, chunk size and progress bar.

    Returns:
        One entry per SMILES, in order: the standardised molecule, or the failure and its reason.
    """
    return map_in_chunks(
        functools.partial(_standardize_or_failure, config=config),
        smiles,
        parallel,
        description="standardise SMILES",
    )


def _is_missing(value: object) -> bool:
    """Return True for NaN/None/NA or a blank string."""
    if isinstance(value, str):
        return not value.strip()
    return bool(pd.isna(value))


def standardize_compounds(
    compounds: pd.DataFrame, config: StandardizationConfig, parallel: ParallelConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Standardise every compound's SMILES; quarantine compounds that cannot be used.

    The table is first checked against :data:`~micon.contracts.COMPOUND_TABLE` (its ids normalised to
    stripped text). Each distinct SMILES is standardised once. Reasons for quarantine:
    ``invalid_identifier`` (no JCP2022 id: missing, NaN or blank), ``missing_smiles`` (empty or missing
    SMILES), ``duplicate_compound_id`` (a JCP2022 id listed with different SMILES: every row of it; or an
    exact repeat of an earlier row: the repeat), ``invalid_smiles`` (RDKit cannot read or standardise it),
    ``contains_metal``, ``inorganic``, ``salt_only`` (the entry is not an organic parent with counter-ions;
    only when ``config.unusual_entries`` is ``"quarantine"``). DMSO (``CS(C)=O``) is standardised like any
    compound.

    Args:
        compounds: compound_table with ``Metadata_JCP2022``, ``Metadata_SMILES``, ``Metadata_InChIKey``.
        config: Standardisation steps.
        parallel: Worker processes, chunk size and progress bar.

    Returns:
        ``(accepted, quarantined)``: accepted keeps every input column and adds
        ``Metadata_StandardSMILES`` and ``Metadata_StandardInChIKey``; quarantined has the key
        ``Metadata_JCP2022``, ``Metadata_SMILES`` plus stage, reason, detail.

    Raises:
        MissingColumnsError: A required column is missing.
        ContractError: A column holds values of the wrong type (names the column and rows).
        InvalidInputError: The table has no rows.
    """
    table = conform_table(compounds, COMPOUND_TABLE)
    if table.empty:
        raise InvalidInputError("compound table is empty: there is no compound to standardise")
    rejects: list[pd.DataFrame] = []

    no_id, no_id_detail = invalid_key_rows(table, COMPOUND_TABLE)
    if no_id.any():
        rejects.append(
            make_quarantine(
                table[no_id],
                _COMPOUND_KEY,
                stage=_STAGE,
                reason=REASON_INVALID_IDENTIFIER,
                detail=no_id_detail[no_id],
            )
        )
    table = table[~no_id]

    missing = table[schema.SMILES].map(_is_missing).astype(bool)
    if missing.any():
        rows = table[missing]
        rejects.append(
            make_quarantine(
                rows,
                _COMPOUND_KEY,
                stage=_STAGE,
                reason="missing_smiles",
                detail=rows[schema.JCP2022].map(lambda c: f"compound {c!r} has no SMILES"),
            )
        )
    table = table[~missing]

    n_smiles = table.groupby(schema.JCP2022, sort=False)[schema.SMILES].transform("nunique")
    conflicting = n_smiles > 1
    repeated = ~conflicting & table.duplicated(subset=[schema.JCP2022, schema.SMILES], keep="first")
    for mask, why in (
        (conflicting, "is listed with {n} different SMILES"),
        (repeated, "repeats an earlier row with the same SMILES"),
    ):
        if mask.any():
            rows = table[mask]
            detail = [
                f"compound {c!r} (SMILES {s!r}) " + why.format(n=n)
                for c, s, n in zip(rows[schema.JCP2022], rows[schema.SMILES], n_smiles[mask], strict=True)
            ]
            rejects.append(
                make_quarantine(
                    rows,
                    _COMPOUND_KEY,
                    stage=_STAGE,
                    reason="duplicate_compound_id",
                    detail=pd.Series(detail, index=rows.index),
                )
            )
    table = table[~(conflicting | repeated)]

    distinct = list(pd.unique(table[schema.SMILES]))
    outcomes = standardize_many(distinct, config, parallel)
    results = dict(zip(distinct, outcomes, strict=True))
    failed = table[schema.SMILES].map(lambda s: isinstance(results[s], StandardizationFailure)).astype(bool)
    if failed.any():
        rows = table[failed]
        failures = [results[s] for s in rows[schema.SMILES]]
        detail = [
            f"compound {c!r}: {f.reason}"  # type: ignore[union-attr]
            for c, f in zip(rows[schema.JCP2022], failures, strict=True)
        ]
        rejects.append(
            make_quarantine(
                rows,
                _COMPOUND_KEY,
                stage=_STAGE,
                reason=pd.Series([f.code for f in failures], index=rows.index),  # type: ignore[union-attr]
                detail=pd.Series(detail, index=rows.index),
            )
        )
    accepted = table[~failed].copy()
    molecules = [results[s] for s in accepted[schema.SMILES]]
    accepted[schema.STANDARD_SMILES] = [m.smiles for m in molecules]  # type: ignore[union-attr]
    accepted[schema.STANDARD_INCHIKEY] = [m.inchikey for m in molecules]  # type: ignore[union-attr]
    accepted = accepted.reset_index(drop=True)

    return finish_stage(_STAGE, len(compounds), accepted, rejects, _COMPOUND_KEY, log=logger)
