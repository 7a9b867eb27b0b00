"""Deprecated: the old home of the loaders and a second DataLoader; use ``minicnn.datasets`` and
``minicnn.utils.data``.

Every name still works for this release, re-exported from its new home:

================================================  ==========================================
old (``minicnn.data``)                            new
================================================  ==========================================
``load_digits``, ``load_mnist``,                  ``minicnn.datasets``
``load_fashion_mnist``, ``load_cifar10``,
``read_idx``, ``check_finite``, ``SOURCES``,
``MNIST_FILES``, ``CIFAR10_FILES``,
``DIGITS_TEST_SIZE``
``Dataset``, ``TensorDataset``, ``DataLoader``    ``minicnn.utils.data`` (its DataLoader batches
                                                  as PyTorch's: a list ``[images, labels]``,
                                                  each array keeping its dtype)
================================================  ==========================================
"""
import warnings

from minicnn.datasets import (CIFAR10_FILES, DIGITS_TEST_SIZE, MNIST_FILES, SOURCES,
                              check_finite, load_cifar10, load_digits, load_fashion_mnist,
                              load_mnist, read_idx)
from minicnn.utils.data import DataLoader, Dataset, TensorDataset

__all__ = ["Dataset", "TensorDataset", "DataLoader", "load_digits", "load_mnist",
           "load_fashion_mnist", "load_cifar10", "read_idx", "check_finite", "SOURCES",
           "DIGITS_TEST_SIZE", "MNIST_FILES", "CIFAR10_FILES"]

warnings.warn("minicnn.data is deprecated and will be removed in the next release: import the "
              "loaders (load_digits, load_mnist, ...) from minicnn.datasets and Dataset, "
              "TensorDataset and DataLoader from minicnn.utils.data", DeprecationWarning,
              stacklevel=2)
