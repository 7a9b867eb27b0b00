"""Tests for the minicnn.nn layers and losses (values, shapes, validation, repr) and nn.init."""
import math

import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
import minicnn.nn.functional as F
import minicnn.rng
from minicnn.nn import init
from minicnn import Tensor


def tensor(rng, *shape, dtype=np.float32):
    return Tensor(rng.standard_normal(shape).astype(dtype), dtype=dtype)


def test_dropout_is_identity_in_eval_and_inverted_in_training(rng):
    drop = nn.Dropout(p=0.25)
    x = Tensor(rng.uniform(1, 2, (200, 50)).astype(np.float32))
    drop.eval()
    np.testing.assert_array_equal(drop(x).data, x.data)
    drop.train()
    minicnn.rng.manual_seed(0)
    y = drop(x).numpy()
    kept = y != 0
    assert abs(1 - kept.mean() - 0.25) < 0.02  # 10,000 draws: 4 standard deviations
    np.testing.assert_allclose(y[kept], x.numpy()[kept] / 0.75, rtol=1e-6)
    minicnn.rng.manual_seed(0)
    np.testing.assert_array_equal(drop(x).data, y)  # masks come from minicnn's generator
    with pytest.raises(ValueError, match="p"):
        nn.Dropout(1.5)


def test_dtype_argument_of_layers(rng):
    conv = nn.Conv2d(2, 3, 3, dtype=np.float64)
    lin = nn.Linear(2, 3, dtype="float64")
    assert conv.weight.dtype == conv.bias.dtype == lin.weight.dtype == np.float64
    assert nn.Conv2d(2, 3, 3).weight.dtype == np.float32
    with pytest.raises(TypeError, match="dtype"):
        nn.Linear(2, 3, dtype=np.int64)


