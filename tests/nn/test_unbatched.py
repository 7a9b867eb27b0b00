"""Unbatched inputs where PyTorch takes them: (C, H, W) to the 2-D convolutions and poolings,
(C, L) to the 1-D ones - the result is the batch-of-one result without its batch axis, and so
is the gradient (opt-in: PyTorch accepts the same calls and gives the same shapes)."""
import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
import minicnn.nn.functional as F

LAYERS_2D = [lambda: nn.Conv2d(2, 3, 3, padding=1), lambda: nn.ConvTranspose2d(2, 3, 2, 2),
             lambda: nn.MaxPool2d(2), lambda: nn.AvgPool2d(3, 2, 1), lambda: nn.LazyConv2d(3, 2),
             lambda: nn.AdaptiveAvgPool2d((2, 3)), lambda: nn.AdaptiveMaxPool2d(2),
             lambda: nn.MaxPool2d(3, 1, dilation=2)]
LAYERS_1D = [lambda: nn.Conv1d(2, 3, 3), lambda: nn.ConvTranspose1d(2, 3, 2), lambda: nn.MaxPool1d(2),
             lambda: nn.AvgPool1d(3, ceil_mode=True), lambda: nn.AdaptiveAvgPool1d(3),
             lambda: nn.LazyConv1d(4, 3)]


@pytest.mark.parametrize("make", LAYERS_2D + LAYERS_1D)
def test_unbatched_is_the_batch_of_one_without_its_axis(make):
    minicnn.manual_seed(0)
    layer = make().double()
    is_2d = make in LAYERS_2D
    x = np.random.default_rng(0).permutation(2 * 7 * (7 if is_2d else 1)).reshape(
        (2, 7, 7) if is_2d else (2, 7)) / 10.0
    xu = minicnn.tensor(x, requires_grad=True)
    xb = minicnn.tensor(x[None], requires_grad=True)
    yu, yb = layer(xu), layer(xb)
    assert yu.shape == yb.shape[1:]
    np.testing.assert_allclose(yu.detach().numpy(), yb.detach().numpy()[0], rtol=1e-12)
    g = np.random.default_rng(1).standard_normal(yu.shape)
    yu.backward(minicnn.tensor(g))
    yb.backward(minicnn.tensor(g[None]))
    np.testing.assert_allclose(xu.grad.numpy(), xb.grad.numpy()[0], rtol=1e-12)


def test_unbatched_indices_unpool_gradcheck_and_errors():
    x = minicnn.tensor(np.random.default_rng(2).permutation(48).reshape(3, 4, 4) / 5.0,
                       requires_grad=True)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    assert y.shape == idx.shape == (3, 2, 2)
    back = F.max_unpool2d(y, idx, 2)
    assert back.shape == (3, 4, 4)
    np.testing.assert_array_equal((back.detach().numpy() != 0).sum((1, 2)), [4, 4, 4])
    w = minicnn.tensor(np.random.default_rng(3).standard_normal((2, 3, 2, 2)),
                       requires_grad=True)
    assert minicnn.gradcheck(lambda a, b: F.conv2d(a, b, stride=2), (x, w))
    with pytest.raises(ValueError, match=r"input must be 3-D \(unbatched\) or 4-D"):
        F.conv2d(minicnn.randn(4, 4), minicnn.randn(1, 1, 2, 2))
    with pytest.raises(ValueError, match=r"input must be 2-D \(unbatched\) or 3-D"):
        F.max_pool1d(minicnn.randn(4), 2)


def test_unbatched_shapes_match_pytorch():
    torch = pytest.importorskip("torch", reason="opt-in comparison: torch is not installed")
    x2, x1 = np.ones((2, 6, 6), np.float32), np.ones((2, 6), np.float32)
    pairs = [(nn.Conv2d(2, 3, 3), torch.nn.Conv2d(2, 3, 3), x2),
             (nn.MaxPool2d(2, ceil_mode=True), torch.nn.MaxPool2d(2, ceil_mode=True), x2[:, :5]),
             (nn.AdaptiveAvgPool2d(4), torch.nn.AdaptiveAvgPool2d(4), x2),
             (nn.ConvTranspose1d(2, 3, 2), torch.nn.ConvTranspose1d(2, 3, 2), x1),
             (nn.AvgPool1d(2), torch.nn.AvgPool1d(2), x1)]
    for ours, theirs, x in pairs:
        assert tuple(ours(minicnn.tensor(x)).shape) == tuple(theirs(torch.tensor(x)).shape)
