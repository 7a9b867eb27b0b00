"""Padding, 'same'/'valid' convolutions and padding_mode, 1-D and adaptive pooling, and
interpolate/Upsample: NumPy oracles, float64 gradchecks, opt-in PyTorch comparisons."""
import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
import minicnn.nn.functional as F
from minicnn import gradcheck


def t64(a, requires_grad=True):
    return minicnn.tensor(np.asarray(a, dtype=np.float64), dtype=np.float64,
                          requires_grad=requires_grad)


NP_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge",
            "circular": "wrap"}


@pytest.mark.parametrize("mode", list(NP_MODES))
@pytest.mark.parametrize("pads", [(1, 2), (2, 0, 1, 1), (1, 1, 0, 2, 1, 0)])
def test_pad_matches_numpy_pad_and_gradcheck(rng, mode, pads):
    x = t64(rng.standard_normal((2, 3, 4, 5)))
    widths = [(0, 0)] * (4 - len(pads) // 2) + [tuple(pads[i:i + 2])
                                                 for i in range(len(pads) - 2, -1, -2)]
    y = F.pad(x, pads, mode=mode)
    np.testing.assert_array_equal(y.data, np.pad(x.data, widths, mode=NP_MODES[mode]))
    assert gradcheck(lambda x: F.pad(x, pads, mode=mode), (x,))


def test_pad_constant_value_and_negative_crop(rng):
    x = t64(rng.standard_normal((2, 5)))
    y = F.pad(x, (-1, 2), value=7.0)
    expected = np.concatenate([x.detach().numpy()[:, 1:], np.full((2, 2), 7.0)], axis=1)
    np.testing.assert_array_equal(y.data, expected)
    assert gradcheck(lambda x: F.pad(x, (-1, 2), value=7.0), (x,))
    with pytest.raises(ValueError, match="less than the corresponding"):
        F.pad(x, (5, 0), mode="reflect")
    with pytest.raises(ValueError, match="even length"):
        F.pad(x, (1,))


