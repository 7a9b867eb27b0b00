"""minicnn.utils.data.DataLoader over TensorDatasets as the training scripts use it: batch
order and dtypes, drop_last, shuffling with its own seed or minicnn's generator, the fast path."""
import numpy as np
import pytest

import minicnn.rng
from minicnn.utils.data import DataLoader, Dataset, TensorDataset


def arrays(t):
    """The NumPy array behind a batch Tensor."""
    return np.asarray(t.data)


def small_dataset(n=23, seed=0):
    rng = np.random.default_rng(seed)
    return TensorDataset(rng.standard_normal((n, 1, 3, 3)).astype(np.float32),
                         rng.integers(0, 10, n))


# ---------------------------------------------------------------------------------------------
# TensorDataset / DataLoader
# ---------------------------------------------------------------------------------------------

def test_tensor_dataset_indexing_and_errors():
    x = np.arange(12.0).reshape(4, 3)
    y = np.array([3, 1, 4, 1])
    ds = TensorDataset(x, y)
    assert len(ds) == 4
    xi, yi = ds[2]
    np.testing.assert_array_equal(xi, x[2])
    assert yi == 4
    with pytest.raises(ValueError, match="same first dimension"):
        TensorDataset(x, y[:3])
    with pytest.raises(TypeError, match="argument 1"):
        TensorDataset(x, [1, 2, 3, 4])
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    with pytest.raises(ValueError, match="0-d"):
        TensorDataset(np.zeros(()))


def test_tensor_dataset_accepts_tensors():
    from minicnn import Tensor
    x = np.ones((3, 2), np.float32)
    ds = TensorDataset(Tensor(x), np.arange(3))
    assert isinstance(ds.arrays[0], np.ndarray)
    np.testing.assert_array_equal(ds.arrays[0], x)


@pytest.mark.parametrize("n,batch,drop_last,expected", [
    (23, 5, False, 5), (23, 5, True, 4), (20, 5, True, 4), (3, 10, False, 1), (3, 10, True, 0)])
def test_loader_len(n, batch, drop_last, expected):
    loader = DataLoader(small_dataset(n), batch_size=batch, drop_last=drop_last)
    assert len(loader) == expected
    assert len(list(loader)) == expected


def test_loader_in_order_yields_float32_images_and_int64_labels():
    ds = small_dataset(23)
    batches = list(DataLoader(ds, batch_size=5))
    assert [arrays(b[0]).shape[0] for b in batches] == [5, 5, 5, 5, 3]
    images = np.concatenate([arrays(b[0]) for b in batches])
    labels = np.concatenate([arrays(b[1]) for b in batches])
    assert images.dtype == np.float32 and labels.dtype == np.int64
    np.testing.assert_array_equal(images, ds.arrays[0])
    np.testing.assert_array_equal(labels, ds.arrays[1])


def test_loader_keeps_each_arrays_dtype_and_yields_a_list_as_pytorch():
    ds = TensorDataset(np.zeros((4, 2), np.float64), np.zeros((4, 2), np.float32),
                       np.arange(4, dtype=np.uint8), np.arange(4, dtype=np.int64))
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert isinstance(batch, list)
    assert [arrays(t).dtype for t in batch] == [np.float64, np.float32, np.uint8, np.int64]


def test_loader_drop_last_drops_only_the_short_batch():
    ds = small_dataset(23)
    batches = list(DataLoader(ds, batch_size=5, drop_last=True))
    assert [arrays(b[1]).shape[0] for b in batches] == [5, 5, 5, 5]


def epoch_labels(loader):
    return np.concatenate([arrays(b[1]) for b in loader])


def test_loader_shuffle_with_seed_is_a_reproducible_permutation_per_epoch():
    n = 50
    ds = TensorDataset(np.zeros((n, 1), np.float32), np.arange(n))
    loader = DataLoader(ds, batch_size=7, shuffle=True, seed=123)
    e1, e2 = epoch_labels(loader), epoch_labels(loader)
    np.testing.assert_array_equal(np.sort(e1), np.arange(n))
    np.testing.assert_array_equal(np.sort(e2), np.arange(n))
    assert not np.array_equal(e1, np.arange(n))
    assert not np.array_equal(e1, e2)  # a new order every epoch
    again = DataLoader(ds, batch_size=7, shuffle=True, seed=123)
    np.testing.assert_array_equal(epoch_labels(again), e1)
    np.testing.assert_array_equal(epoch_labels(again), e2)
    # The loader's own generator does not touch the global one.
    minicnn.rng.manual_seed(0)
    state = minicnn.rng.get_rng_state()
    epoch_labels(DataLoader(ds, batch_size=7, shuffle=True, seed=5))
    assert minicnn.rng.get_rng_state() == state


def test_loader_shuffle_without_seed_uses_the_global_generator():
    n = 40
    ds = TensorDataset(np.zeros((n, 1), np.float32), np.arange(n))
    loader = DataLoader(ds, batch_size=8, shuffle=True)
    minicnn.rng.manual_seed(7)
    first = epoch_labels(loader)
    state = minicnn.rng.get_rng_state()
    second = epoch_labels(loader)
    minicnn.rng.manual_seed(7)
    np.testing.assert_array_equal(epoch_labels(loader), first)
    minicnn.rng.set_rng_state(state)  # what resuming from a checkpoint does
    np.testing.assert_array_equal(epoch_labels(loader), second)
    np.testing.assert_array_equal(np.sort(first), np.arange(n))


class ListDataset(Dataset):
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


def test_tensor_dataset_fast_path_matches_generic_dataset_path():
    base = small_dataset(31, seed=4)
    fast = DataLoader(TensorDataset(*base.arrays), batch_size=6, shuffle=True, seed=9)
    slow = DataLoader(ListDataset(*base.arrays), batch_size=6, shuffle=True, seed=9)
    for (xf, yf), (xs, ys) in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(arrays(xf), arrays(xs))
        np.testing.assert_array_equal(arrays(yf), arrays(ys))
        assert arrays(xs).dtype == np.float32 and arrays(ys).dtype == np.int64


@pytest.mark.parametrize("kwargs,match", [
    ({"batch_size": 0}, "batch_size"), ({"batch_size": 2.0}, "batch_size"),
    ({"batch_size": True}, "batch_size"), ({"seed": -1}, "seed"), ({"seed": "a"}, "seed")])
def test_loader_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DataLoader(small_dataset(4), **kwargs)


def test_loader_rejects_non_dataset():
    with pytest.raises(TypeError, match="dataset"):
        DataLoader(42)


def test_base_dataset_is_abstract():
    with pytest.raises(NotImplementedError):
        len(Dataset())
