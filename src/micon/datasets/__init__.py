"""Custom Kedro datasets: TIFF images, a lazy read-only file store, the crop store and model checkpoints."""

from .crop_store_dataset import CropArray, CropStoreDataset
from .file_store_dataset import FileStore, FileStoreDataset
from .tiff_dataset import TiffImageDataset
from .torch_checkpoint_dataset import TorchCheckpointDataset

__all__ = [
    "CropArray",
    "CropStoreDataset",
    "FileStore",
    "FileStoreDataset",
    "TiffImageDataset",
    "TorchCheckpointDataset",
]
