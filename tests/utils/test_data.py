"""Tests for minicnn.utils.data: datasets, samplers, default_collate and the DataLoader
(in-process and with worker processes)."""
import collections
import os

import numpy as np
import pytest

import minicnn
from minicnn.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset,
                                IterableDataset, RandomSampler, Sampler, SequentialSampler,
                                Subset, SubsetRandomSampler, TensorDataset,
                                WeightedRandomSampler, default_collate, default_convert,
                                get_worker_info, random_split)


def arrays(batch):
    """A batch (a Tensor, or a list/tuple/dict of them) as NumPy arrays, for comparisons."""
    if isinstance(batch, minicnn.Tensor):
        return np.asarray(batch.data)
    if isinstance(batch, dict):
        return {k: arrays(v) for k, v in batch.items()}
    if isinstance(batch, str):
        return batch
    return [arrays(b) for b in batch]


def assert_same(a, b):
    """Equal nested structures (lists, dicts, strings) of equal arrays of equal dtypes."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            assert_same(u, v)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    else:
        assert a == b


def assert_same_batches(a, b):
    assert_same(list(a), list(b))


def epoch(loader):
    return [arrays(b) for b in loader]


class Squares(Dataset):
    """Sample i is (an image full of i, i): the labels say which sample a batch holds."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return np.full((1, 2, 2), i, np.float32), i


class Dicts(Dataset):
    def __len__(self):
        return 7

    def __getitem__(self, i):
        return {"x": np.arange(3.0) + i, "y": i, "name": f"s{i}"}


def tensor_dataset(n=23, seed=0):
    rng = np.random.default_rng(seed)
    return TensorDataset(rng.standard_normal((n, 1, 3, 3)).astype(np.float32),
                         rng.integers(0, 10, n))


# ---------------------------------------------------------------------------------------------
# default_collate
# ---------------------------------------------------------------------------------------------

def test_default_collate_tuples_numbers_and_arrays():
    images, labels, weights = default_collate(
        [(np.zeros((1, 2), np.float32), 3, 0.5), (np.ones((1, 2), np.float32), 4, 1.5)])
    assert tuple(images.shape) == (2, 1, 2) and images.dtype == minicnn.float32
    assert labels.dtype == minicnn.int64 and labels.tolist() == [3, 4]
    assert weights.dtype == minicnn.float64  # Python floats: float64, as PyTorch
    assert default_collate([True, False]).dtype == minicnn.bool
    assert default_collate([np.float32(1), np.float32(2)]).dtype == minicnn.float32
    assert default_collate([np.zeros(2, np.uint8)] * 3).dtype == minicnn.uint8
    t = default_collate([minicnn.tensor([1.0, 2.0]), minicnn.tensor([3.0, 4.0])])
    np.testing.assert_array_equal(t.data, [[1, 2], [3, 4]])


def test_default_collate_dicts_strings_and_namedtuples():
    batch = default_collate([Dicts()[i] for i in range(3)])
    assert set(batch) == {"x", "y", "name"}
    np.testing.assert_array_equal(batch["x"].data, np.arange(3.0)[None] + np.arange(3)[:, None])
    assert batch["y"].tolist() == [0, 1, 2] and batch["name"] == ["s0", "s1", "s2"]
    Point = collections.namedtuple("Point", "x y")
    p = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(p, Point) and p.x.tolist() == [1, 3]


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([(1, 2), (1,)])
    with pytest.raises(TypeError, match="default_collate"):
        default_collate([object(), object()])
    with pytest.raises(TypeError, match="dtype"):
        default_collate([np.array(["a"]), np.array(["b"])])


def test_default_convert():
    out = default_convert((np.zeros(2, np.float32), 3, "s"))
    assert isinstance(out, list) and isinstance(out[0], minicnn.Tensor) and out[1:] == [3, "s"]


# ---------------------------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------------------------

