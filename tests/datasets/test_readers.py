"""Tests for the readers of minicnn.datasets: load_digits, the IDX files (load_mnist,
load_fashion_mnist, load_kmnist, read_idx), the CIFAR-10 python batches (load_cifar10), and the
deprecated minicnn.data alias."""
import gzip
import os
import pickle
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest

from minicnn.datasets import (CIFAR10_FILES, load_cifar10, load_digits, load_fashion_mnist,
                              load_kmnist, load_mnist, read_idx)

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


# ---------------------------------------------------------------------------------------------
# load_digits
# ---------------------------------------------------------------------------------------------

def test_load_digits_needs_no_scikit_learn_and_splits_as_it_does():
    # The digits ship with minicnn: loading them with scikit-learn unimportable works, and gives
    # exactly the arrays scikit-learn's own loader and split give (when it is installed).
    code = ("import sys; sys.modules['sklearn'] = None\n"
            "import numpy as np, minicnn.datasets as d\n"
            "train, test = d.load_digits()\n"
            "np.save(sys.argv[1], np.concatenate([train.arrays[0].ravel(), test.arrays[0].ravel(),"
            " train.arrays[1], test.arrays[1]]))")
    import subprocess, sys, tempfile, os
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "digits.npy")
        subprocess.run([sys.executable, "-c", code, out], check=True)
        shipped = np.load(out)
    sklearn = pytest.importorskip("sklearn", reason="the comparison needs scikit-learn")
    from sklearn.datasets import load_digits as sk_digits
    from sklearn.model_selection import train_test_split
    bunch = sk_digits()
    images = (bunch.images / 16.0).astype(np.float32).reshape(-1, 1, 8, 8)
    x_train, x_test, y_train, y_test = train_test_split(
        images, bunch.target.astype(np.int64), test_size=360, stratify=bunch.target,
        random_state=0)
    mean, std = x_train.mean(), x_train.std()
    expected = np.concatenate([((x_train - mean) / std).astype(np.float32).ravel(),
                               ((x_test - mean) / std).astype(np.float32).ravel(),
                               y_train, y_test])
    assert sklearn.__version__ and np.array_equal(shipped, expected)


def test_load_digits_split_and_normalisation():
    from sklearn.datasets import load_digits as sk_digits
    train, test = load_digits()
    x_train, y_train = train.arrays
    x_test, y_test = test.arrays
    assert x_train.shape == (1437, 1, 8, 8) and x_test.shape == (360, 1, 8, 8)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    # Standardised with training statistics: mean 0, std 1 on train, close on test.
    assert abs(x_train.mean()) < 1e-5 and abs(x_train.std() - 1) < 1e-4
    assert abs(x_test.mean()) < 0.1
    # Stratified: every class has 36 +- 1 test images.
    counts = np.bincount(y_test, minlength=10)
    assert counts.min() >= 35 and counts.max() <= 37
    # Disjoint and complete: the split partitions sklearn's 1,797 images.
    raw = sk_digits()
    x_all = np.concatenate([x_train, x_test]).reshape(len(raw.images), -1)
    # An affine map of the raw pixels 0..16: undo it from the extremes (both occur).
    step = (x_all.max() - x_all.min()) / 16
    recovered = np.rint((x_all - x_all.min()) / step).astype(int)
    assert sorted(map(bytes, recovered.astype(np.uint8))) == \
        sorted(map(bytes, raw.data.astype(np.uint8)))
    # Fixed: a second call gives the same split.
    again = load_digits(split="test")
    np.testing.assert_array_equal(again.arrays[0], x_test)
    np.testing.assert_array_equal(load_digits(split="train").arrays[1], y_train)


def test_load_digits_bad_split():
    with pytest.raises(ValueError, match="split"):
        load_digits(split="val")


# ---------------------------------------------------------------------------------------------
# IDX (MNIST / Fashion-MNIST)
# ---------------------------------------------------------------------------------------------

def idx_bytes(array, magic=None):
    array = np.asarray(array, np.uint8)
    magic = (0x0800 | array.ndim) if magic is None else magic
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape) \
        + array.tobytes()


def write(path, blob, gz):
    if gz:
        path = path.with_name(path.name + ".gz")
        blob = gzip.compress(blob)
    path.write_bytes(blob)
    return path


def make_mnist(directory, n_train=12, n_test=7, size=5, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, size, size), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        write(directory / f"{split}-images-idx3-ubyte", idx_bytes(images), gz)
        write(directory / f"{split}-labels-idx1-ubyte", idx_bytes(labels), gz)
        out[split] = (images, labels)
    return out


