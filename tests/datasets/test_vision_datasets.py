"""Tests for the torchvision-shaped datasets beyond MNIST and CIFAR-10: KMNIST, EMNIST, SVHN,
STL10, ImageFolder / DatasetFolder and FakeData, each on a few images written here in
torchvision's layout, and each refusing hostile files (truncated, wrong magic, a header claiming
more than the file holds) with a clear error before allocating what the header claims."""
import os
import struct
import sys
import tracemalloc

import numpy as np
import pytest

import minicnn.transforms as T
from minicnn.datasets import (EMNIST, KMNIST, STL10, SVHN, DatasetFolder, FakeData, ImageFolder)
from minicnn.datasets import folder as folder_module
from minicnn.utils.data import DataLoader
from minicnn.utils.image import _png_chunk, encode_png
from test_datasets import write_idx


# ---------------------------------------------------------------------------------------------
# KMNIST and EMNIST: IDX files, read by minicnn.datasets.read_idx
# ---------------------------------------------------------------------------------------------

def test_kmnist_layout_and_classes(tmp_path):
    raw = tmp_path / "KMNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28)
    write_idx(raw / "t10k-images-idx3-ubyte", images)
    write_idx(raw / "t10k-labels-idx1-ubyte.gz", np.array([9, 0, 4], np.uint8), gz=True)
    ds = KMNIST(tmp_path, train=False)
    assert len(ds) == 3 and ds.classes[9] == "wo" and ds.class_to_idx["o"] == 0
    img, label = ds[2]
    np.testing.assert_array_equal(img, images[2])
    assert label == 4 and "Split: Test" in repr(ds)
    with pytest.raises(RuntimeError, match="never downloads"):
        KMNIST(tmp_path, train=True, download=True)


def emnist_files(root, split, labels, train=True, gz=False):
    raw = root / "EMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    images = np.random.default_rng(0).integers(0, 256, (len(labels), 28, 28)).astype(np.uint8)
    prefix = f"emnist-{split}-{'train' if train else 'test'}"
    suffix = ".gz" if gz else ""
    write_idx(raw / f"{prefix}-images-idx3-ubyte{suffix}", images, gz)
    write_idx(raw / f"{prefix}-labels-idx1-ubyte{suffix}", np.array(labels, np.uint8), gz)
    return raw / f"{prefix}-images-idx3-ubyte{suffix}", images


@pytest.mark.parametrize("split,count", [("byclass", 62), ("bymerge", 47), ("balanced", 47),
                                         ("letters", 27), ("digits", 10), ("mnist", 10)])
def test_emnist_splits_and_classes(tmp_path, split, count):
    _, images = emnist_files(tmp_path, split, [1, 2, 9], gz=split == "letters")
    ds = EMNIST(tmp_path, split, transform=T.ToTensor())
    assert len(ds.classes) == count and len(ds) == 3
    x, label = ds[1]
    assert tuple(x.shape) == (1, 28, 28) and label == 2
    np.testing.assert_allclose(x.numpy()[0], images[1] / 255, rtol=1e-6)
    assert ds.split == split and ds.targets.tolist() == [1, 2, 9]


def test_emnist_class_lists_as_torchvision():
    assert EMNIST.classes_split_dict["letters"][:3] == ["N/A", "a", "b"]
    assert EMNIST.classes_split_dict["byclass"][9:12] == ["9", "A", "B"]
    assert "c" not in EMNIST.classes_split_dict["balanced"]
    assert "a" in EMNIST.classes_split_dict["balanced"]


def test_emnist_errors(tmp_path):
    with pytest.raises(ValueError, match=r"Unknown value 'words' for argument split\. Valid "
                                         r"values are \{'byclass', "):
        EMNIST(tmp_path, "words")
    with pytest.raises(RuntimeError, match="emnist-digits-test-images-idx3-ubyte"):
        EMNIST(tmp_path, "digits", train=False)
    emnist_files(tmp_path, "digits", [3, 10])
    with pytest.raises(ValueError, match=r"labels must be 0\.\.9, found 10"):
        EMNIST(tmp_path, "digits")


