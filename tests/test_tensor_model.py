"""The Tensor model: views that share memory, one version counter per storage, in-place autograd
through views (PyTorch's CopySlices), ``.grad``/``.data`` as Tensors, and type promotion.

Each expected value below is worked out by hand (the comments say how) and is what PyTorch
gives; tests/test_tensor_model_torch.py compares the same cases with PyTorch when it is there.
"""
import copy

import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
from minicnn.gradcheck import gradcheck
from tensor_programs import apply, describe, draw


def t64(values, requires_grad=True):
    return minicnn.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


# ---------------------------------------------------------------------------------------------
# The examples that used to give a silently wrong gradient
# ---------------------------------------------------------------------------------------------

def test_inplace_on_a_slice_of_a_non_leaf():
    x = minicnn.tensor([1., 2., 3.], requires_grad=True)
    y = x * 1
    y[1:] *= 2
    (y * y).sum().backward()
    # y = [x0, 2 x1, 2 x2]; d(sum y^2)/dx = [2 x0, 8 x1, 8 x2]
    np.testing.assert_array_equal(x.grad.numpy(), [2., 16., 24.])


def test_margin_on_the_true_class_logits():
    logits0 = minicnn.tensor([[1., 2., 3.], [4., 5., 6.]], requires_grad=True)
    logits = logits0 * 1
    labels = minicnn.tensor([2, 0])
    logits[minicnn.arange(2), labels] -= 0.5
    (logits * logits).sum().backward()
    # d/dx of (x - m)^2 at the true class is 2 (x - m); elsewhere 2 x
    expected = 2 * np.array([[1., 2., 2.5], [3.5, 5., 6.]])
    np.testing.assert_allclose(logits0.grad.numpy(), expected)


def test_inplace_after_another_op_used_the_tensor_keeps_that_op():
    x = minicnn.tensor([1., 2.], requires_grad=True)
    y = x * 2
    z = y + 0          # uses the old y
    y.mul_(3)          # y = 6 x from here on
    (z.sum() + y.sum()).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [8., 8.])  # 2 + 6


def test_inplace_through_a_view_reaches_the_base():
    x = minicnn.tensor([1., 1., 1.], requires_grad=True)
    y = x * 1
    y[0:2].mul_(2)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2., 2., 1.])


def test_inplace_through_a_view_of_a_saved_tensor_raises():
    x = minicnn.tensor([1., 2.], requires_grad=True)
    y = x.exp()                   # exp saves its output for backward
    y.view(-1).add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_optimizer_step_between_two_backwards_of_one_graph_raises():
    layer = nn.Linear(3, 2)
    opt = minicnn.optim.SGD(layer.parameters(), lr=0.1)
    loss = (layer(minicnn.randn(4, 3)) ** 2).sum()
    loss.backward(retain_graph=True)
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


def test_numpy_of_a_tensor_that_requires_grad_is_refused():
    y = minicnn.tensor([1., 2.], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
        y.numpy()
    assert not np.asarray(y).flags.writeable  # the values, but no silent way to change them
    np.testing.assert_array_equal(y.detach().numpy(), [2., 4.])


def test_the_graph_has_no_cycle_after_many_inplace_ops():
    x = minicnn.tensor([1., 2.], requires_grad=True)
    y = x * 1
    for _ in range(5):
        y.add_(1)       # each in-place op makes a new node on top of the last one
        y.mul_(2)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [32., 32.])
    z = x * 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.mul_(z)       # mul saved z (its second input), then the write changed it
        z.sum().backward()


# ---------------------------------------------------------------------------------------------
# Views share memory and a version counter; copies do not
# ---------------------------------------------------------------------------------------------

