"""Edge cases that used to end in the wrong exception or in silent garbage: empty loaders,
images of no pixels or of strings, NaN jitter factors, uint16 images, softmax over no classes,
a conv_transpose2d too large, a --data-dir that is a file, a hook that reshapes a gradient."""
import numpy as np
import pytest

import minicnn
import minicnn.nn.functional as F
import minicnn.optim as optim
from minicnn import data, transforms as T
from minicnn.cli import train
from minicnn.models import digits_net
from test_harden_cli import cli, one_line_error, restore_threads  # noqa: F401 (a fixture)


def test_train_one_epoch_and_evaluate_refuse_an_empty_loader():
    # Bug: ZeroDivisionError (the CLI refuses empty sets, the functions did not).
    model = digits_net()
    empty = data.DataLoader(data.TensorDataset(np.zeros((0, 1, 8, 8), np.float32),
                                               np.zeros(0, np.int64)), batch_size=4)
    with pytest.raises(ValueError, match="train_one_epoch: the loader yielded no images"):
        train.train_one_epoch(model, empty, optim.SGD(model.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="evaluate: the loader yielded no images"):
        train.evaluate(model, empty)


@pytest.mark.parametrize("pic", [np.array([[1, "a"]], dtype=object), np.array([["a", "b"]]),
                                 np.array([[b"a"]])])
def test_to_tensor_refuses_arrays_that_hold_no_numbers(pic):
    # Bug: accepted, giving a Tensor of dtype object or <U1.
    with pytest.raises(TypeError, match="pic should hold numbers, got an array of dtype"):
        T.ToTensor()(pic)


@pytest.mark.parametrize("shape", [(0, 5, 3), (5, 0, 3), (0, 0)])
@pytest.mark.parametrize("transform", [T.Resize(4), T.Resize((4, 4)),
                                       T.RandomResizedCrop(4)], ids=repr)
def test_resizing_an_image_of_no_pixels_is_a_clear_error(shape, transform):
    # Bug: ZeroDivisionError or IndexError.
    with pytest.raises(ValueError, match=r"the image has no pixels \(height \d, width \d\)"):
        transform(np.zeros(shape, np.uint8))


@pytest.mark.parametrize("kwargs", [{"brightness": float("nan")}, {"contrast": float("inf")},
                                    {"saturation": (0.5, float("nan"))},
                                    {"brightness": [float("nan"), 1.0]}])
def test_color_jitter_refuses_non_finite_factors(kwargs):
    # Bug: a NaN brightness was accepted, and every image became NaN (or 0 once cast).
    (name, value), = kwargs.items()
    with pytest.raises(ValueError, match=f"{name} must be finite"):
        T.ColorJitter(**kwargs)


def test_color_jitter_keeps_uint16_images_on_their_own_scale():
    # Bug: every integer type but uint8 was clipped to 0..1.
    img = np.full((2, 2, 3), 30000, np.uint16)
    out = T.ColorJitter(brightness=(0.5, 0.5))(img)
    assert out.dtype == np.uint16 and (out == 15000).all()
    brighter = T.ColorJitter(brightness=(3.0, 3.0))(img)
    assert (brighter == 65535).all()  # clipped at the type's maximum, as torchvision
    red = np.zeros((1, 1, 3), np.uint16)
    red[..., 0] = 65535
    green = T.ColorJitter(hue=(1 / 3, 1 / 3))(red)
    np.testing.assert_array_equal(green[0, 0], [0, 65535, 0])


@pytest.mark.parametrize("shape, dim", [((3, 0), 1), ((3, 0), 0), ((0, 4), 1)])
def test_softmax_and_log_softmax_of_an_empty_input_are_empty(shape, dim):
    # Bug: "zero-size array to reduction operation maximum"; PyTorch returns an empty result.
    x = minicnn.tensor(np.zeros(shape, np.float32), requires_grad=True)
    y, z = F.log_softmax(x, dim=dim), F.softmax(x, dim=dim)
    assert y.shape == z.shape == shape
    (y.sum() + z.sum()).backward()
    assert x.grad.shape == shape


def test_conv_transpose2d_too_large_names_its_output():
    # Bug: the error came from the conv2d geometry underneath and called the output "input".
    x = minicnn.tensor(np.zeros((1, 1, 2, 2), np.float32))
    w = minicnn.tensor(np.zeros((1, 1, 3, 3), np.float32))
    with pytest.raises(ValueError, match=r"one padded conv_transpose2d output sample .* "
                                         r"\(conv_transpose2d output shape \(1, 1, 50003, 50003\)"):
        F.conv_transpose2d(x, w, stride=50000)


@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_data_dir_naming_a_file_says_it_is_not_a_directory(capsys, tmp_path, dataset):
    # Bug: "data directory ... does not exist" for a file that does.
    path = tmp_path / "file"
    path.write_text("x")
    one_line_error(*cli(capsys, "train", "--dataset", dataset, "--data-dir", path),
                   f"data directory '{path}' is not a directory (it names a file)")
    with pytest.raises(NotADirectoryError, match="is not a directory"):
        data.load_mnist(path)


@pytest.mark.parametrize("leaf", [True, False])
def test_a_hook_that_changes_the_gradients_shape_raises(leaf):
    # Bug: accepted for a leaf (x.grad got the hook's shape); for a non-leaf the error blamed
    # the next backward. PyTorch: "hook '<lambda>' has changed the size of value".
    x = minicnn.tensor(np.ones(3, np.float32), requires_grad=True)
    y = x if leaf else x * 1

    def widen(grad):
        return minicnn.tensor(np.ones(5, np.float32))

    y.register_hook(widen)
    with pytest.raises(RuntimeError, match=r"hook 'widen' has changed the size of value"):
        (y * 2).sum().backward()
    assert x.grad is None


def test_a_hook_that_keeps_the_shape_still_replaces_the_gradient():
    x = minicnn.tensor(np.ones(3, np.float32), requires_grad=True)
    x.register_hook(lambda g: g * 10)
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [20, 20, 20])