@pytest.mark.parametrize("gz", [True, False])
@pytest.mark.parametrize("loader,mean,std", [(load_mnist, 0.1307, 0.3081),
                                              (load_fashion_mnist, 0.2860, 0.3530),
                                              (load_kmnist, 0.5, 0.5)])
def test_idx_loaders_round_trip(tmp_path, gz, loader, mean, std):
    raw = make_mnist(tmp_path, gz=gz)
    train, test = loader(tmp_path)
    for ds, (images, labels) in ((train, raw["train"]), (test, raw["t10k"])):
        x, y = ds.arrays
        assert x.shape == (len(images), 1, 5, 5) and x.dtype == np.float32
        np.testing.assert_allclose(x[:, 0], (images / 255.0 - mean) / std, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(y, labels)
        assert y.dtype == np.int64
    only_test = loader(tmp_path, split="test")
    np.testing.assert_array_equal(only_test.arrays[0], test.arrays[0])


def test_mnist_test_split_alone(tmp_path):
    make_mnist(tmp_path)
    (tmp_path / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte\[\.gz\].*split='test'"):
        load_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="train-images"):
        load_mnist(tmp_path, split="train")
    assert len(load_mnist(tmp_path, split="test")) == 7


def test_mnist_missing_files_lists_all_of_them(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        load_mnist(tmp_path)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        assert name in str(info.value)
    # ... and where to get them, since nothing is downloaded.
    assert "never downloads" in str(info.value) and "https://" in str(info.value)
    with pytest.raises(FileNotFoundError, match="fashion-mnist"):
        load_fashion_mnist(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mnist(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="path"):
        load_mnist(None)
    with pytest.raises(ValueError, match="split"):
        load_mnist(tmp_path, split="all")


def corrupt(tmp_path, name, blob, gz=False):
    make_mnist(tmp_path, gz=False)
    target = tmp_path / name
    target.unlink()
    return write(target, blob, gz)


IMAGES = np.zeros((7, 5, 5), np.uint8)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("name,blob,match", [
    ("t10k-images-idx3-ubyte", idx_bytes(IMAGES, magic=2049),
     "bad magic number 2049, expected 2051"),
    ("t10k-labels-idx1-ubyte", idx_bytes(np.zeros(7), magic=2051),
     "bad magic number 2051, expected 2049"),
    ("t10k-images-idx3-ubyte", idx_bytes(IMAGES)[:-3], "truncated data"),
    ("t10k-images-idx3-ubyte", idx_bytes(IMAGES) + b"xx", "unexpected bytes"),
    ("t10k-images-idx3-ubyte", idx_bytes(IMAGES)[:10], "truncated header"),
    ("t10k-images-idx3-ubyte", b"\x00\x00", "not an IDX file"),
    ("t10k-images-idx3-ubyte", idx_bytes(np.zeros((0, 5, 5))), "empty dimension"),
    ("t10k-images-idx3-ubyte", idx_bytes(np.zeros((8, 5, 5))), "8 images but .* 7 labels"),
    ("t10k-labels-idx1-ubyte", idx_bytes(np.full(7, 12)), "labels must be 0..9"),
])
def test_idx_errors_name_the_file(tmp_path, gz, name, blob, match):
    path = corrupt(tmp_path, name, blob, gz)
    with pytest.raises(ValueError, match=match) as info:
        load_mnist(tmp_path, split="test")
    assert path.name.split(".")[0] in str(info.value)


def test_idx_corrupt_gzip(tmp_path):
    path = corrupt(tmp_path, "t10k-images-idx3-ubyte", gzip.compress(idx_bytes(IMAGES))[:-8])
    path.rename(path.with_name(path.name + ".gz"))
    with pytest.raises(ValueError, match="t10k-images-idx3-ubyte.gz: corrupt or truncated gzip"):
        load_mnist(tmp_path, split="test")


def test_read_idx_generic(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "a.idx"
    path.write_bytes(idx_bytes(a))
    np.testing.assert_array_equal(read_idx(path), a)
    with pytest.raises(ValueError, match="expected 2049"):
        read_idx(path, "labels")


@pytest.mark.skipif(not (SHARED_DATA / "mnist").is_dir(),
                    reason=f"real MNIST files not found at {SHARED_DATA / 'mnist'}")
def test_real_mnist_test_split():
    directory = SHARED_DATA / "mnist"
    test = load_mnist(directory, split="test")
    x, y = test.arrays
    assert x.shape == (10000, 1, 28, 28) and y.shape == (10000,)
    # The MNIST test set's published class counts.
    np.testing.assert_array_equal(np.bincount(y, minlength=10),
                                  [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
    assert abs(x.mean()) < 0.05 and abs(x.std() - 1) < 0.05
    labels = read_idx(directory / "train-labels-idx1-ubyte.gz", "labels")
    assert labels.shape == (60000,)
    np.testing.assert_array_equal(np.bincount(labels, minlength=10),
                                  [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_mnist(directory)


# ---------------------------------------------------------------------------------------------
# CIFAR-10
# ---------------------------------------------------------------------------------------------

def py2_pickle(batch):
    """Pickle a CIFAR-style dict the way Python 2's cPickle (protocol 2) wrote the real batches.

    Python 2 ``str`` values are written as BINSTRING opcodes (read back as ``bytes`` with
    ``encoding="bytes"``), and the uint8 array through ``numpy.core.multiarray._reconstruct``.
    """
    def string(b):
        return (b"U" + bytes([len(b)]) + b) if len(b) < 256 else \
            (b"T" + struct.pack("<i", len(b)) + b)

    def value(v):
        if isinstance(v, bytes):
            return string(v)
        if isinstance(v, int):
            return b"J" + struct.pack("<i", v)
        if isinstance(v, list):
            return b"](" + b"".join(value(x) for x in v) + b"e"
        if isinstance(v, np.ndarray):
            dtype = (b"cnumpy\ndtype\n" + string(v.dtype.str[1:].encode()) + b"K\x00K\x01\x87R"
                     + b"(K\x03" + string(v.dtype.str[:1].encode()) + b"NNNJ\xff\xff\xff\xff"
                     + b"J\xff\xff\xff\xffK\x00tb")
            return (b"cnumpy.core.multiarray\n_reconstruct\n" + b"cnumpy\nndarray\n"
                    + b"K\x00\x85" + string(b"b") + b"\x87R"
                    + b"(K\x01(" + b"".join(value(d) for d in v.shape) + b"t" + dtype
                    + b"\x89" + string(v.tobytes()) + b"tb")
        raise TypeError(type(v))

    body = b"".join(value(k) + value(v) for k, v in batch.items())
    return b"\x80\x02}(" + body + b"u."


def cifar_batch(n, seed):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = [int(v) for v in rng.integers(0, 10, n)]
    return {b"batch_label": b"testing batch 1 of 1", b"labels": labels, b"data": data,
            b"filenames": [f"img_{i}.png".encode() for i in range(n)]}


def test_py2_pickle_helper_matches_numpy(tmp_path):
    """The hand-written pickle is valid: the ordinary (unsafe) unpickler reads it back."""
    batch = cifar_batch(3, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # numpy.core is an alias in numpy 2
        loaded = pickle.loads(py2_pickle(batch), encoding="bytes")
    np.testing.assert_array_equal(loaded[b"data"], batch[b"data"])
    assert loaded[b"labels"] == batch[b"labels"] and loaded[b"filenames"] == batch[b"filenames"]


def make_cifar(directory, sizes=(3, 2, 4, 1, 2), n_test=5, writer=py2_pickle):
    directory.mkdir(parents=True, exist_ok=True)
    batches = {}
    for i, n in enumerate(sizes, start=1):
        batches[f"data_batch_{i}"] = cifar_batch(n, i)
    batches["test_batch"] = cifar_batch(n_test, 99)
    for name, batch in batches.items():
        (directory / name).write_bytes(writer(batch))
    return batches


MEAN = np.array([0.4914, 0.4822, 0.4465]).reshape(1, 3, 1, 1)
STD = np.array([0.2470, 0.2435, 0.2616]).reshape(1, 3, 1, 1)


def check_cifar(ds, batches):
    data = np.concatenate([b[b"data"] for b in batches])
    labels = np.concatenate([b[b"labels"] for b in batches])
    x, y = ds.arrays
    assert x.shape == (len(data), 3, 32, 32) and x.dtype == np.float32
    expected = (data.reshape(-1, 3, 32, 32) / 255.0 - MEAN) / STD
    np.testing.assert_allclose(x, expected, rtol=1e-5, atol=1e-5)
    # Channel 0 is the first 1024 values of a row (the red plane), row-major.
    np.testing.assert_allclose(x[0, 0, 0, 1], (data[0, 1] / 255.0 - MEAN[0, 0, 0, 0]) /
                               STD[0, 0, 0, 0], rtol=1e-5)
    np.testing.assert_array_equal(y, labels)
    assert y.dtype == np.int64


def test_cifar10_round_trip(tmp_path):
    batches = make_cifar(tmp_path)
    train, test = load_cifar10(tmp_path)
    check_cifar(train, [batches[n] for n in CIFAR10_FILES["train"]])
    check_cifar(test, [batches["test_batch"]])


@pytest.mark.parametrize("protocol", [2, 4])
def test_cifar10_python3_pickles_and_subdirectory(tmp_path, protocol):
    """Batches re-pickled by Python 3 + numpy 2, inside cifar-10-batches-py/."""
    batches = make_cifar(tmp_path / "cifar-10-batches-py",
                         writer=lambda b: pickle.dumps(b, protocol=protocol))
    test = load_cifar10(tmp_path, split="test")
    check_cifar(test, [batches["test_batch"]])


def test_cifar10_missing_files(tmp_path):
    make_cifar(tmp_path)
    (tmp_path / "data_batch_3").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_3.*cifar-10-python.tar.gz.*https://"):
        load_cifar10(tmp_path)
    assert len(load_cifar10(tmp_path, split="test")) == 5
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_cifar10(tmp_path / "missing-dir")
    (tmp_path / "test_batch").unlink()
    with pytest.raises(FileNotFoundError, match="test_batch"):
        load_cifar10(tmp_path, split="test")


class Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_cifar10_refuses_code_in_pickles(tmp_path):
    make_cifar(tmp_path)
    marker = tmp_path / "pwned"
    (tmp_path / "test_batch").write_bytes(
        pickle.dumps({b"data": Exploit(marker), b"labels": []}, protocol=2))
    with pytest.raises(ValueError, match=r"test_batch: .*refusing to load global .*system"):
        load_cifar10(tmp_path, split="test")
    assert not marker.exists()


@pytest.mark.parametrize("batch,match", [
    ([1, 2, 3], "expected a dict"),
    ({b"labels": [1]}, "no 'data'"),
    ({b"data": np.zeros((2, 3072), np.uint8)}, "no 'labels'"),
    ({b"data": np.zeros((2, 3072), np.float32), b"labels": [1, 2]}, "uint8 array"),
    ({b"data": np.zeros((2, 100), np.uint8), b"labels": [1, 2]}, "shape"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1]}, "2 images but 1 labels"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [1, 10]}, "0..9"),
    ({b"data": b"raw", b"labels": []}, "uint8 array"),
])
def test_cifar10_malformed_batches(tmp_path, batch, match):
    (tmp_path / "test_batch").write_bytes(pickle.dumps(batch, protocol=2))
    with pytest.raises(ValueError, match=match):
        load_cifar10(tmp_path, split="test")


def test_cifar10_truncated_and_object_arrays(tmp_path):
    blob = py2_pickle(cifar_batch(2, 0))
    (tmp_path / "test_batch").write_bytes(blob[:len(blob) // 2])
    with pytest.raises(ValueError, match="test_batch: not a CIFAR-10 batch"):
        load_cifar10(tmp_path, split="test")
    # An object array would need arbitrary globals: refused.
    obj = np.array([None, 1], dtype=object)
    (tmp_path / "test_batch").write_bytes(pickle.dumps({b"data": obj, b"labels": []}, protocol=2))
    with pytest.raises(ValueError, match="refusing"):
        load_cifar10(tmp_path, split="test")


def test_docstring_examples():
    import doctest

    import minicnn.datasets
    import minicnn.datasets._common
    import minicnn.models
    for module in (minicnn.datasets, minicnn.datasets._common, minicnn.models):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_minicnn_data_is_a_deprecated_alias_that_still_works():
    import subprocess
    import sys
    code = ("import warnings; warnings.simplefilter('error')\n"
            "try:\n    import minicnn.data\nexcept DeprecationWarning as w:\n    print(w)\n")
    message = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, cwd=Path(__file__).resolve().parents[2]).stdout
    assert "minicnn.data is deprecated" in message and "minicnn.datasets" in message \
        and "minicnn.utils.data" in message
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import minicnn.data
    import minicnn.datasets
    import minicnn.utils.data
    assert minicnn.data.DataLoader is minicnn.utils.data.DataLoader
    assert minicnn.data.load_mnist is minicnn.datasets.load_mnist
    train, _ = minicnn.data.load_digits()
    images, labels = next(iter(minicnn.data.DataLoader(train, batch_size=4)))
    assert tuple(images.shape) == (4, 1, 8, 8) and labels.dtype == minicnn.int64
