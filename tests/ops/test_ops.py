"""minicnn.ops: each op against a NumPy oracle and a float64 gradcheck (opt-in: against PyTorch)."""
import math

import numpy as np
import pytest

import minicnn
import minicnn.nn.functional as F
from minicnn import ops


def _gelu_oracle(x, approximate):
    """GELU written from its definition, one element at a time with math.erf / math.tanh."""
    if approximate == "tanh":
        f = lambda v: 0.5 * v * (1 + math.tanh(math.sqrt(2 / math.pi) * (v + 0.044715 * v ** 3)))
    else:
        f = lambda v: v * 0.5 * (1 + math.erf(v / math.sqrt(2)))
    return np.vectorize(f)(x)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gelu_vs_numpy_oracle(rng, approximate, dtype):
    x = rng.standard_normal((64, 5)).astype(dtype) * 3
    y = F.gelu(minicnn.tensor(x, dtype=dtype), approximate=approximate)
    assert y.dtype == dtype and y.shape == x.shape
    np.testing.assert_allclose(y.data, _gelu_oracle(x.astype(np.float64), approximate),
                               rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-6)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_gelu_gradcheck(rng, approximate):
    x = minicnn.tensor(rng.standard_normal((4, 6)) * 2, dtype=np.float64, requires_grad=True)
    assert minicnn.gradcheck(lambda x: ops.gelu(x, approximate), (x,))


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(minicnn.tensor([1.0]), approximate="erf")


