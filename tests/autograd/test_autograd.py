"""minicnn.autograd and the Tensor's autograd surface: in-place rules and version counters, hooks,
retain_grad, grad/backward functions, grad modes, next_functions, Tensor-level Functions."""
import numpy as np
import pytest

import minicnn
from minicnn import autograd


# ---------------------------------------------------------------------------------------------
# In place: the update of an optimizer step, and the errors PyTorch gives
# ---------------------------------------------------------------------------------------------

def test_inplace_update_under_no_grad_keeps_the_tensor():
    # `with no_grad(): w -= lr * w.grad` used to rebind w to a new tensor that no longer
    # required grad: the error came one step later, far from its cause.
    w = minicnn.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    same = w
    with minicnn.no_grad():
        w -= 0.1 * w.grad
    assert w is same and w.requires_grad and w.is_leaf
    np.testing.assert_allclose(w.data, [0.8, 1.6])
    assert w._version == 1
    w.grad = None
    (w * 3).sum().backward()               # still a leaf of the next graph
    np.testing.assert_allclose(w.grad, [3.0, 3.0])


@pytest.mark.parametrize("op", [
    lambda w: w.add_(1), lambda w: w.sub_(1), lambda w: w.mul_(2), lambda w: w.div_(2),
    lambda w: w.zero_(), lambda w: w.fill_(3), lambda w: w.copy_(minicnn.tensor([5.0, 6.0])),
    lambda w: w.clamp_(0, 1), lambda w: w.__iadd__(1), lambda w: w.__setitem__(0, 7.0),
])
def test_inplace_on_a_leaf_that_requires_grad_is_an_error_outside_no_grad(op):
    w = minicnn.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        op(w)
    np.testing.assert_array_equal(w.data, [1.0, 2.0])   # and nothing was changed
    with minicnn.no_grad():
        op(w)                                            # allowed under no_grad
    assert w._version == 1 and w.is_leaf and w.requires_grad


def test_inplace_methods_values():
    x = minicnn.tensor([1.0, -2.0, 3.0])
    assert x.add_(1) is x and x.tolist() == [2.0, -1.0, 4.0]
    x.sub_(minicnn.tensor([1.0, 1.0, 1.0]), alpha=2)
    assert x.tolist() == [0.0, -3.0, 2.0]
    x.mul_(2).div_(4)
    assert x.tolist() == [0.0, -1.5, 1.0]
    x.clamp_(min=-1)
    assert x.tolist() == [0.0, -1.0, 1.0]
    x[1] = 5.0
    x[x > 2] = 0.5
    assert x.tolist() == [0.0, 0.5, 1.0]
    x.fill_(2).zero_()
    assert x.tolist() == [0.0, 0.0, 0.0]
    x.copy_([1, 2, 3])
    assert x.tolist() == [1.0, 2.0, 3.0] and x.dtype == minicnn.float32
    n = np.zeros(3)
    t = minicnn.from_numpy(n)
    t += 1                       # the NumPy array shares the memory and sees the change
    np.testing.assert_array_equal(n, [1.0, 1.0, 1.0])


def test_inplace_int_tensor_cannot_take_a_float_result():
    x = minicnn.tensor([1, 2])
    with pytest.raises(RuntimeError, match="can't be cast"):
        x += 0.5
    x += 1
    assert x.tolist() == [2, 3] and x.dtype == minicnn.int64


def test_inplace_on_a_non_leaf_is_recorded():
    x = minicnn.tensor([1.0, 2.0, 3.0], dtype=np.float64, requires_grad=True)
    y = x * 2
    y += x ** 2                   # y = 2x + x^2
    y[0] = 0.0                    # the first element no longer depends on x
    assert not y.is_leaf
    y.sum().backward()
    np.testing.assert_allclose(x.grad, [0.0, 2 + 2 * 2.0, 2 + 2 * 3.0])


