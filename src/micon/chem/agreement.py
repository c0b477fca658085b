"""Does our standardisation give a compound the reference's InChIKey, as given and in perturbed forms?

Each compound's SMILES, as given and rewritten by each perturbation kind (:mod:`micon.chem.perturb`), is
standardised and its InChIKey compared with the reference key (JUMP's ``Metadata_InChIKey``): the full
key, and the first block alone (the 14-character hash of the connectivity, blind to stereo, isotopes and
protonation). A kind is scored only over the compounds it applies to; a perturbed SMILES that fails to
standardise counts as a disagreement.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import pandas as pd

from micon import schema
from micon.chem.parallel import ParallelConfig, map_in_chunks
from micon.chem.perturb import PERTURBATION_KINDS, Perturbation, perturb_smiles
from micon.chem.standardize import StandardizationConfig, StandardizationFailure, standardize_many
from micon.errors import InvalidInputError, UnknownNameError
from micon.quarantine import require_columns

AS_GIVEN = "as_given"

# Columns of the per-compound table.
PERTURBATION = "perturbation"
PERTURBED_SMILES = "perturbed_smiles"
APPLIED = "applied"
PERTURBATION_DETAIL = "perturbation_detail"
FAILURE = "standardization_failure"
FULL_KEY_EQUAL = "full_key_equal"
FIRST_BLOCK_EQUAL = "first_block_equal"


def _is_smiles(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _perturb_all(smiles: object, kinds: tuple[str, ...], seed: int) -> list[Perturbation]:
    """Return the as-given SMILES and each kind's perturbation of it (runs in a worker)."""
    if not _is_smiles(smiles):
        return [Perturbation(kind=k, smiles=None, detail="no SMILES") for k in (AS_GIVEN, *kinds)]
    given = Perturbation(kind=AS_GIVEN, smiles=str(smiles), detail="SMILES as given")
    try:
        return [given, *(perturb_smiles(str(smiles), k, seed=seed) for k in kinds)]
    except InvalidInputError as err:
        # An unreadable SMILES cannot be perturbed; as given it still counts (and fails to standardise).
        return [given, *(Perturbation(kind=k, smiles=None, detail=str(err)) for k in kinds)]