@pytest.mark.parametrize("k,d", [(3, 1), (4, 1), (2, 3), (5, 2)])
def test_conv2d_same_and_valid_padding(rng, k, d):
    x = t64(rng.standard_normal((2, 3, 7, 6)))
    w = t64(rng.standard_normal((4, 3, k, k)))
    y = F.conv2d(x, w, padding="same", dilation=d)
    assert y.shape == (2, 4, 7, 6)
    total = d * (k - 1)
    manual = F.conv2d(F.pad(x, (total // 2, total - total // 2) * 2), w, dilation=d)
    np.testing.assert_allclose(y.data, manual.data, rtol=1e-12)
    assert F.conv2d(x, w, padding="valid").shape == F.conv2d(x, w).shape
    assert gradcheck(lambda x, w: F.conv2d(x, w, padding="same", dilation=d), (x, w))
    with pytest.raises(ValueError, match="strided"):
        F.conv2d(x, w, padding="same", stride=2)
    with pytest.raises(ValueError, match="Invalid padding string"):
        nn.Conv2d(3, 4, 3, padding="full")


@pytest.mark.parametrize("padding_mode", ["reflect", "replicate", "circular"])
def test_conv_layers_padding_mode(rng, padding_mode):
    conv = nn.Conv2d(2, 3, 3, padding=(1, 2), padding_mode=padding_mode, dtype=np.float64)
    x = t64(rng.standard_normal((1, 2, 5, 6)))
    y = conv(x)
    padded = np.pad(x.data, [(0, 0), (0, 0), (1, 1), (2, 2)], mode=NP_MODES[padding_mode])
    expect = F.conv2d(t64(padded, False), conv.weight, conv.bias)
    np.testing.assert_allclose(y.data, expect.data, rtol=1e-12)
    assert f"padding_mode={padding_mode}" in repr(conv)
    conv1 = nn.Conv1d(2, 2, 4, padding="same", padding_mode=padding_mode, dtype=np.float64)
    assert conv1(t64(rng.standard_normal((2, 2, 9)))).shape == (2, 2, 9)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(2, 3, 3, padding_mode="mirror")


def test_pool1d_and_adaptive_pools(rng):
    x = minicnn.tensor(rng.permutation(2 * 3 * 10).reshape(2, 3, 10) * 0.1, dtype=np.float64,
                       requires_grad=True)
    y = F.max_pool1d(x, 3, 2)
    expect = np.stack([x.detach().numpy()[..., i:i + 3].max(-1) for i in range(0, 8, 2)], -1)
    np.testing.assert_array_equal(y.data, expect)
    assert nn.AvgPool1d(2)(x).shape == (2, 3, 5) and gradcheck(lambda x: F.avg_pool1d(x, 3, 2, 1),
                                                                 (x,))
    img = minicnn.tensor(rng.permutation(2 * 2 * 7 * 5).reshape(2, 2, 7, 5) * 0.1,
                         dtype=np.float64, requires_grad=True)
    for OH, OW in [(3, 2), (7, 5), (1, 1), (4, 3)]:
        avg, mx = F.adaptive_avg_pool2d(img, (OH, OW)), F.adaptive_max_pool2d(img, (OH, OW))
        for i in range(OH):
            for j in range(OW):
                h0, h1 = (i * 7) // OH, -(-(i + 1) * 7 // OH)
                w0, w1 = (j * 5) // OW, -(-(j + 1) * 5 // OW)
                win = img.detach().numpy()[:, :, h0:h1, w0:w1]
                np.testing.assert_allclose(avg.data[:, :, i, j], win.mean(axis=(2, 3)))
                np.testing.assert_array_equal(mx.data[:, :, i, j], win.max(axis=(2, 3)))
        assert gradcheck(lambda x: F.adaptive_avg_pool2d(x, (OH, OW)), (img,))
        assert gradcheck(lambda x: F.adaptive_max_pool2d(x, (OH, OW)), (img,))
    assert nn.AdaptiveAvgPool2d((None, 1))(img).shape == (2, 2, 7, 1)


@pytest.mark.parametrize("mode,align", [("nearest", None), ("bilinear", False),
                                        ("bilinear", True)])
def test_interpolate_gradcheck_and_constants(rng, mode, align):
    x = t64(rng.standard_normal((1, 2, 3, 4)))
    for kw in (dict(size=(5, 7)), dict(scale_factor=2), dict(scale_factor=(0.5, 1.5))):
        y = F.interpolate(x, mode=mode, align_corners=align, **kw)
        assert gradcheck(lambda x: F.interpolate(x, mode=mode, align_corners=align, **kw), (x,))
    const = t64(np.full((1, 1, 3, 3), 2.5), False)
    np.testing.assert_allclose(F.interpolate(const, size=(4, 5), mode=mode,
                                             align_corners=align).data, 2.5)
    if mode == "nearest":
        y = F.interpolate(x, scale_factor=2)
        np.testing.assert_array_equal(y.data, x.detach().numpy().repeat(2, 2).repeat(2, 3))
        up = nn.Upsample(scale_factor=2)
        assert repr(up) == "Upsample(scale_factor=2.0, mode='nearest')"


def test_resampling_matches_torch(rng):
    torch = pytest.importorskip("torch", reason="PyTorch comparisons are opt-in")
    TF = torch.nn.functional
    x = rng.standard_normal((2, 3, 7, 5))
    cases = [
        (lambda f, x: f.pad(x, (1, 2, 2, 1), mode="reflect"),) * 1,
        (lambda f, x: f.pad(x, (2, 0, 1, 3), mode="replicate"),),
        (lambda f, x: f.pad(x, (2, 1, 1, 2), mode="circular"),),
        (lambda f, x: f.pad(x, (-1, 2, 1, 0), value=0.5),),
        (lambda f, x: f.adaptive_avg_pool2d(x, (3, 4)),),
        (lambda f, x: f.adaptive_max_pool2d(x, (4, 3)),),
        (lambda f, x: f.interpolate(x, size=(9, 4), mode="nearest"),),
        (lambda f, x: f.interpolate(x, scale_factor=1.5, mode="nearest"),),
        (lambda f, x: f.interpolate(x, scale_factor=(2.3, 0.7), mode="bilinear"),),
        (lambda f, x: f.interpolate(x, size=(4, 8), mode="bilinear", align_corners=True),),
        (lambda f, x: f.interpolate(x[:, :, 0], size=9, mode="linear"),),
    ]
    for i, (fn,) in enumerate(cases):
        ours_x, theirs_x = t64(x), torch.tensor(x, requires_grad=True)
        ours, theirs = fn(F, ours_x), fn(TF, theirs_x)
        g = rng.standard_normal(theirs.shape)
        (ours * t64(g, False)).sum().backward()
        (theirs * torch.from_numpy(g)).sum().backward()
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-12, atol=1e-14,
                                   err_msg=f"case {i}")
        np.testing.assert_allclose(ours_x.grad, theirs_x.grad.numpy(), rtol=1e-12, atol=1e-13,
                                   err_msg=f"case {i}")
    for mode in ("reflect", "replicate", "circular"):
        conv = nn.Conv2d(3, 4, 4, padding="same", padding_mode=mode, dtype=np.float64)
        tconv = torch.nn.Conv2d(3, 4, 4, padding="same", padding_mode=mode).double()
        with torch.no_grad():
            tconv.weight.copy_(torch.from_numpy(conv.weight.detach().numpy()))
            tconv.bias.copy_(torch.from_numpy(conv.bias.detach().numpy()))
        np.testing.assert_allclose(conv(t64(x, False)).data,
                                   tconv(torch.from_numpy(x)).detach().numpy(), rtol=1e-10)


def test_conv_transpose1d_and_output_size(rng):
    x = t64(rng.standard_normal((2, 3, 5)))
    w = t64(rng.standard_normal((3, 4, 3)))
    y = F.conv_transpose1d(x, w, stride=2, padding=1, output_padding=1)
    ref = F.conv_transpose2d(x.unsqueeze(2), w.unsqueeze(2), stride=(1, 2), padding=(0, 1),
                             output_padding=(0, 1))
    assert y.shape == (2, 4, 10)
    np.testing.assert_allclose(y.data, ref.data[:, :, 0], rtol=1e-12)
    assert gradcheck(lambda x, w: F.conv_transpose1d(x, w, stride=2, padding=1), (x, w))
    up = nn.ConvTranspose1d(3, 4, 3, stride=2, padding=1, dtype=np.float64)
    assert up(x).shape == (2, 4, 9) and up(x, output_size=[10]).shape == (2, 4, 10)
    up2 = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    img = minicnn.tensor(rng.standard_normal((1, 3, 4, 4)).astype(np.float32))
    assert up2(img, output_size=(1, 2, 8, 7)).shape == (1, 2, 8, 7)
    with pytest.raises(ValueError, match="valid sizes range from 7 to 8"):
        up2(img, output_size=(9, 9))


def test_conv_transpose_matches_torch(rng):
    torch = pytest.importorskip("torch", reason="PyTorch comparisons are opt-in")
    x = rng.standard_normal((2, 4, 6))
    ours = nn.ConvTranspose1d(4, 6, 3, stride=3, padding=1, groups=2, dtype=np.float64)
    theirs = torch.nn.ConvTranspose1d(4, 6, 3, stride=3, padding=1, groups=2).double()
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    y = ours(t64(x), output_size=(17,))
    ty = theirs(torch.from_numpy(x), output_size=[17])
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-12)


def np_pool_ceil(x, k, s, p, op, count_include_pad=True):
    """PyTorch's ceil_mode pooling, one window at a time (its documented output size and
    divisors)."""
    H, W = x.shape[2:]
    def size(n):
        out = -(-(n + 2 * p - k) // s) + 1
        return out - 1 if (out - 1) * s >= n + p else out
    OH, OW = size(H), size(W)
    y = np.empty(x.shape[:2] + (OH, OW))
    for i in range(OH):
        for j in range(OW):
            h0, w0 = i * s - p, j * s - p
            h1, w1 = min(h0 + k, H + p), min(w0 + k, W + p)
            win = x[:, :, max(h0, 0):min(h1, H), max(w0, 0):min(w1, W)]
            if op == "max":
                y[:, :, i, j] = win.max(axis=(2, 3))
            else:
                div = (h1 - h0) * (w1 - w0) if count_include_pad else win.shape[2] * win.shape[3]
                y[:, :, i, j] = win.sum(axis=(2, 3)) / div
    return y


@pytest.mark.parametrize("H,W,k,s,p", [(7, 6, 3, 2, 0), (6, 7, 3, 2, 1), (5, 5, 2, 2, 1),
                                       (8, 8, 2, 2, 0), (4, 9, 3, 3, 1)])
def test_pool_ceil_mode_matches_pytorchs_rule(rng, H, W, k, s, p):
    x = minicnn.tensor(rng.permutation(2 * H * W).reshape(1, 2, H, W) * 0.1, dtype=np.float64,
                       requires_grad=True)
    xa = x.detach().numpy()
    y = F.max_pool2d(x, k, s, p, ceil_mode=True)
    np.testing.assert_array_equal(y.data, np_pool_ceil(xa, k, s, p, "max"))
    assert gradcheck(lambda x: F.max_pool2d(x, k, s, p, ceil_mode=True), (x,))
    for cip in (True, False):
        y = F.avg_pool2d(x, k, s, p, ceil_mode=True, count_include_pad=cip)
        np.testing.assert_allclose(y.data, np_pool_ceil(xa, k, s, p, "avg", cip), rtol=1e-12)
        assert gradcheck(lambda x: F.avg_pool2d(x, k, s, p, True, cip), (x,))
    assert nn.MaxPool2d(k, s, p, ceil_mode=True)(x).shape == y.shape
    assert "ceil_mode=True" in repr(nn.AvgPool2d(k, s, p, ceil_mode=True))


def test_pool_ceil_mode_matches_torch(rng):
    torch = pytest.importorskip("torch", reason="PyTorch comparisons are opt-in")
    x = rng.standard_normal((2, 3, 7, 6))
    for fn in (lambda f, x: f.max_pool2d(x, 3, 2, 1, ceil_mode=True),
               lambda f, x: f.avg_pool2d(x, 3, 2, 1, True, True),
               lambda f, x: f.avg_pool2d(x, 2, 2, 1, True, False),
               lambda f, x: f.avg_pool2d(x, 3, 2, 0, ceil_mode=True)):
        ours_x, theirs_x = t64(x), torch.tensor(x, requires_grad=True)
        ours, theirs = fn(F, ours_x), fn(torch.nn.functional, theirs_x)
        g = rng.standard_normal(theirs.shape)
        (ours * t64(g, False)).sum().backward()
        (theirs * torch.from_numpy(g)).sum().backward()
        np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(ours_x.grad, theirs_x.grad.numpy(), rtol=1e-12, atol=1e-14)