VIEWS = {
    "view": lambda t: t.view(6),
    "reshape": lambda t: t.reshape(3, 2),
    "transpose": lambda t: t.transpose(0, 1),
    "permute": lambda t: t.permute(1, 0),
    "t": lambda t: t.t(),
    "T": lambda t: t.T,
    "mT": lambda t: t.mT,
    "squeeze": lambda t: t.unsqueeze(0).squeeze(0),
    "unsqueeze": lambda t: t.unsqueeze(1),
    "expand": lambda t: t[:1].expand(4, 3),
    "narrow": lambda t: t.narrow(1, 1, 2),
    "select": lambda t: t.select(0, 1),
    "int index": lambda t: t[1, 2],
    "slice": lambda t: t[1, 1:3],
    "unbind": lambda t: t.unbind(0)[1],
    "split": lambda t: t.split(1, dim=1)[2],
    "chunk": lambda t: t.chunk(3, dim=1)[0],
    "diagonal": lambda t: t.diagonal(),
    "as_strided": lambda t: t.as_strided((2, 2), (1, 2)),
    "detach": lambda t: t.detach(),
    "data": lambda t: t.data,
}


@pytest.mark.parametrize("name", VIEWS)
def test_views_share_memory_and_version(name):
    base = minicnn.tensor(np.arange(6.0).reshape(2, 3))
    view = VIEWS[name](base)
    assert np.shares_memory(view.numpy(), base.numpy())
    assert view.untyped_storage().data_ptr() == base.untyped_storage().data_ptr()
    before = view._version
    base.add_(1)
    assert view._version == before + 1  # one counter for the base and all its views
    np.testing.assert_array_equal(view.numpy(), VIEWS[name](base.clone()).numpy())


@pytest.mark.parametrize("copies", [
    lambda t: t.clone(), lambda t: t[[0, 1]], lambda t: t[t > 2], lambda t: t.t().contiguous(),
    lambda t: t.t().reshape(6), lambda t: t.flip(0), lambda t: t.repeat(2, 1),
])
def test_copies_have_their_own_memory(copies):
    base = minicnn.tensor(np.arange(6.0).reshape(2, 3))
    out = copies(base)
    assert not np.shares_memory(out.numpy(), base.numpy())
    base.add_(1)
    assert out._version == 0


def test_contiguous_strides_and_offset():
    x = minicnn.tensor(np.arange(12.0).reshape(3, 4))
    assert x.is_contiguous() and x.stride() == (4, 1) and x.storage_offset() == 0
    assert x.contiguous() is x
    t = x.t()
    assert not t.is_contiguous() and t.stride() == (1, 4)
    c = t.contiguous()
    assert c is not t and c.is_contiguous() and c.stride() == (3, 1)
    np.testing.assert_array_equal(c.numpy(), t.numpy())
    assert x[1, 1:].storage_offset() == 5 and x[1, 1:].stride() == (1,)
    with pytest.raises(RuntimeError, match="reshape"):
        t.view(12)


def test_view_write_changes_the_base_and_the_base_write_changes_the_view():
    x = minicnn.zeros(2, 3)
    row = x[1]
    row.fill_(5)
    np.testing.assert_array_equal(x.numpy(), [[0, 0, 0], [5, 5, 5]])
    x[1, 0] = 7
    np.testing.assert_array_equal(row.numpy(), [7, 5, 5])


def test_gradient_through_a_view_whose_base_changed_later():
    # v is made before y changes in place; afterwards v reads the new y (PyTorch regenerates
    # its grad_fn from the base): v = 2 x[0:2]
    x = minicnn.tensor([1., 2., 3.], requires_grad=True)
    y = x * 1
    v = y[0:2]
    y.mul_(2)
    v.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2., 2., 0.])


def test_writing_a_grad_value_into_a_plain_tensor_through_a_view():
    w = minicnn.tensor([3., 4.], requires_grad=True)
    y = minicnn.zeros(2, 2)
    y[0] = w                 # y now depends on w (y's history is rewritten)
    y[:, 1] *= w             # and again through a column view
    assert y.requires_grad and not y.is_leaf
    y.sum().backward()
    # y = [[w0, w1 * w0], [0, 0 * w1]]: d sum / dw = [1 + w1, w0]
    np.testing.assert_array_equal(w.grad.numpy(), [5., 3.])


