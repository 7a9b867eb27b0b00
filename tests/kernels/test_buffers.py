"""The kernels' output reuse (kernels/buffers.py): an array is handed out again only when nobody
holds it; a training step then stops faulting in fresh pages; results do not change."""
import gc
import resource

import numpy as np
import pytest

import minicnn
import minicnn.nn.functional as F
from minicnn import kernels as K, models, optim
from minicnn.kernels import buffers

SHAPE = (64, 16, 28, 28)


@pytest.fixture(autouse=True)
def fresh_pool():
    buffers.empty_cache()
    yield
    buffers.set_enabled(True)
    buffers.empty_cache()


def test_an_array_in_use_is_never_handed_out_again():
    a = buffers.empty(SHAPE, np.float32)
    b = buffers.empty(SHAPE, np.float32)
    assert a is not b
    view = a[1:]
    del a
    c = buffers.empty(SHAPE, np.float32)
    assert c is not view.base and c is not b   # the view keeps its base busy
    held = [c]
    del c
    d = buffers.empty(SHAPE, np.float32)
    assert d is not held[0]                    # a list entry is a reference too
    del view
    e = buffers.empty(SHAPE, np.float32)       # now the first array is free again
    assert e.shape == SHAPE and e.dtype == np.float32 and e.flags.c_contiguous


def test_a_free_array_is_reused_and_small_ones_are_not_kept():
    a = buffers.empty(SHAPE, np.float32)
    address = a.__array_interface__["data"][0]
    del a
    assert buffers.empty(SHAPE, np.float32).__array_interface__["data"][0] == address
    before = buffers.stats()["arrays"]
    buffers.empty((4, 4), np.float32)
    assert buffers.stats()["arrays"] == before


def test_other_dtype_or_shape_gets_its_own_array():
    a = buffers.empty(SHAPE, np.float32)
    del a
    assert buffers.empty(SHAPE, np.float64).dtype == np.float64
    assert buffers.empty((64, 16, 28, 29), np.float32).shape == (64, 16, 28, 29)


def test_empty_cache_and_disabling_drop_only_free_arrays():
    keep = buffers.empty(SHAPE, np.float32)
    dropped = buffers.empty(SHAPE, np.float32)
    del dropped
    assert buffers.empty_cache() == keep.nbytes
    assert buffers.stats()["held_bytes"] == keep.nbytes
    buffers.set_enabled(False)
    a = buffers.empty(SHAPE, np.float32)
    del a
    assert buffers.empty(SHAPE, np.float32) is not None
    assert buffers.stats()["arrays"] == 1           # only `keep`


def test_the_byte_cap_is_respected(monkeypatch):
    monkeypatch.setattr(buffers, "max_bytes", 3 * 64 * 16 * 28 * 28 * 4)
    live = [buffers.empty(SHAPE, np.float32) for _ in range(5)]
    assert buffers.stats()["held_bytes"] <= buffers.max_bytes
    assert len({id(a) for a in live}) == 5          # the extra ones are plain arrays
    del live
    other = buffers.empty((64, 32, 28, 28), np.float32)   # evicts free arrays to fit
    assert buffers.stats()["held_bytes"] <= buffers.max_bytes
    del other


def _lenet_run(steps):
    minicnn.manual_seed(3)
    model = models.lenet()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(5)
    x = minicnn.tensor(rng.standard_normal((64, 1, 28, 28)).astype(np.float32))
    y = minicnn.tensor(rng.integers(0, 10, 64))
    losses, faults = [], []
    for _ in range(steps):
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
        losses.append(float(loss.item()))
    return losses, [p.data.clone() for p in model.parameters()], faults


def test_training_with_reuse_equals_training_without_and_stops_faulting():
    buffers.set_enabled(False)
    losses_plain, params_plain, _ = _lenet_run(4)
    buffers.set_enabled(True)
    gc.collect()
    losses, params, faults = _lenet_run(6)
    assert losses[:4] == losses_plain
    for a, b in zip(params_plain, _lenet_run(4)[1]):
        np.testing.assert_array_equal(a, b)
    # 5,400 faults a step without reuse (21 MB of fresh outputs); with it, a handful at most
    # once warm (other Python allocations may still fault a page now and then).
    assert min(faults[2:]) < 200