def test_setitem_gradient_flows_to_the_value():
    x = minicnn.zeros(2, 3, dtype=minicnn.float64)
    v = minicnn.tensor([1.0, 2.0, 3.0], dtype=np.float64, requires_grad=True)
    x[1] = v * 2
    assert x.requires_grad
    (x * minicnn.tensor([[1.0, 1, 1], [1, 10, 100]], dtype=np.float64)).sum().backward()
    np.testing.assert_allclose(v.grad, [2.0, 20.0, 200.0])


def test_a_saved_tensor_changed_in_place_is_detected_by_backward():
    # PyTorch's version counter: never a silently wrong gradient
    x = minicnn.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1                     # a non-leaf
    z = y * y                     # MulFn saves y's array
    with minicnn.no_grad():
        y += 1                    # ... which changes here
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation.*Mul"):
        z.sum().backward()
    a = minicnn.tensor([1.0, 2.0], requires_grad=True)
    out = a.exp()                 # ExpFn saves its output
    out.add_(1)                   # recorded, but exp's saved output changed
    with pytest.raises(RuntimeError, match="its output"):
        out.sum().backward()
    b = minicnn.tensor([1.0, 2.0], requires_grad=True)
    s = b + 1                     # AddFn saves nothing: changing its input afterwards is fine
    c = b * 1
    c += 5
    s.sum().backward()
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])


# ---------------------------------------------------------------------------------------------
# Hooks, retain_grad, grad(), backward(), next_functions
# ---------------------------------------------------------------------------------------------

def test_retain_grad_and_register_hook():
    x = minicnn.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    seen = []
    handle = x.register_hook(lambda g: seen.append(g.tolist()) or g * 10)
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad, [6.0, 12.0])          # d(y^2)/dy = 2y
    assert seen == [[18.0, 36.0]]
    np.testing.assert_allclose(x.grad, [180.0, 360.0])       # the hook's replacement
    handle.remove()
    x.grad = None
    (x * 1).sum().backward()
    np.testing.assert_allclose(x.grad, [1.0, 1.0])


def test_autograd_grad_returns_gradients_without_touching_grad():
    x = minicnn.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    w = minicnn.tensor([3.0, 4.0], dtype=np.float64, requires_grad=True)
    out = (x * w).sum()
    gx, gw = autograd.grad(out, [x, w])
    np.testing.assert_allclose(gx.data, [3.0, 4.0])
    np.testing.assert_allclose(gw.data, [1.0, 2.0])
    assert x.grad is None and w.grad is None
    unused = minicnn.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        autograd.grad((x * 2).sum(), [x, unused])
    gx, gu = autograd.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gu is None and gx.tolist() == [2.0, 2.0]
    autograd.backward([(x * 2).sum(), (x * 3).sum()])
    np.testing.assert_allclose(x.grad, [5.0, 5.0])


def test_grad_fn_next_functions():
    a = minicnn.tensor([1.0], requires_grad=True)
    b = minicnn.tensor([2.0])
    y = (a * b).exp()
    (mul, _), = y.grad_fn.next_functions
    assert repr(mul).startswith("<MulBackward0 object at 0x") and mul.name() == "Mul"
    (acc, _), (none, _) = mul.next_functions
    assert repr(acc).startswith("<AccumulateGrad object at 0x") and acc.variable is a and none is None


def test_grad_fn_names_are_the_ones_pytorch_prints():
    # a learner's script prints them (print(loss.grad_fn), a tensor's grad_fn=<...>)
    F = minicnn.nn.functional
    x = minicnn.randn(4, 3, requires_grad=True)
    y, c = minicnn.rand(4, 3), minicnn.tensor([0, 1, 2, 0])
    names = {"MseLoss": F.mse_loss(x, y), "BinaryCrossEntropy": F.binary_cross_entropy(
                 x.sigmoid(), y), "BinaryCrossEntropyWithLogits": F.binary_cross_entropy_with_logits(
                 x, y), "NllLoss": F.cross_entropy(x, c), "Pow": x ** 2,
             "Addmm": F.linear(x, y, minicnn.zeros(4)), "Mm": F.linear(x, y),
             "View": minicnn.nn.Linear(3, 2)(x[0])}
    for name, out in names.items():
        assert repr(out.grad_fn).startswith(f"<{name}Backward0 object at 0x"), name
    assert F.nll_loss(x, c).grad_fn.name() == "NllLoss"
    indexing = {"Slice": [x[:2], x[0, :2], x[:], x[::2]], "Select": [x[0], x[:, 1], x[0, 1],
                x[0, :], x[..., 1]], "Unsqueeze": [x[None], x[0, None]],
                "Index": [x[[0, 1]], x[x > 0], x[1:, [0, 1]]]}
    for name, outs in indexing.items():
        assert [out.grad_fn.name() for out in outs] == [name] * len(outs)


