"""The 8x8 handwritten digits that ship with minicnn: ``load_digits``."""
from pathlib import Path

import numpy as np

from minicnn.datasets._common import check_split
from minicnn.utils.data.dataset import TensorDataset

__all__ = ["load_digits", "DIGITS_TEST_SIZE"]

DIGITS_TEST_SIZE = 360
DIGITS_DIR = Path(__file__).resolve().parents[1] / "_digits"  # the data and its split, shipped


def load_digits(split="both"):
    """The 8x8 handwritten digits (1,797 images, the copy scikit-learn bundles), offline,
    normalised. They ship with minicnn (``minicnn/_digits/``, with their source and licence).

    The split is fixed: 1,437 training and 360 test images, each class in the same proportion
    in both (scikit-learn's ``train_test_split(test_size=360, stratify=labels,
    random_state=0)``, stored in ``minicnn/_digits/split.txt``). Pixels (0..16) are divided by
    16, then standardised with the scalar mean and standard deviation of all *training*
    pixels (the test set reuses them, so no test statistics leak into training).

    Parameters
    ----------
    split : {"both", "train", "test"}, default "both"

    Returns
    -------
    (train, test) : TensorDataset, TensorDataset
        With ``split="both"``; otherwise just the one asked for. Each holds images
        ``(N, 1, 8, 8)`` float32 and labels ``(N,)`` int64 in 0..9.
    """
    check_split(split)
    table = np.loadtxt(DIGITS_DIR / "digits.csv.gz", delimiter=",", dtype=np.float64)
    images = (table[:, :64] / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    labels = table[:, 64].astype(np.int64)
    rows = [np.array(line.split(), dtype=np.int64) for line in
            (DIGITS_DIR / "split.txt").read_text().splitlines() if not line.startswith("#")]
    x_train, x_test, y_train, y_test = images[rows[0]], images[rows[1]], labels[rows[0]], \
        labels[rows[1]]
    mean, std = x_train.mean(), x_train.std()
    train = TensorDataset(np.ascontiguousarray((x_train - mean) / std, np.float32), y_train)
    test = TensorDataset(np.ascontiguousarray((x_test - mean) / std, np.float32), y_test)
    return {"both": (train, test), "train": train, "test": test}[split]
