"""The conv layers and ops check their settings once: one ConvGeometry per call, shared by the
forward and both backward kernels; a layer keeps its checked settings until one changes."""
import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
import minicnn.nn.functional as F
from minicnn.kernels import geometry


@pytest.fixture
def built(monkeypatch):
    """Counts of ConvArgs and ConvGeometry built (by any route)."""
    counts = {"ConvArgs": 0, "ConvGeometry": 0}
    real_args, real_build = geometry.ConvArgs.__init__, geometry.ConvGeometry._build

    def args_init(self, *a, **k):
        counts["ConvArgs"] += 1
        real_args(self, *a, **k)

    def build(self, *a, **k):
        counts["ConvGeometry"] += 1
        real_build(self, *a, **k)
    monkeypatch.setattr(geometry.ConvArgs, "__init__", args_init)
    monkeypatch.setattr(geometry.ConvGeometry, "_build", build)
    return counts


def _tensors(rng, *shapes):
    return [minicnn.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]


@pytest.mark.parametrize("op, w_shape", [(F.conv2d, (4, 3, 3, 2)),
                                          (F.conv_transpose2d, (3, 4, 3, 2))])
def test_conv2d_forward_and_backward_share_one_geometry(built, op, w_shape):
    x, w, b = _tensors(np.random.default_rng(0), (2, 3, 7, 6), w_shape, (4,))
    op(x, w, b, stride=2, padding=1).sum().backward()
    assert built == {"ConvArgs": 1, "ConvGeometry": 1}
    assert x.grad is not None and w.grad is not None and b.grad is not None


def test_conv_layer_checks_its_settings_once(built):
    conv = nn.Conv2d(3, 4, 3, padding="same")
    x = minicnn.tensor(np.random.default_rng(0).standard_normal((2, 3, 6, 6)).astype(np.float32))
    for _ in range(3):
        conv(x).sum().backward()
    assert built == {"ConvArgs": 1, "ConvGeometry": 3}


@pytest.mark.parametrize("make, shape", [
    (lambda: nn.Conv2d(2, 3, (2, 4), padding="same", dilation=(1, 2)), (2, 2, 7, 9)),
    (lambda: nn.Conv2d(2, 4, 3, stride=2, padding=1, groups=2, padding_mode="reflect"),
     (2, 2, 7, 9)),
    (lambda: nn.Conv2d(2, 3, 3, padding=(0, 1)), (2, 7, 9)),
    (lambda: nn.Conv1d(2, 3, 4, padding="same", dilation=3), (2, 2, 17)),
    (lambda: nn.Conv1d(2, 3, 3, stride=2, padding=2, padding_mode="circular"), (2, 17)),
])
def test_conv_layers_match_the_functional_op_before_and_after_a_change(make, shape):
    rng = np.random.default_rng(1)
    conv = make()
    x = minicnn.tensor(rng.standard_normal(shape).astype(np.float32))
    op = F.conv1d if isinstance(conv, nn.Conv1d) else F.conv2d

    def functional():
        if conv.padding_mode != "zeros":
            padded = F.pad(x, conv._reversed_padding_repeated_twice, mode=conv.padding_mode)
            return op(padded, conv.weight, conv.bias, conv.stride, 0, conv.dilation, conv.groups)
        return op(x, conv.weight, conv.bias, conv.stride, conv.padding, conv.dilation,
                  conv.groups)
    np.testing.assert_array_equal(conv(x).detach().numpy(), functional().detach().numpy())
    # Settings assigned after construction (as PyTorch allows) are used on the next call.
    conv.dilation = (1,) * len(conv.kernel_size)
    if conv.padding != "same":
        conv.padding, conv.stride = (0,) * len(conv.kernel_size), 1
    y = conv(x)
    np.testing.assert_array_equal(y.detach().numpy(), functional().detach().numpy())
    if conv.padding == "same":
        assert y.shape[-1] == shape[-1]


@pytest.mark.parametrize("make, shape", [
    (lambda: nn.ConvTranspose2d(2, 4, 3, stride=2, padding=1, output_padding=1, groups=2),
     (2, 2, 5, 4)),
    (lambda: nn.ConvTranspose2d(2, 3, (3, 2), stride=(2, 3), dilation=(2, 1)), (2, 5, 4)),
    (lambda: nn.ConvTranspose1d(2, 3, 3, stride=2, padding=1), (2, 2, 6)),
    (lambda: nn.ConvTranspose1d(2, 3, 3, stride=3), (2, 6)),
])
def test_conv_transpose_layers_check_their_settings_once(built, make, shape):
    conv = make()
    x = minicnn.tensor(np.random.default_rng(2).standard_normal(shape).astype(np.float32))
    k = len(conv.kernel_size)
    functional = F.conv_transpose1d if k == 1 else F.conv_transpose2d
    expected = functional(x, conv.weight, conv.bias, conv.stride, conv.padding,
                          conv.output_padding, conv.groups, conv.dilation)
    built.update(ConvArgs=0, ConvGeometry=0)
    y = conv(x)
    np.testing.assert_array_equal(y.detach().numpy(), expected.detach().numpy())
    # output_size picks the largest size of those the stride maps to one input size (on an
    # unbatched input too: the sizes are read from its last axes).
    largest = tuple(s + st - 1 - op for s, st, op in
                    zip(y.shape[-k:], conv.stride, conv.output_padding))
    assert conv(x, output_size=largest).shape[-k:] == largest
    assert built == {"ConvArgs": 1, "ConvGeometry": 2}


def test_conv_layer_sees_a_setting_list_changed_in_place():
    conv = nn.Conv2d(1, 1, 3)
    conv.padding = [0, 0]
    x = minicnn.tensor(np.ones((1, 1, 5, 5), np.float32))
    assert tuple(conv(x).shape) == (1, 1, 3, 3)
    conv.padding[0] = 1
    assert tuple(conv(x).shape) == (1, 1, 5, 3)
