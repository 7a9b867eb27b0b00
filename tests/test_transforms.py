"""Tests for minicnn.transforms: layouts (ndarray HWC, PIL, Tensor CHW), values, seeding."""
import numpy as np
import pytest

import minicnn
import minicnn.transforms as T


def image(h=6, w=5, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, c)).astype(np.uint8)


def test_to_tensor_hwc_uint8_to_chw_float():
    img = image()
    t = T.ToTensor()(img)
    assert tuple(t.shape) == (3, 6, 5) and t.dtype == minicnn.float32
    np.testing.assert_allclose(t.data, img.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    gray = T.ToTensor()(img[:, :, 0])
    assert tuple(gray.shape) == (1, 6, 5)
    as_is = T.ToTensor()(np.ones((2, 2, 1), np.float64))
    assert as_is.dtype == minicnn.float64 and float(as_is.data.max()) == 1.0
    with pytest.raises(TypeError, match="pic"):
        T.ToTensor()(minicnn.zeros(3, 2, 2))


def test_to_tensor_pil_image():
    Image = pytest.importorskip("PIL.Image", reason="Pillow is optional")
    img = image()
    np.testing.assert_array_equal(T.ToTensor()(Image.fromarray(img)).data,
                                  T.ToTensor()(img).data)


def test_normalize():
    t = T.ToTensor()(image())
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    out = T.Normalize(mean, std)(t)
    expected = (t.numpy() - np.array(mean, np.float32)[:, None, None]) / \
        np.array(std, np.float32)[:, None, None]
    np.testing.assert_allclose(out.data, expected, rtol=1e-6)
    assert out.dtype == minicnn.float32
    with pytest.raises(ValueError, match="division by zero"):
        T.Normalize((0.0,), (0.0,))(t)
    with pytest.raises(ValueError, match="channels"):
        T.Normalize((0.0, 0.0), (1.0, 1.0))(t)
    with pytest.raises(TypeError, match="float"):
        T.Normalize((0.0,), (1.0,))(minicnn.zeros(3, 2, 2, dtype=minicnn.int64))


def test_compose_pipeline_gives_a_normalised_tensor():
    pipeline = T.Compose([T.RandomCrop(4, padding=1), T.RandomHorizontalFlip(),
                          T.ToTensor(), T.Normalize((0.5,) * 3, (0.5,) * 3)])
    out = pipeline(image())
    assert tuple(out.shape) == (3, 4, 4) and -1 <= out.data.min() and out.data.max() <= 1
    assert "RandomCrop" in repr(pipeline)


def test_random_crop_is_a_window_of_the_padded_image_and_follows_manual_seed():
    img = image(5, 5)
    padded = np.pad(img, ((2, 2), (2, 2), (0, 0)))
    minicnn.manual_seed(0)
    crops = [T.RandomCrop(5, padding=2)(img) for _ in range(20)]
    windows = {(i, j) for i in range(5) for j in range(5)
               for c in crops if np.array_equal(c, padded[i:i + 5, j:j + 5])}
    assert len(windows) > 3  # it moves
    minicnn.manual_seed(0)
    np.testing.assert_array_equal(T.RandomCrop(5, padding=2)(img), crops[0])
    # Same windows in every layout: ndarray HWC and Tensor CHW.
    minicnn.manual_seed(1)
    a = T.RandomCrop((3, 2), padding=(1, 2), fill=7)(img)
    minicnn.manual_seed(1)
    b = T.RandomCrop((3, 2), padding=(1, 2), fill=7)(minicnn.tensor(img.transpose(2, 0, 1)))
    np.testing.assert_array_equal(a.transpose(2, 0, 1), b.data)
    with pytest.raises(ValueError, match="larger than input"):
        T.RandomCrop(9)(img)
    assert T.RandomCrop(9, pad_if_needed=True)(img).shape == (9, 9, 3)
    edge = T.RandomCrop(9, padding=2, padding_mode="edge")(img)
    assert edge.shape == (9, 9, 3)


def test_random_flips():
    img = image()
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(img), img[:, ::-1])
    np.testing.assert_array_equal(T.RandomVerticalFlip(p=1.0)(img), img[::-1])
    assert T.RandomHorizontalFlip(p=0.0)(img) is img
    t = minicnn.tensor(img.transpose(2, 0, 1))
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0)(t).data, t.numpy()[:, :, ::-1])
    minicnn.manual_seed(4)
    flips = [T.RandomHorizontalFlip()(img) is not img for _ in range(200)]
    assert 60 < sum(flips) < 140


