"""Custom Kedro datasets: images, file store, crop store, checkpoints, atomic kedro-datasets file datasets.

Names are imported on first use (PEP 562), so a process that needs one module (a Dask worker unpickling a
crop store writer, an extraction task) does not import the others' dependencies (torch, ...).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    "AtomicCSVDataset": ".atomic",
    "AtomicJSONDataset": ".atomic",
    "AtomicMatplotlibDataset": ".atomic",
    "AtomicParquetDataset": ".atomic",
    "AtomicTextDataset": ".atomic",
    "ConfinedPartitionedDataset": ".partitioned_dataset",
    "CropArray": ".crop_store_dataset",
    "CropPart": "._crop_parts",
    "CropStoreDataset": ".crop_store_dataset",
    "CropStoreWriter": "._crop_parts",
    "CropStoreWriterDataset": ".crop_store_dataset",
    "FileStore": ".file_store_dataset",
    "FileStoreDataset": ".file_store_dataset",
    "ShardedCrops": "._crop_parts",
    "TiffImageDataset": ".tiff_dataset",
    "TorchCheckpointDataset": ".torch_checkpoint_dataset",
}

__all__ = [
    "AtomicCSVDataset",
    "AtomicJSONDataset",
    "AtomicMatplotlibDataset",
    "AtomicParquetDataset",
    "AtomicTextDataset",
    "ConfinedPartitionedDataset",
    "CropArray",
    "CropPart",
    "CropStoreDataset",
    "CropStoreWriter",
    "CropStoreWriterDataset",
    "FileStore",
    "FileStoreDataset",
    "ShardedCrops",
    "TiffImageDataset",
    "TorchCheckpointDataset",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
