"""Custom Kedro datasets: images, file store, crop store, checkpoints, atomic kedro-datasets file datasets."""

from ._crop_parts import CropPart, CropStoreWriter, ShardedCrops
from .atomic import (
    AtomicCSVDataset,
    AtomicJSONDataset,
    AtomicMatplotlibDataset,
    AtomicParquetDataset,
    AtomicTextDataset,
)
from .crop_store_dataset import CropArray, CropStoreDataset, CropStoreWriterDataset
from .file_store_dataset import FileStore, FileStoreDataset
from .partitioned_dataset import ConfinedPartitionedDataset
from .tiff_dataset import TiffImageDataset
from .torch_checkpoint_dataset import TorchCheckpointDataset

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