def test_views_of_a_leaf_that_requires_grad_refuse_inplace_outside_no_grad():
    w = minicnn.tensor([1., 2., 3.], requires_grad=True)
    with pytest.raises(RuntimeError, match="view of a leaf tensor"):
        w[1:].mul_(2)
    with minicnn.no_grad():
        w[1:].mul_(2)
    np.testing.assert_array_equal(w.detach().numpy(), [1., 4., 6.])
    assert w.is_leaf and w.requires_grad


def test_inplace_on_views_float64_gradcheck():
    def fn(x, a):
        y = x * 1
        y[1:, ::2] *= a[:2].unsqueeze(1)   # a strided view, scaled by another input
        y.t()[0].add_(a.sum())              # a column seen through a transpose
        d = y.diagonal()
        d.mul_(d.clone())                  # the diagonal, squared in place
        return y.exp()
    x = t64(np.random.default_rng(0).standard_normal((3, 4)) * 0.3)
    a = t64([0.5, -1.5, 2.0])
    assert gradcheck(fn, (x, a))


@pytest.mark.parametrize("seed", range(100))
def test_random_views_and_inplace_ops_float64_gradcheck(seed):
    # The programs test_tensor_model_torch.py compares with PyTorch, checked here against
    # finite differences: d(y . w)/dx and /da, whatever views and in-place ops made y.
    program, x0, a0, w0 = draw(seed)
    x, a = t64(x0), t64(a0)
    try:
        apply(minicnn, program, x * 1, a)
    except RuntimeError as error:  # in place on one of several views split/chunk/unbind made
        assert "multiple views" in str(error), describe(program)
        return
    w = minicnn.tensor(w0)

    def fn(x, a):
        return apply(minicnn, program, x, a) * w
    try:
        fn(x, a).sum().backward()
    except RuntimeError as error:  # a value saved for backward was changed in place later
        assert "modified by an inplace operation" in str(error), describe(program)
        return
    assert gradcheck(fn, (x, a)), describe(program)


