"""Tests for minicnn.nn modules and nn.init: registration, state dicts, modes, repr, summary, init."""
import collections
import copy
import math

import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
import minicnn.nn.functional as F
import minicnn.rng
from minicnn.nn import init
from minicnn import Tensor, no_grad


def tensor(rng, *shape, dtype=np.float32):
    return Tensor(rng.standard_normal(shape).astype(dtype), dtype=dtype)


class Net(nn.Module):
    """A custom module: parameters and sub-modules registered in a deliberate order."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 3, 3, padding=1)
        self.scale = nn.Parameter(np.ones(1, np.float32))
        self.not_a_param = Tensor(np.zeros(2, np.float32))   # plain attribute, not registered
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(3 * 4 * 4, 5))

    def forward(self, x):
        return self.head(F.relu(self.conv1(x)) * self.scale)


def small_cnn(dtype=None):
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, dtype=dtype), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, dtype=dtype), nn.ReLU(), nn.Flatten(),
        nn.Linear(6 * 2 * 2, 3, dtype=dtype))


# ---------------------------------------------------------------------------------------------
# Parameter and registration
# ---------------------------------------------------------------------------------------------

def test_parameter_is_a_leaf_tensor_requiring_grad():
    p = nn.Parameter(np.arange(3.0))
    assert isinstance(p, Tensor) and p.requires_grad and p.is_leaf
    assert p.dtype == np.float64  # a float64 array keeps its dtype
    assert nn.Parameter([1, 2]).dtype == np.float32
    assert not nn.Parameter(np.ones(2), requires_grad=False).requires_grad
    assert repr(p).startswith("Parameter containing:\ntensor(")
    (p * p).sum().backward()
    np.testing.assert_allclose(p.grad, 2 * np.arange(3.0))


def test_registration_order_and_names():
    net = Net()
    names = [name for name, _ in net.named_parameters()]
    # PyTorch's order: a module's own parameters first, then each child's, depth first.
    assert names == ["scale", "conv1.weight", "conv1.bias", "head.1.weight", "head.1.bias"]
    assert [p is q for p, (_, q) in zip(net.parameters(), net.named_parameters())] == [True] * 5
    assert [n for n, _ in net.named_children()] == ["conv1", "head"]
    assert list(net.children()) == [net.conv1, net.head]
    assert [n for n, _ in net.named_modules()] == ["", "conv1", "head", "head.0", "head.1"]
    assert next(net.modules()) is net
    assert [n for n, _ in net.named_parameters(recurse=False)] == ["scale"]
    assert [n for n, _ in net.named_parameters(prefix="model")][1] == "model.conv1.weight"
    assert "not_a_param" not in dict(net.named_parameters())


def test_reassignment_none_and_deletion():
    net = Net()
    net.conv1 = nn.Conv2d(1, 3, 5, padding=2)  # replaces, keeps its place in the order
    assert net.conv1.kernel_size == (5, 5)
    assert [n for n, _ in net.named_children()] == ["conv1", "head"]
    net.scale = None  # a parameter slot can be emptied
    assert "scale" not in dict(net.named_parameters())
    with pytest.raises(TypeError, match="scale"):
        net.scale = np.ones(1)  # but not filled with a non-Parameter
    with pytest.raises(TypeError, match="conv1"):
        net.conv1 = "not a module"
    del net.head
    assert [n for n, _ in net.named_children()] == ["conv1"]
    with pytest.raises(AttributeError, match="head"):
        net.head


def test_registration_errors():
    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(np.ones(2))  # before super().__init__()

    with pytest.raises(AttributeError, match="__init__"):
        Early()
    m = nn.Module()
    with pytest.raises(KeyError, match="'.'"):
        m.register_parameter("a.b", nn.Parameter(np.ones(1)))
    with pytest.raises(TypeError, match="Parameter"):
        m.register_parameter("a", Tensor(np.ones(1)))
    with pytest.raises(TypeError, match="Module"):
        m.add_module("x", 3)
    with pytest.raises(NotImplementedError, match="forward"):
        m(Tensor(np.ones(1)))


def test_shared_parameters_are_listed_once_but_saved_under_each_name():
    lin = nn.Linear(3, 3)
    model = nn.Sequential(lin, nn.ReLU(), lin)
    assert len(list(model.parameters())) == 2
    assert list(model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [n for n, _ in model.named_modules()] == ["", "0", "1"]


def test_deepcopy_gives_independent_parameters(rng):
    net = Net()
    twin = copy.deepcopy(net)
    assert [n for n, _ in twin.named_parameters()] == [n for n, _ in net.named_parameters()]
    twin.conv1.weight.data += 1
    assert not np.allclose(twin.conv1.weight.data, net.conv1.weight.data)


# ---------------------------------------------------------------------------------------------
# state_dict / load_state_dict
# ---------------------------------------------------------------------------------------------

def test_state_dict_keys_and_copies():
    net = Net()
    sd = net.state_dict()
    assert isinstance(sd, collections.OrderedDict)
    assert list(sd) == [name for name, _ in net.named_parameters()]
    for name, p in net.named_parameters():
        assert isinstance(sd[name], np.ndarray) and sd[name] is not p.data
        np.testing.assert_array_equal(sd[name], p.data)
    before = sd["conv1.weight"].copy()
    net.conv1.weight.data += 1  # training later must not change a state dict taken earlier
    np.testing.assert_array_equal(sd["conv1.weight"], before)


def test_state_dict_round_trip_through_save_gives_identical_outputs(tmp_path, rng):
    minicnn.rng.manual_seed(1)
    model = small_cnn()
    minicnn.save(model.state_dict(), tmp_path / "model.npz")
    minicnn.rng.manual_seed(2)
    other = small_cnn()
    x = tensor(rng, 2, 1, 8, 8)
    assert not np.allclose(model(x).data, other(x).data)
    params_before = list(other.parameters())
    result = other.load_state_dict(minicnn.load(tmp_path / "model.npz"))
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(model(x).data, other(x).data)
    assert all(p is q for p, q in zip(params_before, other.parameters()))  # loaded in place


def test_load_state_dict_casts_to_the_parameter_dtype():
    model = nn.Linear(3, 2)  # float32
    sd = {k: v.astype(np.float64) + 0.5 for k, v in model.state_dict().items()}
    sd["bias"] = Tensor(sd["bias"], dtype=np.float64)  # Tensors are accepted too
    model.load_state_dict(sd)
    assert model.weight.dtype == np.float32 and model.bias.dtype == np.float32
    np.testing.assert_allclose(model.weight.data, sd["weight"], rtol=1e-6)


def test_load_state_dict_missing_unexpected_and_mis_shaped_keys_are_reported():
    model = small_cnn()
    sd = model.state_dict()
    del sd["0.bias"], sd["6.weight"]
    sd["extra.weight"] = np.zeros(3)
    sd["3.weight"] = np.zeros((6, 4, 5, 5), np.float32)
    before = {k: v.copy() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError) as info:
        model.load_state_dict(sd)
    message = str(info.value)
    assert "Sequential" in message
    assert 'Missing key(s) in state_dict: "0.bias", "6.weight".' in message
    assert 'Unexpected key(s) in state_dict: "extra.weight".' in message
    assert "size mismatch for 3.weight" in message
    assert "(6, 4, 5, 5)" in message and "(6, 4, 3, 3)" in message
    for k, v in model.state_dict().items():  # nothing was half-loaded
        np.testing.assert_array_equal(v, before[k])


def test_load_state_dict_non_strict_loads_what_matches():
    source, target = small_cnn(), small_cnn()
    sd = source.state_dict()
    del sd["0.bias"]
    sd["extra"] = np.zeros(1)
    result = target.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["0.bias"] and result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(target[0].weight.data, source[0].weight.data)
    assert not np.array_equal(target[0].bias.data, source[0].bias.data)
    sd["0.weight"] = np.zeros((1, 1, 1, 1))
    with pytest.raises(ValueError, match="size mismatch for 0.weight"):
        target.load_state_dict(sd, strict=False)  # shapes are checked even when not strict


def test_load_state_dict_type_errors():
    model = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="mapping"):
        model.load_state_dict([("weight", np.zeros((2, 2)))])
    sd = model.state_dict()
    sd["weight"] = np.array([["a", "b"], ["c", "d"]])
    with pytest.raises(TypeError, match="weight"):
        model.load_state_dict(sd)


# ---------------------------------------------------------------------------------------------
# Modes, gradients, dtype
# ---------------------------------------------------------------------------------------------

def test_train_eval_propagate_to_every_submodule():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.head.train()
    assert net.head[1].training and not net.training and not net.conv1.training
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(TypeError, match="mode"):
        net.train("yes")


def test_dropout_is_identity_in_eval_and_inverted_in_training(rng):
    drop = nn.Dropout(p=0.25)
    x = Tensor(rng.uniform(1, 2, (200, 50)).astype(np.float32))
    drop.eval()
    np.testing.assert_array_equal(drop(x).data, x.data)
    drop.train()
    minicnn.rng.manual_seed(0)
    y = drop(x).data
    kept = y != 0
    assert abs(1 - kept.mean() - 0.25) < 0.02  # 10,000 draws: 4 standard deviations
    np.testing.assert_allclose(y[kept], x.data[kept] / 0.75, rtol=1e-6)
    minicnn.rng.manual_seed(0)
    np.testing.assert_array_equal(drop(x).data, y)  # masks come from minicnn's generator
    with pytest.raises(ValueError, match="p"):
        nn.Dropout(1.5)


def test_zero_grad_both_ways(rng):
    model = nn.Linear(3, 2)
    x = tensor(rng, 4, 3)
    model(x).sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and np.any(g != 0) for g in grads)
    model.zero_grad(set_to_none=False)
    assert all(p.grad is g and not np.any(g) for p, g in zip(model.parameters(), grads))
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_requires_grad_false_freezes(rng):
    model = small_cnn()
    model[0].requires_grad_(False)
    model(tensor(rng, 1, 1, 8, 8)).sum().backward()
    assert model[0].weight.grad is None and model[3].weight.grad is not None


def test_to_float64_converts_parameters_and_grads(rng):
    model = small_cnn()
    x32 = tensor(rng, 2, 1, 8, 8)
    model(x32).sum().backward()
    params = list(model.parameters())
    values = [p.data.copy() for p in params]
    assert model.to(np.float64) is model
    assert all(p is q for p, q in zip(params, model.parameters()))
    for p, v in zip(model.parameters(), values):
        assert p.dtype == np.float64 and p.grad.dtype == np.float64
        np.testing.assert_array_equal(p.data, v)  # float32 values are exact in float64
    x64 = Tensor(x32.data.astype(np.float64), dtype=np.float64)
    assert model(x64).dtype == np.float64
    assert model.float()[0].weight.dtype == np.float32
    assert model.double()[0].weight.dtype == np.float64
    with pytest.raises(TypeError, match="dtype"):
        model.to(np.int32)


def test_dtype_argument_of_layers(rng):
    conv = nn.Conv2d(2, 3, 3, dtype=np.float64)
    lin = nn.Linear(2, 3, dtype="float64")
    assert conv.weight.dtype == conv.bias.dtype == lin.weight.dtype == np.float64
    assert nn.Conv2d(2, 3, 3).weight.dtype == np.float32
    with pytest.raises(TypeError, match="dtype"):
        nn.Linear(2, 3, dtype=np.int64)


# ---------------------------------------------------------------------------------------------
# Layers compute what functional computes, with the documented shapes
# ---------------------------------------------------------------------------------------------

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
                                  F.avg_pool2d(x, 2, None, 1, False).data)
    assert nn.Flatten()(x).shape == (2, 4 * 9 * 8)
    assert nn.Flatten(2)(x).shape == (2, 4, 72)
    assert nn.Flatten(0, 1)(x).shape == (8, 9, 8)
    with pytest.raises(IndexError, match="start_dim"):  # a dim out of range, as everywhere
        nn.Flatten(4)(x)
    with pytest.raises(IndexError, match="end_dim"):
        nn.Flatten(1, -5)(x)
    np.testing.assert_array_equal(nn.ReLU()(x).data, np.maximum(x.data, 0))
    np.testing.assert_allclose(nn.LeakyReLU(0.2)(x).data, np.where(x.data > 0, x.data, 0.2 * x.data))
    np.testing.assert_allclose(nn.Sigmoid()(x).data, 1 / (1 + np.exp(-x.data)), rtol=1e-6)
    np.testing.assert_allclose(nn.Tanh()(x).data, np.tanh(x.data), rtol=1e-6)

    lin = nn.Linear(7, 3)
    xl = tensor(rng, 5, 7)
    np.testing.assert_allclose(lin(xl).data, xl.data @ lin.weight.data.T + lin.bias.data,
                               rtol=1e-5, atol=1e-6)
    target = np.array([0, 2, 1, 1, 0])
    np.testing.assert_array_equal(nn.CrossEntropyLoss()(lin(xl), target).data,
                                  F.cross_entropy(lin(xl), target).data)
    assert nn.CrossEntropyLoss(reduction="none")(lin(xl), target).shape == (5,)
    y = tensor(rng, 5, 3)
    np.testing.assert_allclose(nn.MSELoss(reduction="sum")(lin(xl), y).data,
                               ((lin(xl).data - y.data) ** 2).sum(), rtol=1e-5)


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


# ---------------------------------------------------------------------------------------------
# Containers
# ---------------------------------------------------------------------------------------------

def test_sequential_indexing_len_iteration_append(rng):
    layers = [nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and list(seq) == layers
    assert seq[0] is layers[0] and seq[-1] is layers[2]
    head = seq[1:]
    assert isinstance(head, nn.Sequential) and list(head) == layers[1:]
    assert list(head.state_dict()) == ["2.weight", "2.bias"]  # names kept, as PyTorch
    with pytest.raises(IndexError):
        seq[3]
    x = tensor(rng, 5, 3)
    np.testing.assert_array_equal(seq(x).data, layers[2](layers[1](layers[0](x))).data)
    assert seq.append(nn.Sigmoid()) is seq and len(seq) == 4 and isinstance(seq[3], nn.Sigmoid)
    seq[1] = nn.Tanh()
    assert isinstance(seq[1], nn.Tanh)
    named = nn.Sequential(collections.OrderedDict([("conv", nn.Conv2d(1, 2, 3)),
                                                   ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["conv.weight", "conv.bias"]
    assert named.conv is named[0]
    with pytest.raises(TypeError, match="Module"):
        nn.Sequential(nn.ReLU(), lambda x: x)


def test_module_list_registers_its_entries():
    class Tower(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return x

    tower = Tower()
    assert len(list(tower.parameters())) == 6
    assert list(tower.state_dict())[:2] == ["blocks.0.weight", "blocks.0.bias"]
    tower.blocks.append(nn.Linear(2, 2))
    assert len(tower.blocks) == 4 and isinstance(tower.blocks[1:], nn.ModuleList)


def test_forward_hooks_run_and_can_be_removed(rng):
    lin = nn.Linear(2, 2)
    seen = []
    handle = lin.register_forward_hook(lambda m, inputs, out: seen.append((m, out.shape)))
    lin(tensor(rng, 3, 2))
    assert seen == [(lin, (3, 2))]
    handle.remove()
    lin(tensor(rng, 3, 2))
    assert len(seen) == 1


# ---------------------------------------------------------------------------------------------
# repr and summary
# ---------------------------------------------------------------------------------------------

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
    assert repr(nn.MaxPool2d(2)) == "MaxPool2d(kernel_size=2, stride=2, padding=0)"
    assert repr(nn.AvgPool2d(3, 1, 1)) == "AvgPool2d(kernel_size=3, stride=1, padding=1)"
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    assert repr(nn.ReLU()) == "ReLU()"
    assert repr(nn.LeakyReLU(0.1)) == "LeakyReLU(negative_slope=0.1)"
    assert repr(nn.Dropout(0.3)) == "Dropout(p=0.3)"
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"
    assert repr(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Sequential(nn.ReLU(), nn.Flatten()))) == (
        "Sequential(\n"
        "  (0): Conv2d(1, 2, kernel_size=(3, 3), stride=(1, 1))\n"
        "  (1): Sequential(\n"
        "    (0): ReLU()\n"
        "    (1): Flatten(start_dim=1, end_dim=-1)\n"
        "  )\n"
        ")")


def test_summary_shapes_and_parameter_counts(capsys):
    model = small_cnn()
    model[0].requires_grad_(False)
    model.train()
    state = minicnn.rng.get_rng_state()
    text = model.summary((2, 1, 8, 8))
    assert capsys.readouterr().out.strip() == text.strip()
    rows = [line.split() for line in text.splitlines()]

    def row(name):
        return next(r for r in rows if r[0] == name)

    # Output shapes from the layer formulas (stride 1 conv: H + 2P - K + 1; pool 2 halves),
    # computed here from the definitions, not copied from the table.
    def conv_out(size, k, p):
        return size + 2 * p - k + 1

    h1 = conv_out(8, 3, 1)
    h2 = h1 // 2
    h3 = conv_out(h2, 3, 0)
    assert " ".join(row("0")[2:-1]) == f"[2, 4, {h1}, {h1}]"
    assert " ".join(row("2")[2:-1]) == f"[2, 4, {h2}, {h2}]"
    assert " ".join(row("3")[2:-1]) == f"[2, 6, {h3}, {h3}]"
    assert " ".join(row("5")[2:-1]) == f"[2, {6 * h3 * h3}]"
    assert " ".join(row("6")[2:-1]) == "[2, 3]"
    counts = {"0": 4 * 1 * 9 + 4, "1": 0, "3": 6 * 4 * 9 + 6, "6": 3 * 6 * h3 * h3 + 3}
    for name, count in counts.items():
        assert row(name)[-1] == f"{count:,}"
    total = sum(counts.values())
    assert f"Total params: {total:,}" in text
    assert f"Trainable params: {total - counts['0']:,}" in text
    assert f"Non-trainable params: {counts['0']:,}" in text
    assert [r[0] for r in rows[2:9]] == [str(i) for i in range(7)]  # one row per layer
    # It leaves no trace: modes, random state, hooks and gradients are as before.
    assert all(m.training for m in model.modules())
    assert minicnn.rng.get_rng_state() == state
    assert all(not m._forward_hooks for m in model.modules())
    assert all(p.grad is None for p in model.parameters())


def test_summary_of_custom_module_and_errors(capsys):
    net = Net()
    text = net.summary((1, 1, 4, 4))
    assert "conv1 (Conv2d)" in text and "head.1 (Linear)" in text
    # Net owns `scale` directly, so it gets a row of its own (one parameter).
    assert any(line.startswith("Net ") and line.split()[-1] == "1" for line in text.splitlines())
    assert f"Total params: {sum(p.numel() for p in net.parameters()):,}" in text
    with pytest.raises(TypeError, match="input_shape"):
        net.summary(4)
    with pytest.raises(ValueError, match="input_shape"):
        net.summary((1, 0, 4, 4))


# ---------------------------------------------------------------------------------------------
# Initialisation
# ---------------------------------------------------------------------------------------------

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
    assert np.abs(deconv.bias.data).max() <= np.float32(bias_bound)


def test_init_is_reproducible_with_manual_seed():
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
    data = w.data
    assert init.kaiming_uniform_(w, nonlinearity="relu") is w and w.data is data
    check_uniform(w.data, math.sqrt(2) * math.sqrt(3 / 900))
    init.kaiming_uniform_(w, mode="fan_out", nonlinearity="relu")
    check_uniform(w.data, math.sqrt(2) * math.sqrt(3 / 1800))
    init.kaiming_normal_(w, nonlinearity="relu")
    assert w.data.std() == pytest.approx(math.sqrt(2 / 900), rel=0.01)
    assert abs(w.data.mean()) < 0.01 * math.sqrt(2 / 900)
    init.xavier_uniform_(w, gain=2.0)
    check_uniform(w.data, 2.0 * math.sqrt(6 / (900 + 1800)))
    init.xavier_normal_(w)
    assert w.data.std() == pytest.approx(math.sqrt(2 / 2700), rel=0.01)
    init.uniform_(w, -3, 5)
    assert w.data.min() >= -3 and w.data.max() <= 5 and w.data.mean() == pytest.approx(1, abs=0.01)
    init.normal_(w, 2, 0.5)
    assert w.data.mean() == pytest.approx(2, abs=0.005) and w.data.std() == pytest.approx(0.5, rel=0.01)
    assert w.dtype == np.float32 and w.data is data
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
    import minicnn.nn.containers
    import minicnn.nn.layers
    import minicnn.nn.module
    import minicnn.nn.utils
    import minicnn.optim as O
    T = sys.modules["minicnn._tensor"]  # `minicnn.tensor` the attribute is the function
    assert minicnn.nn.module.FLOAT_DTYPES is C.FLOAT_DTYPES and T.FLOAT_DTYPES is C.FLOAT_DTYPES
    assert O.check_real is C.check_real and minicnn.nn.layers.check_real is C.check_real
    for M in (minicnn.nn.module, minicnn.nn.containers, minicnn.nn.layers, minicnn.nn.utils):
        assert not {"_int", "_ntuple", "_dtype", "_real", "_reduction"} & set(vars(M))
    assert not hasattr(minicnn.nn, "modules")  # the old catch-all file is gone
    assert nn.MSELoss(reduction="sum").reduction == "sum"
    conv, lin = nn.Conv2d(2, 3, 3), nn.Linear(18, 3)  # same fan_in: same init distribution
    for layer in (conv, lin):
        assert np.abs(layer.weight.data).max() <= 1 / np.sqrt(18)
        assert np.abs(layer.bias.data).max() <= 1 / np.sqrt(18)
