"""The IDX datasets, shaped like torchvision's: MNIST, FashionMNIST, KMNIST and EMNIST."""
import string

import numpy as np

from minicnn._tensor import Tensor
from minicnn.datasets._common import MNIST_FILES, SOURCES, as_array, locate, not_found
from minicnn.datasets.idx import idx_subdirs, read_idx
from minicnn.datasets.vision import VisionDataset, verify_str_arg

__all__ = ["MNIST", "FashionMNIST", "KMNIST", "EMNIST"]


class MNIST(VisionDataset):
    """The MNIST handwritten digits (torchvision's ``MNIST``).

    Parameters
    ----------
    root : str or Path
        Where the IDX files are: ``root/MNIST/raw/``, ``root/MNIST/`` or ``root/`` itself.
    train : bool, default True
        The 60,000 training images (``train-*``) or the 10,000 test images (``t10k-*``); only
        that split's two files are needed.
    transform, target_transform : callable, optional
        Applied to the image (a ``(28, 28)`` uint8 array) and to the label (an int).
    download : bool, default False
        Never downloads; with the files missing, the error says where to get them.

    Attributes
    ----------
    data : Tensor (N, 28, 28) uint8
    targets : Tensor (N,) int64
    classes : list of str
    """

    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]
    _folder = "MNIST"
    _where = SOURCES["mnist"]

    def __init__(self, root, train=True, transform=None, target_transform=None,
                 download=False):
        super().__init__(root, transform, target_transform)
        self.train = bool(train)
        names = self._file_names()
        candidates, found = locate(self.root, idx_subdirs(self._folder), names)
        if found is None:
            raise not_found(type(self).__name__, candidates, [n + "[.gz]" for n in names],
                            self._where, download)
        images = read_idx(found[0], "images")
        labels = read_idx(found[1], "labels")
        if images.ndim != 3 or labels.ndim != 1:
            raise ValueError(f"{found[0]}: expected images (N, H, W) and labels (N,), got "
                             f"{images.shape} and {labels.shape}")
        if len(images) != len(labels):
            raise ValueError(f"{type(self).__name__}: {found[0].name} holds {len(images)} images "
                             f"but {found[1].name} holds {len(labels)} labels")
        if labels.max() >= len(self.classes):
            raise ValueError(f"{found[1]}: labels must be 0..{len(self.classes) - 1}, found "
                             f"{int(labels.max())}")
        self.data = Tensor(np.ascontiguousarray(images), dtype=np.uint8)
        self.targets = Tensor(labels.astype(np.int64), dtype=np.int64)

    def _file_names(self):
        """This split's images and labels files (each may also be gzipped, ``.gz``)."""
        return MNIST_FILES["train" if self.train else "test"]

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        return self._apply(as_array(self.data)[index], int(as_array(self.targets)[index]))

    def extra_repr(self):
        return f"Split: {'Train' if self.train else 'Test'}"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: MNIST's file names and format, ten kinds of clothing.
    Looked for in ``root/FashionMNIST/raw/``, ``root/FashionMNIST/`` or ``root/``."""

    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
    _folder = "FashionMNIST"
    _where = SOURCES["fashion-mnist"]


class KMNIST(MNIST):
    """Kuzushiji-MNIST: ten cursive Japanese (hiragana) characters in MNIST's file names and
    format. Looked for in ``root/KMNIST/raw/``, ``root/KMNIST/`` or ``root/``."""

    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]
    _folder = "KMNIST"
    _where = SOURCES["kmnist"]


_EMNIST_MERGED = set("cijklmopsuvwxyz")  # lower-case letters merged into their capitals
_EMNIST_ALL = sorted(string.digits + string.ascii_letters)


class EMNIST(MNIST):
    """Extended MNIST: handwritten digits and letters in six splits (torchvision's ``EMNIST``).

    Parameters
    ----------
    root : str or Path
        Where the IDX files are: ``root/EMNIST/raw/`` (torchvision's layout), ``root/EMNIST/``
        or ``root/``, named ``emnist-<split>-train-images-idx3-ubyte``,
        ``emnist-<split>-train-labels-idx1-ubyte`` and ``emnist-<split>-test-...``, each
        optionally ``.gz`` (the ``gzip/`` folder of NIST's ``gzip.zip`` holds them).
    split : {"byclass", "bymerge", "balanced", "letters", "digits", "mnist"}
        Which of the six; ``classes`` is that split's list (62, 47, 47, 27, 10 and 10 names;
        ``letters`` labels are 1..26 with class 0 ``"N/A"``, as torchvision has it).
    **kwargs
        ``train``, ``transform``, ``target_transform``, ``download``, as for ``MNIST``.

    Notes
    -----
    NIST stored the EMNIST images transposed (a letter appears mirrored and turned); they are
    returned as stored, as torchvision returns them: ``img.T`` shows them upright.

    Examples
    --------
    >>> EMNIST.classes_split_dict["letters"][:3], len(EMNIST.classes_split_dict["byclass"])
    (['N/A', 'a', 'b'], 62)
    """

    splits = ("byclass", "bymerge", "balanced", "letters", "digits", "mnist")
    classes_split_dict = {
        "byclass": _EMNIST_ALL,
        "bymerge": [c for c in _EMNIST_ALL if c not in _EMNIST_MERGED],
        "balanced": [c for c in _EMNIST_ALL if c not in _EMNIST_MERGED],
        "letters": ["N/A"] + list(string.ascii_lowercase),
        "digits": list(string.digits),
        "mnist": list(string.digits),
    }
    _folder = "EMNIST"
    _where = SOURCES["emnist"]

    def __init__(self, root, split, **kwargs):
        self.split = verify_str_arg(split, "split", self.splits)
        self.classes = self.classes_split_dict[self.split]
        super().__init__(root, **kwargs)

    def _file_names(self):
        prefix = f"emnist-{self.split}-{'train' if self.train else 'test'}"
        return f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"