def test_setitem_through_a_view_takes_values_with_extra_leading_ones_as_pytorch():
    x = minicnn.zeros(2, 3)
    x[0] = minicnn.ones(1, 3)                     # (1, 3) into a (3,) row
    x[1] = np.array([[4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(x.numpy(), [[1, 1, 1], [4, 5, 6]])
    i = minicnn.zeros(3, dtype=minicnn.int64)
    i[1:] = 2.7                                   # cast to the tensor's dtype, as copy_ does
    assert i.tolist() == [0, 2, 2]


def test_setitem_with_repeated_indices_keeps_one_write_as_pytorch():
    x = minicnn.zeros(3)
    x[minicnn.tensor([0, 0, 2])] += 1  # x[idx] = x[idx] + 1: each position written once
    np.testing.assert_array_equal(x.numpy(), [1., 0., 1.])


# ---------------------------------------------------------------------------------------------
# .grad and .data are Tensors
# ---------------------------------------------------------------------------------------------

def test_grad_and_data_are_tensors_sharing_memory():
    w = minicnn.tensor([1., 2.], requires_grad=True)
    (w * w).sum().backward()
    assert isinstance(w.grad, minicnn.Tensor) and not w.grad.requires_grad
    assert repr(w.grad) == "tensor([2., 4.])"
    w.grad.zero_()
    np.testing.assert_array_equal(w.grad.numpy(), [0., 0.])
    assert isinstance(w.data, minicnn.Tensor) and not w.data.requires_grad
    w.data.mul_(0.5)                          # a write through .data changes w ...
    np.testing.assert_array_equal(w.detach().numpy(), [0.5, 1.0])
    assert w.is_leaf and w.requires_grad      # ... and leaves it a leaf
    assert w.grad.data.data_ptr() == w.grad.data_ptr()


def test_the_hand_written_sgd_step_of_the_tutorials():
    w = minicnn.tensor([1., -2.], requires_grad=True)
    for _ in range(2):
        loss = ((w - 3) ** 2).sum()
        loss.backward()
        with minicnn.no_grad():
            w -= 0.25 * w.grad
        w.grad.zero_()
    # each step: w <- w - 0.25 * 2 (w - 3) = (w + 3) / 2
    np.testing.assert_allclose(w.detach().numpy(), [2.5, 1.75])
    p = minicnn.tensor([1., 2.], requires_grad=True)
    (p * 3).sum().backward()
    p.data.sub_(0.1 * p.grad.data)
    p.data.normal_(0, 0.02)
    assert p.is_leaf and p.detach().abs().max().item() < 0.2


def test_assigning_data_and_grad_checks_shape_and_dtype():
    p = minicnn.tensor([1., 2.], requires_grad=True)
    p.data = minicnn.tensor([5., 6.])
    np.testing.assert_array_equal(p.detach().numpy(), [5., 6.])
    with pytest.raises(ValueError, match="shape"):
        p.data = minicnn.zeros(3)
    p.grad = minicnn.ones(2)
    with pytest.raises(RuntimeError, match="shape"):
        p.grad = minicnn.ones(3)
    with pytest.raises(RuntimeError, match="dtype"):
        p.grad = minicnn.ones(2, dtype=minicnn.float64)
    with pytest.raises(TypeError, match="Tensor or None"):
        p.grad = [1.0, 2.0]


def test_backward_adds_to_a_grad_the_user_set_even_a_read_only_one():
    w = minicnn.tensor([1.0, 2.0], requires_grad=True)
    w.grad = minicnn.ones(1).expand(2)            # a read-only (expanded) tensor
    (w * 3).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [4.0, 4.0])


def test_hooks_receive_and_return_tensors():
    x = minicnn.tensor([1., 2.], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g) or g * 10)
    y = x * 3
    y.register_hook(lambda g: seen.append(g))
    y.sum().backward()
    assert all(isinstance(g, minicnn.Tensor) for g in seen)
    np.testing.assert_array_equal(x.grad.numpy(), [30., 30.])


def test_state_dict_shares_the_parameters_memory():
    layer = nn.Linear(2, 2)
    sd = layer.state_dict()
    assert isinstance(sd["weight"], minicnn.Tensor) and not sd["weight"].requires_grad
    with minicnn.no_grad():
        layer.weight.fill_(3.0)
    np.testing.assert_array_equal(sd["weight"].numpy(), np.full((2, 2), 3.0))
    snapshot = copy.deepcopy(sd)
    with minicnn.no_grad():
        layer.weight.fill_(1.0)
    np.testing.assert_array_equal(snapshot["weight"].numpy(), np.full((2, 2), 3.0))


def test_optimizers_update_in_place_and_bump_the_version():
    layer = nn.Linear(2, 1)
    w = layer.weight
    opt = minicnn.optim.Adam(layer.parameters(), lr=0.1)
    layer(minicnn.ones(1, 2)).sum().backward()
    before = w._version
    opt.step()
    assert layer.weight is w and w._version == before + 1


# ---------------------------------------------------------------------------------------------
# Type promotion (torch.result_type)
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("make, dtype", [
    (lambda: minicnn.tensor(np.array([1, 2], np.uint8)) / 255, minicnn.float32),
    (lambda: minicnn.ones(2) * minicnn.tensor([1, 2]), minicnn.float32),
    (lambda: minicnn.ones(2) + minicnn.tensor(2.0, dtype=minicnn.float64), minicnn.float32),
    (lambda: minicnn.ones(2, dtype=minicnn.float64) + minicnn.ones(2), minicnn.float64),
    (lambda: minicnn.tensor([1, 2]) * 2.5, minicnn.float32),
    (lambda: minicnn.tensor([1, 2], dtype=minicnn.int8) + minicnn.tensor(300), minicnn.int8),
    (lambda: minicnn.tensor([1, 2], dtype=minicnn.int8) + minicnn.tensor([1], dtype=minicnn.uint8),
     minicnn.int16),
    (lambda: minicnn.tensor([True]) + minicnn.tensor([1, 2], dtype=minicnn.int32), minicnn.int32),
    (lambda: minicnn.tensor([True, False]) + True, minicnn.bool),
    (lambda: minicnn.tensor([1, 2]) / minicnn.tensor([2, 2]), minicnn.float32),
    (lambda: minicnn.tensor([1., 2.], dtype=minicnn.float16) * 2.0, minicnn.float16),
    (lambda: minicnn.tensor([1, 2], dtype=minicnn.int32) + 1, minicnn.int32),
])
def test_binary_ops_promote_as_pytorch(make, dtype):
    assert make().dtype == dtype


def test_result_type_promote_types_can_cast():
    i8, u8 = minicnn.tensor([1], dtype=minicnn.int8), minicnn.tensor([1], dtype=minicnn.uint8)
    assert minicnn.result_type(i8, u8) == minicnn.int16
    assert minicnn.result_type(i8, 2.5) == minicnn.float32
    assert minicnn.result_type(minicnn.ones(1), minicnn.tensor(1.0, dtype=minicnn.float64)) \
        == minicnn.float32
    assert minicnn.promote_types(minicnn.int64, minicnn.float32) == minicnn.float32
    assert minicnn.promote_types(minicnn.uint8, minicnn.int8) == minicnn.int16
    assert minicnn.can_cast(minicnn.int64, minicnn.float32)
    assert not minicnn.can_cast(minicnn.float32, minicnn.int64)
    assert not minicnn.can_cast(minicnn.int8, minicnn.bool)


def test_inplace_ops_refuse_to_change_the_dtype_category():
    x = minicnn.tensor([1, 2])
    with pytest.raises(RuntimeError, match="Float can't be cast to the desired output type Long"):
        x += 1.5
    f = minicnn.ones(2)
    f += minicnn.ones(2, dtype=minicnn.float64)   # float64 into float32: the same category
    assert f.dtype == minicnn.float32


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.int64, np.float16,
                                   np.float32, np.float64, np.bool_])
