"""A two-layer CNN through minicnn vs the same net written by hand in NumPy (forward and backward).

The NumPy version below shares no code with minicnn: convolution is a sum over kernel offsets of
shifted input windows, max pooling an argmax over reshaped 2x2 blocks, and every backward is
derived by hand. Loss, every parameter gradient and the input gradient must agree in float64.
"""
import numpy as np
import pytest

import minicnn
import minicnn.kernels as K
import minicnn.nn as nn
import minicnn.nn.functional as F
from minicnn import Tensor

N, C0, H, W = 3, 2, 8, 8
C1, C2, CLASSES = 4, 5, 3
CONV2 = dict(stride=2, padding=1)


# ---------------------------------------------------------------------------------------------
# Hand-written NumPy network
# ---------------------------------------------------------------------------------------------

def np_conv_forward(x, w, b, stride, padding):
    """y[n,o,i,j] = b[o] + sum_{c,kh,kw} xpad[n, c, i*S + kh, j*S + kw] * w[o, c, kh, kw]."""
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    O, _, KH, KW = w.shape
    OH = (xp.shape[2] - KH) // stride + 1
    OW = (xp.shape[3] - KW) // stride + 1
    y = np.zeros((x.shape[0], O, OH, OW)) + b[None, :, None, None]
    for kh in range(KH):
        for kw in range(KW):
            window = xp[:, :, kh:kh + stride * (OH - 1) + 1:stride,
                        kw:kw + stride * (OW - 1) + 1:stride]
            y += np.einsum("nchw,oc->nohw", window, w[:, :, kh, kw])
    return y


def np_conv_backward(grad_y, x, w, stride, padding):
    """Each output y[n,o,i,j] touched x-window (kh, kw) with weight w[o,c,kh,kw]: route back."""
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    _, _, KH, KW = w.shape
    OH, OW = grad_y.shape[2:]
    grad_xp = np.zeros_like(xp)
    grad_w = np.zeros_like(w)
    for kh in range(KH):
        for kw in range(KW):
            rows = slice(kh, kh + stride * (OH - 1) + 1, stride)
            cols = slice(kw, kw + stride * (OW - 1) + 1, stride)
            grad_w[:, :, kh, kw] = np.einsum("nohw,nchw->oc", grad_y, xp[:, :, rows, cols])
            grad_xp[:, :, rows, cols] += np.einsum("nohw,oc->nchw", grad_y, w[:, :, kh, kw])
    grad_b = grad_y.sum(axis=(0, 2, 3))
    grad_x = grad_xp[:, :, padding:xp.shape[2] - padding, padding:xp.shape[3] - padding]
    return grad_x, grad_w, grad_b