def test_gelu_matches_torch(rng):
    torch = pytest.importorskip("torch", reason="opt-in comparison: torch is not installed")
    x = rng.standard_normal((8, 7))
    for approximate in ("none", "tanh"):
        t = torch.tensor(x, requires_grad=True)
        torch.nn.functional.gelu(t, approximate=approximate).sum().backward()
        m = minicnn.tensor(x, dtype=np.float64, requires_grad=True)
        F.gelu(m, approximate=approximate).sum().backward()
        np.testing.assert_allclose(m.grad, t.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_gelu_module_matches_the_function(rng):
    import minicnn.nn as nn
    x = minicnn.tensor(rng.standard_normal((3, 4)))
    for approximate in ("none", "tanh"):
        layer = nn.GELU(approximate)
        np.testing.assert_array_equal(layer(x).data, F.gelu(x, approximate).data)
        assert repr(layer) == f"GELU(approximate={approximate!r})"
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("erf")


# ---------------------------------------------------------------------------------------------
# The tensor surface: every differentiable op against a NumPy oracle, with a float64 gradcheck
# ---------------------------------------------------------------------------------------------

def _t(rng, *shape, positive=False):
    a = rng.standard_normal(shape)
    a = np.abs(a) + 0.5 if positive else a
    return minicnn.tensor(a, dtype=np.float64, requires_grad=True)


# name -> (op on Tensors, the same on ndarrays, input builder)
DIFFERENTIABLE = {
    "sin": (lambda x: x.sin(), np.sin, lambda r: (_t(r, 3, 4),)),
    "cos": (lambda x: minicnn.cos(x), np.cos, lambda r: (_t(r, 3, 4),)),
    "clamp": (lambda x: x.clamp(-0.5, 0.7), lambda a: np.clip(a, -0.5, 0.7),
              lambda r: (_t(r, 4, 5),)),
    "clamp_min": (lambda x: minicnn.clamp(x, min=0.1), lambda a: np.maximum(a, 0.1),
                  lambda r: (_t(r, 4, 5),)),
    "clone": (lambda x: x.clone(), np.copy, lambda r: (_t(r, 2, 3),)),
    "var": (lambda x: x.var(1), lambda a: a.var(1, ddof=1), lambda r: (_t(r, 3, 5),)),
    "var_all_biased": (lambda x: x.var(unbiased=False), np.var, lambda r: (_t(r, 3, 5),)),
    "std": (lambda x: x.std(0, keepdim=True), lambda a: a.std(0, ddof=1, keepdims=True),
            lambda r: (_t(r, 4, 3),)),
    "prod": (lambda x: x.prod(1), lambda a: a.prod(1), lambda r: (_t(r, 3, 4),)),
    "prod_all": (lambda x: x.prod(), np.prod, lambda r: (_t(r, 2, 3),)),
    "norm": (lambda x: x.norm(), np.linalg.norm, lambda r: (_t(r, 3, 4),)),
    "norm_dim": (lambda x: x.norm(dim=1), lambda a: np.linalg.norm(a, axis=1),
                 lambda r: (_t(r, 3, 4),)),
    "norm_p1": (lambda x: x.norm(p=1), lambda a: np.abs(a).sum(), lambda r: (_t(r, 3, 4),)),
    "cumsum": (lambda x: x.cumsum(1), lambda a: np.cumsum(a, 1), lambda r: (_t(r, 3, 4),)),
    "logsumexp": (lambda x: x.logsumexp(1), lambda a: np.log(np.exp(a).sum(1)),
                  lambda r: (_t(r, 3, 4),)),
    "cat": (lambda x, y: minicnn.cat([x, y], dim=1), lambda a, b: np.concatenate([a, b], 1),
            lambda r: (_t(r, 2, 3), _t(r, 2, 2))),
    "stack": (lambda x, y: minicnn.stack((x, y), dim=-1), lambda a, b: np.stack([a, b], -1),
              lambda r: (_t(r, 2, 3), _t(r, 2, 3))),
    "where": (lambda x, y: minicnn.where(x > 0, x, y), lambda a, b: np.where(a > 0, a, b),
              lambda r: (_t(r, 3, 4), _t(r, 1, 4))),
    "gather": (lambda x: x.gather(1, minicnn.tensor([[0, 0], [2, 1], [1, 2]])),
               lambda a: np.take_along_axis(a, np.array([[0, 0], [2, 1], [1, 2]]), 1),
               lambda r: (_t(r, 3, 3),)),
    "masked_fill": (lambda x: x.masked_fill(x < 0, 2.0), lambda a: np.where(a < 0, 2.0, a),
                    lambda r: (_t(r, 3, 4),)),
    "expand": (lambda x: x.expand(3, -1, 4), lambda a: np.broadcast_to(a, (3, 2, 4)),
               lambda r: (_t(r, 2, 1),)),
    "repeat": (lambda x: x.repeat(2, 3), lambda a: np.tile(a, (2, 3)), lambda r: (_t(r, 2, 3),)),
    "repeat_new_dim": (lambda x: x.repeat(2, 1, 2), lambda a: np.tile(a, (2, 1, 2)),
                       lambda r: (_t(r, 2, 3),)),
    "flip": (lambda x: x.flip((0, 1)), lambda a: np.flip(a, (0, 1)), lambda r: (_t(r, 2, 3),)),
    "split": (lambda x: x.split(2, dim=1)[1], lambda a: a[:, 2:4], lambda r: (_t(r, 2, 5),)),
    "chunk": (lambda x: minicnn.chunk(x, 3, 1)[2], lambda a: a[:, 4:], lambda r: (_t(r, 2, 5),)),
    "maximum": (lambda x, y: minicnn.maximum(x, y), np.maximum,
                lambda r: (_t(r, 3, 4), _t(r, 3, 4))),
    "minimum": (lambda x, y: minicnn.minimum(x, y), np.minimum,
                lambda r: (_t(r, 3, 4), _t(r, 4))),
    "pow_tensor": (lambda x, y: x ** y, np.power,
                   lambda r: (_t(r, 3, positive=True), _t(r, 3))),
    "abs": (lambda x: minicnn.abs(x), np.abs, lambda r: (_t(r, 3, 4),)),
}


@pytest.mark.parametrize("name", sorted(DIFFERENTIABLE))
def test_tensor_op_vs_numpy_and_gradcheck(name, rng):
    op, oracle, make = DIFFERENTIABLE[name]
    inputs = make(rng)
    out = op(*inputs)
    np.testing.assert_allclose(out.data, oracle(*[t.detach().numpy() for t in inputs]),
                               rtol=1e-12, atol=1e-12)
    assert out.dtype == minicnn.float64
    assert minicnn.gradcheck(op, inputs)


def test_var_std_logsumexp_edge_cases():
    x = minicnn.tensor([[-np.inf, -np.inf], [1000.0, 1000.0]], dtype=np.float64)
    np.testing.assert_allclose(x.logsumexp(1).data, [-np.inf, 1000 + np.log(2)])
    one = minicnn.tensor([3.0])
    assert np.isnan(one.var().item())                     # n - 1 = 0, as PyTorch
    assert one.var(correction=0).item() == 0.0
    z = minicnn.zeros(3, requires_grad=True)
    z.norm().backward()
    np.testing.assert_array_equal(z.grad, [0.0, 0.0, 0.0])  # 0 at the kink, not NaN


def test_prod_gradient_with_zeros():
    x = minicnn.tensor([2.0, 0.0, 3.0], dtype=np.float64, requires_grad=True)
    x.prod().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 6.0, 0.0])