def test_random_rotation_matches_pil_for_right_angles():
    Image = pytest.importorskip("PIL.Image", reason="Pillow is the oracle for rotations")
    img = image(7, 7)
    for angle in (90, -90, 180):
        ours = T.RandomRotation((angle, angle))(img)
        pil = np.asarray(Image.fromarray(img).rotate(angle, resample=Image.NEAREST))
        np.testing.assert_array_equal(ours, pil)


def test_random_rotation_keeps_shape_and_fills_corners():
    img = np.full((8, 8, 1), 200, np.uint8)
    out = T.RandomRotation((45, 45), fill=0)(img)
    assert out.shape == img.shape and out[0, 0, 0] == 0 and out[4, 4, 0] == 200
    t = T.RandomRotation((45, 45), interpolation="bilinear")(T.ToTensor()(img))
    assert tuple(t.shape) == (1, 8, 8) and abs(float(t.data[0, 4, 4]) - 200 / 255) < 1e-6
    with pytest.raises(ValueError, match="positive"):
        T.RandomRotation(-3)
    with pytest.raises(NotImplementedError, match="expand"):
        T.RandomRotation(3, expand=True)


def luma(hwc):
    return (0.2989 * hwc[..., 0] + 0.587 * hwc[..., 1] + 0.114 * hwc[..., 2])


def test_color_jitter_formulas():
    rng = np.random.default_rng(0)
    x = rng.random((3, 4, 5)).astype(np.float32) * 0.8
    t = minicnn.tensor(x)
    hwc = x.transpose(1, 2, 0).astype(np.float64)
    out = T.ColorJitter(brightness=(1.2, 1.2))(t).numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(out, np.clip(1.2 * hwc, 0, 1), rtol=1e-6)
    out = T.ColorJitter(contrast=(0.5, 0.5))(t).numpy().transpose(1, 2, 0)
    mean = luma(hwc).mean()
    np.testing.assert_allclose(out, np.clip(0.5 * hwc + 0.5 * mean, 0, 1), rtol=1e-5)
    out = T.ColorJitter(saturation=(0.0, 0.0))(t).numpy().transpose(1, 2, 0)
    np.testing.assert_allclose(out, np.repeat(luma(hwc)[..., None], 3, -1), rtol=1e-5)
    u8 = T.ColorJitter(brightness=(2.0, 2.0))(image())
    assert u8.dtype == np.uint8 and u8.max() == 255


def test_color_jitter_is_seeded_and_checks_arguments():
    img = image()
    minicnn.manual_seed(3)
    a = T.ColorJitter(0.4, 0.4, 0.4)(img)
    minicnn.manual_seed(3)
    np.testing.assert_array_equal(T.ColorJitter(0.4, 0.4, 0.4)(img), a)
    assert not np.array_equal(a, img)
    with pytest.raises(ValueError, match="non negative"):
        T.ColorJitter(brightness=-1)
    with pytest.raises(ValueError, match="hue"):
        T.ColorJitter(hue=0.6)


def test_color_jitter_hue_turns_the_colour_wheel():
    import colorsys
    rgb = np.random.default_rng(2).random((4, 5, 3))
    for shift in (0.25, -0.4):
        out = T.ColorJitter(hue=(shift, shift))(
            minicnn.tensor(rgb.transpose(2, 0, 1), dtype=minicnn.float64)).numpy()
        expected = [colorsys.hsv_to_rgb((h + shift) % 1.0, s, v)
                    for h, s, v in (colorsys.rgb_to_hsv(*p) for p in rgb.reshape(-1, 3))]
        np.testing.assert_allclose(out.transpose(1, 2, 0).reshape(-1, 3), expected, atol=1e-9)
    red = np.zeros((1, 1, 3), np.uint8)
    red[..., 0] = 255
    np.testing.assert_array_equal(T.ColorJitter(hue=(1 / 3, 1 / 3))(red), [[[0, 255, 0]]])
    gray = image(c=1)
    np.testing.assert_array_equal(T.ColorJitter(hue=0.5)(gray), gray)  # no colour to turn