def np_maxpool2_forward(x):
    """2x2 windows, stride 2: reshape into blocks and take the argmax of each."""
    n, c, h, w = x.shape
    blocks = x.reshape(n, c, h // 2, 2, w // 2, 2).transpose(0, 1, 2, 4, 3, 5)
    blocks = blocks.reshape(n, c, h // 2, w // 2, 4)
    arg = blocks.argmax(axis=-1)
    return np.take_along_axis(blocks, arg[..., None], axis=-1)[..., 0], arg


def np_maxpool2_backward(grad_y, arg, x_shape):
    """The gradient of each window goes to the element that was its maximum."""
    n, c, h, w = x_shape
    blocks = np.zeros((n, c, h // 2, w // 2, 4))
    np.put_along_axis(blocks, arg[..., None], grad_y[..., None], axis=-1)
    blocks = blocks.reshape(n, c, h // 2, w // 2, 2, 2).transpose(0, 1, 2, 4, 3, 5)
    return blocks.reshape(n, c, h, w)


def np_network(x, labels, p):
    """Forward and hand-derived backward; returns (loss, grads dict, grad_x)."""
    # forward
    z1 = np_conv_forward(x, p["0.weight"], p["0.bias"], 1, 1)
    a1 = np.maximum(z1, 0)
    m1, arg = np_maxpool2_forward(a1)
    z2 = np_conv_forward(m1, p["3.weight"], p["3.bias"], **CONV2)
    a2 = np.maximum(z2, 0)
    f = a2.reshape(a2.shape[0], -1)
    logits = f @ p["6.weight"].T + p["6.bias"]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = x.shape[0]
    loss = -log_probs[np.arange(n), labels].mean()

    # backward: d loss / d logits = (softmax - onehot) / N
    g_logits = np.exp(log_probs)
    g_logits[np.arange(n), labels] -= 1
    g_logits /= n
    grads = {"6.weight": g_logits.T @ f, "6.bias": g_logits.sum(axis=0)}
    g_a2 = (g_logits @ p["6.weight"]).reshape(a2.shape)
    g_z2 = g_a2 * (z2 > 0)
    g_m1, grads["3.weight"], grads["3.bias"] = np_conv_backward(g_z2, m1, p["3.weight"], **CONV2)
    g_a1 = np_maxpool2_backward(g_m1, arg, a1.shape)
    g_z1 = g_a1 * (z1 > 0)
    g_x, grads["0.weight"], grads["0.bias"] = np_conv_backward(g_z1, x, p["0.weight"], 1, 1)
    return loss, grads, g_x


# ---------------------------------------------------------------------------------------------
# The same network in minicnn
# ---------------------------------------------------------------------------------------------

def minicnn_network(dtype):
    return nn.Sequential(
        nn.Conv2d(C0, C1, 3, padding=1, dtype=dtype), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(C1, C2, 3, dtype=dtype, **CONV2), nn.ReLU(), nn.Flatten(),
        nn.Linear(C2 * 2 * 2, CLASSES, dtype=dtype))


def data(rng):
    return rng.standard_normal((N, C0, H, W)), rng.integers(0, CLASSES, N)


def test_numpy_helpers_agree_with_finite_differences(rng):
    """The hand-written reference is itself checked, so that agreeing with it means something."""
    minicnn.manual_seed(0)
    params = {k: v.numpy().astype(np.float64)
              for k, v in minicnn_network(np.float64).state_dict().items()}
    x, labels = data(rng)
    _, grads, g_x = np_network(x, labels, params)
    eps = 1e-6
    for name in ["0.weight", "3.bias", "6.weight"]:
        for index in [(0,) * params[name].ndim, tuple(s - 1 for s in params[name].shape)]:
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[name][index] += eps
            minus[name][index] -= eps
            numeric = (np_network(x, labels, plus)[0] - np_network(x, labels, minus)[0]) / (2 * eps)
            assert numeric == pytest.approx(grads[name][index], rel=1e-5, abs=1e-9)
    index = (1, 0, 3, 4)
    xp, xm = x.copy(), x.copy()
    xp[index] += eps
    xm[index] -= eps
    numeric = (np_network(xp, labels, params)[0] - np_network(xm, labels, params)[0]) / (2 * eps)
    assert numeric == pytest.approx(g_x[index], rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("backend", K.BACKENDS)
def test_two_layer_cnn_matches_handwritten_numpy_float64(rng, backend):
    minicnn.manual_seed(42)
    model = minicnn_network(np.float64)
    x, labels = data(rng)
    params = {k: v.numpy() for k, v in model.state_dict().items()}
    expected_loss, expected_grads, expected_gx = np_network(x, labels, params)

    xt = Tensor(x, dtype=np.float64, requires_grad=True)
    with K.backend(backend):
        loss = F.cross_entropy(model(xt), labels)
        loss.backward()
    assert loss.dtype == np.float64
    np.testing.assert_allclose(loss.item(), expected_loss, rtol=1e-12)
    for name, p in model.named_parameters():
        assert p.grad.dtype == np.float64 and p.grad.shape == p.shape, name
        np.testing.assert_allclose(p.grad, expected_grads[name], rtol=1e-9, atol=1e-12,
                                   err_msg=name)
    np.testing.assert_allclose(xt.grad, expected_gx, rtol=1e-9, atol=1e-12)


def test_two_layer_cnn_float32_tracks_float64(rng):
    minicnn.manual_seed(42)
    model = minicnn_network(np.float32)
    x, labels = data(rng)
    params = {k: v.numpy().astype(np.float64) for k, v in model.state_dict().items()}
    expected_loss, expected_grads, _ = np_network(x, labels, params)
    loss = F.cross_entropy(model(Tensor(x.astype(np.float32))), labels)
    loss.backward()
    assert loss.dtype == np.float32
    assert loss.item() == pytest.approx(expected_loss, rel=1e-5)
    for name, p in model.named_parameters():
        assert p.grad.dtype == np.float32
        np.testing.assert_allclose(p.grad, expected_grads[name], rtol=1e-3, atol=1e-5,
                                   err_msg=name)