def test_subset_indexing_and_errors():
    ds = Squares(10)
    sub = Subset(ds, [7, 2, -1])
    assert len(sub) == 3 and [sub[i][1] for i in range(3)] == [7, 2, 9]
    assert sub[-1][1] == 9
    assert [s[1] for s in sub.__getitems__([0, 1])] == [7, 2]
    with pytest.raises(IndexError, match="Subset index 3"):
        sub[3]
    with pytest.raises(IndexError, match="out of range"):
        Subset(ds, [10])
    with pytest.raises(TypeError, match="integers"):
        Subset(ds, [1.5])


def test_concat_dataset_indexing_and_errors():
    a, b = Squares(3), Squares(4)
    cat = ConcatDataset([a, b])
    assert len(cat) == 7 and cat.cumulative_sizes == [3, 7]
    assert [cat[i][1] for i in range(7)] == [0, 1, 2, 0, 1, 2, 3]
    assert cat[-1][1] == 3 and cat[-7][1] == 0
    assert len(a + b) == 7
    with pytest.raises(IndexError):
        cat[7]
    with pytest.raises(IndexError):
        cat[-8]
    with pytest.raises(ValueError, match="empty"):
        ConcatDataset([])


def test_random_split_lengths_fractions_and_reproducibility():
    ds = Squares(10)
    parts = random_split(ds, [3, 7], generator=np.random.default_rng(1))
    again = random_split(ds, [3, 7], generator=np.random.default_rng(1))
    assert [len(p) for p in parts] == [3, 7]
    assert parts[0].indices == again[0].indices
    assert sorted(parts[0].indices + parts[1].indices) == list(range(10))
    # Fractions as PyTorch: floor each, then the remainder one by one from the first split.
    assert [len(p) for p in random_split(Squares(11), [0.5, 0.3, 0.2])] == [6, 3, 2]
    minicnn.manual_seed(3)
    first = random_split(ds, [0.5, 0.5])[0].indices
    minicnn.manual_seed(3)
    assert random_split(ds, [0.5, 0.5])[0].indices == first
    with pytest.raises(ValueError, match="Sum of input lengths"):
        random_split(ds, [3, 3])
    with pytest.raises(ValueError, match="fractions"):
        random_split(ds, [0.5, 0.2])


def test_tensor_dataset():
    ds = tensor_dataset(5)
    assert ds.tensors is ds.arrays and len(ds) == 5
    with pytest.raises(ValueError, match="same first dimension"):
        TensorDataset(np.zeros(3), np.zeros(4))


# ---------------------------------------------------------------------------------------------
# Samplers
# ---------------------------------------------------------------------------------------------

def test_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    r = RandomSampler(range(10), generator=np.random.default_rng(0))
    e1, e2 = list(r), list(r)
    assert sorted(e1) == list(range(10)) and e1 != e2 and len(r) == 10
    assert len(list(RandomSampler(range(4), num_samples=10))) == 10
    chained = list(RandomSampler(range(4), num_samples=8))
    assert sorted(chained[:4]) == sorted(chained[4:]) == [0, 1, 2, 3]
    assert all(0 <= i < 3 for i in RandomSampler(range(3), replacement=True, num_samples=20))
    s = list(SubsetRandomSampler([5, 7, 9]))
    assert sorted(s) == [5, 7, 9]
    w = list(WeightedRandomSampler([0, 0, 1], 5))
    assert w == [2] * 5
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(SequentialSampler(range(3)), 0, False)
    with pytest.raises(ValueError, match="drop_last"):
        BatchSampler(SequentialSampler(range(3)), 2, 1)
    with pytest.raises(TypeError, match="generator"):
        RandomSampler(range(3), generator=42)


def test_batch_sampler_len_and_drop_last():
    for n, b, drop, expected in [(10, 3, False, 4), (10, 3, True, 3), (9, 3, True, 3)]:
        bs = BatchSampler(SequentialSampler(range(n)), b, drop)
        assert len(bs) == expected == len(list(bs))