def test_tensor_of_an_ndarray_keeps_its_dtype(dtype):
    assert minicnn.tensor(np.zeros(2, dtype)).dtype == np.dtype(dtype)


def test_tensors_pickle_as_plain_tensors():
    import pickle
    x = minicnn.arange(6.0).reshape(2, 3)
    row = pickle.loads(pickle.dumps(x[1]))          # a view travels as its own values
    assert row.tolist() == [3.0, 4.0, 5.0] and not row.is_view
    p = nn.Parameter(minicnn.ones(2))
    (p * 2).sum().backward()
    q = pickle.loads(pickle.dumps(p))
    assert type(q) is nn.Parameter and q.requires_grad and q.grad.tolist() == [2.0, 2.0]


def test_every_tensor_method_is_written_in_the_class():
    # A learner who greps "def exp" finds it: no method is attached from a list elsewhere.
    import inspect
    for name in ("exp", "relu", "transpose", "narrow", "argmax", "masked_fill_", "add_",
                 "eq", "softmax", "t", "where", "normal_", "diagonal"):
        method = inspect.unwrap(getattr(minicnn.Tensor, name))  # past numpy_names
        source = inspect.getsourcefile(method)
        assert source.endswith(("_tensor.py", "_inplace.py")), (name, source)
        assert f"def {name}(" in inspect.getsource(method), name


def test_types_print_where_pytorch_has_them():
    # print(type(x)) in a tutorial: <class 'torch.Tensor'>, <class 'torch.nn.parameter.Parameter'>
    import pickle
    x = minicnn.ones(2)
    assert str(type(x)) == "<class 'minicnn.Tensor'>"
    assert str(type(minicnn.nn.Linear(2, 3).bias)) == "<class 'minicnn.nn.parameter.Parameter'>"
    assert minicnn.nn.parameter.Parameter is minicnn.nn.Parameter
    assert type(pickle.loads(pickle.dumps(x))) is minicnn.Tensor    # still found by that name
    assert type(copy.deepcopy(minicnn.nn.Parameter(x))) is minicnn.nn.Parameter
