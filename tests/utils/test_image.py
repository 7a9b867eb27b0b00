"""Tests for minicnn.utils.save_image (read back with a small PNG reader and with Pillow) and
draw_bounding_boxes (pixel checks, and Pillow's own rectangles as the oracle)."""
import io
import struct
import sys
import zlib

import numpy as np
import pytest

import minicnn
from minicnn.utils import draw_bounding_boxes, make_grid, save_image


def read_png(blob):
    """A minimal PNG reader for what save_image writes: 8-bit, filter 0 on every row."""
    assert blob[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, []
    while pos < len(blob):
        (length,) = struct.unpack(">I", blob[pos:pos + 4])
        kind, payload = blob[pos + 4:pos + 8], blob[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", blob[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(kind + payload) & 0xFFFFFFFF, kind
        chunks.append((kind, payload))
        pos += 12 + length
    assert [k for k, _ in chunks][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    width, height, depth, color, *_ = struct.unpack(">IIBBBBB", chunks[0][1])
    channels = {0: 1, 4: 2, 2: 3, 6: 4}[color]
    raw = zlib.decompress(b"".join(p for k, p in chunks if k == b"IDAT"))
    rows = np.frombuffer(raw, np.uint8).reshape(height, 1 + width * channels)
    assert depth == 8 and (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(height, width, channels)


def expected_bytes(grid):
    """torchvision's conversion: clamp(x * 255 + 0.5, 0, 255) truncated, (H, W, C)."""
    return np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)


def test_save_image_png_round_trip(tmp_path):
    x = minicnn.tensor(np.random.default_rng(0).random((5, 3, 6, 7), dtype=np.float32))
    save_image(x, tmp_path / "grid.png", nrow=2, padding=1, pad_value=0.5)
    grid = make_grid(x, nrow=2, padding=1, pad_value=0.5).numpy()
    pixels = read_png((tmp_path / "grid.png").read_bytes())
    assert pixels.shape == (3 * 7 + 1, 2 * 8 + 1, 3)
    np.testing.assert_array_equal(pixels, expected_bytes(grid))
    Image = pytest.importorskip("PIL.Image", reason="the Pillow read-back needs Pillow")
    with Image.open(tmp_path / "grid.png") as img:
        np.testing.assert_array_equal(np.asarray(img), pixels)


def test_save_image_single_image_file_object_and_values_out_of_range():
    x = np.array([[[-1.0, 0.0, 0.2], [0.5, 1.0, 7.0]]], np.float32)  # one (1, 2, 3) image
    buffer = io.BytesIO()
    save_image(minicnn.tensor(x), buffer, format="PNG")
    pixels = read_png(buffer.getvalue())
    assert pixels.shape == (2, 3, 3)  # one channel is repeated to three, as make_grid does
    np.testing.assert_array_equal(pixels[:, :, 0], [[0, 0, 51], [128, 255, 255]])
    assert (pixels[:, :, 0] == pixels[:, :, 2]).all()


def test_save_image_normalize(tmp_path):
    x = minicnn.tensor(np.array([[[[10.0, 20.0], [30.0, 50.0]]]], np.float32))
    save_image(x, tmp_path / "n.png", normalize=True)
    np.testing.assert_array_equal(read_png((tmp_path / "n.png").read_bytes())[:, :, 0],
                                  [[0, 64], [128, 255]])


def test_save_image_errors(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="format"):
        save_image(minicnn.rand(3, 2, 2), tmp_path / "noext")
    monkeypatch.setitem(sys.modules, "PIL", None)  # as if Pillow were not installed
    with pytest.raises(ImportError, match="pip install pillow"):
        save_image(minicnn.rand(3, 2, 2), tmp_path / "x.jpg")
    save_image(minicnn.rand(3, 2, 2), tmp_path / "x.png")  # PNG needs no Pillow
    assert read_png((tmp_path / "x.png").read_bytes()).shape == (2, 2, 3)


def test_save_image_other_formats_through_pillow(tmp_path):
    Image = pytest.importorskip("PIL.Image", reason="formats other than PNG need Pillow")
    x = minicnn.tensor(np.random.default_rng(1).random((3, 4, 5), dtype=np.float32))
    save_image(x, tmp_path / "x.bmp")
    with Image.open(tmp_path / "x.bmp") as img:
        np.testing.assert_array_equal(np.asarray(img), expected_bytes(x.numpy()))


def boxes_image():
    return minicnn.zeros(3, 6, 8, dtype=minicnn.uint8)


def test_draw_bounding_boxes_outline_width_and_clipping():
    out = draw_bounding_boxes(boxes_image(), minicnn.tensor([[1, 0, 6, 4], [5, 3, 12, 9]]),
                              colors=[(255, 0, 0), "#00ff00"], width=2).numpy()
    assert out.dtype == np.uint8 and out.shape == (3, 6, 8)
    red = out[0] == 255
    expected = np.zeros((6, 8), bool)
    expected[0:5, 1:7] = True
    expected[2:3, 3:5] = False  # the inside of a 6x5 box with a 2-pixel outline
    green = out[1] == 255
    np.testing.assert_array_equal(green[3:, 5:], np.array([[1, 1, 1], [1, 1, 1], [1, 1, 0]],
                                                          bool))
    np.testing.assert_array_equal(red & ~green, expected & ~green)


def test_draw_bounding_boxes_fill_float_and_gray():
    img = minicnn.full((1, 4, 4), 0.5)
    out = draw_bounding_boxes(img, [[0, 0, 3, 3]], colors=(0, 0, 255), fill=True, width=1)
    assert out.dtype == minicnn.float32 and tuple(out.shape) == (3, 4, 4)
    inside = out.numpy()[:, 1:3, 1:3]
    # 0.5 -> byte 127 (x * 255.999 truncated), blended with alpha 100: (127 * 155 + 0 * 100
    # + 128) / 255 -> 77; blue (127 * 155 + 255 * 100 + 128) / 255 -> 177; back to x / 255.
    np.testing.assert_allclose(inside[0], 77 / 255, rtol=1e-6)
    np.testing.assert_allclose(inside[2], 177 / 255, rtol=1e-6)
    np.testing.assert_allclose(out.numpy()[2, 0], 1.0)  # the outline, opaque


def test_draw_bounding_boxes_default_palette_and_errors():
    out = draw_bounding_boxes(boxes_image(), [[0, 0, 1, 1], [2, 2, 3, 3]]).numpy()
    # torchvision's palette: (i * (2**25 - 1, 2**15 - 1, 2**21 - 1)) % 255
    assert tuple(out[:, 0, 0]) == (0, 0, 0) and tuple(out[:, 2, 2]) == (1, 127, 31)
    with pytest.raises(TypeError, match="Tensor expected"):
        draw_bounding_boxes(np.zeros((3, 4, 4), np.uint8), [[0, 0, 1, 1]])
    with pytest.raises(ValueError, match="xmin, ymin, xmax, ymax"):
        draw_bounding_boxes(boxes_image(), [[3, 0, 1, 1]])
    with pytest.raises(ValueError, match="not batches"):
        draw_bounding_boxes(minicnn.zeros(1, 3, 4, 4, dtype=minicnn.uint8), [[0, 0, 1, 1]])
    with pytest.raises(ValueError, match=r"Number of boxes \(1\) and labels \(2\)"):
        draw_bounding_boxes(boxes_image(), [[0, 0, 1, 1]], labels=["a", "b"])
    with pytest.raises(ValueError, match="Number of colors"):
        draw_bounding_boxes(boxes_image(), [[0, 0, 1, 1], [0, 0, 1, 1]], colors=["#ff0000"])
    with pytest.warns(UserWarning, match="No box was drawn"):
        draw_bounding_boxes(boxes_image(), np.zeros((0, 4)))


def test_draw_bounding_boxes_labels_need_pillow(monkeypatch):
    box = [[0, 0, 7, 5]]
    out = draw_bounding_boxes(boxes_image(), box, colors="#ffffff").numpy()
    monkeypatch.setitem(sys.modules, "PIL", None)
    np.testing.assert_array_equal(
        draw_bounding_boxes(boxes_image(), box, colors="#ffffff").numpy(), out)
    with pytest.raises(ImportError, match="pip install pillow"):
        draw_bounding_boxes(boxes_image(), box, labels=["cat"])


def test_draw_bounding_boxes_labels_with_pillow():
    pytest.importorskip("PIL", reason="labels are drawn with Pillow")
    img = minicnn.zeros(3, 30, 40, dtype=minicnn.uint8)
    plain = draw_bounding_boxes(img, [[0, 0, 39, 29]], colors="white").numpy()
    labelled = draw_bounding_boxes(img, [[0, 0, 39, 29]], labels=["cat"], colors="white").numpy()
    assert (labelled[:, 2:-2, 2:-2] > 0).any() and not (plain[:, 2:-2, 2:-2] > 0).any()


def test_draw_bounding_boxes_as_pillow_draws_rectangles():
    PIL = pytest.importorskip("PIL", reason="Pillow's rectangles are the oracle")
    from PIL import Image, ImageDraw
    rng = np.random.default_rng(0)
    for _ in range(40):
        height, width = rng.integers(5, 25, 2)
        img = rng.integers(0, 256, (3, height, width)).astype(np.uint8)
        n, w, fill = int(rng.integers(1, 4)), int(rng.integers(0, 4)), bool(rng.integers(0, 2))
        x0, y0 = rng.integers(-4, width + 2, n), rng.integers(-4, height + 2, n)
        boxes = np.stack([x0, y0, x0 + 2 * w + rng.integers(0, 12, n),
                          y0 + 2 * w + rng.integers(0, 12, n)], axis=1)
        colors = [tuple(int(c) for c in rng.integers(0, 256, 3)) for _ in range(n)]
        ours = draw_bounding_boxes(minicnn.tensor(img), minicnn.tensor(boxes), colors=colors,
                                   width=w, fill=fill).numpy()
        picture = Image.fromarray(img.transpose(1, 2, 0).copy())
        draw = ImageDraw.Draw(picture, "RGBA" if fill else None)
        for box, color in zip(boxes.tolist(), colors):
            draw.rectangle(box, width=w, outline=color, fill=color + (100,) if fill else None)
        np.testing.assert_array_equal(ours, np.asarray(picture).transpose(2, 0, 1))
    assert PIL is not None


def test_save_image_and_boxes_as_torchvision(tmp_path):
    torch = pytest.importorskip("torch", reason="torchvision comparisons are opt-in")
    try:
        import torchvision.utils as tv_utils
    except Exception as exc:  # not installed, or a wheel built for another torch (RuntimeError)
        pytest.skip(f"torchvision comparisons are opt-in; torchvision.utils: {exc!r:.120}")
    x = np.random.default_rng(2).random((3, 3, 5, 6), dtype=np.float32)
    tv_utils.save_image(torch.from_numpy(x), tmp_path / "theirs.png", nrow=2)
    save_image(minicnn.tensor(x), tmp_path / "ours.png", nrow=2)
    from PIL import Image
    with Image.open(tmp_path / "theirs.png") as a, Image.open(tmp_path / "ours.png") as b:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    img = (x[0] * 255).astype(np.uint8)
    boxes = np.array([[0, 0, 4, 3], [1, 1, 5, 4]])
    theirs = tv_utils.draw_bounding_boxes(torch.from_numpy(img), torch.from_numpy(boxes),
                                          fill=True, width=1).numpy()
    ours = draw_bounding_boxes(minicnn.tensor(img), boxes, fill=True, width=1).numpy()
    np.testing.assert_array_equal(ours, theirs)