def test_center_crop_and_resize():
    img = image(6, 5)
    np.testing.assert_array_equal(T.CenterCrop(3)(img), img[2:5, 1:4])  # round(1.5) == 2
    assert T.CenterCrop(8)(img).shape == (8, 8, 3)
    assert T.Resize(10)(img).shape == (12, 10, 3)  # the shorter edge becomes 10
    assert T.Resize((4, 7))(img).shape == (4, 7, 3)
    ones = T.Resize((9, 9))(T.ToTensor()(np.full((3, 3, 1), 255, np.uint8)))
    np.testing.assert_allclose(ones.data, 1.0, rtol=1e-6)
    np.testing.assert_array_equal(T.Resize(2, interpolation="nearest")(
        np.arange(16, dtype=np.uint8).reshape(4, 4)), [[0, 2], [8, 10]])


@pytest.mark.parametrize("size", [(9, 7), (4, 3), (6, 10)])
def test_resize_matches_pytorch_interpolate(size):
    torch = pytest.importorskip("torch", reason="PyTorch comparisons are opt-in")
    x = np.random.default_rng(1).random((3, 6, 5)).astype(np.float32)
    for mode, antialias in (("bilinear", False), ("bilinear", True), ("nearest", False)):
        ours = T.Resize(size, interpolation=mode, antialias=antialias)(minicnn.tensor(x)).data
        kwargs = {"align_corners": False, "antialias": antialias} if mode == "bilinear" else {}
        theirs = torch.nn.functional.interpolate(torch.from_numpy(x)[None], size=size,
                                                 mode=mode, **kwargs)[0].numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)



def pil_bilinear_matrix(n_in, n_out):
    """The oracle: Pillow's ``precompute_coeffs`` (Resample.c) for its BILINEAR filter, loop
    by loop, as a dense ``(n_out, n_in)`` matrix."""
    scale = n_in / n_out
    filterscale = max(scale, 1.0)
    support = 1.0 * filterscale  # the triangle's support is 1 pixel, stretched when shrinking
    matrix = np.zeros((n_out, n_in))
    for xx in range(n_out):
        center = (xx + 0.5) * scale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), n_in)
        for x in range(xmin, xmax):
            matrix[xx, x] = max(0.0, 1.0 - abs((x - center + 0.5) / filterscale))
        matrix[xx] /= matrix[xx].sum()
    return matrix


@pytest.mark.parametrize("shape, size", [((7, 11), (3, 4)), ((5, 9), (8, 4)), ((16, 3), (5, 3)),
                                         ((4, 4), (9, 6)), ((30, 1), (7, 1))])
def test_resize_antialias_vs_pillow_coefficients_oracle(shape, size):
    x = np.random.default_rng(2).random(shape + (2,))
    expected = np.einsum("ph,hwc,qw->pqc", pil_bilinear_matrix(shape[0], size[0]), x,
                         pil_bilinear_matrix(shape[1], size[1]))
    np.testing.assert_allclose(T.Resize(size)(x), expected, rtol=1e-12, atol=1e-12)
    t = T.Resize(size)(minicnn.tensor(x.transpose(2, 0, 1)))
    np.testing.assert_allclose(t.data, expected.transpose(2, 0, 1), rtol=1e-12, atol=1e-12)


def test_resize_antialias_keeps_thin_lines():
    # 1-pixel lines every 8 columns, shrunk 8x: the two pixels plain bilinear reads per output
    # fall between the lines, so they vanish; antialiasing averages them in.
    lines = np.zeros((16, 64), np.float32)
    lines[:, ::8] = 1.0
    for img in (lines, minicnn.tensor(lines[None])):
        plain = T.Resize((16, 8), antialias=False)(img)
        smooth = T.Resize((16, 8))(img)  # antialias=True is the default, as torchvision's
        plain, smooth = np.asarray(getattr(plain, "data", plain)), np.asarray(
            getattr(smooth, "data", smooth))
        np.testing.assert_array_equal(plain, 0.0)
        assert smooth.min() > 0.05  # every output pixel sees a line
        assert smooth.mean() == pytest.approx(lines.mean(), rel=0.05)
    as_uint8 = T.Resize((16, 8))((lines * 255).astype(np.uint8))
    assert as_uint8.dtype == np.uint8 and as_uint8.min() > 15


