"""Tests of minicnn.nn.functional: values against NumPy formulas, gradients by gradcheck."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minicnn
import minicnn.nn.functional as F
from minicnn import gradcheck, kernels as K

SETTINGS = settings(max_examples=10, deadline=None)


def t64(rng, *shape, requires_grad=True):
    return minicnn.tensor(rng.standard_normal(shape), dtype=np.float64,
                          requires_grad=requires_grad)


def tie_free(rng, *shape):
    """A shuffled arange: distinct values 0.1 apart, so max-pool windows have no ties."""
    data = rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1
    return minicnn.tensor(data, dtype=np.float64, requires_grad=True)


def away_from_zero(rng, *shape):
    data = np.where(rng.random(shape) < 0.5, -1, 1) * rng.uniform(0.1, 2, shape)
    return minicnn.tensor(data, dtype=np.float64, requires_grad=True)


# ---------------------------------------------------------------------------------------------
# Both kernel backends: every op is checked on the fast Cython kernels and the reference twins
# (a kernel that fails here fails the test; nothing is skipped).
# ---------------------------------------------------------------------------------------------

@pytest.fixture(params=list(K.BACKENDS))
def conv_backend(request):
    with K.backend(request.param):
        yield request.param


pool_backend = conv_backend


# ---------------------------------------------------------------------------------------------
# Convolution
# ---------------------------------------------------------------------------------------------

CONV_CASES = [
    # (N, C, H, W), (O, KH, KW), stride, padding, dilation, groups
    ((2, 3, 6, 5), (4, 3, 3), 1, 0, 1, 1),
    ((1, 2, 7, 6), (3, 3, 2), 2, 1, 1, 1),
    ((2, 4, 7, 7), (6, 3, 3), (2, 1), (1, 2), 2, 2),
    ((1, 4, 5, 5), (4, 1, 3), 1, (0, 1), (1, 2), 4),   # depthwise, non-square
    ((2, 1, 4, 4), (2, 4, 4), 1, 0, 1, 1),              # kernel covers the whole input
]


@pytest.mark.parametrize("case", CONV_CASES)
@pytest.mark.parametrize("with_bias", [True, False])
def test_conv2d_gradcheck(conv_backend, case, with_bias):
    (N, C, H, W), (O, KH, KW), stride, padding, dilation, groups = case
    rng = np.random.default_rng(10)
    x, w = t64(rng, N, C, H, W), t64(rng, O, C // groups, KH, KW)
    inputs = (x, w, t64(rng, O)) if with_bias else (x, w)

    def fn(x, w, b=None):
        return F.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation,
                        groups=groups)

    y = fn(*inputs)
    assert y.shape[:2] == (N, O)
    assert gradcheck(fn, inputs)


def test_conv2d_bias_and_value(conv_backend):
    rng = np.random.default_rng(11)
    x, w, b = t64(rng, 2, 3, 5, 5), t64(rng, 4, 3, 3, 3), t64(rng, 4)
    y = F.conv2d(x, w, b, padding=1)
    # An independent oracle: the direct sum over channels and taps.
    xp = np.pad(x.data, ((0, 0), (0, 0), (1, 1), (1, 1)))
    expected = np.zeros((2, 4, 5, 5))
    for kh in range(3):
        for kw in range(3):
            expected += np.einsum("nchw,oc->nohw", xp[:, :, kh:kh + 5, kw:kw + 5],
                                  w.detach().numpy()[:, :, kh, kw])
    np.testing.assert_allclose(y.data, expected + b.detach().numpy()[:, None, None], rtol=1e-10)


def test_conv2d_float32_and_needs_input_grad(conv_backend):
    rng = np.random.default_rng(12)
    x = minicnn.tensor(rng.standard_normal((2, 3, 6, 6)), dtype=np.float32)               # no grad
    w = minicnn.tensor(rng.standard_normal((4, 3, 3, 3)), requires_grad=True, dtype=np.float32)
    b = minicnn.tensor(rng.standard_normal(4), requires_grad=True, dtype=np.float32)
    y = F.conv2d(x, w, b)
    assert y.dtype == np.float32
    y.sum().backward()
    assert w.grad.dtype == np.float32 and b.grad.dtype == np.float32 and x.grad is None
    np.testing.assert_allclose(b.grad, np.full(4, 2 * 4 * 4.0))          # N*OH*OW ones


def test_conv2d_argument_errors():
    x = minicnn.tensor(np.ones((1, 2, 5, 5)), dtype=np.float32)
    w = minicnn.tensor(np.ones((3, 2, 3, 3)), dtype=np.float32)
    with pytest.raises(ValueError, match="weight must be 4-D"):
        F.conv2d(x, minicnn.tensor(np.ones((3, 2, 3)), dtype=np.float32))
    with pytest.raises(ValueError, match=r"input must be 3-D \(unbatched\) or 4-D"):
        F.conv2d(minicnn.tensor(np.ones((5, 5)), dtype=np.float32), w)
    with pytest.raises(ValueError, match="bias must have shape"):
        F.conv2d(x, w, minicnn.tensor(np.ones(2), dtype=np.float32))
    with pytest.raises(TypeError, match="weight has dtype (minicnn.)?float64"):
        F.conv2d(x, minicnn.tensor(np.ones((3, 2, 3, 3)), dtype=np.float64))
    with pytest.raises(TypeError, match="input must be a Tensor"):
        F.conv2d([[1.0]], w)
    with pytest.raises(TypeError, match="input must be a float32 or float64"):
        F.conv2d(minicnn.tensor(np.ones((1, 2, 5, 5), np.int64)), w)
    with pytest.raises(ValueError, match="groups"):  # geometry is checked by the kernel seam
        F.conv2d(x, w, groups=2)
    # ndarrays are accepted where a Tensor is expected.
    assert F.conv2d(np.ones((1, 2, 5, 5), np.float32), w).shape == (1, 3, 3, 3)


CONV_T_CASES = [
    # (N, C_in, H, W), (C_out, KH, KW), stride, padding, output_padding, dilation, groups
    ((2, 3, 4, 4), (2, 3, 3), 1, 0, 0, 1, 1),
    ((1, 2, 3, 4), (3, 3, 2), 2, 1, 1, 1, 1),
    ((2, 4, 3, 3), (2, 2, 3), (2, 3), (0, 1), (1, 2), (2, 1), 2),
]


@pytest.mark.parametrize("case", CONV_T_CASES)
def test_conv_transpose2d_gradcheck_and_shape(conv_backend, case):
    (N, C, H, W), (O, KH, KW), stride, padding, out_pad, dilation, groups = case
    rng = np.random.default_rng(13)
    x, w, b = t64(rng, N, C, H, W), t64(rng, C, O // groups, KH, KW), t64(rng, O)

    def fn(x, w, b):
        return F.conv_transpose2d(x, w, b, stride=stride, padding=padding,
                                  output_padding=out_pad, groups=groups, dilation=dilation)

    (SH, SW), (PH, PW) = np.broadcast_to(stride, 2), np.broadcast_to(padding, 2)
    (OPH, OPW), (DH, DW) = np.broadcast_to(out_pad, 2), np.broadcast_to(dilation, 2)
    assert fn(x, w, b).shape == (N, O, (H - 1) * SH - 2 * PH + DH * (KH - 1) + OPH + 1,
                                 (W - 1) * SW - 2 * PW + DW * (KW - 1) + OPW + 1)
    assert gradcheck(fn, (x, w, b))


def test_conv_transpose2d_is_the_adjoint_of_conv2d(conv_backend):
    # <conv2d(x, w), y> == <x, conv_transpose2d(y, w)> for every x, y: the defining property.
    rng = np.random.default_rng(14)
    x, w = rng.standard_normal((2, 4, 7, 6)), rng.standard_normal((6, 2, 3, 3))
    geometry = dict(stride=2, padding=1, dilation=1, groups=2)
    y = F.conv2d(x, w, **geometry)
    g = rng.standard_normal(y.shape)
    back = F.conv_transpose2d(g, w, output_padding=(0, 1), **geometry)
    assert back.shape == x.shape
    np.testing.assert_allclose(np.sum(y.numpy() * g), np.sum(x * back.numpy()), rtol=1e-10)


def test_conv_transpose2d_errors():
    x, w = minicnn.tensor(np.ones((1, 2, 3, 3))), minicnn.tensor(np.ones((2, 3, 3, 3)))
    with pytest.raises(ValueError, match="output_padding"):
        F.conv_transpose2d(x, w, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="C_in = 2"):
        F.conv_transpose2d(x, minicnn.tensor(np.ones((3, 2, 3, 3))))
    with pytest.raises(ValueError, match="bias must have shape \\(3,\\)"):
        F.conv_transpose2d(x, w, minicnn.tensor(np.ones(2)))


def test_conv1d_matches_conv2d_and_gradcheck(conv_backend):
    rng = np.random.default_rng(15)
    x, w, b = t64(rng, 2, 4, 9), t64(rng, 6, 2, 3), t64(rng, 6)

    def fn(x, w, b):
        return F.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2)

    y = fn(x, w, b)
    y2 = F.conv2d(x.data[:, :, None], w.data[:, :, None], b, stride=(1, 2), padding=(0, 1),
                  dilation=(1, 2), groups=2)
    np.testing.assert_allclose(y.data, y2.data[:, :, 0])
    assert y.shape == (2, 6, 4)
    assert gradcheck(fn, (x, w, b))
    with pytest.raises(ValueError, match="stride"):  # an int-tuple of the wrong length
        F.conv1d(x, w, stride=(1, 2))
    with pytest.raises(TypeError, match="stride"):
        F.conv1d(x, w, stride=1.0)


# ---------------------------------------------------------------------------------------------
# Pooling
# ---------------------------------------------------------------------------------------------

POOL_CASES = [
    # (N, C, H, W), kernel_size, stride, padding
    ((2, 3, 6, 6), 2, None, 0),
    ((1, 2, 7, 6), 3, 2, 1),             # overlapping windows, padding
    ((2, 1, 5, 7), (3, 2), (1, 2), (1, 1)),
    ((1, 1, 4, 4), 4, None, 0),          # one window over the whole plane
]


@pytest.mark.parametrize("case", POOL_CASES)
def test_max_pool2d_gradcheck(pool_backend, case):
    shape, kernel_size, stride, padding = case
    x = tie_free(np.random.default_rng(16), *shape)
    fn = lambda x: F.max_pool2d(x, kernel_size, stride, padding)  # noqa: E731
    assert gradcheck(fn, (x,))


@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool2d_gradcheck(pool_backend, case, count_include_pad):
    shape, kernel_size, stride, padding = case
    x = t64(np.random.default_rng(17), *shape)
    fn = lambda x: F.avg_pool2d(x, kernel_size, stride, padding,  # noqa: E731
                                count_include_pad=count_include_pad)
    assert gradcheck(fn, (x,))


def test_pool_values_on_non_overlapping_windows(pool_backend):
    rng = np.random.default_rng(18)
    x = minicnn.tensor(rng.standard_normal((2, 3, 6, 4)), dtype=np.float32)
    blocks = x.detach().numpy().reshape(2, 3, 3, 2, 2, 2)
    np.testing.assert_array_equal(F.max_pool2d(x, 2).data, blocks.max(axis=(3, 5)))
    np.testing.assert_allclose(F.avg_pool2d(x, 2).data, blocks.mean(axis=(3, 5)), rtol=1e-6)
    assert F.max_pool2d(x, 2).dtype == np.float32 and F.avg_pool2d(x, 2).dtype == np.float32


def test_max_pool2d_gradient_goes_to_the_maximum(pool_backend):
    x = minicnn.tensor([[[[1.0, 4.0], [3.0, 2.0]]]], requires_grad=True)
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad, [[[[0, 1], [0, 0]]]])


def test_pool_errors():
    with pytest.raises(ValueError, match=r"input must be 3-D \(unbatched\) or 4-D"):
        F.max_pool2d(minicnn.tensor(np.ones((4, 4))), 2)
    with pytest.raises(ValueError, match="padding"):
        F.avg_pool2d(minicnn.tensor(np.ones((1, 1, 4, 4))), 2, padding=2)


# ---------------------------------------------------------------------------------------------
# Activations, linear, flatten, dropout
# ---------------------------------------------------------------------------------------------

ACTIVATIONS = {
    "relu": (F.relu, lambda a: np.maximum(a, 0)),
    "leaky_relu": (F.leaky_relu, lambda a: np.where(a > 0, a, 0.01 * a)),
    "leaky_relu(0.2)": (lambda x: F.leaky_relu(x, negative_slope=0.2),
                        lambda a: np.where(a > 0, a, 0.2 * a)),
    "sigmoid": (F.sigmoid, lambda a: 1 / (1 + np.exp(-a))),
    "tanh": (F.tanh, np.tanh),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@SETTINGS
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), seed=st.integers(0, 2**32 - 1))
def test_activations_value_and_gradcheck(name, shape, seed):
    fn, numpy_fn = ACTIVATIONS[name]
    x = away_from_zero(np.random.default_rng(seed), *shape)
    np.testing.assert_allclose(fn(x).data, numpy_fn(x.detach().numpy()), rtol=1e-12)
    assert gradcheck(fn, (x,))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations_float32_and_extreme_inputs(name):
    fn, _ = ACTIVATIONS[name]
    x = minicnn.tensor([-1e4, -100.0, 0.0, 100.0, 1e4], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")       # no overflow warnings either
        y = fn(x)
        y.sum().backward()
    assert y.dtype == np.float32 and x.grad.dtype == np.float32
    assert np.isfinite(y.detach().numpy()).all() and np.isfinite(x.grad.numpy()).all()


def test_tensor_methods_match_functional():
    x = minicnn.tensor([[-1.0, 2.0], [0.5, -3.0]])
    np.testing.assert_array_equal(x.relu().data, F.relu(x).data)
    np.testing.assert_array_equal(x.softmax(1).data, F.softmax(x, 1).data)
    np.testing.assert_array_equal(x.log_softmax(0).data, F.log_softmax(x, 0).data)


@pytest.mark.parametrize("x_shape", [(5,), (4, 5), (2, 3, 5)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_value_and_gradcheck(x_shape, with_bias):
    rng = np.random.default_rng(19)
    x, w, b = t64(rng, *x_shape), t64(rng, 3, 5), t64(rng, 3)
    inputs = (x, w, b) if with_bias else (x, w)
    y = F.linear(*inputs)
    xa, wa, ba = x.detach().numpy(), w.detach().numpy(), b.detach().numpy()
    expected = xa @ wa.T + (ba if with_bias else 0)
    np.testing.assert_allclose(y.data, expected, rtol=1e-12)
    assert y.shape == x_shape[:-1] + (3,)
    assert gradcheck(F.linear, inputs)


def test_linear_errors_and_float32():
    x = minicnn.tensor(np.ones((4, 5)), dtype=np.float32)
    w = minicnn.tensor(np.ones((3, 5)), requires_grad=True, dtype=np.float32)
    with pytest.raises(ValueError, match="in_features"):
        F.linear(x, minicnn.tensor(np.ones((5, 3)), dtype=np.float32))
    with pytest.raises(ValueError, match="bias"):
        F.linear(x, w, minicnn.tensor(np.ones(5), dtype=np.float32))
    y = F.linear(x, w)
    y.sum().backward()
    assert y.dtype == np.float32 and w.grad.dtype == np.float32


def test_flatten_mirrors_torch_flatten():
    x = minicnn.tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    assert F.flatten(x).shape == (24,)                     # torch.flatten: start_dim=0
    assert F.flatten(x, 1).shape == (2, 12)                # what nn.Flatten does
    assert F.flatten(x, 0, 1).shape == (6, 4)
    F.flatten(x, 1).sum().backward()
    np.testing.assert_array_equal(x.grad, np.ones((2, 3, 4)))


def test_dropout_masks_scales_and_is_reproducible():
    x = minicnn.tensor(np.ones((200, 50)), requires_grad=True, dtype=np.float32)
    minicnn.manual_seed(3)
    y = F.dropout(x, p=0.3)
    values = y.detach().numpy()
    zeros = (values == 0).mean()
    assert 0.25 < zeros < 0.35
    np.testing.assert_allclose(values[values != 0], 1 / 0.7, rtol=1e-6)  # inverted scaling
    assert y.dtype == np.float32
    minicnn.manual_seed(3)
    np.testing.assert_array_equal(F.dropout(x, p=0.3).data, y.data)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, y.data)          # d(x * mask)/dx = mask


def test_dropout_identity_cases_and_errors():
    x = minicnn.tensor(np.ones(10), requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0).data, np.zeros(10))
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="p must be"):
            F.dropout(x, bad)
    for bad in ("0.5", True):
        with pytest.raises(TypeError, match="p must be"):
            F.dropout(x, bad)


def test_dropout_gradcheck_with_fixed_mask():
    x = t64(np.random.default_rng(20), 4, 5)

    def fn(x):
        minicnn.manual_seed(0)     # same mask on every evaluation
        return F.dropout(x, p=0.4)

    assert gradcheck(fn, (x,))


# ---------------------------------------------------------------------------------------------
# Softmax and losses
# ---------------------------------------------------------------------------------------------

def numpy_log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_and_log_softmax(dim):
    rng = np.random.default_rng(21)
    x = t64(rng, 3, 4, 2)
    s = F.softmax(x, dim)
    np.testing.assert_allclose(s.detach().numpy().sum(axis=dim), 1.0)
    np.testing.assert_allclose(F.log_softmax(x, dim).data, np.log(s.detach().numpy()), rtol=1e-12)
    np.testing.assert_allclose(F.log_softmax(x, dim).data,
                               numpy_log_softmax(x.detach().numpy(), dim))
    assert gradcheck(lambda x: F.softmax(x, dim), (x,))
    assert gradcheck(lambda x: F.log_softmax(x, dim), (x,))


def test_log_softmax_stable_for_huge_logits():
    x = minicnn.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], requires_grad=True)
    y = F.log_softmax(x, 1)
    assert np.isfinite(y.detach().numpy()).all()
    np.testing.assert_allclose(y.data[0], [0.0, -2e4, -1e4])
    np.testing.assert_allclose(y.data[1], np.full(3, -np.log(3)), rtol=1e-6)
    (y * minicnn.tensor([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    with pytest.raises(IndexError, match="dim"):
        F.softmax(x, 2)


def numpy_cross_entropy(logits, target):
    """-log softmax(logits)[n, target[n]] per sample, in float64 via log-sum-exp."""
    logits = logits.astype(np.float64)
    m = logits.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))
    return lse - logits[np.arange(len(target)), target]


@SETTINGS
@given(N=st.integers(1, 6), C=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_cross_entropy_matches_numpy_and_gradcheck(N, C, seed):
    rng = np.random.default_rng(seed)
    x = t64(rng, N, C)
    target = rng.integers(0, C, N)
    per_sample = numpy_cross_entropy(x.detach().numpy(), target)
    np.testing.assert_allclose(F.cross_entropy(x, target).item(), per_sample.mean())
    np.testing.assert_allclose(F.cross_entropy(x, target, reduction="sum").item(),
                               per_sample.sum())
    np.testing.assert_allclose(F.cross_entropy(x, target, reduction="none").data, per_sample)
    for reduction in ("mean", "sum", "none"):
        assert gradcheck(lambda x: F.cross_entropy(x, target, reduction=reduction), (x,))


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n():
    rng = np.random.default_rng(22)
    x = minicnn.tensor(rng.standard_normal((5, 3)), requires_grad=True, dtype=np.float32)
    target = minicnn.tensor([0, 2, 1, 1, 0])
    loss = F.cross_entropy(x, target)
    assert loss.dtype == np.float32 and loss.shape == ()
    loss.backward()
    p = np.exp(numpy_log_softmax(x.detach().numpy().astype(np.float64), 1))
    onehot = np.eye(3)[target.detach().numpy()]
    np.testing.assert_allclose(x.grad, (p - onehot) / 5, rtol=1e-5, atol=1e-7)
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_finite_for_huge_logits(dtype):
    x = minicnn.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, -1e4], [0.0, 0.0, 0.0]], dtype=dtype,
                       requires_grad=True)
    target = np.array([1, 1, 2])
    loss = F.cross_entropy(x, target)
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(loss.item(), numpy_cross_entropy(x.detach().numpy(), target).mean(),
                               rtol=1e-6)
    assert loss.dtype == dtype


def test_cross_entropy_target_errors():
    x = minicnn.tensor(np.zeros((3, 4)))
    with pytest.raises(TypeError, match="target must be integer class indices"):
        F.cross_entropy(x, minicnn.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="target must have shape \\(N,\\) = \\(3,\\)"):
        F.cross_entropy(x, np.array([0, 1]))
    with pytest.raises(ValueError, match="\\[0, 4\\)"):
        F.cross_entropy(x, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match="\\[0, 4\\)"):
        F.cross_entropy(x, np.array([0, -1, 1]))
    with pytest.raises(ValueError, match="input must be 2-D"):
        F.cross_entropy(minicnn.tensor(np.zeros(4)), np.array([1]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, np.array([0, 1, 2]), reduction="avg")
    with pytest.raises(TypeError, match="target must be a Tensor"):
        F.cross_entropy(x, "012")
    assert F.cross_entropy(x, [0, 1, 2]).item() == pytest.approx(np.log(4))  # a list is fine


def test_nll_loss_of_log_softmax_is_cross_entropy():
    rng = np.random.default_rng(23)
    x = t64(rng, 4, 5)
    target = rng.integers(0, 5, 4)
    for reduction in ("mean", "sum", "none"):
        np.testing.assert_allclose(
            F.nll_loss(F.log_softmax(x, 1), target, reduction=reduction).data,
            F.cross_entropy(x, target, reduction=reduction).data, rtol=1e-12)
        assert gradcheck(lambda x: F.nll_loss(x, target, reduction=reduction), (x,))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss(reduction):
    rng = np.random.default_rng(24)
    x, y = t64(rng, 3, 4), t64(rng, 3, 4)
    sq = (x.detach().numpy() - y.detach().numpy()) ** 2
    expected = {"mean": sq.mean(), "sum": sq.sum(), "none": sq}[reduction]
    np.testing.assert_allclose(F.mse_loss(x, y, reduction=reduction).data, expected)
    assert gradcheck(lambda x, y: F.mse_loss(x, y, reduction=reduction), (x, y))


def test_mse_loss_errors_and_array_target():
    x = minicnn.tensor(np.zeros((2, 3)), requires_grad=True, dtype=np.float32)
    with pytest.raises(ValueError, match="target must have the input's shape"):
        F.mse_loss(x, minicnn.tensor(np.zeros((3, 2)), dtype=np.float32))
    with pytest.raises(TypeError, match="target has dtype"):
        F.mse_loss(x, np.zeros((2, 3)))                    # float64 array vs float32 input
    loss = F.mse_loss(x, np.ones((2, 3), np.float32))
    loss.backward()
    np.testing.assert_allclose(x.grad, np.full((2, 3), -2 / 6), rtol=1e-6)


def test_a_small_cnn_end_to_end(conv_backend, pool_backend):
    """Every op of a LeNet-like forward pass at once, gradchecked through all parameters."""
    rng = np.random.default_rng(25)
    x = minicnn.tensor(rng.standard_normal((2, 1, 8, 8)), dtype=np.float64)
    w1, b1 = t64(rng, 3, 1, 3, 3), t64(rng, 3)
    w2, b2 = t64(rng, 4, 27), t64(rng, 4)
    target = np.array([1, 3])

    def net(w1, b1, w2, b2):
        h = F.max_pool2d(F.tanh(F.conv2d(x, w1, b1, padding=1)), 3, stride=2)
        return F.cross_entropy(F.linear(F.flatten(h, 1), w2, b2), target)

    assert gradcheck(net, (w1, b1, w2, b2))
