"""Tests for minicnn.datasets (MNIST, FashionMNIST, CIFAR10 over tiny fake files) and their use
with transforms and the DataLoader."""
import gzip
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

import minicnn
import minicnn.transforms as T
from minicnn.datasets import CIFAR10, MNIST, FashionMNIST, read_cifar10_binary
from minicnn.utils.data import DataLoader

SHARED_MNIST = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"


def write_idx(path, array, gz=False):
    magic = 2051 if array.ndim == 3 else 2049
    blob = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape) + \
        array.astype(np.uint8).tobytes()
    Path(path).write_bytes(gzip.compress(blob) if gz else blob)


def fake_mnist(directory, n=5, split="train", gz=False, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    prefix = "train" if split == "train" else "t10k"
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    write_idx(directory / f"{prefix}-images-idx3-ubyte{suffix}", images, gz)
    write_idx(directory / f"{prefix}-labels-idx1-ubyte{suffix}", labels, gz)
    return images, labels


def cifar_arrays(n, seed):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3, 32, 32)).astype(np.uint8), rng.integers(0, 10, n)


def fake_cifar_bin(directory, n=3, names=None):
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for k, name in enumerate(names or [f"data_batch_{i}.bin" for i in range(1, 6)]):
        images, labels = cifar_arrays(n, k)
        records = np.concatenate([labels[:, None].astype(np.uint8),
                                  images.reshape(n, -1)], axis=1)
        (directory / name).write_bytes(records.tobytes())
        out.append((images, labels))
    return out


def fake_cifar_py(directory, n=3, names=None):
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for k, name in enumerate(names or [f"data_batch_{i}" for i in range(1, 6)]):
        images, labels = cifar_arrays(n, k)
        batch = {b"batch_label": b"fake", b"labels": labels.tolist(),
                 b"data": images.reshape(n, -1)}
        (directory / name).write_bytes(pickle.dumps(batch, protocol=2))
        out.append((images, labels))
    return out


# ---------------------------------------------------------------------------------------------
# MNIST and FashionMNIST
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("cls,folder", [(MNIST, "MNIST/raw"), (MNIST, "."),
                                        (FashionMNIST, "FashionMNIST/raw"),
                                        (FashionMNIST, "FashionMNIST")])
@pytest.mark.parametrize("gz", [False, True])
def test_mnist_like_reads_idx_files(tmp_path, cls, folder, gz):
    images, labels = fake_mnist(tmp_path / folder, split="test", gz=gz)
    ds = cls(tmp_path, train=False)
    assert len(ds) == 5 and len(ds.classes) == 10 and ds.class_to_idx[ds.classes[3]] == 3
    img, label = ds[2]
    assert isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.shape == (28, 28)
    np.testing.assert_array_equal(img, images[2])
    assert label == int(labels[2]) and type(label) is int
    assert ds.data.dtype == minicnn.uint8 and tuple(ds.data.shape) == (5, 28, 28)
    assert ds.targets.dtype == minicnn.int64
    assert "Split: Test" in repr(ds)


def test_mnist_transforms_and_loader(tmp_path):
    images, labels = fake_mnist(tmp_path / "MNIST" / "raw", n=7)
    ds = MNIST(tmp_path, transform=T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))]),
               target_transform=lambda y: y + 100)
    x, y = ds[0]
    assert tuple(x.shape) == (1, 28, 28) and x.dtype == minicnn.float32 and y == labels[0] + 100
    np.testing.assert_allclose(x.data[0], (images[0] / 255.0 - 0.1307) / 0.3081, rtol=1e-5)
    batches = list(DataLoader(ds, batch_size=3, num_workers=2))
    assert [tuple(b[0].shape) for b in batches] == [(3, 1, 28, 28)] * 2 + [(1, 1, 28, 28)]
    np.testing.assert_array_equal(np.concatenate([b[1].data for b in batches]), labels + 100)


def test_mnist_missing_files_say_where_to_get_them(tmp_path):
    fake_mnist(tmp_path, split="test")
    for download in (False, True):
        with pytest.raises(RuntimeError, match="(?s)train-images-idx3-ubyte.*never downloads.*"
                                               "yann.lecun.com"):
            MNIST(tmp_path, train=True, download=download)
    assert len(MNIST(tmp_path, train=False, download=True)) == 5  # files there: no error
    with pytest.raises(RuntimeError, match="fashion-mnist"):
        FashionMNIST(tmp_path / "nowhere")


