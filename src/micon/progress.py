"""Progress of long loops: a tqdm bar on a terminal, a few log lines elsewhere (a log file, a CI job).

:func:`progress` returns a ``tqdm`` either way, so callers iterate or ``update`` it as usual. On a terminal
(stderr is a TTY) it is tqdm's bar. Off a terminal tqdm's bar would print only its final state (or one
line per refresh); instead the same tqdm writes its status line (count of the total, rate, time left) to a
logger about ``lines`` times in all, never more. tqdm does the counting and formatting; only the small
file object that sends its lines to ``logging`` is written here (tqdm has no logging output).
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Iterable
from typing import Any

from tqdm.auto import tqdm

__all__ = ["LOG_FORMAT", "on_terminal", "progress"]

# The status line written to the log off a terminal: "embed micon: 120/300 (40%), 3.1 it/s, 0:58 left".
LOG_FORMAT = "{desc}: {n_fmt}/{total_fmt} ({percentage:.0f}%), {rate_fmt}, {remaining} left{postfix}"


def on_terminal() -> bool:
    """Whether progress goes to a terminal (stderr is a TTY), where a live bar is readable."""
    return sys.stderr.isatty()


class _LogLines:
    """A file-like object that writes each status line tqdm prints to a logger (carriage returns dropped)."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger

    def write(self, text: str) -> None:
        line = text.strip("\r\n ")
        if line:
            self.logger.info(line)

    def flush(self) -> None:
        """Nothing is buffered."""


def progress(
    iterable: Iterable[Any] | None = None,
    *,
    total: int | None = None,
    desc: str,
    logger: logging.Logger,
    lines: int = 5,
    unit: str = "it",
    initial: int = 0,
) -> tqdm:
    """Return a tqdm over ``iterable`` (or to ``update`` by hand): a bar on a terminal, log lines elsewhere.

    Args:
        iterable: What to iterate (None: call ``update``).
        total: The number of items (default ``len(iterable)``).
        desc: What is counted ("extract sites", "train micon").
        logger: Where the lines go off a terminal.
        lines: About how many status lines to log between the first and the last (off a terminal); 0:
            none (for a loop that logs a line per item itself).
        unit: The unit of the count ("site", "step", "batch").
        initial: Items already done (a resumed run).

    Returns:
        The tqdm; close it (or exhaust the iterable) to print the final state.
    """
    if total is None and iterable is not None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    if on_terminal():
        return tqdm(iterable, total=total, desc=desc, unit=unit, initial=initial, dynamic_ncols=True)
    if lines <= 0:  # the caller logs its own lines off a terminal
        return tqdm(iterable, total=total, disable=True)
    return tqdm(
        iterable,
        total=total,
        desc=desc,
        unit=unit,
        initial=initial,
        file=_LogLines(logger),
        bar_format=LOG_FORMAT if total else "{desc}: {n_fmt} {unit}, {rate_fmt}{postfix}",
        # every total/lines items, never on tqdm's timer (its monitor would print every item after
        # maxinterval seconds); without a total, at most one line a minute
        miniters=max(1, math.ceil(total / max(1, lines))) if total else 1,
        mininterval=0 if total else 60,
        maxinterval=math.inf,
        ascii=True,
    )