def inchikey_agreement(
    compounds: pd.DataFrame,
    config: StandardizationConfig,
    parallel: ParallelConfig,
    *,
    kinds: Sequence[str] = PERTURBATION_KINDS,
    seed: int = 0,
) -> pd.DataFrame:
    """Standardise each compound as given and perturbed, and compare its InChIKey with the reference.

    Args:
        compounds: ``Metadata_JCP2022``, ``Metadata_SMILES`` (may be missing: then no kind applies) and
            ``Metadata_InChIKey`` (the reference key).
        config: Standardisation steps.
        parallel: Worker processes, chunk size and progress bar (for perturbing and standardising).
        kinds: Perturbation kinds to score besides the SMILES as given.
        seed: Seed of the perturbations.

    Returns:
        One row per compound and kind (``as_given`` first, then ``kinds``, compounds in input order):
        ``Metadata_JCP2022``, ``Metadata_SMILES``, ``Metadata_InChIKey``, ``perturbation``,
        ``perturbed_smiles`` (None where not applied), ``applied``, ``perturbation_detail``,
        ``Metadata_StandardSMILES`` and ``Metadata_StandardInChIKey`` (None where not applied or failed),
        ``standardization_failure`` (the reason, or None), ``full_key_equal``, ``first_block_equal``.

    Raises:
        MissingColumnsError: A required column is missing.
        InvalidInputError: The table has no rows.
        UnknownNameError: A kind is not in ``PERTURBATION_KINDS``.
    """
    require_columns(compounds, [schema.JCP2022, schema.SMILES, schema.INCHIKEY], table_name="compound table")
    if compounds.empty:
        raise InvalidInputError("compound table is empty: there is no compound to compare")
    unknown = [k for k in kinds if k not in PERTURBATION_KINDS]
    if unknown:
        raise UnknownNameError(f"unknown perturbation(s) {unknown}; known: {list(PERTURBATION_KINDS)}")
    kinds = tuple(kinds)

    perturbations = map_in_chunks(
        functools.partial(_perturb_all, kinds=kinds, seed=seed),
        compounds[schema.SMILES].tolist(),
        parallel,
        description="perturb SMILES",
    )
    applied = (p.smiles for row in perturbations for p in row if p.smiles is not None)
    to_standardize = list(dict.fromkeys(applied))
    standardized = dict(zip(to_standardize, standardize_many(to_standardize, config, parallel), strict=True))

    records = []
    for (jcp, smiles, reference), row in zip(
        compounds[[schema.JCP2022, schema.SMILES, schema.INCHIKEY]].itertuples(index=False, name=None),
        perturbations,
        strict=True,
    ):
        for perturbation in row:
            result = standardized.get(perturbation.smiles) if perturbation.smiles is not None else None
            failed = isinstance(result, StandardizationFailure)
            key = None if result is None or failed else result.inchikey
            records.append(
                {
                    schema.JCP2022: jcp,
                    schema.SMILES: smiles,
                    schema.INCHIKEY: reference,
                    PERTURBATION: perturbation.kind,
                    PERTURBED_SMILES: perturbation.smiles,
                    APPLIED: perturbation.applied,
                    PERTURBATION_DETAIL: perturbation.detail,
                    schema.STANDARD_SMILES: None if key is None else result.smiles,
                    schema.STANDARD_INCHIKEY: key,
                    FAILURE: result.reason if failed else None,
                    FULL_KEY_EQUAL: key is not None and key == reference,
                    FIRST_BLOCK_EQUAL: key is not None
                    and isinstance(reference, str)
                    and key.split("-")[0] == reference.split("-")[0],
                }
            )
    table = pd.DataFrame.from_records(records)
    order = {kind: i for i, kind in enumerate((AS_GIVEN, *kinds))}
    table = table.sort_values(PERTURBATION, key=lambda s: s.map(order), kind="stable")
    return table.reset_index(drop=True)


def summarise_agreement(table: pd.DataFrame) -> pd.DataFrame:
    """Count, per perturbation kind, where it applied and how often the standardised key agreed.

    Args:
        table: The output of :func:`inchikey_agreement`.

    Returns:
        One row per kind, in the table's order: ``perturbation``, ``n_compounds``, ``n_applied``,
        ``n_standardized`` (applied and standardised), ``n_full_key_equal``, ``n_first_block_equal``,
        ``full_key_agreement`` and ``first_block_agreement`` (fractions of ``n_applied``; NaN where
        the kind applied to no compound).

    Raises:
        MissingColumnsError: A column of :func:`inchikey_agreement`'s table is missing.
    """
    require_columns(
        table,
        [PERTURBATION, APPLIED, schema.STANDARD_INCHIKEY, FULL_KEY_EQUAL, FIRST_BLOCK_EQUAL],
        table_name="agreement table",
    )
    grouped = table.groupby(PERTURBATION, sort=False)
    summary = pd.DataFrame(
        {
            "n_compounds": grouped.size(),
            "n_applied": grouped[APPLIED].sum(),
            "n_standardized": grouped[schema.STANDARD_INCHIKEY].count(),
            "n_full_key_equal": grouped[FULL_KEY_EQUAL].sum(),
            "n_first_block_equal": grouped[FIRST_BLOCK_EQUAL].sum(),
        }
    ).astype(int)
    applied = summary["n_applied"].where(summary["n_applied"] > 0)
    summary["full_key_agreement"] = summary["n_full_key_equal"] / applied
    summary["first_block_agreement"] = summary["n_first_block_equal"] / applied
    return summary.rename_axis(PERTURBATION).reset_index()