def test_emnist_hostile_idx_files_refused_before_allocating(tmp_path):
    path, _ = emnist_files(tmp_path, "mnist", [1, 2])
    good = path.read_bytes()
    path.write_bytes(good[:-100])  # truncated
    with pytest.raises(ValueError, match="truncated data"):
        EMNIST(tmp_path, "mnist")
    path.write_bytes(struct.pack(">I", 2049) + good[4:])  # a labels magic on the images file
    with pytest.raises(ValueError, match="bad magic number 2049"):
        EMNIST(tmp_path, "mnist")
    # A header claiming 2**31 images of 28x28 (58 GB) in a file of a few kB.
    path.write_bytes(good[:4] + struct.pack(">I", 2 ** 31) + good[8:])
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="more than this"):
            EMNIST(tmp_path, "mnist")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2 ** 20


# ---------------------------------------------------------------------------------------------
# SVHN: .mat files read with scipy.io
# ---------------------------------------------------------------------------------------------

scipy_io = pytest.importorskip("scipy.io")


def svhn_file(root, name="train_32x32.mat", n=4, labels=None, compress=True, **extra):
    images = np.random.default_rng(1).integers(0, 256, (32, 32, 3, n)).astype(np.uint8)
    y = np.array(labels if labels is not None else [10, 1, 5, 10][:n], np.float64)[:, None]
    path = root / name
    scipy_io.savemat(path, {"X": images, "y": y, **extra}, do_compression=compress)
    return path, images


@pytest.mark.parametrize("split", ["train", "test", "extra"])
def test_svhn_reads_mat_files(tmp_path, split):
    _, images = svhn_file(tmp_path, SVHN.split_list[split])
    ds = SVHN(tmp_path, split=split)
    assert len(ds) == 4 and ds.data.shape == (4, 3, 32, 32) and ds.data.dtype == np.uint8
    assert ds.labels.tolist() == [0, 1, 5, 0]  # label 10 is the digit 0
    img, label = ds[2]
    assert img.shape == (32, 32, 3) and label == 5
    np.testing.assert_array_equal(img, images[:, :, :, 2])
    batch = next(iter(DataLoader(SVHN(tmp_path, split, transform=T.ToTensor()), batch_size=4)))
    assert tuple(batch[0].shape) == (4, 3, 32, 32) and batch[1].tolist() == [0, 1, 5, 0]


def test_svhn_errors(tmp_path):
    with pytest.raises(ValueError, match="Unknown value 'val' for argument split"):
        SVHN(tmp_path, split="val")
    with pytest.raises(RuntimeError, match="train_32x32.mat.*never downloads"):
        SVHN(tmp_path, download=True)
    path = tmp_path / "train_32x32.mat"
    path.write_bytes(b"MATLAB 5.0 MAT-file, but not really" + bytes(200))
    with pytest.raises(ValueError, match="not an SVHN .mat file"):
        SVHN(tmp_path)
    svhn_file(tmp_path, labels=[1, 2, 11, 3])
    with pytest.raises(ValueError, match=r"labels must be 1\.\.10"):
        SVHN(tmp_path)
    scipy_io.savemat(path, {"X": np.zeros((28, 28, 4), np.uint8), "y": np.ones((4, 1))})
    with pytest.raises(ValueError, match=r"'X' must be uint8 images \(32, 32, 3, N\)"):
        SVHN(tmp_path)
    scipy_io.savemat(path, {"images": np.zeros((32, 32, 3, 1), np.uint8)})
    with pytest.raises(ValueError, match="no variable X or y"):
        SVHN(tmp_path)