def test_resize_constant_image_stays_constant():
    for size in [(3, 4), (20, 7), (12, 13), (1, 1)]:
        for antialias in (True, False):
            resize = T.Resize(size, antialias=antialias)
            np.testing.assert_array_equal(resize(np.full((12, 10, 3), 200, np.uint8)), 200)
            out = resize(minicnn.full((2, 12, 10), 0.3, dtype=minicnn.float64)).data
            np.testing.assert_allclose(out, 0.3, rtol=1e-14)


def test_resize_antialias_changes_nothing_when_enlarging():
    img = image(5, 6)
    for size in [(10, 12), (5, 9), (7, 6)]:
        np.testing.assert_array_equal(T.Resize(size, antialias=True)(img),
                                      T.Resize(size, antialias=False)(img))
    # Nearest is never antialiased, shrinking or not (as torchvision).
    np.testing.assert_array_equal(T.Resize(2, interpolation="nearest", antialias=True)(img),
                                  T.Resize(2, interpolation="nearest", antialias=False)(img))


def test_resize_arrays_match_pillow_bilinear():
    Image = pytest.importorskip("PIL.Image", reason="Pillow is the oracle for antialiasing")
    y, x = np.mgrid[0:96, 0:120]
    smooth = 127.5 + 60 * np.sin(x / 9.0) + 60 * np.cos(y / 13.0 + x / 29.0)
    as_float = smooth.astype(np.float32) / 255
    as_uint8 = np.rint(smooth).astype(np.uint8)
    for size in [(24, 30), (13, 50), (40, 17), (200, 60), (7, 7)]:
        # Pillow's float mode runs the same filter in floating point: equal to rounding error.
        pil = np.asarray(Image.fromarray(as_float, mode="F").resize(size[::-1], Image.BILINEAR))
        np.testing.assert_allclose(T.Resize(size)(as_float), pil, atol=1e-6)
        # 8-bit: Pillow uses fixed-point weights and rounds between its two passes.
        pil = np.asarray(Image.fromarray(as_uint8).resize(size[::-1], Image.BILINEAR))
        diff = np.abs(T.Resize(size)(as_uint8).astype(int) - pil)
        assert diff.max() <= 1 and diff.mean() < 0.3
        # A PIL image goes to Pillow itself.
        np.testing.assert_array_equal(np.asarray(T.Resize(size)(Image.fromarray(as_uint8))),
                                      pil)

def test_random_resized_crop():
    img = image(6, 8)
    out = T.RandomResizedCrop(4)(img)
    assert out.shape == (4, 4, 3) and out.dtype == np.uint8
    whole = T.RandomResizedCrop((3, 4), scale=(1.0, 1.0), ratio=(8 / 6, 8 / 6))(img)
    np.testing.assert_array_equal(whole, T.Resize((3, 4))(img))  # the crop is the whole image
    plain = T.RandomResizedCrop((3, 4), scale=(1.0, 1.0), ratio=(8 / 6, 8 / 6),
                                antialias=False)(img)
    np.testing.assert_array_equal(plain, T.Resize((3, 4), antialias=False)(img))
    assert not np.array_equal(plain, whole)  # the flag reaches the resize
    minicnn.manual_seed(0)
    boxes = {T.RandomResizedCrop.get_params((6, 8), (0.08, 1.0), (0.75, 4 / 3))
             for _ in range(20)}
    assert len(boxes) > 5
    assert all(0 <= t and 0 <= left and t + h <= 6 and left + w <= 8 and h > 0 and w > 0
               for t, left, h, w in boxes)
    t = T.RandomResizedCrop(5)(T.ToTensor()(img))
    assert tuple(t.shape) == (3, 5, 5)
    with pytest.raises(ValueError, match="scale"):
        T.RandomResizedCrop(4, scale=(0.5, 0.1))