# ---------------------------------------------------------------------------------------------
# Grad modes
# ---------------------------------------------------------------------------------------------

def test_bare_no_grad_decorator_set_grad_enabled_and_inference_mode():
    x = minicnn.tensor([1.0], requires_grad=True)

    @minicnn.no_grad
    def f(x):
        return x * 2

    @minicnn.inference_mode()
    def g(x):
        return x * 2

    assert not f(x).requires_grad and not g(x).requires_grad and minicnn.is_grad_enabled()
    with minicnn.set_grad_enabled(False):
        assert not (x * 2).requires_grad
        with minicnn.enable_grad():
            assert (x * 2).requires_grad
    assert minicnn.is_grad_enabled()
    minicnn.set_grad_enabled(False)
    try:
        assert not minicnn.is_grad_enabled()
    finally:
        minicnn.set_grad_enabled(True)
    with minicnn.inference_mode():
        assert minicnn.is_inference_mode_enabled() and not (x * 2).requires_grad
    with pytest.raises(TypeError, match="bool"):
        minicnn.set_grad_enabled("yes")

    @minicnn.set_grad_enabled(False)
    def h(x):
        return x * 2

    assert minicnn.is_grad_enabled() and not h(x).requires_grad and minicnn.is_grad_enabled()


# ---------------------------------------------------------------------------------------------
# Custom Functions written as in PyTorch (Tensors in, Tensors out)
# ---------------------------------------------------------------------------------------------