def test_svhn_hostile_files_refused_before_allocating(tmp_path, monkeypatch):
    path, _ = svhn_file(tmp_path, compress=False)
    good = path.read_bytes()
    path.write_bytes(good[:len(good) // 2])
    with pytest.raises(ValueError, match="SVHN .mat file"):
        SVHN(tmp_path)
    dims = struct.pack("<4i", 32, 32, 3, 4)
    assert good.count(dims) == 1
    path.write_bytes(good.replace(dims, struct.pack("<4i", 32, 32, 3, 10 ** 9)))
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match="declares 1000000000 images"):
            SVHN(tmp_path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2 ** 20
    from minicnn.datasets import svhn
    path.write_bytes(good)
    monkeypatch.setattr(svhn, "MAX_SVHN_BYTES", 1000)
    with pytest.raises(ValueError, match="more than the 1000"):
        SVHN(tmp_path)


# ---------------------------------------------------------------------------------------------
# STL10: the binary release, images stored column by column
# ---------------------------------------------------------------------------------------------

def stl10_files(root, n_train=3, n_test=2, n_unlabeled=2, seed=0):
    folder = root / "stl10_binary"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = {}
    for name, n in (("train", n_train), ("test", n_test), ("unlabeled", n_unlabeled)):
        images = rng.integers(0, 256, (n, 3, 96, 96)).astype(np.uint8)  # (N, C, rows, cols)
        (folder / f"{name}_X.bin").write_bytes(images.transpose(0, 1, 3, 2).tobytes())
        labels = rng.integers(1, 11, n).astype(np.uint8)
        if name != "unlabeled":
            (folder / f"{name}_y.bin").write_bytes(labels.tobytes())
        out[name] = images, labels.astype(np.int64) - 1
    return folder, out


def test_stl10_splits(tmp_path):
    folder, files = stl10_files(tmp_path)
    test = STL10(tmp_path, split="test")
    assert test.data.shape == (2, 3, 96, 96) and test.labels.tolist() == files["test"][1].tolist()
    img, label = test[1]
    np.testing.assert_array_equal(img, files["test"][0][1].transpose(1, 2, 0))
    assert label == files["test"][1][1] and test.classes[2] == "car"
    both = STL10(tmp_path, split="train+unlabeled")
    assert len(both) == 5 and both.labels.tolist()[3:] == [-1, -1]
    np.testing.assert_array_equal(both.data[4], files["unlabeled"][0][1])
    assert STL10(tmp_path, split="unlabeled")[0][1] == -1
    (folder / "class_names.txt").write_text("\n".join(f"c{i}" for i in range(10)) + "\n")
    (folder / "fold_indices.txt").write_text("2 0\n1\n")
    fold = STL10(tmp_path, split="train", folds=0)
    assert fold.classes[0] == "c0" and fold.labels.tolist() == files["train"][1][[2, 0]].tolist()
    np.testing.assert_array_equal(fold.data[0], files["train"][0][2])
    assert len(STL10(tmp_path, split="train+unlabeled", folds=1)) == 3


def test_stl10_errors(tmp_path):
    with pytest.raises(ValueError, match="Unknown value 'all' for argument split"):
        STL10(tmp_path, split="all")
    with pytest.raises(ValueError, match=r"should be in the range \[0, 10\), but got 10"):
        STL10(tmp_path, folds=10)
    with pytest.raises(ValueError, match="Expected type None or int for argument folds"):
        STL10(tmp_path, folds="1")
    with pytest.raises(RuntimeError, match="stl10_binary.*never downloads"):
        STL10(tmp_path)
    folder, _ = stl10_files(tmp_path)
    with pytest.raises(FileNotFoundError, match="fold_indices.txt"):
        STL10(tmp_path, folds=0)
    (folder / "fold_indices.txt").write_text("0 7\n")
    with pytest.raises(ValueError, match="there are 3"):
        STL10(tmp_path, folds=0)


def test_stl10_hostile_files(tmp_path, monkeypatch):
    folder, _ = stl10_files(tmp_path)
    train_x = folder / "train_X.bin"
    train_x.write_bytes(train_x.read_bytes()[:-5])
    with pytest.raises(ValueError, match="not a whole number of 27648-byte images"):
        STL10(tmp_path)
    folder, _ = stl10_files(tmp_path)
    (folder / "train_y.bin").write_bytes(bytes([1, 2]))
    with pytest.raises(ValueError, match="2 labels for 3 images"):
        STL10(tmp_path)
    (folder / "train_y.bin").write_bytes(bytes([1, 2, 3, 4]))
    with pytest.raises(ValueError, match="more than the 3"):
        STL10(tmp_path)
    (folder / "train_y.bin").write_bytes(bytes([1, 0, 3]))
    with pytest.raises(ValueError, match=r"labels must be 1\.\.10"):
        STL10(tmp_path)
    from minicnn.datasets import stl10
    monkeypatch.setattr(stl10, "MAX_STL10_BYTES", 1000)
    with pytest.raises(ValueError, match="more than the 1000"):
        STL10(tmp_path, split="test")


# ---------------------------------------------------------------------------------------------
# ImageFolder and DatasetFolder
# ---------------------------------------------------------------------------------------------

def image_tree(root):
    """root/cat/{a.png, b.PNG, notes.txt}, root/dog/x/{c.png}: three images in two classes."""
    rng = np.random.default_rng(3)
    pictures = {}
    for rel in ("cat/a.png", "cat/b.PNG", "dog/x/c.png"):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        pictures[rel] = rng.integers(0, 256, (4, 5, 3)).astype(np.uint8)
        path.write_bytes(encode_png(pictures[rel]))
    (root / "cat" / "notes.txt").write_text("not an image")
    return pictures


def test_image_folder_as_torchvision(tmp_path):
    pytest.importorskip("PIL", reason="ImageFolder's default loader opens images with Pillow")
    pictures = image_tree(tmp_path)
    ds = ImageFolder(tmp_path)
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    assert [os.path.relpath(p, tmp_path) for p, _ in ds.samples] == \
        ["cat/a.png", "cat/b.PNG", os.path.join("dog", "x", "c.png")]
    assert ds.targets == [0, 0, 1] and ds.imgs is ds.samples
    img, label = ds[2]
    assert img.mode == "RGB" and label == 1
    np.testing.assert_array_equal(np.asarray(img), pictures["dog/x/c.png"])
    x, _ = ImageFolder(tmp_path, transform=T.ToTensor())[0]
    assert tuple(x.shape) == (3, 4, 5)


def test_dataset_folder_with_own_loader_needs_no_pillow(tmp_path, monkeypatch):
    image_tree(tmp_path)
    monkeypatch.setitem(sys.modules, "PIL", None)
    ds = DatasetFolder(tmp_path, loader=lambda p: os.path.getsize(p), extensions=(".txt",),
                       allow_empty=True, target_transform=lambda t: -t)
    assert len(ds) == 1 and ds[0] == (12, 0)
    picked = DatasetFolder(tmp_path, loader=len, is_valid_file=lambda p: p.endswith("c.png"),
                           allow_empty=True)
    assert picked.targets == [1]
    with pytest.raises(ImportError, match="pip install pillow"):
        ImageFolder(tmp_path)[0]


def test_image_folder_empty_and_argument_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder in"):
        ImageFolder(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.jpg").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"Found no valid file for the classes a\. "
                                                r"Supported extensions are: \.jpg, \.jpeg"):
        ImageFolder(tmp_path)
    assert ImageFolder(tmp_path, allow_empty=True).targets == [1]
    with pytest.raises(ValueError, match="Both extensions and is_valid_file cannot be None"):
        DatasetFolder(tmp_path, loader=len)
    with pytest.raises(ValueError, match="The class_to_idx parameter cannot be None"):
        DatasetFolder.make_dataset(tmp_path, None, extensions=".jpg")
    with pytest.raises(ValueError, match="'class_to_index' must have at least one entry"):
        folder_module.make_dataset(tmp_path, {}, extensions=".jpg")


def test_image_folder_link_loop_is_walked_once(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.png").write_bytes(b"")
    try:
        os.symlink(tmp_path / "a", tmp_path / "a" / "loop")
        os.symlink(tmp_path / "a", tmp_path / "a" / "loop2")
    except (OSError, NotImplementedError):
        pytest.skip("cannot make symbolic links here")
    assert len(ImageFolder(tmp_path, loader=len).samples) == 1


def test_pil_loader_refuses_huge_and_broken_images(tmp_path, monkeypatch):
    Image = pytest.importorskip("PIL.Image", reason="the default loader is Pillow's")
    image_tree(tmp_path)
    (tmp_path / "dog" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    ds = ImageFolder(tmp_path)
    with pytest.raises(OSError, match="bad.png"):
        ds[2]
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 15)  # the images are 4 x 5 = 20 pixels
    with pytest.raises(ValueError, match="4 pixels, more than Pillow's Image.MAX_IMAGE_PIXELS"):
        ds[0]
    monkeypatch.undo()
    # A PNG header claiming 60000 x 60000 pixels, in a file of a few dozen bytes.
    blob = encode_png(np.zeros((1, 1), np.uint8))
    header = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 0, 0, 0, 0))
    (tmp_path / "dog" / "bad.png").write_bytes(blob[:8] + header + blob[8 + len(header):])
    with pytest.raises(ValueError, match="bad.png: .*3600000000 pixels"):
        ds[2]


# ---------------------------------------------------------------------------------------------
# FakeData
# ---------------------------------------------------------------------------------------------

def test_fake_data_is_deterministic_per_index():
    ds = FakeData(size=5, image_size=(3, 6, 4), num_classes=3)
    img, label = ds[3]
    assert img.shape == (6, 4, 3) and img.dtype == np.uint8 and 0 <= label < 3
    np.testing.assert_array_equal(ds[3][0], img)
    np.testing.assert_array_equal(ds[-2][0], img)
    assert not np.array_equal(ds[2][0], img)
    shifted = FakeData(size=5, image_size=(3, 6, 4), num_classes=3, random_offset=1)
    np.testing.assert_array_equal(shifted[2][0], img)
    gray = FakeData(size=2, image_size=(1, 7, 7), transform=T.ToTensor())
    assert tuple(gray[0][0].shape) == (1, 7, 7) and len(gray) == 2
    with pytest.raises(IndexError, match="FakeData index out of range"):
        ds[5]
    with pytest.raises(ValueError, match="image_size must be"):
        FakeData(image_size=(8, 8))
    images, labels = next(iter(DataLoader(FakeData(8, (3, 4, 4)), batch_size=8)))
    assert tuple(images.shape) == (8, 4, 4, 3) and labels.dtype.is_floating_point is False


def test_docstring_examples():
    import doctest

    from minicnn.datasets import fake, mnist, vision
    from minicnn.utils import image
    for module in (fake, folder_module, mnist, vision, image):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted > 0, module.__name__


# ---------------------------------------------------------------------------------------------
# Against torchvision, when it is importable (opt-in)
# ---------------------------------------------------------------------------------------------

def test_datasets_as_torchvision(tmp_path):
    pytest.importorskip("torch", reason="torchvision comparisons are opt-in")
    try:
        import torchvision.datasets as tvd
    except Exception as exc:  # not installed, or a wheel built for another torch (RuntimeError)
        pytest.skip(f"torchvision comparisons are opt-in; torchvision.datasets: {exc!r:.120}")
    stl10_files(tmp_path)
    svhn_file(tmp_path)
    emnist_files(tmp_path, "letters", [1, 26, 3])
    pairs = [(STL10(tmp_path, "train+unlabeled"), tvd.STL10(tmp_path, "train+unlabeled")),
             (SVHN(tmp_path), tvd.SVHN(tmp_path)),
             (EMNIST(tmp_path, "letters"), tvd.EMNIST(tmp_path, "letters"))]
    for ours, theirs in pairs:
        assert len(ours) == len(theirs)
        for i in range(len(ours)):
            (a, y), (b, z) = ours[i], theirs[i]
            np.testing.assert_array_equal(a, np.asarray(b))
            assert y == z
    assert EMNIST.classes_split_dict == tvd.EMNIST.classes_split_dict
