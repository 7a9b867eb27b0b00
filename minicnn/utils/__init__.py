"""minicnn.utils, shaped like torch.utils: ``minicnn.utils.data`` holds datasets and the DataLoader."""
from minicnn.utils import data

__all__ = ["data"]
