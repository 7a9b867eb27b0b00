"""F.interpolate's modes 'bicubic', 'nearest-exact' and 'area', and nn.Upsample with them:
oracles written from PyTorch's definitions (loops), float64 gradchecks, errors."""
import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
import minicnn.nn.functional as F


def _cubic(t, A=-0.75):
    t = abs(t)
    if t <= 1:
        return ((A + 2) * t - (A + 3)) * t * t + 1
    return ((A * t - 5 * A) * t + 8 * A) * t - 4 * A if t < 2 else 0.0


def _bicubic_loops(x, OH, OW, align_corners):
    N, C, H, W = x.shape
    y = np.zeros((N, C, OH, OW))

    def src(d, n_in, n_out):
        if align_corners:
            return d * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
        return (d + 0.5) * n_in / n_out - 0.5

    for i in range(OH):
        sy = src(i, H, OH)
        for j in range(OW):
            sx = src(j, W, OW)
            for a in range(int(np.floor(sy)) - 1, int(np.floor(sy)) + 3):
                for b in range(int(np.floor(sx)) - 1, int(np.floor(sx)) + 3):
                    w = _cubic(sy - a) * _cubic(sx - b)
                    y[:, :, i, j] += w * x[:, :, min(max(a, 0), H - 1), min(max(b, 0), W - 1)]
    return y


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("size", [(7, 5), (3, 2)])
def test_bicubic_vs_loops_and_gradcheck(align_corners, size):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 4, 5))
    y = F.interpolate(minicnn.tensor(x), size=size, mode="bicubic", align_corners=align_corners)
    np.testing.assert_allclose(y.numpy(), _bicubic_loops(x, *size, align_corners), rtol=1e-12,
                               atol=1e-12)
    xt = minicnn.tensor(x, requires_grad=True)
    assert minicnn.gradcheck(lambda t: F.interpolate(t, size, mode="bicubic",
                                                     align_corners=align_corners), (xt,))


def test_nearest_exact_picks_the_nearest_centre():
    x = np.arange(5.0).reshape(1, 1, 5)
    y = F.interpolate(minicnn.tensor(x), size=3, mode="nearest-exact")
    # output pixel d's centre (d + 0.5) * 5/3 falls in input pixel floor of it: 0.83, 2.5, 4.17
    np.testing.assert_array_equal(y.numpy().ravel(), [0, 2, 4])
    np.testing.assert_array_equal(F.interpolate(minicnn.tensor(x), size=3).numpy().ravel(),
                                  [0, 1, 3])                                # 'nearest': floor
    x2 = minicnn.tensor(np.random.default_rng(1).standard_normal((1, 2, 3, 4)),
                        requires_grad=True)
    assert minicnn.gradcheck(lambda t: F.interpolate(t, scale_factor=1.7, mode="nearest-exact"),
                             (x2,))


def test_area_is_adaptive_average_pooling():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1, 2, 6, 7))
    y = F.interpolate(minicnn.tensor(x), size=(4, 3), mode="area")
    want = np.empty((1, 2, 4, 3))
    for i in range(4):
        for j in range(3):
            h0, h1 = i * 6 // 4, -(-(i + 1) * 6 // 4)
            w0, w1 = j * 7 // 3, -(-(j + 1) * 7 // 3)
            want[:, :, i, j] = x[:, :, h0:h1, w0:w1].mean((2, 3))
    np.testing.assert_allclose(y.numpy(), want, rtol=1e-12)
    x1 = minicnn.tensor(rng.standard_normal((2, 3, 9)), requires_grad=True)
    assert F.interpolate(x1, scale_factor=0.5, mode="area").shape == (2, 3, 4)
    assert minicnn.gradcheck(lambda t: F.interpolate(t, size=4, mode="area"), (x1,))
    up = nn.Upsample(scale_factor=2, mode="bicubic", align_corners=True)
    assert up(minicnn.tensor(x)).shape == (1, 2, 12, 14)


def test_interpolate_mode_errors():
    x3, x4 = minicnn.randn(1, 1, 4), minicnn.randn(1, 1, 4, 4)
    with pytest.raises(ValueError, match="'bicubic'"):
        F.interpolate(x3, size=2, mode="bicubic")
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x4, size=2, mode="area", align_corners=True)
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x4, size=2, mode="nearest-exact", align_corners=False)
    with pytest.raises(NotImplementedError, match="antialias"):
        F.interpolate(x4, size=2, mode="bilinear", antialias=True)


def test_upsampling_layers_under_their_older_names():
    x = minicnn.tensor(np.random.default_rng(3).standard_normal((1, 2, 3, 4)))
    np.testing.assert_array_equal(nn.UpsamplingNearest2d(scale_factor=2)(x).numpy(),
                                  F.interpolate(x, scale_factor=2).numpy())
    np.testing.assert_array_equal(
        nn.UpsamplingBilinear2d(size=(5, 7))(x).numpy(),
        F.interpolate(x, (5, 7), mode="bilinear", align_corners=True).numpy())
    assert repr(nn.UpsamplingNearest2d(scale_factor=2)) == \
        "UpsamplingNearest2d(scale_factor=2.0, mode='nearest')"