def test_layers_match_functional(rng):
    x = tensor(rng, 2, 4, 9, 8)
    conv = nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=1, dilation=(1, 2), groups=2)
    np.testing.assert_array_equal(
        conv(x).data, F.conv2d(x, conv.weight, conv.bias, (2, 1), 1, (1, 2), 2).data)
    H, W = 9, 8
    OH = (H + 2 - 1 * (3 - 1) - 1) // 2 + 1
    OW = (W + 2 - 2 * (2 - 1) - 1) // 1 + 1
    assert conv(x).shape == (2, 6, OH, OW)

    deconv = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
    assert deconv.weight.shape == (4, 3, 3, 3)
    assert deconv(x).shape == (2, 6, (H - 1) * 2 - 2 + 2 + 1 + 1, (W - 1) * 2 - 2 + 2 + 1 + 1)
    np.testing.assert_array_equal(
        deconv(x).data, F.conv_transpose2d(x, deconv.weight, deconv.bias, 2, 1, 1, 2).data)

    conv1d = nn.Conv1d(4, 5, 3, stride=2, padding=1)
    x1 = tensor(rng, 2, 4, 11)
    assert conv1d.weight.shape == (5, 4, 3)
    assert conv1d(x1).shape == (2, 5, (11 + 2 - 2 - 1) // 2 + 1)
    np.testing.assert_array_equal(
        conv1d(x1).data, F.conv1d(x1, conv1d.weight, conv1d.bias, 2, 1).data)

    np.testing.assert_array_equal(nn.MaxPool2d(3, 2, 1)(x).data, F.max_pool2d(x, 3, 2, 1).data)
    np.testing.assert_array_equal(nn.AvgPool2d(2, count_include_pad=False, padding=1)(x).data,
                                  F.avg_pool2d(x, 2, None, 1, count_include_pad=False).data)
    assert nn.Flatten()(x).shape == (2, 4 * 9 * 8)
    assert nn.Flatten(2)(x).shape == (2, 4, 72)
    assert nn.Flatten(0, 1)(x).shape == (8, 9, 8)
    with pytest.raises(IndexError, match="start_dim"):  # a dim out of range, as everywhere
        nn.Flatten(4)(x)
    with pytest.raises(IndexError, match="end_dim"):
        nn.Flatten(1, -5)(x)
    xa = x.detach().numpy()
    np.testing.assert_array_equal(nn.ReLU()(x).data, np.maximum(xa, 0))
    np.testing.assert_allclose(nn.LeakyReLU(0.2)(x).data, np.where(xa > 0, xa, 0.2 * xa))
    np.testing.assert_allclose(nn.Sigmoid()(x).data, 1 / (1 + np.exp(-xa)), rtol=1e-6)
    np.testing.assert_allclose(nn.Tanh()(x).data, np.tanh(xa), rtol=1e-6)

    lin = nn.Linear(7, 3)
    xl = tensor(rng, 5, 7)
    wa, ba = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    np.testing.assert_allclose(lin(xl).data, xl.detach().numpy() @ wa.T + ba, rtol=1e-5, atol=1e-6)
    target = np.array([0, 2, 1, 1, 0])
    np.testing.assert_array_equal(nn.CrossEntropyLoss()(lin(xl), target).data,
                                  F.cross_entropy(lin(xl), target).data)
    assert nn.CrossEntropyLoss(reduction="none")(lin(xl), target).shape == (5,)
    y = tensor(rng, 5, 3)
    np.testing.assert_allclose(nn.MSELoss(reduction="sum")(lin(xl), y).data,
                               ((lin(xl).detach().numpy() - y.detach().numpy()) ** 2).sum(),
                               rtol=1e-5)


@pytest.mark.parametrize("make, match", [
    (lambda: nn.Conv2d(3, 4, 3, groups=2), "in_channels"),
    (lambda: nn.Conv2d(4, 3, 3, groups=2), "out_channels"),
    (lambda: nn.Conv2d(0, 3, 3), "in_channels"),
    (lambda: nn.Conv2d(1, 3, 0), "kernel_size"),
    (lambda: nn.Conv2d(1, 3, (3, 3, 3)), "kernel_size"),
    (lambda: nn.Conv2d(1, 3, 3, stride=0), "stride"),
    (lambda: nn.Conv2d(1, 3, 3, padding=-1), "padding"),
    (lambda: nn.Conv2d(1, 3, 3, dilation=0), "dilation"),
    (lambda: nn.Conv2d(1, 3, 3, groups=0), "groups"),
    (lambda: nn.ConvTranspose2d(1, 3, 3, stride=2, output_padding=2), "output_padding"),
    # smaller than dilation but not stride: F.conv_transpose2d rejects it, so must the layer
    (lambda: nn.ConvTranspose2d(2, 2, 3, stride=1, dilation=2, output_padding=1),
     "output_padding"),
    (lambda: nn.Conv1d(1, 3, 0), "kernel_size"),
    (lambda: nn.MaxPool2d(2, padding=2), "padding"),
    (lambda: nn.MaxPool2d(0), "kernel_size"),
    (lambda: nn.AvgPool2d(2, stride=0), "stride"),
    (lambda: nn.Linear(0, 3), "in_features"),
    (lambda: nn.Dropout(-0.1), "p"),
    (lambda: nn.LeakyReLU(float("nan")), "negative_slope"),
    (lambda: nn.AvgPool2d((3, 2), padding=(1, 2)), "padding"),
    (lambda: nn.CrossEntropyLoss(reduction="avg"), "reduction"),
    (lambda: nn.MSELoss(reduction=None), "reduction"),
])
def test_constructor_values_are_validated(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.parametrize("make, match", [
    (lambda: nn.Conv2d(1.0, 3, 3), "in_channels"),
    (lambda: nn.Conv2d(1, 3, 2.5), "kernel_size"),
    (lambda: nn.Conv2d(1, 3, 3, bias="yes"), "bias"),
    (lambda: nn.Linear(2, "3"), "out_features"),
    (lambda: nn.Dropout("0.5"), "p"),
    (lambda: nn.LeakyReLU(None), "negative_slope"),
    (lambda: nn.AvgPool2d(2, count_include_pad=1), "count_include_pad"),
])
def test_constructor_types_are_validated(make, match):
    with pytest.raises(TypeError, match=match):
        make()


def test_repr_strings_match_pytorch():
    assert repr(nn.Conv2d(1, 16, 5, padding=2)) == \
        "Conv2d(1, 16, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))"
    assert repr(nn.Conv2d(4, 8, (3, 1), stride=2, dilation=2, groups=4, bias=False)) == \
        ("Conv2d(4, 8, kernel_size=(3, 1), stride=(2, 2), dilation=(2, 2), groups=4, "
         "bias=False)")
    assert repr(nn.ConvTranspose2d(4, 2, 3, stride=2, output_padding=1)) == \
        "ConvTranspose2d(4, 2, kernel_size=(3, 3), stride=(2, 2), output_padding=(1, 1))"
    assert repr(nn.Conv1d(2, 4, 3)) == "Conv1d(2, 4, kernel_size=(3,), stride=(1,))"
    assert repr(nn.Linear(1568, 10)) == "Linear(in_features=1568, out_features=10, bias=True)"
    assert repr(nn.MaxPool2d(2)) == ("MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, "
                                     "ceil_mode=False)")   # PyTorch's repr
    assert repr(nn.AvgPool2d(3, 1, 1)) == "AvgPool2d(kernel_size=3, stride=1, padding=1)"
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    assert repr(nn.ReLU()) == "ReLU()"
    assert repr(nn.LeakyReLU(0.1)) == "LeakyReLU(negative_slope=0.1)"
    assert repr(nn.Dropout(0.3)) == "Dropout(p=0.3, inplace=False)"
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"
    assert repr(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Sequential(nn.ReLU(), nn.Flatten()))) == (
        "Sequential(\n"
        "  (0): Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1))\n"
        "  (1): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): Flatten(start_dim=1, end_dim=-1)\n"
        "  )\n"
        ")")


def check_uniform(values, bound):
    """All within [-bound, bound] and spread over it (max near the bound, std = bound/√3)."""
    values = np.asarray(values, dtype=np.float64)
    assert np.abs(values).max() <= np.float32(bound)
    assert np.abs(values).max() > 0.95 * bound
    assert abs(values.std() - bound / math.sqrt(3)) < 0.05 * bound


def test_default_init_of_conv_and_linear_is_pytorch_kaiming_uniform():
    minicnn.rng.manual_seed(0)
    conv = nn.Conv2d(8, 300, (3, 5), groups=2)  # fan_in = C/G * KH * KW = 4 * 15
    check_uniform(conv.weight.data, 1 / math.sqrt(4 * 15))
    check_uniform(conv.bias.data, 1 / math.sqrt(4 * 15))
    lin = nn.Linear(50, 400)  # fan_in = in_features
    check_uniform(lin.weight.data, 1 / math.sqrt(50))
    check_uniform(lin.bias.data, 1 / math.sqrt(50))
    # ConvTranspose2d: weight (C, O/G, KH, KW), so PyTorch's fan_in is O/G * KH * KW.
    deconv = nn.ConvTranspose2d(400, 8, 3, groups=2)
    assert deconv.weight.shape == (400, 4, 3, 3)
    check_uniform(deconv.weight.data, 1 / math.sqrt(4 * 9))
    bias_bound = 1 / math.sqrt(4 * 9)
    assert np.abs(deconv.bias.detach().numpy()).max() <= np.float32(bias_bound)


def test_init_is_reproducible_with_manual_seed():
    def small_cnn():
        return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ConvTranspose2d(4, 2, 3), nn.Linear(6, 3))

    minicnn.rng.manual_seed(7)
    a = small_cnn().state_dict()
    minicnn.rng.manual_seed(7)
    b = small_cnn().state_dict()
    minicnn.rng.manual_seed(8)
    c = small_cnn().state_dict()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["0.weight"], c["0.weight"])