def test_cat_stack_split_errors_name_the_problem():
    a, b = minicnn.zeros(2, 3), minicnn.zeros(3, 3)
    with pytest.raises(ValueError, match="must match except in dimension 1"):
        minicnn.cat([a, b], dim=1)
    with pytest.raises(ValueError, match="equal size"):
        minicnn.stack([a, b])
    with pytest.raises(TypeError, match="list or tuple"):
        minicnn.cat(a)
    with pytest.raises(IndexError, match="dim"):
        minicnn.cat([a, a], dim=2)
    with pytest.raises(ValueError, match="sum to"):
        a.split([1, 1], dim=1)
    assert [t.shape[1] for t in a.split([1, 2], dim=1)] == [1, 2]
    assert [tuple(t.shape) for t in minicnn.zeros(5, 2).chunk(2)] == [(3, 2), (2, 2)]
    assert len(minicnn.zeros(2, 3).unbind(1)) == 3
    with pytest.raises(IndexError, match="out of range"):
        a.gather(1, minicnn.tensor([[3], [0]]))
    with pytest.raises(TypeError, match="bool"):
        minicnn.where(minicnn.tensor([1, 0]), a, b)


def test_comparisons_argmax_all_any():
    x = minicnn.tensor([[1.0, 5.0, 5.0], [7.0, 2.0, 3.0]])
    for name, fn in [("eq", np.equal), ("ne", np.not_equal), ("lt", np.less),
                     ("le", np.less_equal), ("gt", np.greater), ("ge", np.greater_equal)]:
        out = getattr(minicnn, name)(x, 3.0)
        assert out.dtype == minicnn.bool and not out.requires_grad
        np.testing.assert_array_equal(out.data, fn(x.numpy(), 3.0))
        np.testing.assert_array_equal(getattr(x, name)(x.T.T).data, fn(x.numpy(), x.numpy()))
    assert x.argmax().item() == 3 and x.argmax(1).tolist() == [1, 0]   # first of a tie
    assert x.argmin(dim=0, keepdim=True).tolist() == [[0, 1, 1]]
    assert (x > 0).all().item() and not (x > 6).all().item() and (x > 6).any().item()
    assert (x > 4).any(1).tolist() == [True, True]
    assert minicnn.equal(x, x.clone()) and not minicnn.equal(x, x[:1])
    assert ((x > 2) & (x < 6)).tolist() == [[False, True, True], [False, False, True]]
    assert (~(x > 2)).tolist() == [[True, False, False], [False, True, False]]
    assert minicnn.isnan(minicnn.tensor([np.nan, 1.0])).tolist() == [True, False]


# ---------------------------------------------------------------------------------------------
# Creation, dtypes and devices
# ---------------------------------------------------------------------------------------------