# ---------------------------------------------------------------------------------------------
# DataLoader, in-process
# ---------------------------------------------------------------------------------------------

def test_loader_yields_collated_batches():
    loader = DataLoader(Squares(10), batch_size=4)
    assert len(loader) == 3
    images, labels = next(iter(loader))
    assert tuple(images.shape) == (4, 1, 2, 2) and images.dtype == minicnn.float32
    assert labels.dtype == minicnn.int64 and labels.tolist() == [0, 1, 2, 3]
    assert [len(b[1]) for b in loader] == [4, 4, 2]
    assert [len(b[1]) for b in DataLoader(Squares(10), batch_size=4, drop_last=True)] == [4, 4]


def test_loader_tensor_dataset_fast_path_equals_per_sample_collate():
    ds = tensor_dataset(23)

    class PerSample(Dataset):  # the same samples, read one by one
        def __len__(self):
            return len(ds)

        def __getitem__(self, i):
            return ds[i]

    minicnn.manual_seed(5)
    fast = epoch(DataLoader(ds, batch_size=6, shuffle=True))
    minicnn.manual_seed(5)
    slow = epoch(DataLoader(PerSample(), batch_size=6, shuffle=True))
    assert_same_batches(fast, slow)


def test_loader_tensor_dataset_subclass_overriding_getitem_is_read_per_sample():
    class Doubled(TensorDataset):
        def __getitem__(self, i):
            return tuple(a[i] * 2 for a in self.arrays)

    x = np.arange(4.0, dtype=np.float32)
    (batch,) = next(iter(DataLoader(Doubled(x), batch_size=4)))
    np.testing.assert_array_equal(batch.data, 2 * x)


def test_loader_shuffle_follows_manual_seed_and_seed_argument():
    ds = Squares(30)
    minicnn.manual_seed(0)
    a = epoch(DataLoader(ds, batch_size=7, shuffle=True))
    minicnn.manual_seed(0)
    b = epoch(DataLoader(ds, batch_size=7, shuffle=True))
    assert_same_batches(a, b)
    labels = np.concatenate([x[1] for x in a])
    assert sorted(labels) == list(range(30)) and not np.array_equal(labels, np.arange(30))
    own = DataLoader(ds, batch_size=7, shuffle=True, seed=4)
    gen = DataLoader(ds, batch_size=7, shuffle=True, generator=np.random.default_rng(4))
    assert_same_batches(epoch(own), epoch(gen))
    with pytest.raises(ValueError, match="seed"):
        DataLoader(ds, seed=1, generator=np.random.default_rng(1))


def test_loader_dict_samples_and_custom_collate():
    batch = next(iter(DataLoader(Dicts(), batch_size=3)))
    assert batch["y"].tolist() == [0, 1, 2] and batch["name"] == ["s0", "s1", "s2"]
    loader = DataLoader(Squares(5), batch_size=2, collate_fn=lambda s: [i for _, i in s])
    assert list(loader) == [[0, 1], [2, 3], [4]]


def test_loader_batch_sampler_and_sampler():
    class EvensFirst(Sampler):
        def __iter__(self):
            return iter([[0, 2], [4], [1, 3]])

        def __len__(self):
            return 3

    loader = DataLoader(Squares(5), batch_sampler=EvensFirst())
    assert [b[1].tolist() for b in loader] == [[0, 2], [4], [1, 3]] and len(loader) == 3
    loader = DataLoader(Squares(5), batch_size=2, sampler=[4, 3, 2, 1, 0])
    assert [b[1].tolist() for b in loader] == [[4, 3], [2, 1], [0]]


def test_loader_sampler_without_len():
    class NoLen(Sampler):
        def __iter__(self):
            return iter([2, 0, 1])

    for workers in (0, 2):
        loader = DataLoader(Squares(3), batch_size=2, sampler=NoLen(), num_workers=workers)
        assert [b[1].tolist() for b in loader] == [[2, 0], [1]]
        with pytest.raises(TypeError):
            len(loader)


