"""minicnn.utils, shaped like torch.utils: ``minicnn.utils.data`` (datasets, the DataLoader)."""
from minicnn.utils import data

__all__ = ["data"]