def test_fan_in_and_fan_out():
    assert init._calculate_fan_in_and_fan_out(np.empty((6, 4, 3, 5))) == (4 * 15, 6 * 15)
    assert init._calculate_fan_in_and_fan_out(nn.Parameter(np.empty((10, 7)))) == (7, 10)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(np.empty(5))


def test_calculate_gain():
    assert init.calculate_gain("linear") == init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    with pytest.raises(ValueError, match="nonlinearity"):
        init.calculate_gain("swish")


def test_initialisers_statistics_and_in_place():
    minicnn.rng.manual_seed(3)
    w = nn.Parameter(np.empty((200, 100, 3, 3), np.float32))  # fan_in 900, fan_out 1800
    data, ptr = w.detach().numpy(), w.data_ptr()  # data shares w's memory
    assert init.kaiming_uniform_(w, nonlinearity="relu") is w and w.data_ptr() == ptr
    check_uniform(w.data, math.sqrt(2) * math.sqrt(3 / 900))
    init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu")
    check_uniform(w.data, math.sqrt(2) * math.sqrt(3 / 1800))
    init.kaiming_normal_(w, nonlinearity="relu")
    assert data.std() == pytest.approx(math.sqrt(2 / 900), rel=0.01)
    assert abs(data.mean()) < 0.01 * math.sqrt(2 / 900)
    init.xavier_uniform_(w, gain=2.0)
    check_uniform(w.data, 2.0 * math.sqrt(6 / (900 + 1800)))
    init.xavier_normal_(w)
    assert data.std() == pytest.approx(math.sqrt(2 / 2700), rel=0.01)
    init.uniform_(w, -3, 5)
    assert data.min() >= -3 and data.max() <= 5 and data.mean() == pytest.approx(1, abs=0.01)
    init.normal_(w, 2, 0.5)
    assert data.mean() == pytest.approx(2, abs=0.005) and data.std() == pytest.approx(0.5, rel=0.01)
    assert w.dtype == np.float32 and w.data_ptr() == ptr  # every initialiser works in place
    assert np.shares_memory(w.detach().numpy(), data)
    a = np.empty((3, 4))
    assert init.zeros_(a) is a and not a.any()
    np.testing.assert_array_equal(init.ones_(a), 1)
    np.testing.assert_array_equal(init.constant_(a, 0.25), 0.25)