def test_loader_batch_size_none_yields_samples():
    loader = DataLoader(Squares(3), batch_size=None)
    samples = list(loader)
    assert len(loader) == 3 and isinstance(samples[0], list)
    assert tuple(samples[0][0].shape) == (1, 2, 2) and samples[2][1] == 2


def test_loader_iterable_dataset():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(7))

    assert [b.tolist() for b in DataLoader(Stream(), batch_size=3)] == [[0, 1, 2], [3, 4, 5],
                                                                       [6]]
    assert len(list(DataLoader(Stream(), batch_size=3, drop_last=True))) == 2
    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(Stream(), shuffle=True)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"batch_size": 2.0}, ValueError, "batch_size"),
    ({"num_workers": -1}, ValueError, "num_workers"),
    ({"timeout": -1}, ValueError, "timeout"),
    ({"prefetch_factor": 2}, ValueError, "prefetch_factor"),
    ({"persistent_workers": True}, ValueError, "persistent_workers"),
    ({"sampler": [0, 1], "shuffle": True}, ValueError, "mutually exclusive"),
    ({"batch_sampler": [[0]], "batch_size": 2}, ValueError, "mutually exclusive"),
    ({"batch_size": None, "drop_last": True}, ValueError, "drop_last"),
    ({"generator": 3}, TypeError, "generator")])
def test_loader_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        DataLoader(Squares(4), **kwargs)


def test_reachable_from_import_minicnn():
    import minicnn as torch
    assert torch.utils.data.DataLoader is DataLoader
    assert torch.utils.data.TensorDataset is TensorDataset


# ---------------------------------------------------------------------------------------------
# DataLoader with worker processes (tiny datasets, 2 workers)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda: Squares(23), lambda: tensor_dataset(23)])
def test_workers_give_exactly_the_batches_of_num_workers_0(make):
    ds = make()
    minicnn.manual_seed(11)
    single = [epoch(DataLoader(ds, batch_size=4, shuffle=True)) for _ in range(2)]
    minicnn.manual_seed(11)
    loader = DataLoader(ds, batch_size=4, shuffle=True, num_workers=2)
    multi = [epoch(loader) for _ in range(2)]
    for s, m in zip(single, multi):
        assert_same_batches(s, m)
    assert not np.array_equal(single[0][0][1], single[1][0][1])  # a new order per epoch


def test_workers_dict_samples_drop_last_and_persistent_workers():
    loader = DataLoader(Dicts(), batch_size=3, drop_last=True, num_workers=2,
                        persistent_workers=True)
    first, second = epoch(loader), epoch(loader)
    assert_same_batches(first, epoch(DataLoader(Dicts(), batch_size=3, drop_last=True)))
    assert_same_batches(first, second)
    pids = [w.pid for w in loader._pool.workers]
    assert len(pids) == 2 and all(w.is_alive() for w in loader._pool.workers)
    it = iter(loader)
    next(it)  # an epoch broken off early: its leftovers must not leak into the next
    del it
    assert_same_batches(epoch(loader), first)
    assert [w.pid for w in loader._pool.workers] == pids
    loader._pool.shutdown()


def test_worker_error_is_raised_with_the_worker_traceback():
    class Broken(Squares):
        def __getitem__(self, i):
            if i == 5:
                raise KeyError("sample 5 is broken")
            return super().__getitem__(i)

    loader = DataLoader(Broken(8), batch_size=2, num_workers=2)
    it = iter(loader)
    assert next(it)[1].tolist() == [0, 1]
    assert next(it)[1].tolist() == [2, 3]
    with pytest.raises(KeyError, match="(?s)worker process 0.*Traceback.*sample 5 is broken"):
        next(it)
    assert not it._pool.alive  # the workers were shut down


