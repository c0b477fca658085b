"""Equal tuning: the same trials, step budget and validation selection for every trained method.

Every trained method gets the same trials over its learning rate and temperature and the same step budget,
and is selected on validation wells, never on the test queries. The search is a seeded draw of ``n_trials``
points from the grid ``lr x temperature`` (the same points for every method); a trial trains the method for
``max_steps`` on the training split, embeds the crops of the validation plates and scores replicate
retrieval among the validation wells (training compounds on held-out plates) with the reporting chain named
by the selection. The trial with the best validation score wins; ties go to the earlier trial.

A method's temperature is every objective field named ``temperature`` or ending in ``_temperature`` (MICON's
PaCLR and counterfactual temperatures move together; with a learnable temperature it is the initial value).

Hand-written rather than Optuna or Ray Tune: the search is a fixed handful of grid points shared by all
methods (so that the budget is equal by construction), and each trial is one call of the project's own
training and evaluation; a tuning library would add a scheduler and storage without changing one number.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from micon import schema
from micon.errors import InvalidConfigError, InvalidInputError

__all__ = [
    "SELECTION_METRICS",
    "SelectionConfig",
    "TuningConfig",
    "apply_selection",
    "best_trials",
    "check_equal_search",
    "temperature_fields",
    "trial_settings",
    "validation_wells",
    "with_lr_and_temperature",
]

SELECTION_METRICS: tuple[str, ...] = ("top1", "top5", "map", "map_above_chance")  # as evaluation.validation
TRIAL_COLUMNS: tuple[str, ...] = ("method", "trial", "lr", "temperature", "max_steps")


@dataclass(frozen=True, kw_only=True)
class SelectionConfig:
    """How a trial is scored on the validation wells.

    Attributes:
        split: The ``schema.SPLIT`` value of the validation wells (never a test split).
        level: The retrieval level (a key of ``reporting.retrieval.scenarios``, e.g. ``NSS``).
        metric: One of :data:`SELECTION_METRICS`.
        chain: The normalisation chain (a key of ``reporting.normalization.chains``).
    """

    split: str
    level: str
    metric: str
    chain: str

    def __post_init__(self) -> None:
        if self.split not in schema.SPLITS:
            raise InvalidConfigError(f"selection split {self.split!r} is not one of {list(schema.SPLITS)}")
        if self.split in (schema.SPLIT_TEST, schema.SPLIT_OOD_SOURCE, schema.SPLIT_OOD_COMPOUND):
            raise InvalidConfigError(
                f"selection split {self.split!r} holds test queries: select on validation wells ('val')"
            )
        if self.metric not in SELECTION_METRICS:
            raise InvalidConfigError(f"selection metric {self.metric!r} is not one of {SELECTION_METRICS}")

    @property
    def column(self) -> str:
        """The trials table's column the selection maximises (``<split>_<level>_<metric>``)."""
        return f"{self.split}_{self.level}_{self.metric}"


@dataclass(frozen=True, kw_only=True)
class TuningConfig:
    """The search every trained method gets.

    Attributes:
        n_trials: Trials per method, >= 1 and at most the grid's size.
        seed: Seed of the draw of trials from the grid (one draw, shared by every method).
        max_steps: Training steps of every trial, >= 1.
        lr: Grid of peak learning rates, each > 0.
        temperature: Grid of temperatures (initial values when learnable), each > 0.
        selection: How trials are scored (a :class:`SelectionConfig` or its mapping).
    """

    n_trials: int
    seed: int
    max_steps: int
    lr: tuple[float, ...]
    temperature: tuple[float, ...]
    selection: SelectionConfig

    def __post_init__(self) -> None:
        if isinstance(self.selection, Mapping):
            object.__setattr__(self, "selection", SelectionConfig(**self.selection))
        for name in ("lr", "temperature"):
            values = tuple(float(v) for v in getattr(self, name))
            if not values or any(v <= 0 for v in values) or len(set(values)) != len(values):
                raise InvalidConfigError(f"tuning {name} must be distinct values > 0, got {list(values)}")
            object.__setattr__(self, name, values)
        size = len(self.lr) * len(self.temperature)
        if isinstance(self.n_trials, bool) or not 1 <= self.n_trials <= size:
            raise InvalidConfigError(
                f"tuning n_trials must be between 1 and the grid's {size} points, got {self.n_trials}"
            )
        if self.max_steps < 1:
            raise InvalidConfigError(f"tuning max_steps must be >= 1, got {self.max_steps}")

    def trials(self) -> list[dict[str, float]]:
        """Return the trials, ``{"lr", "temperature"}`` each, in grid order; the same for every method."""
        grid = list(itertools.product(self.lr, self.temperature))
        chosen = np.random.default_rng(self.seed).choice(len(grid), size=self.n_trials, replace=False)
        return [{"lr": grid[i][0], "temperature": grid[i][1]} for i in sorted(chosen)]


def temperature_fields(objective: Mapping[str, Any], *, method: str) -> list[str]:
    """Return the objective fields that hold a temperature (``temperature`` or ``*_temperature``, a number).

    Switches such as ``learn_temperature`` (a boolean) are not temperatures.

    Raises:
        InvalidConfigError: The objective has none (names the method): it cannot be tuned like the others.
    """
    names = [
        k
        for k, v in objective.items()
        if (k == "temperature" or str(k).endswith("_temperature"))
        and isinstance(v, int | float)
        and not isinstance(v, bool)
    ]
    if not names:
        raise InvalidConfigError(
            f"method {method!r}: its objective {sorted(objective)} has no temperature to tune"
        )
    return names