class MyReLU(minicnn.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return input.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        grad_input = grad_output.clone()
        grad_input[input < 0] = 0
        return grad_input


class ScaleBy(minicnn.autograd.Function):
    @staticmethod
    def forward(ctx, x, factor):
        ctx.factor = factor
        return x * factor

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output * ctx.factor, None, None   # a trailing None beyond the inputs


def test_tensor_level_custom_function_as_in_pytorch():
    x = minicnn.tensor([-1.0, 2.0, -3.0, 4.0], dtype=np.float64, requires_grad=True)
    y = MyReLU.apply(x)
    assert y.tolist() == [0.0, 2.0, 0.0, 4.0] and y.grad_fn.name() == "MyReLU"
    (y * minicnn.tensor([1.0, 2.0, 3.0, 4.0], dtype=np.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 2.0, 0.0, 4.0])
    z = minicnn.tensor([0.5, 1.5], dtype=np.float64, requires_grad=True)
    assert minicnn.gradcheck(lambda z: ScaleBy.apply(z, 3.0), (z,))
    assert minicnn.autograd.gradcheck is minicnn.gradcheck


def test_backward_returning_extra_non_none_gradients_is_an_error():
    class Bad(minicnn.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 1

        @staticmethod
        def backward(ctx, g):
            return g, g

    x = minicnn.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="beyond those must be None"):
        Bad.apply(x).sum().backward()


def test_to_dot_draws_every_node_with_shape_and_dtype():
    w = minicnn.tensor(np.ones((3, 2)), dtype=np.float64, requires_grad=True)
    x = minicnn.tensor(np.ones((4, 3), np.float64))
    loss = (x @ w).relu().sum()
    text = minicnn.autograd.to_dot(loss, {"weight": w})
    assert text.startswith("digraph autograd {") and text.rstrip().endswith("}")
    assert 'weight\\n(3, 2) float64"' in text and 'constant\\n(4, 3) float64"' in text
    for op, shape in (("Mm", "(4, 2) float64"), ("Relu", "(4, 2) float64"),
                      ("Sum", "() float64")):
        assert f"{op}\\n{shape}" in text
    assert text.count("->") == 4 and "style=dashed" in text
    loss.backward()
    with pytest.raises(RuntimeError, match="freed"):
        minicnn.autograd.to_dot(loss)


def test_render_needs_graphviz_or_says_so(tmp_path):
    x = minicnn.tensor([1.0], requires_grad=True)
    try:
        import graphviz  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install graphviz"):
            minicnn.autograd.render(x * 2, tmp_path / "g")
    else:  # pragma: no cover - graphviz is optional
        pytest.skip("graphviz is installed; drawing needs the Graphviz program too")


def test_module_to_device_and_dtype_as_pytorch():
    import minicnn.nn as nn
    model = nn.Linear(3, 2)
    device = minicnn.device("cuda" if minicnn.cuda.is_available() else "cpu")
    assert model.to(device) is model and model.to("cpu") is model and model.cpu() is model
    assert model.to("cpu", minicnn.double).weight.dtype == minicnn.float64
    assert model.to(dtype=minicnn.float32).weight.dtype == minicnn.float32
    with pytest.raises(RuntimeError, match="CPU only"):
        model.to("cuda")
    with pytest.raises(RuntimeError, match="CPU only"):
        model.cuda()


def test_fill_and_copy_replace_nan_and_inf():
    x = minicnn.tensor([np.nan, np.inf, 1.0])
    assert x.fill_(2.0).tolist() == [2.0, 2.0, 2.0]
    y = minicnn.tensor([np.nan, -np.inf])
    assert y.copy_(minicnn.tensor([1, 2])).tolist() == [1.0, 2.0] and y.dtype == minicnn.float32
    z = minicnn.tensor([[np.nan, 0.0], [1.0, 2.0]])
    assert z.zero_().tolist() == [[0.0, 0.0], [0.0, 0.0]]
    src = minicnn.tensor([3.0, 4.0], requires_grad=True)
    w = minicnn.zeros(2, 2)
    w.copy_(src * 2)                                  # broadcast, and recorded
    w.sum().backward()
    np.testing.assert_array_equal(src.grad, [4.0, 4.0])


def test_recorded_inplace_ops_that_save_their_input_still_backward():
    # y *= w saves y's old values for d/dw: they must be the old ones, and not "modified"
    x = minicnn.tensor([1.0, 2.0], dtype=minicnn.float64, requires_grad=True)
    w = minicnn.tensor([3.0, 5.0], dtype=minicnn.float64, requires_grad=True)
    y = x * 2
    y *= w                      # y = 2 x w
    y **= 2                     # y = 4 x^2 w^2
    y.sum().backward()
    xa, wa = x.detach().numpy(), w.detach().numpy()
    np.testing.assert_allclose(x.grad, 8 * xa * wa ** 2)
    np.testing.assert_allclose(w.grad, 8 * xa ** 2 * wa)
    z = minicnn.zeros(2, dtype=minicnn.float64)
    z += w                      # a tensor without grad becomes part of the graph
    z *= w
    z.sum().backward()
    np.testing.assert_allclose(w.grad, 8 * xa ** 2 * wa + 2 * wa)


def test_shape_and_matmul_grad_fn_names_are_pytorchs():
    x = minicnn.randn(3, 4, requires_grad=True)
    names = {"T": [x.t(), minicnn.t(x)], "Transpose": [x.transpose(0, 1), x.mT],
             "Permute": [x.permute(1, 0), x.T], "View": [x.view(-1), x.reshape(4, 3),
             x.flatten()], "UnsafeView": [x.t().reshape(-1)], "Unsqueeze": [x.unsqueeze(0)],
             "Squeeze": [x[None].squeeze()], "Clone": [x.t().contiguous()],
             "Mm": [x @ x.t(), minicnn.mm(x, x.t())], "Mv": [x @ x[0]], "Dot": [x[0] @ x[0]]}
    for name, outs in names.items():
        assert [out.grad_fn.name() for out in outs] == [name] * len(outs), name
    with pytest.raises(RuntimeError, match="t\\(\\) expects a tensor with <= 2 dimensions"):
        minicnn.ones(2, 2, 2).t()
