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
    for mode in ("bilinear", "nearest"):
        ours = T.Resize(size, interpolation=mode)(minicnn.tensor(x)).data
        kwargs = {"align_corners": False, "antialias": False} if mode == "bilinear" else {}
        theirs = torch.nn.functional.interpolate(torch.from_numpy(x)[None], size=size,
                                                 mode=mode, **kwargs)[0].numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_random_resized_crop():
    img = image(6, 8)
    out = T.RandomResizedCrop(4)(img)
    assert out.shape == (4, 4, 3) and out.dtype == np.uint8
    whole = T.RandomResizedCrop((3, 4), scale=(1.0, 1.0), ratio=(8 / 6, 8 / 6))(img)
    np.testing.assert_array_equal(whole, T.Resize((3, 4))(img))  # the crop is the whole image
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
