"""Determinism: every kernel-backed op, and a whole LeNet training epoch, give the same bits for
1, 2 and 3 threads, for any memory alignment of the inputs, and in a fresh interpreter."""
import hashlib
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import minicnn
import minicnn.kernels as K
import minicnn.nn.functional as F
import minicnn.optim as optim
from minicnn.utils.data import DataLoader, TensorDataset
from minicnn.models import lenet
from minicnn.cli.train import train_one_epoch

THREADS = (1, 2, 3)


def _tensor(rng, shape, dtype, positive=False):
    a = rng.standard_normal(shape).astype(dtype)
    return minicnn.Tensor(np.abs(a) + 0.1 if positive else a, requires_grad=True)


# Each op: (name, function of a rng and dtype returning (output Tensor, leaves)). The shapes
# are LeNet's layers with a ragged batch (13: no thread count divides it) and geometries that
# take the kernels' other paths (strided, grouped, dilated, 1x1, transposed).
def _conv(N, C, H, O, K_, **geo):
    def run(rng, dtype):
        x, w = _tensor(rng, (N, C, H, H), dtype), _tensor(rng, (O, C // geo.get("groups", 1),
                                                                 K_, K_), dtype)
        b = _tensor(rng, (O,), dtype)
        return F.conv2d(x, w, b, **geo), (x, w, b)
    return run


def _conv_transpose(rng, dtype):
    x, w, b = _tensor(rng, (13, 8, 7, 7), dtype), _tensor(rng, (8, 3, 3, 3), dtype), \
        _tensor(rng, (6,), dtype)
    return F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1, groups=2), (x, w, b)


def _conv1d(rng, dtype):
    x, w = _tensor(rng, (13, 4, 50), dtype), _tensor(rng, (6, 2, 5), dtype)
    return F.conv1d(x, w, stride=2, padding=2, dilation=2, groups=2), (x, w)


def _pool(fn, **kw):
    def run(rng, dtype):
        x = _tensor(rng, (13, 16, 14, 14), dtype)
        return fn(x, **kw), (x,)
    return run


OPS = {
    "lenet_conv1": _conv(13, 1, 28, 16, 5, padding=2),
    "lenet_conv2": _conv(13, 16, 14, 32, 5, padding=2),
    "strided_grouped": _conv(13, 8, 17, 12, 3, stride=2, padding=1, groups=4),
    "dilated": _conv(5, 3, 16, 4, 3, dilation=2, padding=2),
    "pointwise": _conv(13, 32, 7, 64, 1),
    "conv_transpose2d": _conv_transpose,
    "conv1d": _conv1d,
    "max_pool2d": _pool(F.max_pool2d, kernel_size=3, stride=2, padding=1),
    "avg_pool2d": _pool(F.avg_pool2d, kernel_size=3, stride=2, padding=1),
    "avg_pool2d_exclude_pad": _pool(F.avg_pool2d, kernel_size=3, stride=2, padding=1,
                                    count_include_pad=False),
}


def _forward_backward(op, dtype, seed=0):
    rng = np.random.default_rng(seed)
    y, leaves = OPS[op](rng, dtype)
    y.backward(rng.standard_normal(y.shape).astype(dtype))
    return [y.data] + [t.grad for t in leaves]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", sorted(OPS))
def test_forward_and_backward_bit_identical_for_1_2_3_threads(op, dtype, threads):
    results = {}
    for n in THREADS:
        threads(n)
        results[n] = _forward_backward(op, dtype)
    if not K.openmp_enabled():
        pytest.skip("serial build: set_num_threads keeps 1 thread")
    for n in THREADS[1:]:
        for k, (a, b) in enumerate(zip(results[1], results[n])):
            np.testing.assert_array_equal(a, b, err_msg=f"{op}: output {k}, 1 vs {n} threads")
    # And the same again: nothing carried over from the previous calls changes a bit.
    threads(2)
    for a, b in zip(results[2], _forward_backward(op, dtype)):
        np.testing.assert_array_equal(a, b)


