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


def test_state_dict_keys_and_shared_memory():
    net = Net()
    sd = net.state_dict()
    assert isinstance(sd, collections.OrderedDict)
    assert list(sd) == [name for name, _ in net.named_parameters()]
    for name, p in net.named_parameters():
        # as PyTorch: a detached tensor (a leaf, no grad) sharing the parameter's memory
        assert isinstance(sd[name], Tensor) and sd[name] is not p
        assert not sd[name].requires_grad and sd[name].is_leaf
        assert sd[name].data_ptr() == p.data_ptr()
        np.testing.assert_array_equal(sd[name], p.data)
    before = sd["conv1.weight"].clone()
    snapshot = {k: v.clone() for k, v in sd.items()}
    net.conv1.weight.data += 1  # training later changes a state dict taken earlier (shared) ...
    np.testing.assert_array_equal(sd["conv1.weight"], before + 1)
    np.testing.assert_array_equal(snapshot["conv1.weight"], before)  # ... not its clone()
    assert snapshot["conv1.weight"].data_ptr() != net.conv1.weight.data_ptr()


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
    sd = {k: v.double() + 0.5 for k, v in model.state_dict().items()}
    sd["weight"] = sd["weight"].numpy()  # ndarrays are accepted too
    model.load_state_dict(sd)
    assert model.weight.dtype == np.float32 and model.bias.dtype == np.float32
    np.testing.assert_allclose(model.weight.data, sd["weight"], rtol=1e-6)


def test_load_state_dict_missing_unexpected_and_mis_shaped_keys_are_reported():
    model = small_cnn()
    sd = model.state_dict()
    del sd["0.bias"], sd["6.weight"]
    sd["extra.weight"] = np.zeros(3)
    sd["3.weight"] = np.zeros((6, 4, 5, 5), np.float32)
    before = {k: v.clone() for k, v in model.state_dict().items()}
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
    assert all(g is not None and (g != 0).any() for g in grads)
    model.zero_grad(set_to_none=False)
    assert all(p.grad is g and not (g != 0).any() for p, g in zip(model.parameters(), grads))
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
    values = [p.detach().numpy().copy() for p in params]
    assert model.to(np.float64) is model
    assert all(p is q for p, q in zip(params, model.parameters()))
    for p, v in zip(model.parameters(), values):
        assert p.dtype == np.float64 and p.grad.dtype == np.float64
        np.testing.assert_array_equal(p.data, v)  # float32 values are exact in float64
    x64 = x32.detach().double()
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


# ---------------------------------------------------------------------------------------------
# Buffers
# ---------------------------------------------------------------------------------------------

