"""Custom Kedro datasets: TIFF images, the memory-mapped crop store and model checkpoints."""

from .crop_store_dataset import CropStoreDataset
from .tiff_dataset import TiffImageDataset
from .torch_checkpoint_dataset import TorchCheckpointDataset

__all__ = ["CropStoreDataset", "TiffImageDataset", "TorchCheckpointDataset"]
