"""Wiring of the modeling pipeline."""

from kedro.pipeline import Node, Pipeline

from .nodes import build_untrained_model, embed_cell_crops, train_micon_model

# Methods whose checkpoints are embedded; reporting evaluates the same list.
METHODS: tuple[str, ...] = ("micon", "untrained")


def create_pipeline(**kwargs) -> Pipeline:
    """Create the pipeline from the crop store to one crop-embedding table per method."""
    training = Pipeline(
        [
            Node(
                train_micon_model,
                ["crop_store", "crop_index", "params:modeling.model", "params:modeling.training"],
                ["micon.model_checkpoint", "micon.training_history"],
                name="train_micon_model",
            ),
            Node(
                build_untrained_model,
                ["params:modeling.model", "params:modeling.training"],
                "untrained.model_checkpoint",
                name="build_untrained_model",
            ),
        ]
    )
    embedding = Pipeline(
        [
            Node(
                embed_cell_crops,
                ["model_checkpoint", "crop_store", "crop_index", "params:modeling.embedding"],
                "crop_embeddings",
                name="embed_cell_crops",
            )
        ]
    )
    return training + sum(
        Pipeline(
            embedding,
            namespace=method,
            inputs={"crop_store", "crop_index"},
            parameters={"params:modeling.embedding"},
        )
        for method in METHODS
    )