def trial_settings(
    training_params: Mapping[str, Any],
    method_params: Mapping[str, Any],
    trial: Mapping[str, float],
    *,
    max_steps: int,
    method: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Return ``(training params, method params)`` of one trial.

    The trial's learning rate replaces the method's (``method_params["training"]["lr"]`` when the method
    overrides it, else the shared one); its temperature every temperature field of the objective. A trial
    keeps no run folder and no checkpoints (it is scored, not kept) and never resumes.
    """
    tuned = with_lr_and_temperature(method_params, trial["lr"], trial["temperature"], method=method)
    training = {
        **training_params,
        **tuned["training"],
        "max_steps": int(max_steps),
        "warmup_steps": min(int(training_params.get("warmup_steps", 0)), max(int(max_steps) - 1, 0)),
        "run_dir": None,
        "checkpoint_every_n_steps": None,
        "resume": False,
        "enable_progress_bar": False,
    }
    return training, tuned


def with_lr_and_temperature(
    method_params: Mapping[str, Any], lr: float, temperature: float, *, method: str
) -> dict[str, Any]:
    """Return ``method_params`` with the two values the search tunes set; the inputs are not changed.

    ``lr`` goes to the method's ``training`` overrides, ``temperature`` to every temperature field of its
    objective (:func:`temperature_fields`).
    """
    objective = dict(method_params["objective"])
    for name in temperature_fields(objective, method=method):
        objective[name] = float(temperature)
    training = {**(method_params.get("training") or {}), "lr": float(lr)}
    return {**method_params, "training": training, "objective": objective}


def validation_wells(crop_index: pd.DataFrame, split: str) -> pd.DataFrame:
    """Return the crops of every plate holding a ``split`` well (DMSO included, for scaling and the chain).

    Raises:
        InvalidInputError: No crop is in ``split`` (names the parameter that makes validation plates).
    """
    in_split = crop_index[schema.SPLIT].astype(str) == split
    if not in_split.any():
        raise InvalidInputError(
            f"no crop is in the {split!r} split: tuning selects on validation wells; set "
            "data_engineering.splits.val_batches_per_source >= 1 (the benchmark environment does)"
        )
    plates = crop_index.loc[in_split, schema.PLATE_KEY].drop_duplicates()
    on_plates = crop_index.merge(plates, on=list(schema.PLATE_KEY), how="inner")
    return on_plates.sort_values(schema.CROP_ID, kind="stable").reset_index(drop=True)


def best_trials(trials: pd.DataFrame, selection: SelectionConfig) -> pd.DataFrame:
    """Return one row per method: its best trial by ``selection.column`` (ties: the earlier trial).

    Columns: ``method``, ``trial``, ``lr``, ``temperature``, ``max_steps``, the score column, and
    ``n_trials`` (how many trials the method had, the same for every method in an equal search).

    Raises:
        InvalidInputError: The score column is absent, or a method has no trial with a finite score.
    """
    column = selection.column
    if column not in trials.columns:
        raise InvalidInputError(f"the trials table has no {column!r} column; columns: {list(trials.columns)}")
    rows = []
    for method, group in trials.groupby("method", sort=False):
        scored = group[np.isfinite(group[column].to_numpy(dtype=float))]
        if scored.empty:
            raise InvalidInputError(f"method {method!r}: no trial has a finite {column}; nothing to select")
        best = scored.sort_values([column, "trial"], ascending=[False, True], kind="stable").iloc[0]
        rows.append({**{c: best[c] for c in (*TRIAL_COLUMNS, column)}, "n_trials": len(group)})
    return pd.DataFrame(rows)


def check_equal_search(trials: pd.DataFrame, methods: Sequence[str]) -> None:
    """Raise unless every method ran the same trials (lr, temperature, steps): the search is equal.

    Raises:
        InvalidInputError: A method is missing or its trials differ (names it).
    """
    key = ["lr", "temperature", "max_steps"]
    reference = None
    for method in methods:
        own = trials.loc[trials["method"] == method, key]
        if own.empty:
            raise InvalidInputError(f"method {method!r} has no tuning trial")
        points = sorted(map(tuple, own.to_numpy().tolist()))
        if reference is None:
            reference = (method, points)
        elif points != reference[1]:
            raise InvalidInputError(
                f"method {method!r} ran other trials than {reference[0]!r}: {points} vs {reference[1]}"
            )


def apply_selection(
    method_params: Mapping[str, Any], selection: pd.DataFrame, *, method: str
) -> dict[str, Any]:
    """Return ``method_params`` with the selected learning rate and temperature of ``method``.

    The lr goes to the method's ``training`` overrides, the temperature to every temperature field of its
    objective; everything else (the step budget, the seed) stays as configured.

    Raises:
        InvalidInputError: The selection has no row, or several rows, for ``method``.
    """
    rows = selection[selection["method"].astype(str) == method]
    if len(rows) != 1:
        raise InvalidInputError(
            f"the tuning selection has {len(rows)} rows for method {method!r} (needs one); it selected "
            f"{sorted(selection['method'].astype(str))}"
        )
    row = rows.iloc[0]
    return with_lr_and_temperature(method_params, row["lr"], row["temperature"], method=method)