def test_mnist_mismatched_files(tmp_path):
    fake_mnist(tmp_path, split="test")
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="5 images but .* 4 labels"):
        MNIST(tmp_path, train=False)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.full(5, 12, np.uint8))
    with pytest.raises(ValueError, match="labels must be 0..9"):
        MNIST(tmp_path, train=False)


@pytest.mark.skipif(not SHARED_MNIST.is_dir(), reason="the shared MNIST test files are absent")
def test_real_mnist_test_split():
    ds = MNIST(SHARED_MNIST, train=False, transform=T.ToTensor())
    assert len(ds) == 10000
    x, y = ds[0]
    assert tuple(x.shape) == (1, 28, 28) and y == 7 and 0 <= x.data.min() < x.data.max() <= 1


# ---------------------------------------------------------------------------------------------
# CIFAR-10: the binary release and the python batches
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["bin", "py"])
def test_cifar10_both_releases(tmp_path, layout):
    write = fake_cifar_bin if layout == "bin" else fake_cifar_py
    train = write(tmp_path / f"cifar-10-batches-{layout}")
    test = write(tmp_path / f"cifar-10-batches-{layout}",
                 names=["test_batch.bin" if layout == "bin" else "test_batch"])
    ds = CIFAR10(tmp_path, train=True)
    assert len(ds) == 15 and ds.data.shape == (15, 32, 32, 3) and ds.data.dtype == np.uint8
    assert ds.classes[0] == "airplane" and isinstance(ds.targets, list)
    img, label = ds[4]  # batch 2, record 1
    np.testing.assert_array_equal(img, train[1][0][1].transpose(1, 2, 0))
    assert label == int(train[1][1][1])
    t = CIFAR10(tmp_path / f"cifar-10-batches-{layout}", train=False, transform=T.ToTensor())
    x, y = t[2]
    assert tuple(x.shape) == (3, 32, 32) and y == int(test[0][1][2])
    np.testing.assert_allclose(x.data, test[0][0][2] / 255.0, rtol=1e-6)


def test_cifar10_binary_and_pickle_readers_agree(tmp_path):
    fake_cifar_bin(tmp_path / "cifar-10-batches-bin", names=["test_batch.bin"])
    fake_cifar_py(tmp_path / "cifar-10-batches-py", names=["test_batch"])
    a = CIFAR10(tmp_path / "cifar-10-batches-bin", train=False)
    b = CIFAR10(tmp_path / "cifar-10-batches-py", train=False)
    np.testing.assert_array_equal(a.data, b.data)
    assert a.targets == b.targets


def test_cifar10_binary_refuses_bad_files(tmp_path):
    path = tmp_path / "data_batch_1.bin"
    for size in (0, 3072, 3074, 2 * 3073 + 1):
        path.write_bytes(bytes(size))
        with pytest.raises(ValueError, match="data_batch_1.bin.*3073-byte records"):
            read_cifar10_binary(path)
    records = np.zeros((2, 3073), np.uint8)
    records[1, 0] = 10
    path.write_bytes(records.tobytes())
    with pytest.raises(ValueError, match="data_batch_1.bin.*record 1 has 10"):
        read_cifar10_binary(path)
    with pytest.raises(ValueError, match="not a regular file"):
        read_cifar10_binary(tmp_path)


def test_cifar10_missing_files(tmp_path):
    fake_cifar_bin(tmp_path / "cifar-10-batches-bin", names=["data_batch_1.bin"])
    with pytest.raises(RuntimeError, match="(?s)data_batch_5.bin.*cs.toronto.edu"):
        CIFAR10(tmp_path, download=True)


def test_cifar10_with_augmentation_pipeline(tmp_path):
    fake_cifar_bin(tmp_path, names=["test_batch.bin"])
    augment = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(),
                         T.ColorJitter(0.2, 0.2, 0.2), T.ToTensor(),
                         T.Normalize((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616))])
    ds = CIFAR10(tmp_path, train=False, transform=augment)
    minicnn.manual_seed(0)
    images, labels = next(iter(DataLoader(ds, batch_size=3, shuffle=True)))
    assert tuple(images.shape) == (3, 3, 32, 32) and labels.dtype == minicnn.int64