def test_factories_shapes_dtypes_and_seeding():
    assert minicnn.zeros(2, 3).shape == (2, 3) == minicnn.zeros((2, 3)).shape
    assert minicnn.zeros(2, dtype=minicnn.long).dtype == minicnn.int64
    assert minicnn.ones([2]).tolist() == [1.0, 1.0]
    assert minicnn.full((2,), 7).dtype == minicnn.int64
    assert minicnn.full((2,), 0.5).dtype == minicnn.float32
    assert minicnn.empty(3, 1).shape == (3, 1)
    assert minicnn.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert minicnn.arange(5).dtype == minicnn.int64 and minicnn.arange(0, 1, 0.5).dtype == \
        minicnn.float32
    np.testing.assert_allclose(minicnn.linspace(0, 1, 5).data, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_array_equal(minicnn.eye(2, 3).data, np.eye(2, 3))
    x = minicnn.tensor([[1, 2]])
    assert minicnn.ones_like(x).dtype == minicnn.int64
    assert minicnn.rand_like(x, dtype=minicnn.float).dtype == minicnn.float32
    assert minicnn.zeros_like(x, dtype=minicnn.double).dtype == minicnn.float64
    minicnn.manual_seed(3)
    a = (minicnn.rand(3), minicnn.randn(2, 2), minicnn.randint(0, 10, (4,)),
         minicnn.randint(5, (2,)), minicnn.randperm(4))
    minicnn.manual_seed(3)
    b = (minicnn.rand(3), minicnn.randn(2, 2), minicnn.randint(0, 10, (4,)),
         minicnn.randint(5, (2,)), minicnn.randperm(4))
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u.data, v.data)
    assert a[2].dtype == minicnn.int64 and 0 <= a[2].min().item() and a[2].max().item() < 10
    assert sorted(a[4].tolist()) == [0, 1, 2, 3]
    with pytest.raises(TypeError, match="floating"):
        minicnn.rand(2, dtype=minicnn.long)
    with pytest.raises(ValueError, match="high"):
        minicnn.randint(3, 3, (2,))


def test_from_numpy_and_as_tensor_share_memory():
    n = np.arange(3.0)
    t = minicnn.from_numpy(n)
    assert t.dtype == minicnn.float64 and t.numpy() is n
    n[0] = 9
    assert t[0].item() == 9
    assert minicnn.as_tensor(n).numpy() is n
    assert minicnn.as_tensor([1, 2]).dtype == minicnn.int64
    with pytest.raises(TypeError, match="ndarray"):
        minicnn.from_numpy([1, 2])


def test_dtypes_devices_and_conversions():
    x = minicnn.tensor([1.5, 2.5])
    assert x.dtype == minicnn.float32 == np.float32 and repr(x.dtype) == "minicnn.float32"
    assert minicnn.float is minicnn.float32 and minicnn.double is minicnn.float64
    assert minicnn.long is minicnn.int64
    assert x.double().dtype == minicnn.float64 and x.long().tolist() == [1, 2]
    assert x.to(minicnn.float64).dtype == minicnn.float64 and x.to("cpu") is x
    assert x.to("cpu", minicnn.double).dtype == minicnn.float64
    assert x.to(minicnn.tensor([1], dtype=minicnn.int32)).dtype == minicnn.int32
    assert x.type() == "minicnn.FloatTensor" and x.long().type() == "minicnn.LongTensor"
    assert x.type(minicnn.double).dtype == minicnn.float64
    assert x.cpu() is x and x.device == minicnn.device("cpu") and str(x.device) == "cpu"
    assert minicnn.zeros(2, device="cpu").device.type == "cpu"
    for bad in ("cuda", "cuda:0", "mps"):
        with pytest.raises(RuntimeError, match="CPU only"):
            minicnn.zeros(2, device=bad)
        with pytest.raises(RuntimeError, match="CPU only"):
            x.to(bad)
    with pytest.raises(RuntimeError, match="CPU only"):
        x.cuda()
    assert not minicnn.cuda.is_available()
    y = minicnn.tensor([1.0, 2.0], requires_grad=True)
    y.double().sum().backward()                       # a differentiable cast
    assert y.grad.dtype == np.float32
    with pytest.raises(TypeError, match="dtype"):
        x.to(object())


def test_tensor_python_protocols():
    s = minicnn.tensor(3)
    assert [10, 20, 30, 40][s] == 40 and f"{minicnn.tensor(0.5):.2f}" == "0.50"
    assert list(range(10))[minicnn.tensor(1):minicnn.tensor(3)] == [1, 2]
    with pytest.raises(TypeError, match="index"):
        [1, 2][minicnn.tensor(1.0)]
    with pytest.raises(TypeError, match="0-d"):
        len(s)
    with pytest.raises(TypeError, match="0-d"):
        iter(s)
    x = minicnn.tensor([[1, 2], [3, 4]])
    assert [row.tolist() for row in x] == [[1, 2], [3, 4]]
    assert x.tolist() == [[1, 2], [3, 4]] and x.numel() == 4 and x.size(-1) == 2
    assert x.size() == (2, 2) and repr(x.size()) == "minicnn.Size([2, 2])"
    assert x.view_as(minicnn.zeros(4)).shape == (4,) and x.dim() == 2
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x)
    with pytest.raises(IndexError, match="dim"):
        x.size(2)
    # .data is a tensor (cut from the graph), as in PyTorch; numpy() is the ndarray
    assert minicnn.is_tensor(x) and minicnn.is_tensor(x.data) and not minicnn.is_tensor(x.numpy())


