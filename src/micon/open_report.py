"""Print the path of a run's HTML report (the latest run that wrote one, by default); optionally open it.

Usage::

    uv run python -m micon.open_report [--env ENV] [--run-id RUN_ID] [--open]

The report is a versioned dataset (``<run root>/08_reporting/report.html/<run id>/report.html``); which
version is "the latest" is read from the run manifests (:func:`micon.runs.saved_output`), not from the
newest folder, so a failed or partial run is never picked. The environment's run root comes from its
``globals.yml`` (``--env``; Kedro's default run environment otherwise). The page is self-contained: open it
in any browser from disk.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
import webbrowser
from collections.abc import Sequence
from pathlib import Path

from kedro.config import OmegaConfigLoader

from micon.errors import InvalidInputError
from micon.runs import LATEST, saved_output

REPORT_DATASET = "report_html"


def run_root(project_path: str | Path, env: str | None = None) -> Path:
    """Return the run root of environment ``env`` (``globals.yml``'s ``run_root``) under ``project_path``."""
    project_path = Path(project_path)
    # Importing the project settings sets up Kedro's logging, which announces itself on stdout: keep
    # stdout for the path alone. OmegaConf's deprecation notices inside Kedro are not ours to act on.
    with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        from micon.settings import CONFIG_LOADER_ARGS

        loader = OmegaConfigLoader(conf_source=str(project_path / "conf"), env=env, **CONFIG_LOADER_ARGS)
        return project_path / loader["globals"]["run_root"]


def report_path(project_path: str | Path = ".", *, env: str | None = None, run_id: str = LATEST) -> Path:
    """Return the absolute path of run ``run_id``'s report (``"latest"``: the newest run that wrote one).

    Raises:
        InvalidInputError: No such run or report, or the recorded file is gone (names it).
    """
    project_path = Path(project_path).resolve()
    found, path = saved_output(REPORT_DATASET, run_id, run_root=run_root(project_path, env))
    report = Path(path) if Path(path).is_absolute() else project_path / path
    if not report.is_file():
        raise InvalidInputError(f"run {found} recorded its report at {report}, which no longer exists")
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Print the report's path (and open it with ``--open``); return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m micon.open_report", description=__doc__.splitlines()[0])
    parser.add_argument("--env", default=None, help="Kedro environment (default: Kedro's default run env)")
    parser.add_argument("--run-id", default=LATEST, help="a run id (Kedro save version) or 'latest'")
    parser.add_argument("--open", action="store_true", help="also open the report in the default browser")
    args = parser.parse_args(argv)
    try:
        path = report_path(env=args.env, run_id=args.run_id)
    except InvalidInputError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    sys.stdout.write(f"{path}\n")
    if args.open:
        webbrowser.open(path.as_uri())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
