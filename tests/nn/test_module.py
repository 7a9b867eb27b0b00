"""Tests for minicnn.nn.Module and Parameter: registration, buffers, state dicts, modes, dtype, hooks, summary."""
import collections
import copy

import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
import minicnn.nn.functional as F
import minicnn.rng
from minicnn import Tensor


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


def test_forward_hooks_run_and_can_be_removed(rng):
    lin = nn.Linear(2, 2)
    seen = []
    handle = lin.register_forward_hook(lambda m, inputs, out: seen.append((m, out.shape)))
    lin(tensor(rng, 3, 2))
    assert seen == [(lin, (3, 2))]
    handle.remove()
    lin(tensor(rng, 3, 2))
    assert len(seen) == 1


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