def test_repr_prints_as_pytorch():
    assert repr(minicnn.tensor([5.5, 3])) == "tensor([5.5000, 3.0000])"
    assert repr(minicnn.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(minicnn.tensor([[1, 2], [30, 4]])) == "tensor([[ 1,  2],\n        [30,  4]])"
    assert repr(minicnn.tensor([True, False])) == "tensor([ True, False])"
    assert repr(minicnn.tensor(0.5)) == "tensor(0.5000)"
    assert repr(minicnn.tensor([1.0], dtype=minicnn.double)) == \
        "tensor([1.], dtype=minicnn.float64)"
    assert repr(minicnn.tensor([1.0e-5, 1.0])) == "tensor([1.0000e-05, 1.0000e+00])"
    assert repr(minicnn.ones(2, requires_grad=True)) == "tensor([1., 1.], requires_grad=True)"


def test_repr_lays_out_rows_and_suffixes_as_pytorch():
    # as many elements a row as fit in 80 columns after the indent (8 of width 7 here: 84
    # characters with the brackets), the suffix on its own line when the last would pass 80
    row = [0.2045, -0.0965, -0.2826, 0.0806, 0.2643, 0.0454, -0.0901, 0.0860]
    text = ("[[ 0.2045, -0.0965, -0.2826,  0.0806,  0.2643,  0.0454, -0.0901,  0.0860]]")
    assert repr(minicnn.tensor([row])) == f"tensor({text})"
    assert repr(minicnn.tensor([row], requires_grad=True)) == \
        f"tensor({text},\n       requires_grad=True)"
    assert repr(minicnn.tensor([[1.5] * 9])) == (
        "tensor([[1.5000, 1.5000, 1.5000, 1.5000, 1.5000, 1.5000, 1.5000, 1.5000, 1.5000]])")
    # over 1,000 elements: the first and last three along each dimension, widths from those
    x = minicnn.arange(3000).reshape(30, 100)
    assert repr(x) == ("tensor([[   0,    1,    2,  ...,   97,   98,   99],\n"
                       "        [ 100,  101,  102,  ...,  197,  198,  199],\n"
                       "        [ 200,  201,  202,  ...,  297,  298,  299],\n"
                       "        ...,\n"
                       "        [2700, 2701, 2702,  ..., 2797, 2798, 2799],\n"
                       "        [2800, 2801, 2802,  ..., 2897, 2898, 2899],\n"
                       "        [2900, 2901, 2902,  ..., 2997, 2998, 2999]])")
    assert repr(minicnn.zeros(2, 2, 1)) == ("tensor([[[0.],\n         [0.]],\n\n"
                                            "        [[0.],\n         [0.]]])")
    assert repr(minicnn.zeros(0, 3)) == "tensor([], size=(0, 3))"


TORCH_CASES = {  # name -> (minicnn op, the same in torch)
    "var": (lambda m: m.var(1), lambda t: t.var(1)),
    "std_biased": (lambda m: m.std(0, unbiased=False), lambda t: t.std(0, unbiased=False)),
    "logsumexp": (lambda m: m.logsumexp(1), lambda t: t.logsumexp(1)),
    "cumsum": (lambda m: m.cumsum(0), lambda t: t.cumsum(0)),
    "prod": (lambda m: m.prod(1), lambda t: t.prod(1)),
    "norm": (lambda m: m.norm(), lambda t: t.norm()),
    "clamp": (lambda m: m.clamp(-0.3, 0.4), lambda t: t.clamp(-0.3, 0.4)),
    "where": (lambda m: minicnn.where(m > 0, m, m * 2), lambda t: t.where(t > 0, t * 2)),
    "cat": (lambda m: minicnn.cat([m, m * 2], 1),
            lambda t: __import__("torch").cat([t, t * 2], 1)),
    "gather": (lambda m: m.gather(1, minicnn.tensor([[2, 0], [1, 1], [0, 3]])),
               lambda t: t.gather(1, __import__("torch").tensor([[2, 0], [1, 1], [0, 3]]))),
    "max_dim": (lambda m: m.max(1).values, lambda t: t.max(1).values),
    "amax": (lambda m: m.amax(0), lambda t: t.amax(0)),
    "flip_repeat": (lambda m: m.flip(1).repeat(2, 1), lambda t: t.flip(1).repeat(2, 1)),
    "gelu": (lambda m: F.gelu(m), lambda t: __import__("torch").nn.functional.gelu(t)),
}


@pytest.mark.parametrize("name", sorted(TORCH_CASES))
def test_tensor_op_matches_torch(name, rng):
    torch = pytest.importorskip("torch", reason="opt-in comparison: torch is not installed")
    ours, theirs = TORCH_CASES[name]
    data = rng.standard_normal((3, 4))
    data[0, 1] = data[0, 2]                      # a tie, for max/amax
    m = minicnn.tensor(data, dtype=np.float64, requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    out_m, out_t = ours(m), theirs(t)
    np.testing.assert_allclose(out_m.data, out_t.detach().numpy(), rtol=1e-12, atol=1e-13)
    g = rng.standard_normal(out_m.shape)
    (out_m * minicnn.tensor(g, dtype=np.float64)).sum().backward()
    (out_t * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(m.grad, t.grad.numpy(), rtol=1e-12, atol=1e-13)


def test_tensor_power_gradients_at_zero_as_pytorch():
    # d(a^b)/db = a^b log a is 0 * -inf at a = 0: PyTorch gives 0 there (for b >= 0), and
    # d(a^b)/da is 0 where b = 0, not 0 * 0^-1
    a = minicnn.tensor([0.0, 0.0, 2.0, 0.0], dtype=np.float64, requires_grad=True)
    b = minicnn.tensor([2.0, 0.0, 3.0, 0.5], dtype=np.float64, requires_grad=True)
    with np.errstate(all="raise"):
        (a ** b).sum().backward()
    np.testing.assert_array_equal(b.grad[:2], [0.0, 0.0])
    np.testing.assert_allclose(b.grad[2], 8 * np.log(2))
    np.testing.assert_array_equal(a.grad[:3], [0.0, 0.0, 12.0])
    assert a.grad[3] == np.inf                            # 0.5 * 0^-0.5, as PyTorch
    torch = pytest.importorskip("torch", reason="opt-in comparison: torch is not installed")
    ta = torch.tensor([0.0, 0.0, 2.0, 0.0], dtype=torch.float64, requires_grad=True)
    tb = torch.tensor([2.0, 0.0, 3.0, 0.5], dtype=torch.float64, requires_grad=True)
    (ta ** tb).sum().backward()
    np.testing.assert_array_equal(a.grad, ta.grad.numpy())
    np.testing.assert_array_equal(b.grad, tb.grad.numpy())


def test_shape_errors_name_the_op_and_the_sizes_as_pytorch():
    a, b = minicnn.zeros(2, 3), minicnn.zeros(4)
    with pytest.raises(RuntimeError, match=r"add: the size of tensor a \(3\) must match the "
                                           r"size of tensor b \(4\) at non-singleton dimension 1"):
        a + b
    with pytest.raises(RuntimeError, match="mul: the size"):
        b * a
    with pytest.raises(RuntimeError, match=r"cannot be multiplied \(2x3 and 4x1"):
        a @ b
    with pytest.raises(RuntimeError, match=r"shape \[4, 2\] is invalid for input of size 6"):
        a.view(4, 2)
    with pytest.raises(RuntimeError, match="invalid"):
        a.reshape(-1, -1)
    assert a.view(-1, 2).shape == (3, 2) and (a + minicnn.zeros(1, 3)).shape == (2, 3)


def test_scatter_into_a_vector_takes_a_0d_index():
    # the "Transforms" tutorial's one-hot label: zeros(10).scatter_(0, tensor(y), value=1)
    hot = minicnn.zeros(10).scatter_(0, minicnn.tensor(3), value=1)
    assert hot.tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    added = minicnn.zeros(4).scatter_add(0, minicnn.tensor(1), minicnn.tensor(2.0))
    assert added.tolist() == [0, 2, 0, 0]
    with pytest.raises(ValueError, match="as many dimensions"):
        minicnn.zeros(2, 3).scatter_(0, minicnn.tensor(1), value=1)