def test_initialiser_argument_errors():
    w = np.empty((3, 4))
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_uniform_(w, mode="fan_avg")
    with pytest.raises(ValueError, match="a <= b"):
        init.uniform_(w, 1, 0)
    with pytest.raises(ValueError, match="std"):
        init.normal_(w, 0, -1)
    with pytest.raises(TypeError, match="tensor"):
        init.zeros_([1.0, 2.0])
    with pytest.raises(TypeError, match="floating"):
        init.ones_(np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="fewer than 2"):
        init.xavier_uniform_(np.empty(4))


def test_a_float64_model_passes_gradcheck(rng):
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2),
                          nn.Flatten(), nn.Linear(2 * 2 * 2, 3)).double()
    x = Tensor(rng.standard_normal((2, 1, 4, 4)), dtype=np.float64, requires_grad=True)
    params = list(model.parameters())

    def f(x, *ps):
        return model(x)

    assert minicnn.gradcheck(f, (x, *params))


def test_shared_rules_have_one_owner():
    # Each rule lives in one place and the others import it, so they cannot drift apart.
    import sys

    import minicnn._checks as C
    import minicnn.nn.activation
    import minicnn.nn.container
    import minicnn.nn.conv
    import minicnn.nn.linear
    import minicnn.nn.module
    import minicnn.nn.utils
    import minicnn.optim.optimizer as O
    T = sys.modules["minicnn._tensor"]  # `minicnn.tensor` the attribute is the function
    assert minicnn.nn.module.FLOAT_DTYPES is C.FLOAT_DTYPES and T.FLOAT_DTYPES is C.FLOAT_DTYPES
    assert O.check_real is C.check_real and minicnn.nn.activation.check_real is C.check_real
    for M in (minicnn.nn.module, minicnn.nn.container, minicnn.nn.conv, minicnn.nn.linear,
              minicnn.nn.utils):
        assert not {"_int", "_ntuple", "_dtype", "_real", "_reduction"} & set(vars(M))
    # the old catch-all files are gone: each layer is in the file of its kind
    assert not hasattr(minicnn.nn, "modules") and not hasattr(minicnn.nn, "layers")
    assert nn.MSELoss(reduction="sum").reduction == "sum"
    conv, lin = nn.Conv2d(2, 3, 3), nn.Linear(18, 3)  # same fan_in: same init distribution
    for layer in (conv, lin):
        assert np.abs(layer.weight.detach().numpy()).max() <= 1 / np.sqrt(18)
        assert np.abs(layer.bias.detach().numpy()).max() <= 1 / np.sqrt(18)
