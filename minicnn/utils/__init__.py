"""minicnn.utils, shaped like torch.utils: ``minicnn.utils.data`` (datasets, the DataLoader)."""
from minicnn.utils import data
# torchvision.utils: tile a batch into one image, save it, draw boxes on an image.
from minicnn.utils.image import draw_bounding_boxes, make_grid, save_image

__all__ = ["data", "make_grid", "save_image", "draw_bounding_boxes"]
