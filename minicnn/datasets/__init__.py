"""Datasets shaped like torchvision.datasets, over files you have: nothing is ever downloaded.

Each is a map-style ``Dataset`` whose ``ds[i]`` is ``(image, label)``. For the datasets read from
one file format (MNIST, CIFAR-10, SVHN, ...) and for ``FakeData`` the image is a uint8 array,
``(H, W)`` for one channel and ``(H, W, C)`` for colour - what ``np.asarray`` makes of the PIL
image torchvision returns - so ``transforms.ToTensor()`` turns it into a ``(C, H, W)`` float
Tensor in [0, 1]; ``ImageFolder`` returns the PIL image its loader opens, as torchvision does.
``download=True`` uses files that are already there and otherwise raises an error that says
where to get them and what is expected.

Where the files are looked for (``root`` is what you pass):

=============  ==========================================================================
MNIST          ``root/MNIST/raw/``, ``root/MNIST/`` or ``root/``: the four IDX files
FashionMNIST   ``root/FashionMNIST/raw/``, ``root/FashionMNIST/`` or ``root/``: same names
KMNIST         ``root/KMNIST/raw/``, ``root/KMNIST/`` or ``root/``: same names
EMNIST         ``root/EMNIST/raw/``, ...: ``emnist-<split>-train-images-idx3-ubyte`` etc.
CIFAR10        ``root/cifar-10-batches-py/`` (the python pickles, read without running pickle
               code), ``root/cifar-10-batches-bin/`` (the binary release, no unpickling at all)
               or ``root/`` itself holding either kind
SVHN           ``root/train_32x32.mat``, ``test_32x32.mat``, ``extra_32x32.mat``
STL10          ``root/stl10_binary/``: ``train_X.bin``, ``train_y.bin``, ``test_X.bin``, ...
ImageFolder    ``root/<class>/<any folders>/<image file>``
=============  ==========================================================================

minicnn's own loaders read the same files from the same folders and return ready-normalised
``TensorDataset``s (NCHW float32 images, int64 labels), what ``python -m minicnn train`` uses:
``load_digits()`` (shipped with minicnn), ``load_mnist(root)``, ``load_fashion_mnist(root)``,
``load_kmnist(root)`` and ``load_cifar10(root)``. Batch either kind with
``minicnn.utils.data.DataLoader``.

>>> from minicnn.utils.data import DataLoader
>>> train, test = load_digits()
>>> len(train), len(test)
(1437, 360)
>>> images, labels = next(iter(DataLoader(train, batch_size=32, shuffle=True, seed=0)))
>>> tuple(images.shape), labels.dtype
((32, 1, 8, 8), minicnn.int64)
"""
from minicnn.datasets._common import CIFAR10_FILES, MNIST_FILES, SOURCES, check_finite
from minicnn.datasets.cifar import (CIFAR10, CIFAR10_BIN_FILES, load_cifar10, read_cifar10_binary,
                                    read_cifar10_pickle)
from minicnn.datasets.digits import DIGITS_TEST_SIZE, load_digits
from minicnn.datasets.fake import FakeData
from minicnn.datasets.folder import DatasetFolder, ImageFolder
from minicnn.datasets.idx import load_fashion_mnist, load_kmnist, load_mnist, read_idx
from minicnn.datasets.mnist import EMNIST, KMNIST, MNIST, FashionMNIST
from minicnn.datasets.stl10 import STL10
from minicnn.datasets.svhn import SVHN
from minicnn.datasets.vision import VisionDataset

__all__ = ["MNIST", "FashionMNIST", "KMNIST", "EMNIST", "CIFAR10", "SVHN", "STL10",
           "ImageFolder", "DatasetFolder", "FakeData", "VisionDataset", "read_cifar10_binary",
           "CIFAR10_BIN_FILES",
           # minicnn's own loaders: a TensorDataset of normalised NCHW float32 images and
           # int64 labels, and the hostile-file-safe readers under them
           "load_digits", "load_mnist", "load_fashion_mnist", "load_kmnist", "load_cifar10",
           "read_idx", "read_cifar10_pickle", "check_finite", "SOURCES", "MNIST_FILES",
           "CIFAR10_FILES", "DIGITS_TEST_SIZE"]
