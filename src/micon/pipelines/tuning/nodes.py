"""Nodes of the tuning pipeline: each method's trials, then every method's best on the validation wells."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from micon.evaluation import NormalizationConfig, RetrievalConfig
from micon.evaluation.validation import score_split
from micon.metadata.provenance import require_crops_of_index
from micon.pipelines.modeling.nodes import train_model
from micon.provenance import run_provenance
from micon.training.runner import embed_crops
from micon.training.tuning import (
    TRIAL_COLUMNS,
    TuningConfig,
    best_trials,
    check_equal_search,
    trial_settings,
    validation_wells,
)

logger = logging.getLogger(__name__)


def tune_method(
    crop_store: Any,
    crop_index: pd.DataFrame,
    source_profile: dict[str, Any],
    model_params: dict[str, Any],
    training_params: dict[str, Any],
    method_params: dict[str, Any],
    tuning_params: dict[str, Any],
    reporting_params: dict[str, Any],
    embedding_params: dict[str, Any],
    *,
    method: str,
) -> pd.DataFrame:
    """Run the search's trials for ``method`` and score each on the validation wells.

    Each trial trains as the modeling pipeline does (:func:`~micon.pipelines.modeling.nodes.train_model`,
    the training split only) with the trial's learning rate and temperature and the search's step budget,
    then embeds the crops of the validation plates and scores them with the selection's chain and level
    (:func:`~micon.evaluation.validation.score_split`). Nothing of a trial is kept but its scores.

    Returns:
        One row per trial: ``method``, ``trial``, ``lr``, ``temperature``, ``max_steps``,
        ``final_loss``, ``seconds`` and ``<split>_<level>_<metric>`` for every level and metric scored.
    """
    config = TuningConfig(**tuning_params)
    selection = config.selection
    require_crops_of_index(crop_index, crop_store, "crop_store")
    wells = validation_wells(crop_index, selection.split)
    normalization = NormalizationConfig(**reporting_params["normalization"])
    retrieval = RetrievalConfig(**reporting_params["retrieval"])
    trials = config.trials()
    rows = []
    for number, trial in enumerate(trials):
        start = time.perf_counter()
        training, settings = trial_settings(
            training_params, method_params, trial, max_steps=config.max_steps, method=method
        )
        checkpoint, history = train_model(
            crop_store, crop_index, source_profile, model_params, training, settings, method=method
        )
        embeddings = embed_crops(
            checkpoint, crop_store.crops, wells, channels=crop_store.channels, **embedding_params
        )
        scores = score_split(
            embeddings,
            split=selection.split,
            level=selection.level,
            chain=selection.chain,
            aggregation=reporting_params["aggregation"],
            normalization=normalization,
            retrieval=retrieval,
        )
        seconds = time.perf_counter() - start
        final_loss = float(history["loss"].iloc[-1]) if len(history) else float("nan")
        rows.append(
            {
                "method": method,
                "trial": number,
                "lr": trial["lr"],
                "temperature": trial["temperature"],
                "max_steps": config.max_steps,
                "final_loss": final_loss,
                "seconds": seconds,
                **scores,
            }
        )
        logger.info(
            "tuning %s: trial %d/%d (lr %g, temperature %g, %d steps) -> %s %.4f in %.0f s",
            method,
            number + 1,
            len(trials),
            trial["lr"],
            trial["temperature"],
            config.max_steps,
            selection.column,
            scores[selection.column],
            seconds,
        )
    return pd.DataFrame(rows)


def select_hyperparameters(
    tuning_params: dict[str, Any], *trials: pd.DataFrame, methods: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Gather every method's trials (in the order of ``methods``) and pick each method's best.

    Returns:
        ``(all trials, selection, provenance)``: the trials of every method in one table, one row per
        method with its chosen ``lr`` and ``temperature`` (:func:`~micon.training.tuning.best_trials`),
        and the commit and command of the run with the search's settings (read by
        ``micon.apply_tuning``).

    Raises:
        InvalidInputError: The methods did not run the same trials (the search was not equal).
    """
    config = TuningConfig(**tuning_params)
    table = pd.concat(list(trials), ignore_index=True)
    check_equal_search(table, methods)
    selection = best_trials(table, config.selection)
    logger.info(
        "tuning selected on %s:\n%s",
        config.selection.column,
        selection[[*TRIAL_COLUMNS, config.selection.column]].to_string(index=False),
    )
    provenance = {**run_provenance(root=Path.cwd()), "tuning": tuning_params}
    return table, selection, provenance
