"""minicnn.utils, shaped like torch.utils: ``minicnn.utils.data`` (datasets, the DataLoader)."""
from minicnn.utils import data
from minicnn.utils.image import make_grid  # torchvision.utils.make_grid, for showing batches

__all__ = ["data", "make_grid"]
