"""FakeData, shaped like torchvision's: random images made on the fly, the same for each index."""
import numpy as np

from minicnn._checks import check_int
from minicnn.datasets.vision import VisionDataset

__all__ = ["FakeData"]


class FakeData(VisionDataset):
    """Random images and labels, made when asked for: a stand-in dataset to try a pipeline.

    ``ds[i]`` is the same every time: its image and label come from a generator seeded with
    ``i + random_offset`` (its own ``numpy.random.default_rng``; minicnn's global generator is
    not touched). The values are not torchvision's, whose generator differs.

    Parameters
    ----------
    size : int, default 1000
        How many samples.
    image_size : tuple of int, default (3, 224, 224)
        ``(C, H, W)`` of each image.
    num_classes : int, default 10
        Labels are drawn uniformly from ``0 .. num_classes - 1``.
    transform, target_transform : callable, optional
        Applied to the image and to the label (an int).
    random_offset : int, default 0
        Added to the index to seed: a different ``random_offset`` gives different samples.

    Returns (of ``ds[i]``)
    ----------------------
    image : ndarray uint8, ``(H, W, C)`` (``(H, W)`` when C is 1)
        What ``np.asarray`` makes of the PIL image torchvision returns, like minicnn's other
        datasets; ``transforms.ToTensor()`` turns it into ``(C, H, W)`` floats in [0, 1].
    label : int

    Examples
    --------
    >>> ds = FakeData(size=4, image_size=(3, 8, 6), num_classes=5)
    >>> img, label = ds[2]
    >>> img.shape, img.dtype, 0 <= label < 5, (ds[2][0] == img).all()
    ((8, 6, 3), dtype('uint8'), True, np.True_)
    """

    def __init__(self, size=1000, image_size=(3, 224, 224), num_classes=10, transform=None,
                 target_transform=None, random_offset=0):
        super().__init__(None, transform=transform, target_transform=target_transform)
        self.size = check_int(size, "size", 0)
        image_size = tuple(image_size)
        if len(image_size) != 3:
            raise ValueError(f"image_size must be (C, H, W), got {image_size}")
        self.image_size = tuple(check_int(d, "image_size", 1) for d in image_size)
        self.num_classes = check_int(num_classes, "num_classes", 1)
        self.random_offset = check_int(random_offset, "random_offset", 0)

    def __getitem__(self, index):
        if not -self.size <= index < self.size:
            raise IndexError(f"{type(self).__name__} index out of range")
        index %= self.size
        rng = np.random.default_rng(index + self.random_offset)
        channels, height, width = self.image_size
        img = rng.integers(0, 256, (height, width, channels), dtype=np.uint8)
        target = int(rng.integers(0, self.num_classes))
        return self._apply(img[:, :, 0] if channels == 1 else img, target)

    def __len__(self):
        return self.size
