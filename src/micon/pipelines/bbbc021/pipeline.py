"""Composition of the BBBC021 run: ingestion, reused crop extraction, modeling, BBBC021 evaluation."""

from collections.abc import Sequence

from kedro.pipeline import Pipeline

from micon.pipelines import bbbc021_evaluation, bbbc021_ingestion, data_engineering, modeling
from micon.training.methods import get_method

# The data_engineering nodes BBBC021 reuses (its own ingestion replaces the JUMP joins and splits).
REUSED_NODES: tuple[str, ...] = (
    "standardize_compound_table",
    "join_sites",
    "extract_cell_crops",
    "measure_cellprofiler_features",
)


def create_downstream_pipeline(methods: Sequence[str] | None = None) -> Pipeline:
    """Create the part shared by both layouts: compounds, crops, every method's embeddings, evaluation.

    Args:
        methods: Methods evaluated (those with a model are also trained or built); None: every
            registered method (``micon.training.methods``).
    """
    modeled = None if methods is None else [m for m in methods if get_method(m).has_model]
    return (
        data_engineering.create_pipeline().only_nodes(*REUSED_NODES)
        + modeling.create_pipeline(methods=modeled)
        + bbbc021_evaluation.create_pipeline(methods=methods)
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Create the pipeline from the 660-field PNG subset to ``bbbc021_metrics``."""
    return bbbc021_ingestion.create_pipeline() + create_downstream_pipeline()
