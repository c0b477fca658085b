"""Train one method outside ``kedro run``: the entry point of multi-GPU and multi-node (DDP) training.

Two ways in, both ``python -m micon.train`` (the ``micon-train`` script):

- ``--job DIR``: run a job a pipeline node wrote (``micon.training.distributed``); the node starts this
  when ``modeling.training`` asks for more than one process on this machine, and reads rank 0's result.
- ``--method M [--env E] [--params k=v,...] [--save-version V]``: read the training node's inputs
  (``crop_store``, ``crop_index``, ``source_profile`` and the parameters) from the catalog, train, and
  save ``<M>.model_checkpoint`` and ``<M>.training_history`` through the catalog, once, from rank 0. Run
  it under ``srun`` or ``torchrun`` on every node (``docs/scaling.md``): each rank reads the catalog,
  none runs the pipeline; give every rank the same ``--save-version`` so that they agree on the run folder.

The process group is Lightning's: it detects torchrun's and SLURM's environments, and otherwise starts the
other local ranks by re-running this command.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from micon import schema

logger = logging.getLogger(__name__)

COMMAND = "python -m micon.train"


def _runtime_params(pairs: str | None) -> dict[str, Any]:
    """Parse ``k=v,k2=v2`` as ``kedro run --params`` does (dotted keys, YAML values)."""
    from kedro.framework.cli.utils import _split_params  # the CLI's own parser of --params

    return _split_params(None, None, pairs) if pairs else {}


def train_from_catalog(
    method: str,
    *,
    env: str | None = None,
    params: dict[str, Any] | None = None,
    save_version: str | None = None,
    project_path: str | Path = ".",
    seed: int | None = None,
) -> str:
    """Train ``method`` on the catalog's inputs and save its checkpoint and history (rank 0 only).

    Args:
        method: A trained method of the registry.
        env: The Kedro environment (None: the default, ``local``).
        params: Runtime parameters, as ``kedro run --params`` takes them.
        save_version: The version the outputs are saved under and the run folder's name (the same on every
            rank); None: this session's id (differs between ranks started separately).
        project_path: The Kedro project's root.
        seed: Replaces ``modeling.training.seed`` (as the pipeline's per-seed runs do).

    Returns:
        The save version.

    Raises:
        InvalidConfigError: The parameters are invalid (every problem named) or ``method`` is not trained.
    """
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project

    from micon.parameters import validate_parameters
    from micon.pipelines.modeling.nodes import training_job
    from micon.training.distributed import global_rank

    bootstrap_project(Path(project_path).resolve())
    with KedroSession.create(
        project_path=project_path, env=env, runtime_params=params or {}, save_on_close=False
    ) as session:
        context = session.load_context()
        version = save_version or session.session_id
        # The catalog of a run saved under one version, as `kedro run` builds it (no public API takes it).
        catalog = context._get_catalog(save_version=version)  # noqa: SLF001
        values = context.params
        validate_parameters(values)
        modeling = values["modeling"]
        job = training_job(
            catalog.load("crop_store"),
            catalog.load("crop_index"),
            catalog.load("source_profile"),
            modeling["model"],
            modeling["training"],
            modeling["methods"][method],
            method=method,
            seed=seed,
            run_id=version if re.match(schema.RUN_ID_PATTERN, version) else None,
        )
        checkpoint, history = job.run()
        if global_rank() == 0:
            catalog.save(f"{method}.model_checkpoint", checkpoint)
            catalog.save(f"{method}.training_history", history)
            logger.info("saved %s.model_checkpoint and training_history, version %s", method, version)
    return version


def main(argv: Sequence[str] | None = None) -> int:
    """Run a written job (``--job``) or a training read from the catalog (``--method``)."""
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__.splitlines()[0])
    parser.add_argument("--job", help="a job folder written by micon.training.distributed.write_job")
    parser.add_argument("--method", help="train this method on the catalog's inputs")
    parser.add_argument("--env", default=None, help="Kedro environment (default: local)")
    parser.add_argument("--params", default=None, help="runtime parameters, as `kedro run --params`")
    parser.add_argument(
        "--save-version", default=None, help="version of the saved outputs (same on all ranks)"
    )
    parser.add_argument("--seed", type=int, default=None, help="replaces modeling.training.seed")
    args = parser.parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if (args.job is None) == (args.method is None):
        parser.error("give exactly one of --job and --method")
    if args.job is not None:
        from micon.training.distributed import run_job_folder

        run_job_folder(args.job)
        return 0
    train_from_catalog(
        args.method,
        env=args.env,
        params=_runtime_params(args.params),
        save_version=args.save_version,
        seed=args.seed,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