def test_worker_info_seeds_and_init_fn():
    class WhoAmI(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            info = get_worker_info()
            return np.array([info.id, info.num_workers, os.getpid(),
                             minicnn.rng.get_rng().integers(1 << 30), int(os.environ["X_ID"])])

    def init(worker_id):
        os.environ["X_ID"] = str(100 + worker_id)

    def run():
        minicnn.manual_seed(2)
        return arrays(list(DataLoader(WhoAmI(), batch_size=1, num_workers=2,
                                      worker_init_fn=init)))

    first = run()
    rows = np.concatenate(first)
    assert rows[:, 0].tolist() == [0, 1, 0, 1] and (rows[:, 1] == 2).all()
    assert rows[0, 2] != rows[1, 2] != os.getpid()
    assert rows[:, 4].tolist() == [100, 101, 100, 101]
    assert rows[0, 3] != rows[1, 3]  # each worker its own random stream ...
    again = np.concatenate(run())
    np.testing.assert_array_equal(rows[:, 3], again[:, 3])  # ... the same on every run
    assert get_worker_info() is None
    assert len(first) == 4


def test_worker_init_error_and_dead_worker():
    def bad_init(worker_id):
        raise ValueError("init failed")

    with pytest.raises(ValueError, match="init failed"):
        list(DataLoader(Squares(4), batch_size=2, num_workers=2, worker_init_fn=bad_init))

    class Dies(Squares):
        def __getitem__(self, i):
            os._exit(3)

    with pytest.raises(RuntimeError, match="exited unexpectedly"):
        list(DataLoader(Dies(4), batch_size=2, num_workers=2))


def test_workers_with_random_transform_are_reproducible():
    class Noisy(Squares):
        def __getitem__(self, i):
            x, y = super().__getitem__(i)
            return x + minicnn.rng.get_rng().random(x.shape).astype(np.float32), y

    def run():
        minicnn.manual_seed(9)
        return epoch(DataLoader(Noisy(6), batch_size=2, num_workers=2))

    assert_same_batches(run(), run())


# ---------------------------------------------------------------------------------------------
# Opt-in: the same collate results and batching as torch.utils.data (orders cannot match:
# the generators differ, so the samplers are compared without shuffling or given explicitly)
# ---------------------------------------------------------------------------------------------

def torch_arrays(batch):
    import torch
    if isinstance(batch, torch.Tensor):
        return batch.numpy()
    if isinstance(batch, dict):
        return {k: torch_arrays(v) for k, v in batch.items()}
    if isinstance(batch, str):
        return batch
    return [torch_arrays(b) for b in batch]


@pytest.mark.parametrize("make,kwargs", [
    (lambda: Squares(11), {"batch_size": 4}),
    (lambda: Squares(11), {"batch_size": 4, "drop_last": True}),
    (lambda: Squares(11), {"batch_size": 3, "sampler": [10, 0, 5, 5, 2]}),
    (lambda: Squares(6), {"batch_sampler": [[5, 0], [1], [2, 3, 4]]}),
    (lambda: Dicts(), {"batch_size": 3}),
    (lambda: tensor_dataset(9), {"batch_size": 4})])
def test_batches_match_pytorch(make, kwargs):
    torch = pytest.importorskip("torch", reason="PyTorch comparisons are opt-in")
    ours = epoch(DataLoader(make(), **kwargs))
    if isinstance(make(), TensorDataset):
        ds = torch.utils.data.TensorDataset(*(torch.as_tensor(a) for a in make().arrays))
    else:
        ds = make()
    theirs = [torch_arrays(b) for b in torch.utils.data.DataLoader(ds, **kwargs)]
    assert_same_batches(ours, theirs)
    assert len(DataLoader(make(), **kwargs)) == len(torch.utils.data.DataLoader(ds, **kwargs))


def test_default_collate_matches_pytorch():
    torch = pytest.importorskip("torch", reason="PyTorch comparisons are opt-in")
    from torch.utils.data import default_collate as torch_collate
    for batch in ([1, 2], [1.0, 2.5], [True, False], [np.float32(1), np.float32(2)],
                  [np.zeros((2, 3), np.uint8), np.ones((2, 3), np.uint8)],
                  [(np.zeros(2), 1, "a"), (np.ones(2), 2, "b")],
                  [{"x": np.arange(2, dtype=np.int32), "y": 0.5}] * 3):
        assert_same(arrays(default_collate(batch)), torch_arrays(torch_collate(batch)))


def test_random_split_lengths_match_pytorch():
    torch = pytest.importorskip("torch", reason="PyTorch comparisons are opt-in")
    for n, fractions in [(11, [0.5, 0.3, 0.2]), (10, [0.33, 0.33, 0.34]), (7, [0.6, 0.4])]:
        ours = [len(p) for p in random_split(Squares(n), fractions)]
        theirs = [len(p) for p in torch.utils.data.random_split(Squares(n), fractions)]
        assert ours == theirs


def test_docstring_examples():
    import doctest

    import minicnn.datasets
    import minicnn.transforms
    import minicnn.utils.data
    from minicnn.utils import image
    from minicnn.utils.data import collate, dataloader, dataset, sampler
    for module in (minicnn.utils.data, collate, dataloader, dataset, sampler, minicnn.transforms,
                   minicnn.datasets, image):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module.__name__


def test_make_grid_as_torchvision():
    from minicnn.utils import make_grid
    x = np.arange(5 * 3 * 2 * 2, dtype=np.float32).reshape(5, 3, 2, 2)
    grid = make_grid(minicnn.tensor(x), nrow=2, padding=1, pad_value=-1).data
    assert grid.shape == (3, 3 * 3 + 1, 2 * 3 + 1)
    np.testing.assert_array_equal(grid[:, 1:3, 4:6], x[1])  # row 0, column 1
    np.testing.assert_array_equal(grid[:, 7:9, 1:3], x[4])  # row 2, column 0
    assert grid[0, 0, 0] == -1 and (grid[:, 7:9, 4:6] == -1).all()  # the empty slot
    gray = make_grid([minicnn.zeros(1, 2, 2)] * 2, normalize=True).data
    assert gray.shape == (3, 6, 10)
    one = make_grid(minicnn.tensor(x[:1]), normalize=True).data
    assert one.shape == (3, 2, 2) and one.min() == 0 and one.max() == 1


def test_make_grid_matches_torchvision_rule():
    torch = pytest.importorskip("torch", reason="PyTorch comparisons are opt-in")
    tv = pytest.importorskip("torchvision", reason="torchvision is not installed")
    from minicnn.utils import make_grid
    x = np.random.default_rng(0).random((7, 3, 4, 5)).astype(np.float32)
    for kwargs in ({}, {"nrow": 3, "padding": 0}, {"normalize": True, "scale_each": True}):
        np.testing.assert_allclose(make_grid(minicnn.tensor(x), **kwargs).data,
                                   tv.utils.make_grid(torch.from_numpy(x), **kwargs).numpy())


def test_workers_can_run_minicnn_kernels_after_the_parent_did():
    import minicnn.nn.functional as F
    w = minicnn.randn(4, 3, 3, 3)
    F.conv2d(minicnn.randn(8, 3, 16, 16), w)  # the parent's OpenMP pool is up before the fork

    class Convolved(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return F.conv2d(minicnn.ones(1, 3, 6, 6) * i, w).data[0]

    single = epoch(DataLoader(Convolved(), batch_size=2))
    assert_same_batches(single, epoch(DataLoader(Convolved(), batch_size=2, num_workers=2)))


def test_worker_timeout_raises():
    import time

    class Slow(Squares):
        def __getitem__(self, i):
            time.sleep(1.0)
            return super().__getitem__(i)

    it = iter(DataLoader(Slow(2), batch_size=1, num_workers=2, timeout=0.2))
    with pytest.raises(RuntimeError, match="timed out after 0.2 seconds"):
        next(it)
    assert not it._pool.alive