def _at_offset(a, offset):
    """A copy of ``a`` starting ``offset`` bytes past a 64-byte boundary."""
    raw = np.empty(a.nbytes + 128, np.uint8)
    start = (-raw.ctypes.data) % 64 + offset
    out = np.frombuffer(raw.data, a.dtype, a.size, start).reshape(a.shape)
    out[...] = a
    return out


@pytest.mark.parametrize("shape", [(16, 1, 28, 28, 16, 5), (16, 16, 14, 14, 32, 5),
                                   (4, 64, 8, 8, 128, 3)])
def test_conv_results_do_not_depend_on_memory_alignment(shape, rng):
    # BLAS kernels may take other code paths for unaligned data; the bits must not change
    # with where NumPy's allocator happened to put the arrays.
    N, C, H, W, O, KK = shape
    x = rng.standard_normal((N, C, H, W)).astype(np.float32)
    w = rng.standard_normal((O, C, KK, KK)).astype(np.float32)
    g = rng.standard_normal((N, O, H, W)).astype(np.float32)
    results = []
    for offset in (0, 4, 8, 16, 32):
        xa, wa, ga = _at_offset(x, offset), _at_offset(w, offset), _at_offset(g, offset)
        results.append((K.conv2d_forward(xa, wa, padding=KK // 2),
                        K.conv2d_backward_input(ga, wa, x.shape, padding=KK // 2),
                        K.conv2d_backward_weight(xa, ga, w.shape, padding=KK // 2)))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# A whole LeNet epoch
# ---------------------------------------------------------------------------------------------

def synthetic_mnist(n=512, seed=7):
    """``n`` 28x28 images whose class (0..9) is which of ten fixed patterns was added."""
    rng = np.random.default_rng(seed)
    patterns = rng.standard_normal((10, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, n)
    images = 0.5 * rng.standard_normal((n, 1, 28, 28)).astype(np.float32) + patterns[labels]
    return TensorDataset(images, labels.astype(np.int64))


def lenet_epoch(n_threads, seed=0, n=512, batch_size=64):
    """Train a fresh LeNet for one epoch as ``python -m minicnn train`` does; return its loss
    and its weights."""
    previous = K.get_num_threads()
    K.set_num_threads(n_threads)
    try:
        minicnn.manual_seed(seed)
        model = lenet()
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        loader = DataLoader(synthetic_mnist(n), batch_size=batch_size, shuffle=True)
        with threadpool_limits(limits=1, user_api="blas"):
            stats = train_one_epoch(model, loader, opt)
    finally:
        K.set_num_threads(previous)
    return stats["loss"], {k: np.array(v) for k, v in model.state_dict().items()}


def digest(loss, weights):
    h = hashlib.sha256(np.float64(loss).tobytes())
    for name in sorted(weights):
        h.update(name.encode())
        h.update(np.ascontiguousarray(weights[name]).tobytes())
    return h.hexdigest()


def test_lenet_epoch_bit_identical_for_1_2_3_threads_and_two_runs():
    runs = {n: lenet_epoch(n) for n in THREADS}
    again = lenet_epoch(2)
    loss, weights = runs[1]
    assert np.isfinite(loss) and loss < 2.3  # it trained: below chance level, log(10)
    for n, (other_loss, other_weights) in list(runs.items())[1:] + [("2, again", again)]:
        assert other_loss == loss, f"{n} threads"
        for name in weights:
            np.testing.assert_array_equal(weights[name], other_weights[name],
                                          err_msg=f"{name}, 1 vs {n} threads")
    # A different seed gives different weights: the comparison above could have failed.
    assert digest(*lenet_epoch(2, seed=1)) != digest(loss, weights)


def test_lenet_epoch_identical_in_a_fresh_interpreter():
    # A new process: other allocations, other addresses, a fresh OpenMP runtime and BLAS.
    script = textwrap.dedent(f"""
        import json, sys
        sys.path.insert(0, {str(__import__("os").path.dirname(__file__))!r})
        from test_harden_determinism import digest, lenet_epoch
        print(json.dumps(digest(*lenet_epoch(3))))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout) == digest(*lenet_epoch(1))