class Stats(nn.Module):
    """A module with a float buffer, an int64 one and a non-persistent one, as BatchNorm has."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(np.ones(3, np.float32))
        self.register_buffer("running_mean", Tensor(np.zeros(3, np.float32)))
        self.register_buffer("num_batches_tracked", Tensor(np.array(0, np.int64)))
        self.register_buffer("scratch", Tensor(np.zeros(2, np.float32)), persistent=False)

    def forward(self, x):
        self.running_mean.data += x.data.mean(axis=0)  # state a step updates, not a gradient
        self.num_batches_tracked.data += 1
        return x * self.weight


class Outer(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("step", Tensor(np.array(5, np.int64)))
        self.inner = Stats()
        self.lin = nn.Linear(3, 3)


def test_buffers_are_registered_named_and_not_parameters():
    m = Outer()
    assert [n for n, _ in m.named_buffers()] == [
        "step", "inner.running_mean", "inner.num_batches_tracked", "inner.scratch"]
    assert [n for n, _ in m.named_buffers(recurse=False)] == ["step"]
    assert [n for n, _ in m.named_buffers(prefix="m")][1] == "m.inner.running_mean"
    assert list(m.buffers())[1] is m.inner.running_mean  # attribute access reaches the buffer
    assert all(not b.requires_grad for b in m.buffers())
    assert not {id(b) for b in m.buffers()} & {id(p) for p in m.parameters()}
    assert [n for n, _ in m.named_parameters()] == ["inner.weight", "lin.weight", "lin.bias"]
    assert "running_mean" in dir(m.inner)
    m.inner(Tensor(np.ones((2, 3), np.float32))).sum().backward()
    assert m.inner.running_mean.grad is None and m.inner.weight.grad is not None
    np.testing.assert_array_equal(m.inner.running_mean.data, 1)
    assert int(m.inner.num_batches_tracked.data) == 1


def test_state_dict_holds_persistent_buffers_after_each_modules_parameters():
    m = Outer()
    sd = m.state_dict()
    # PyTorch's order: own parameters, own persistent buffers, then each child, depth first.
    assert list(sd) == ["step", "inner.weight", "inner.running_mean",
                        "inner.num_batches_tracked", "lin.weight", "lin.bias"]
    assert sd["inner.num_batches_tracked"].dtype == np.int64
    assert sd["inner.running_mean"].dtype == np.float32
    # as PyTorch: buffers too are detached tensors sharing the module's memory
    assert sd["step"] is not m.step and sd["step"].data_ptr() == m.step.data_ptr()
    m.register_buffer("step", None)  # an absent buffer is skipped, as a None parameter
    assert "step" not in m.state_dict() and "step" not in dict(m.named_buffers())


def test_buffers_round_trip_through_save_and_load(tmp_path):
    source = Outer()
    source.inner(Tensor(np.arange(6, dtype=np.float32).reshape(2, 3)))
    source.inner(Tensor(np.ones((2, 3), np.float32)))
    source.inner.scratch.data += 7  # not persistent: never saved, never loaded
    minicnn.save(source.state_dict(), tmp_path / "stats.npz")
    target = Outer()
    buffers_before = list(target.buffers())
    result = target.load_state_dict(minicnn.load(tmp_path / "stats.npz"))
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert all(a is b for a, b in zip(buffers_before, target.buffers()))  # loaded in place
    np.testing.assert_array_equal(target.inner.running_mean.data, [2.5, 3.5, 4.5])
    assert target.inner.num_batches_tracked.data.dtype == np.int64
    assert int(target.inner.num_batches_tracked.data) == 2
    np.testing.assert_array_equal(target.inner.scratch.data, 0)
    for name, value in source.state_dict().items():
        np.testing.assert_array_equal(target.state_dict()[name], value)


def test_load_state_dict_checks_buffers_like_parameters():
    m = Outer()
    sd = m.state_dict()
    del sd["inner.num_batches_tracked"]
    with pytest.raises(ValueError, match='Missing key.*"inner.num_batches_tracked"'):
        m.load_state_dict(sd)
    sd["inner.scratch"] = np.ones(2, np.float32)  # a non-persistent buffer is not a key
    sd["inner.running_mean"] = np.full(3, 4.0)
    result = m.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["inner.num_batches_tracked"]
    assert result.unexpected_keys == ["inner.scratch"]
    np.testing.assert_array_equal(m.inner.running_mean.data, 4)
    assert m.inner.running_mean.dtype == np.float32  # cast to the buffer's dtype
    np.testing.assert_array_equal(m.inner.scratch.data, 0)
    sd["inner.running_mean"] = np.zeros(4, np.float32)
    with pytest.raises(ValueError, match="size mismatch for inner.running_mean.*\\(4,\\)"):
        m.load_state_dict(sd, strict=False)
    np.testing.assert_array_equal(m.inner.running_mean.data, 4)  # nothing half-loaded


def test_to_double_converts_floating_buffers_only():
    m = Outer()
    buf = m.inner.running_mean
    assert m.double() is m
    assert m.inner.running_mean is buf and buf.dtype == np.float64
    assert m.inner.scratch.dtype == np.float64 and m.inner.weight.dtype == np.float64
    assert m.step.dtype == m.inner.num_batches_tracked.dtype == np.int64  # as PyTorch
    assert m.state_dict()["inner.running_mean"].dtype == np.float64
    m.float()
    assert buf.dtype == np.float32 and m.inner.num_batches_tracked.dtype == np.int64


def test_buffer_assignment_and_deletion():
    m = Stats()
    new = Tensor(np.full(3, 2.0, np.float32))
    m.running_mean = new  # assigning to a buffer's name replaces the buffer
    assert m.running_mean is new and dict(m.named_buffers())["running_mean"] is new
    assert "running_mean" not in vars(m)
    with pytest.raises(TypeError, match="running_mean"):
        m.running_mean = np.zeros(3)  # a buffer holds a Tensor or None
    m.running_mean = None
    assert "running_mean" not in m.state_dict()
    del m.scratch
    assert "scratch" not in dict(m.named_buffers())
    with pytest.raises(AttributeError, match="scratch"):
        m.scratch
    m.register_buffer("scratch", Tensor(np.ones(1)))  # re-registered: persistent by default
    assert "scratch" in m.state_dict()
    m.num_batches_tracked = nn.Parameter(np.zeros(1))  # a Parameter takes over the name
    assert "num_batches_tracked" not in dict(m.named_buffers())
    assert "num_batches_tracked" in dict(m.named_parameters())


def test_register_buffer_errors():
    m = Stats()
    with pytest.raises(KeyError, match="'.'"):
        m.register_buffer("a.b", Tensor(np.ones(1)))
    with pytest.raises(KeyError, match="non-empty"):
        m.register_buffer("", Tensor(np.ones(1)))
    with pytest.raises(TypeError, match="name must be a str"):
        m.register_buffer(3, Tensor(np.ones(1)))
    for taken in ("weight", "forward", "training"):  # a parameter, a method, an attribute
        with pytest.raises(KeyError, match="already exists"):
            m.register_buffer(taken, Tensor(np.ones(1)))
    with pytest.raises(KeyError, match="already exists"):
        m.register_parameter("running_mean", nn.Parameter(np.ones(1)))
    with pytest.raises(TypeError, match="Tensor or None"):
        m.register_buffer("b", np.ones(1))
    with pytest.raises(TypeError, match="persistent"):
        m.register_buffer("b", Tensor(np.ones(1)), persistent="no")
    m.register_buffer("running_mean", Tensor(np.ones(3)))  # re-registering a buffer is fine

    class Early(nn.Module):
        def __init__(self):
            self.register_buffer("b", Tensor(np.ones(1)))  # before super().__init__()

    with pytest.raises(AttributeError, match="__init__"):
        Early()


def test_deepcopy_and_apply_reach_buffers():
    m = Outer()
    twin = copy.deepcopy(m)
    twin.inner.running_mean.data += 1
    assert not np.array_equal(twin.inner.running_mean.data, m.inner.running_mean.data)
    assert [n for n, _ in twin.named_buffers()] == [n for n, _ in m.named_buffers()]
    seen = []
    assert m.apply(lambda mod: seen.append(type(mod).__name__)) is m
    assert seen == ["Stats", "Linear", "Outer"]  # children first, then self


def test_summary_reports_buffers(capsys):
    text = Stats().summary((2, 3))
    assert "Buffers: 6 values" in text
    assert "Buffers" not in small_cnn().summary((1, 1, 8, 8))  # no line for a module without
