"""Linear algebra (minicnn/ops/linalg.py, contraction.py, minicnn/linalg.py): every op against a
NumPy oracle and float64 gradcheck over random shapes (batch dimensions, empty and 0-d where the
op allows them), einsum over random equations of up to 6 operands, PyTorch's dtype rules and
errors; and, when torch is importable, values, gradients, dtypes and errors against PyTorch."""
import math
import string

import numpy as np
import pytest

import minicnn
import minicnn.linalg
from minicnn.gradcheck import gradcheck

inf = math.inf


def _t(array, grad=True):
    return minicnn.tensor(np.asarray(array, dtype=np.float64), requires_grad=grad)


def _check(fn, arrays, expected, rtol=1e-10, atol=1e-12, grad=True):
    """fn on float64 tensors of ``arrays``: the values are ``expected``, the gradients pass
    gradcheck."""
    inputs = [_t(a) for a in arrays]
    out = fn(*inputs)
    assert out.dtype == minicnn.float64
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=rtol, atol=atol)
    assert out.requires_grad
    if grad:
        assert gradcheck(fn, inputs)


def _draw(rng, *shapes):
    return [rng.standard_normal(s) for s in shapes]


# --- matrix products --------------------------------------------------------------------------

@pytest.mark.parametrize("b,n,m,p", [(2, 3, 4, 5), (1, 1, 1, 1), (0, 2, 3, 4), (3, 0, 2, 2),
                                     (2, 2, 0, 3), (4, 3, 2, 0)])
def test_bmm_vs_numpy(rng, b, n, m, p):
    x, y = _draw(rng, (b, n, m), (b, m, p))
    _check(minicnn.bmm, [x, y], x @ y)


@pytest.mark.parametrize("n,m", [(3, 4), (1, 1), (0, 3), (3, 0)])
def test_mv_vs_numpy(rng, n, m):
    a, v = _draw(rng, (n, m), (m,))
    _check(minicnn.mv, [a, v], a @ v)


@pytest.mark.parametrize("n", [5, 1, 0])
def test_vdot_vs_numpy(rng, n):
    a, b = _draw(rng, (n,), (n,))
    _check(minicnn.vdot, [a, b], np.vdot(a, b))


@pytest.mark.parametrize("c_shape", [(3, 5), (5,), (1, 5), (3, 1), ()])
@pytest.mark.parametrize("beta,alpha", [(1, 1), (0.5, -2.0), (0, 3)])
def test_addmm_vs_numpy(rng, c_shape, beta, alpha):
    c, a, b = _draw(rng, c_shape, (3, 4), (4, 5))
    _check(lambda c, a, b: minicnn.addmm(c, a, b, beta=beta, alpha=alpha), [c, a, b],
           beta * c + alpha * (a @ b))


def test_addmm_beta_zero_ignores_nan_and_inf_in_input():
    c = minicnn.tensor([[math.nan, inf], [-inf, 1.0]], requires_grad=True)
    a = minicnn.ones(2, 3)
    out = minicnn.addmm(c, a, a.t(), beta=0)
    np.testing.assert_array_equal(out.detach().numpy(), np.full((2, 2), 3.0))
    out.sum().backward()
    np.testing.assert_array_equal(c.grad.numpy(), np.zeros((2, 2)))


@pytest.mark.parametrize("c_shape", [(3,), (1,), ()])
def test_addmv_vs_numpy(rng, c_shape):
    c, a, v = _draw(rng, c_shape, (3, 4), (4,))
    _check(lambda c, a, v: minicnn.addmv(c, a, v, beta=-0.5, alpha=2), [c, a, v],
           -0.5 * c + 2 * (a @ v))


@pytest.mark.parametrize("c_shape", [(2, 3, 5), (3, 5), (5,), (2, 1, 1), ()])
def test_baddbmm_vs_numpy(rng, c_shape):
    c, x, y = _draw(rng, c_shape, (2, 3, 4), (2, 4, 5))
    _check(lambda c, x, y: minicnn.baddbmm(c, x, y, beta=2, alpha=0.5), [c, x, y],
           2 * c + 0.5 * (x @ y))


@pytest.mark.parametrize("b", [3, 1, 0])
def test_addbmm_vs_numpy(rng, b):
    c, x, y = _draw(rng, (3, 5), (b, 3, 4), (b, 4, 5))
    _check(lambda c, x, y: minicnn.addbmm(c, x, y, beta=0.5, alpha=3), [c, x, y],
           0.5 * c + 3 * (x @ y).sum(0))


@pytest.mark.parametrize("c_shape", [(3, 4), (4,), ()])
def test_addr_vs_numpy(rng, c_shape):
    c, u, v = _draw(rng, c_shape, (3,), (4,))
    _check(lambda c, u, v: minicnn.addr(c, u, v, beta=2, alpha=-1), [c, u, v],
           2 * c - np.outer(u, v))


@pytest.mark.parametrize("n,m", [(3, 4), (1, 1), (0, 2)])
def test_outer_and_ger_vs_numpy(rng, n, m):
    u, v = _draw(rng, (n,), (m,))
    _check(minicnn.outer, [u, v], np.outer(u, v))
    _check(minicnn.ger, [u, v], np.outer(u, v))


@pytest.mark.parametrize("a_shape,b_shape", [((2, 3), (2, 2)), ((3,), (2, 2, 2)), ((), (2, 3)),
                                             ((2, 1, 3), (2, 4)), ((0, 2), (3, 1))])
def test_kron_vs_numpy(rng, a_shape, b_shape):
    a, b = _draw(rng, a_shape, b_shape)
    _check(minicnn.kron, [a, b], np.kron(a, b))


@pytest.mark.parametrize("a_shape,b_shape,dims", [
    ((3, 4, 5), (4, 5, 2), 2), ((3, 4), (4, 2), 1), ((2, 3), (4,), 0), ((3, 4), (3, 4), 2),
    ((3, 4, 5), (5, 3, 2), ([0, 2], [1, 0])), ((3, 4), (2, 4), ([-1], [-1])),
    ((2, 3), (3, 2), (1, 0)), ((0, 3), (3, 2), 1), ((2, 0), (0, 2), 1)])
def test_tensordot_vs_numpy(rng, a_shape, b_shape, dims):
    a, b = _draw(rng, a_shape, b_shape)
    _check(lambda a, b: minicnn.tensordot(a, b, dims), [a, b], np.tensordot(a, b, dims))


@pytest.mark.parametrize("a_shape,b_shape", [((3, 4), (2, 4)), ((4,), (4,)), ((2, 3, 4), (4,)),
                                             ((), (2, 3)), ((2,), ()), ((0, 3), (2, 3))])
def test_inner_vs_numpy(rng, a_shape, b_shape):
    a, b = _draw(rng, a_shape, b_shape)
    _check(minicnn.inner, [a, b], np.inner(a, b))


# --- einsum --------------------------------------------------------------------------------

EINSUM_CASES = [  # equation, operand shapes, NumPy's equation where it differs
    ("ij,jk->ik", [(3, 4), (4, 5)], None),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)], None),
    ("ij,jk", [(3, 4), (4, 5)], None),
    ("ba,cb", [(3, 2), (4, 3)], None),
    ("bA,cb", [(3, 2), (4, 3)], None),
    ("ii->i", [(4, 4)], None),
    ("ii", [(4, 4)], None),
    ("iij,jk->ik", [(3, 3, 2), (2, 4)], None),
    ("ij->", [(3, 4)], None),
    ("ij->ji", [(3, 4)], None),
    ("i,j->ij", [(3,), (4,)], None),
    ("i,i,i->i", [(5,), (5,), (5,)], None),
    ("ij,ij->", [(3, 4), (3, 4)], None),
    ("ijk,ikl,lm,m->ij", [(2, 3, 4), (2, 4, 5), (5, 3), (3,)], None),
    ("ab,bc,cd,de,ef,fg->ag", [(2, 3), (3, 2), (2, 4), (4, 2), (2, 3), (3, 2)], None),
    ("ij,jk,k,kl->il", [(2, 3), (3, 4), (4,), (4, 2)], None),
    ("...ij,...jk->...ik", [(5, 1, 3, 2), (4, 2, 4)], "abij,bjk->abik"),
    ("...ij->ij", [(5, 3, 2)], "aij->ij"),
    ("...ij->j", [(5, 3, 2)], "aij->j"),
    ("i...j->...", [(3, 4, 5, 2)], "iabj->ab"),
    ("ij->...ij", [(3, 2)], "ij->ij"),
    ("...ij,jk", [(5, 3, 2), (2, 4)], "aij,jk->aik"),
    ("ij,j->ij", [(3, 2), (1,)], "ij,j->ij"),
    ("ij,jk->ik", [(3, 1), (1, 4)], None),
    (" i j , j k -> i k ", [(3, 2), (2, 4)], "ij,jk->ik"),
    ("i,i->", [(0,), (0,)], None),
    ("ij,jk->ik", [(3, 0), (0, 4)], None),
    ("ij,jk->ik", [(0, 2), (2, 4)], None),
    ("", [()], None),
    (",->", [(), ()], None),
    ("i,->i", [(3,), ()], None),
]


def _numpy_einsum(equation, arrays):
    """NumPy's einsum on operands broadcast first (np.einsum does not broadcast a size-1
    dimension against its letter's size elsewhere)."""
    ins = equation.split("->")[0].replace(" ", "").split(",")
    sizes = {}
    for labels, a in zip(ins, arrays):
        for c, n in zip(labels, a.shape):
            sizes[c] = n if sizes.get(c, 1) == 1 else sizes[c]
    arrays = [np.broadcast_to(a, [sizes[c] for c in labels]) for labels, a in zip(ins, arrays)]
    return np.einsum(equation, *arrays)


@pytest.mark.parametrize("case", range(len(EINSUM_CASES)))
def test_einsum_vs_numpy(rng, case):
    equation, shapes, numpy_equation = EINSUM_CASES[case]
    arrays = _draw(rng, *shapes)
    expected = _numpy_einsum(numpy_equation or equation, arrays)
    if numpy_equation == "abij,bjk->abik":  # the ellipsis broadcasts (5, 1) with (4,)
        expected = np.einsum("abij,abjk->abik", np.broadcast_to(arrays[0], (5, 4, 3, 2)),
                             np.broadcast_to(arrays[1], (5, 4, 2, 4)))
    _check(lambda *xs: minicnn.einsum(equation, *xs), arrays, expected)


def _random_equation(rng):
    """A random einsum over 1-6 operands: repeated letters, letters summed over one operand,
    size-1 dimensions broadcast, an ellipsis (0-2 dimensions) on some operands, an implicit or
    explicit output. Returns the equation, the operand shapes, and NumPy's equation with the
    shapes to broadcast the operands to first."""
    picked = list(rng.choice(list(string.ascii_letters), size=8, replace=False))
    letters, ell_letters = picked[:6], picked[6:8][:int(rng.integers(0, 3))]
    size = {c: int(rng.integers(1, 4)) for c in picked}
    terms, numpy_terms, shapes, ell_dims = [], [], [], 0
    for _ in range(int(rng.integers(1, 7))):
        labels = "".join(rng.choice(letters, size=int(rng.integers(0, 4))))
        with_ell = bool(ell_letters) and rng.random() < 0.5
        ell = ell_letters[len(ell_letters) - int(rng.integers(0, len(ell_letters) + 1)):] \
            if with_ell else []
        ell_dims = max(ell_dims, len(ell))
        one = {c: 1 if rng.random() < 0.2 else size[c] for c in set(labels) | set(ell)}
        terms.append(("..." if with_ell else "") + labels)
        numpy_terms.append("".join(ell) + labels)
        shapes.append(tuple(one[c] for c in numpy_terms[-1]))
    # a letter's size is the largest it has (1 if every operand has it as 1)
    seen = {}
    for labels, shape in zip(numpy_terms, shapes):
        for c, n in zip(labels, shape):
            seen[c] = max(seen.get(c, 1), n)
    full = [tuple(seen[c] for c in labels) for labels in numpy_terms]
    ell_out = "".join(ell_letters[len(ell_letters) - ell_dims:])
    named = "".join(terms).replace("...", "")
    if rng.random() < 0.4:  # implicit: the ellipsis, then the letters used once, sorted
        out = None
        numpy_out = ell_out + "".join(sorted(c for c in set(named) if named.count(c) == 1))
    else:
        chosen = "".join(rng.permutation(sorted(set(named)))[:int(rng.integers(0, 7))])
        keep_ell = any("..." in t for t in terms) and rng.random() < 0.7
        out = ("..." if keep_ell else "") + chosen
        numpy_out = (ell_out if keep_ell else "") + chosen
    equation = ",".join(terms) + ("" if out is None else "->" + out)
    return equation, shapes, ",".join(numpy_terms) + "->" + numpy_out, full


@pytest.mark.parametrize("seed", range(40))
def test_einsum_random_equations_vs_numpy(seed):
    rng = np.random.default_rng(seed)
    equation, shapes, numpy_equation, full = _random_equation(rng)
    arrays = [rng.uniform(0.5, 1.5, s) for s in shapes]
    expected = np.einsum(numpy_equation, *[np.broadcast_to(a, f) for a, f in zip(arrays, full)])
    _check(lambda *xs: minicnn.einsum(equation, *xs), arrays, expected, rtol=1e-9)


def test_einsum_calling_forms_and_a_repeated_operand(rng):
    a, b = _draw(rng, (3, 2), (2, 4))
    x, y = _t(a), _t(b)
    expected = a @ b
    for out in (minicnn.einsum("ij,jk->ik", [x, y]), minicnn.einsum("ij,jk->ik", (x, y)),
                minicnn.einsum(x, [0, 1], y, [1, 2], [0, 2]), minicnn.einsum(x, [0, 1], y, [1, 2]),
                minicnn.einsum(x[None], [Ellipsis, 0, 1], y, [1, 2], [Ellipsis, 0, 2])[0]):
        np.testing.assert_allclose(out.detach().numpy(), expected, rtol=1e-12)
    v = _t(a[:, 0])
    minicnn.einsum("i,i->", v, v).backward()  # the same tensor twice: both uses count
    np.testing.assert_allclose(v.grad.numpy(), 2 * a[:, 0])


def test_einsum_output_owns_its_memory():
    x = minicnn.arange(6.0).reshape(2, 3)
    y = minicnn.einsum("ij->ji", x)
    y[0, 0] = 100.0
    assert x[0, 0].item() == 0.0 and y.shape == (3, 2)


def test_einsum_dtypes_as_pytorch():
    i32 = minicnn.tensor(np.ones((2, 2), np.int32))
    assert minicnn.einsum("ij->ji", i32).dtype == minicnn.int32
    assert minicnn.einsum("ii->i", i32).dtype == minicnn.int32
    assert minicnn.einsum("ij->", i32).dtype == minicnn.int64  # a sum over one operand: int64
    assert minicnn.einsum("ii", i32).item() == 2
    assert minicnn.einsum("ij,jk->ik", i32, i32).dtype == minicnn.int32
    b = minicnn.tensor([True, False])
    assert minicnn.einsum("i,j->ij", b, b).dtype == minicnn.bool
    assert minicnn.einsum("i->", b).dtype == minicnn.int64
    with pytest.raises(NotImplementedError, match="Bool"):
        minicnn.einsum("i,i->", b, b)


# --- triangles and diagonals --------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(4, 4), (3, 5), (5, 3), (2, 3, 4), (2, 1, 3, 3), (0, 3),
                                   (2, 0, 0)])
@pytest.mark.parametrize("k", [-4, -1, 0, 2, 6])
def test_tril_triu_vs_numpy(rng, shape, k):
    x, = _draw(rng, shape)
    _check(lambda x: minicnn.tril(x, k), [x], np.tril(x, k))
    _check(lambda x: minicnn.triu(x, diagonal=k), [x], np.triu(x, k))


def test_tril_triu_in_place_and_dtypes():
    x = minicnn.arange(12).reshape(3, 4)
    assert minicnn.tril(x).dtype == minicnn.int64 and minicnn.triu(x > 3).dtype == minicnn.bool
    y = x.clone()
    assert y.tril_(-1) is y and y.tolist() == np.tril(np.arange(12).reshape(3, 4), -1).tolist()
    y = x.float()
    assert y.triu_(1) is y and y.tolist() == np.triu(np.arange(12.0).reshape(3, 4), 1).tolist()
    w = minicnn.randn(3, 3, requires_grad=True)
    z = w * 2
    z.tril_()
    z.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), 2 * np.tril(np.ones((3, 3))))


@pytest.mark.parametrize("shape,k", [((4,), 0), ((3,), 2), ((3,), -1), ((0,), 1), ((4, 4), 0),
                                     ((3, 5), 2), ((3, 5), -2), ((3, 5), 9), ((0, 2), 0)])
def test_diag_vs_numpy(rng, shape, k):
    x, = _draw(rng, shape)
    _check(lambda x: minicnn.diag(x, k), [x], np.diag(x, k))


def test_diag_of_a_matrix_is_a_copy():
    x = minicnn.eye(3)
    d = minicnn.diag(x)
    d[0] = 5.0
    assert x[0, 0].item() == 1.0 and minicnn.diagonal(x)._base is x


def _diag_embed_numpy(a, offset, dim1, dim2):
    n = a.shape[-1] + abs(offset)
    out = np.zeros(a.shape[:-1] + (n, n))
    idx = np.arange(a.shape[-1])
    rows, cols = (idx, idx + offset) if offset >= 0 else (idx - offset, idx)
    out[..., rows, cols] = a
    return np.moveaxis(out, (-2, -1), (dim1, dim2))


@pytest.mark.parametrize("shape,offset,dim1,dim2", [
    ((3,), 0, -2, -1), ((2, 3), 1, -2, -1), ((2, 3), -2, 0, 2), ((2, 3), 0, 2, 0),
    ((2, 4, 3), 1, 1, 3), ((2, 0), 0, -2, -1), ((0, 2), 1, 0, 1)])
def test_diag_embed_vs_numpy(rng, shape, offset, dim1, dim2):
    x, = _draw(rng, shape)
    nd = len(shape) + 1
    expected = _diag_embed_numpy(x, offset, dim1 % nd, dim2 % nd)
    _check(lambda x: minicnn.diag_embed(x, offset, dim1, dim2), [x], expected)


@pytest.mark.parametrize("shape,offset", [((2, 2), 0), ((3,), -1), ((), 2), ((0,), 0)])
def test_diagflat_vs_numpy(rng, shape, offset):
    x, = _draw(rng, shape)
    _check(lambda x: minicnn.diagflat(x, offset), [x], np.diagflat(x, offset))


@pytest.mark.parametrize("shape", [(3, 3), (2, 5), (5, 2), (0, 3)])
def test_trace_vs_numpy(rng, shape):
    x, = _draw(rng, shape)
    _check(minicnn.trace, [x], np.trace(x))
    assert minicnn.trace(minicnn.tensor(np.ones((2, 2), np.uint8))).dtype == minicnn.int64
    assert minicnn.trace(minicnn.ones(2, 2, dtype=minicnn.float32)).dtype == minicnn.float32


# --- cross, cdist, dist -------------------------------------------------------------------------

@pytest.mark.parametrize("a_shape,b_shape,dim", [
    ((3,), (3,), None), ((4, 3), (4, 3), -1), ((3, 4), (3, 4), 0), ((3, 4), (3, 4), None),
    ((2, 1, 3), (1, 5, 3), 2), ((3, 1), (3, 4), 0), ((0, 3), (0, 3), 1), ((2, 3, 3), (2, 3, 3), 1)])
def test_cross_vs_numpy(rng, a_shape, b_shape, dim):
    a, b = _draw(rng, a_shape, b_shape)
    axis = dim if dim is not None else next(d for d, n in enumerate(a_shape) if n == 3)
    _check(lambda a, b: minicnn.cross(a, b, dim), [a, b], np.cross(a, b, axis=axis))
    _check(lambda a, b: minicnn.linalg.cross(a, b, dim=axis), [a, b], np.cross(a, b, axis=axis))


def _cdist_numpy(x1, x2, p):
    d = np.abs(x1[..., :, None, :] - x2[..., None, :, :])
    if p == 0:
        return (d != 0).sum(-1).astype(float)
    if p == inf:
        return d.max(-1, initial=0)
    return (d ** p).sum(-1) ** (1 / p)


@pytest.mark.parametrize("p", [0, 0.5, 1, 1.5, 2, 3, inf])
@pytest.mark.parametrize("s1,s2", [((3, 4), (5, 4)), ((2, 1, 3, 2), (4, 5, 2)), ((1, 3), (2, 3)),
                                   ((0, 3), (2, 3)), ((3, 0), (2, 0)), ((2, 3, 2), (1, 4, 2))])
def test_cdist_vs_numpy(rng, p, s1, s2):
    x1, x2 = _draw(rng, s1, s2)
    _check(lambda a, b: minicnn.cdist(a, b, p), [x1, x2], _cdist_numpy(x1, x2, p))


@pytest.mark.parametrize("mode", ["use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                                  "donot_use_mm_for_euclid_dist"])
def test_cdist_euclidean_modes_vs_numpy(rng, mode):
    x1, x2 = _draw(rng, (30, 3), (4, 3))  # P > 25: the default mode takes the matrix product
    _check(lambda a, b: minicnn.cdist(a, b, compute_mode=mode), [x1, x2],
           _cdist_numpy(x1, x2, 2), rtol=1e-7)


@pytest.mark.parametrize("p", [0.5, 1, 2, 3, inf])
@pytest.mark.parametrize("mode", ["use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist"])
def test_cdist_zero_distance_has_gradient_zero(p, mode):
    x = minicnn.tensor([[1.0, 2.0], [3.0, -1.0]], requires_grad=True)
    y = minicnn.tensor([[1.0, 2.0]], requires_grad=True)
    d = minicnn.cdist(x, y, p, compute_mode=mode)
    assert d[0, 0].item() == 0
    d[0].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 2)))
    np.testing.assert_array_equal(y.grad.numpy(), np.zeros((1, 2)))


@pytest.mark.parametrize("p", [1, 2, 3, inf, 0])
def test_dist_vs_numpy(rng, p):
    a, b = _draw(rng, (3, 4), (4,))
    expected = np.linalg.norm((a - b).ravel(), p) if p else np.count_nonzero(a - b)
    _check(lambda a, b: minicnn.dist(a, b, p), [a, b], expected, grad=p != 0)
    assert minicnn.dist(minicnn.ones(2), minicnn.zeros(2, dtype=minicnn.float64)).dtype == \
        minicnn.float64


# --- minicnn.linalg -----------------------------------------------------------------------------

@pytest.mark.parametrize("ord", [2, 1, 3, 0.5, -1, inf, -inf])
@pytest.mark.parametrize("dim", [None, 0, -1, (0, 2), (), [1]])
@pytest.mark.parametrize("keepdim", [False, True])
def test_vector_norm_vs_numpy(rng, ord, dim, keepdim):
    x = rng.uniform(0.5, 2, (3, 4, 2)) * rng.choice([-1, 1], (3, 4, 2))
    axis = None if dim in (None, ()) else tuple(dim) if isinstance(dim, (tuple, list)) else dim
    size = np.abs(x)
    if ord == inf:
        expected = size.max(axis, keepdims=keepdim)
    elif ord == -inf:
        expected = size.min(axis, keepdims=keepdim)
    else:
        expected = (size ** ord).sum(axis, keepdims=keepdim) ** (1 / ord)
    _check(lambda x: minicnn.linalg.vector_norm(x, ord, dim, keepdim), [x], expected)


def test_vector_norm_of_empty_and_0d():
    assert minicnn.linalg.vector_norm(minicnn.ones(0, 3)).item() == 0
    assert minicnn.linalg.vector_norm(minicnn.ones(0, 3), 0).item() == 0
    assert minicnn.linalg.vector_norm(minicnn.ones(0, 3), inf, dim=1).shape == (0,)
    assert minicnn.linalg.vector_norm(minicnn.tensor(-3.0)).item() == 3
    assert minicnn.linalg.vector_norm(minicnn.tensor(-3.0), dim=0).item() == 3
    with pytest.raises(RuntimeError, match="identity"):
        minicnn.linalg.vector_norm(minicnn.ones(0, 3), inf)
    with pytest.raises(RuntimeError, match="identity"):
        minicnn.linalg.vector_norm(minicnn.ones(0, 3), -1, dim=0)


@pytest.mark.parametrize("ord", ["fro", "nuc", 1, -1, 2, -2, inf, -inf])
@pytest.mark.parametrize("shape,dim", [((3, 4), (-2, -1)), ((4, 3), (1, 0)),
                                       ((2, 3, 4), (-2, -1)), ((3, 2, 4), (0, 2))])
@pytest.mark.parametrize("keepdim", [False, True])
def test_matrix_norm_vs_numpy(rng, ord, shape, dim, keepdim):
    A, = _draw(rng, shape)
    expected = np.linalg.norm(A, ord, axis=dim, keepdims=keepdim)
    _check(lambda A: minicnn.linalg.matrix_norm(A, ord, dim, keepdim), [A], expected)


@pytest.mark.parametrize("ord", ["fro", "nuc", 1, 2, inf])
def test_matrix_norm_of_empty_matrices_is_zero(ord):
    assert minicnn.linalg.matrix_norm(minicnn.ones(0, 3), ord).item() == 0
    assert minicnn.linalg.matrix_norm(minicnn.ones(0, 2, 3), ord).shape == (0,)


@pytest.mark.parametrize("shape,ord,dim", [
    ((2, 3, 4), None, None), ((3, 4), 2, None), ((4,), 3, None), ((3, 4), "nuc", None),
    ((3, 4), 1, 1), ((3, 4), inf, (0,)), ((2, 3, 4), -1, (0, 2)), ((2, 3, 4), None, (1, 2)),
    ((), None, None)])
def test_linalg_norm_dispatch_vs_numpy(rng, shape, ord, dim):
    A, = _draw(rng, shape)
    if dim is None and ord is None:
        expected = np.linalg.norm(A.ravel())
    else:
        expected = np.linalg.norm(A, ord, axis=dim)
    _check(lambda A: minicnn.linalg.norm(A, ord, dim), [A], expected)


@pytest.mark.parametrize("shape", [(3, 4), (4, 3), (2, 3, 3), (0, 3), (2, 0, 2)])
def test_svdvals_vs_numpy(rng, shape):
    A, = _draw(rng, shape)
    _check(minicnn.linalg.svdvals, [A], np.linalg.svd(A, compute_uv=False))


def test_linalg_namespace():
    a, b = minicnn.randn(2, 3, dtype=minicnn.float64), minicnn.randn(3, dtype=minicnn.float64)
    np.testing.assert_allclose(minicnn.linalg.vecdot(a, b).numpy(), a.numpy() @ b.numpy())
    np.testing.assert_allclose(minicnn.linalg.vecdot(a, a[:1], dim=0).numpy(),
                               (a.numpy() * a.numpy()[:1]).sum(0))
    assert minicnn.linalg.matmul is minicnn.matmul
    assert minicnn.linalg.diagonal(minicnn.ones(2, 3, 4), offset=1).shape == (2, 3)
    import minicnn.linalg as L
    assert L is minicnn.linalg and "linalg" in dir(minicnn) and not hasattr(minicnn, "svdvals")


def test_linalg_docstring_example():
    import doctest
    assert doctest.testmod(minicnn.linalg).failed == 0


@pytest.mark.parametrize("shapes", [[(2, 3), (3, 4)], [(3,), (3, 4), (4, 2)], [(2, 3), (3,)],
                                    [(3,), (3,)], [(5, 2), (2, 6), (6, 1), (1, 3), (3, 4)],
                                    [(0, 2), (2, 3), (3, 1)]])
def test_multi_dot_vs_numpy(rng, shapes):
    arrays = _draw(rng, *shapes)
    _check(lambda *xs: minicnn.linalg.multi_dot(xs), arrays, np.linalg.multi_dot(arrays))


# --- random shapes -----------------------------------------------------------------------------

def _random_case(name, rng):
    """Shapes drawn for op ``name`` (sizes 0-3, 0-2 batch dimensions, broadcasting): returns
    ``(fn(lib, *tensors), shapes, numpy_oracle(*arrays))``."""
    def n(low=0):
        return int(rng.integers(low, 4))
    batch = tuple(n(1) for _ in range(n() % 3))
    if name == "bmm":
        b, i, j, k = n(), n(), n(), n()
        return lambda L, x, y: L.bmm(x, y), [(b, i, j), (b, j, k)], np.matmul
    if name == "addmm":
        i, j, k = n(), n(), n()
        c = [(i, k), (k,), (1, k), (i, 1), ()][n() % 5]
        return (lambda L, c, x, y: L.addmm(c, x, y, beta=0.5, alpha=2), [c, (i, j), (j, k)],
                lambda c, x, y: 0.5 * c + 2 * x @ y)
    if name == "baddbmm":
        b, i, j, k = n(), n(), n(), n()
        c = [(b, i, k), (i, k), (k,), ()][n()]
        return (lambda L, c, x, y: L.baddbmm(c, x, y, beta=-1), [c, (b, i, j), (b, j, k)],
                lambda c, x, y: -c + x @ y)
    if name == "mv":
        i, j = n(), n()
        return lambda L, a, v: L.mv(a, v), [(i, j), (j,)], np.matmul
    if name == "kron":
        return (lambda L, a, b: L.kron(a, b), [tuple(n() for _ in range(n())),
                                               tuple(n() for _ in range(n()))], np.kron)
    if name == "tensordot":
        a = tuple(n() for _ in range(n()))
        d = int(rng.integers(0, len(a) + 1))
        b = a[len(a) - d:] + tuple(n() for _ in range(n() % 3))
        return (lambda L, x, y: L.tensordot(x, y, d), [a, b],
                lambda x, y: np.tensordot(x, y, d))
    if name == "tril":
        k = int(rng.integers(-3, 4))
        return (lambda L, x: L.tril(x, k) + L.triu(x, k), [batch + (n(), n())],
                lambda x: np.tril(x, k) + np.triu(x, k))
    if name == "diag_embed":
        k = int(rng.integers(-2, 3))
        shape = batch + (n(),)
        d1, d2 = rng.choice(len(shape) + 1, 2, replace=False)
        return (lambda L, x: L.diag_embed(x, k, int(d1), int(d2)), [shape],
                lambda x: _diag_embed_numpy(x, k, int(d1), int(d2)))
    if name == "cross":
        shape = batch + (3,)
        other = tuple(1 if rng.random() < 0.3 else s for s in batch) + (3,)
        return (lambda L, a, b: L.linalg.cross(a, b), [shape, other],
                lambda a, b: np.cross(a, b))
    if name == "cdist":
        p = [0, 0.5, 1, 2, 3, inf][int(rng.integers(0, 6))]
        other = tuple(1 if rng.random() < 0.3 else s for s in batch)
        m = n()
        return (lambda L, a, b: L.cdist(a, b, p), [batch + (n(), m), other + (n(), m)],
                lambda a, b: _cdist_numpy(a, b, p))
    if name == "matrix_norm":
        ord = ["fro", "nuc", 1, -1, 2, -2, inf, -inf][int(rng.integers(0, 8))]
        shape = batch + (n(1), n(1))
        return (lambda L, a: L.linalg.matrix_norm(a, ord), [shape],
                lambda a: np.linalg.norm(a, ord, axis=(-2, -1)))
    if name == "vector_norm":
        ord = [1, 2, 3, 0.5][n()]
        shape = batch + (n(), n())
        dims = tuple(int(d) for d in rng.permutation(len(shape))[:n() % (len(shape) + 1)])
        axis = dims or None
        return (lambda L, a: L.linalg.vector_norm(a, ord, dims),
                [shape], lambda a: (np.abs(a) ** ord).sum(axis) ** (1 / ord))
    raise KeyError(name)


RANDOM_OPS = ["bmm", "addmm", "baddbmm", "mv", "kron", "tensordot", "tril", "diag_embed",
              "cross", "cdist", "matrix_norm", "vector_norm"]


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("name", RANDOM_OPS)
def test_random_shapes_vs_numpy(name, seed):
    rng = np.random.default_rng([seed, RANDOM_OPS.index(name)])
    fn, shapes, oracle = _random_case(name, rng)
    arrays = [rng.uniform(0.5, 1.5, s) * rng.choice([-1, 1], s) for s in shapes]
    _check(lambda *xs: fn(minicnn, *xs), arrays, oracle(*arrays), rtol=1e-9)


# --- Tensor methods -----------------------------------------------------------------------------

PYTORCH_TENSOR_METHODS = [
    "bmm", "mv", "vdot", "inner", "outer", "ger", "kron", "addmm", "addmm_", "addmv", "addmv_",
    "baddbmm", "baddbmm_", "addbmm", "addbmm_", "addr", "addr_", "tril", "tril_", "triu",
    "triu_", "diag", "diag_embed", "diagflat", "trace", "cross", "dist", "norm"]


def test_tensor_methods_match_the_functions(rng):
    for name in PYTORCH_TENSOR_METHODS:
        assert callable(getattr(minicnn.Tensor, name)), name
    for name in ("tensordot", "einsum", "cdist"):  # not Tensor methods in PyTorch either
        assert not hasattr(minicnn.Tensor, name)
    a, b, c, m, v, w = (minicnn.tensor(x, dtype=minicnn.float32) for x in
                        _draw(rng, (2, 3, 4), (2, 4, 5), (2, 3, 5), (3, 4), (4,), (3,)))
    pairs = [
        (a.bmm(b), minicnn.bmm(a, b)), (m.mv(v), minicnn.mv(m, v)), (v.vdot(v), minicnn.vdot(v, v)),
        (m.inner(m), minicnn.inner(m, m)), (w.outer(v), minicnn.outer(w, v)),
        (w.ger(v), minicnn.ger(w, v)), (m.kron(w), minicnn.kron(m, w)),
        (c[0].addmm(a[0], b[0], beta=2), minicnn.addmm(c[0], a[0], b[0], beta=2)),
        (w.addmv(m, v, alpha=3), minicnn.addmv(w, m, v, alpha=3)),
        (c.baddbmm(a, b), minicnn.baddbmm(c, a, b)),
        (c[0].addbmm(a, b), minicnn.addbmm(c[0], a, b)),
        (m.addr(w, v), minicnn.addr(m, w, v)), (m.tril(1), minicnn.tril(m, 1)),
        (m.triu(-1), minicnn.triu(m, -1)), (m.diag(1), minicnn.diag(m, 1)),
        (m.diag_embed(), minicnn.diag_embed(m)), (m.diagflat(), minicnn.diagflat(m)),
        (m.trace(), minicnn.trace(m)),
        (m[:, :3].cross(m[:, 1:]), minicnn.cross(m[:, :3], m[:, 1:])),
        (m.dist(v, 3), minicnn.dist(m, v, 3))]
    for ours, expected in pairs:
        assert ours.dtype == expected.dtype and minicnn.equal(ours, expected)
    for name, args, op in [("addmm_", (a[0], b[0]), minicnn.addmm),
                           ("addmv_", (m, v), minicnn.addmv), ("baddbmm_", (a, b), minicnn.baddbmm),
                           ("addbmm_", (a, b), minicnn.addbmm), ("addr_", (w, v), minicnn.addr)]:
        target = {"addmm_": c[0], "addmv_": w, "baddbmm_": c, "addbmm_": c[0],
                  "addr_": m}[name].clone()
        expected = op(target, *args, beta=0.5, alpha=2)
        assert getattr(target, name)(*args, beta=0.5, alpha=2) is target
        np.testing.assert_allclose(target.numpy(), expected.numpy(), rtol=1e-6)


def test_in_place_addmm_records_its_gradient(rng):
    m1, m2 = _t(rng.standard_normal((2, 3))), _t(rng.standard_normal((3, 2)))
    c0 = _t(rng.standard_normal((2, 2)))
    c = c0 * 1
    c.addmm_(m1, m2, beta=3, alpha=2)
    c.sum().backward()
    np.testing.assert_allclose(c0.grad.numpy(), np.full((2, 2), 3.0))
    np.testing.assert_allclose(m1.grad.numpy(), 2 * np.ones((2, 2)) @ m2.detach().numpy().T)
    with pytest.raises(RuntimeError, match="shape"):
        minicnn.ones(2).addmm_(minicnn.ones(2, 3), minicnn.ones(3, 2))


# --- dtypes and errors, as PyTorch --------------------------------------------------------------

def test_integer_products_keep_their_dtype_and_promotion_where_pytorch_promotes():
    i32 = minicnn.tensor(np.arange(6, dtype=np.int32).reshape(2, 3))
    assert minicnn.bmm(i32[None], i32.t()[None]).dtype == minicnn.int32
    assert minicnn.mv(i32, i32[0]).tolist() == [5, 14]
    assert minicnn.addmm(i32[:, :2], i32, i32.t(), beta=2, alpha=3).dtype == minicnn.int32
    assert minicnn.tensordot(i32, i32, 2).item() == 55
    f, d, i = minicnn.ones(2), minicnn.ones(3, dtype=minicnn.float64), minicnn.tensor([1, 2])
    assert minicnn.outer(f, d).dtype == minicnn.float64 and minicnn.outer(i, f).dtype == \
        minicnn.float32
    assert minicnn.kron(i, f).dtype == minicnn.float32
    assert minicnn.addr(minicnn.ones(2, 3, dtype=minicnn.int64), f, d).dtype == minicnn.float64
    assert minicnn.inner(minicnn.tensor(2.0), d).dtype == minicnn.float64
    r = minicnn.tril(minicnn.ones(2, 2, requires_grad=True).long())
    assert not r.requires_grad


f32, f64 = minicnn.ones(2, 3), minicnn.ones(3, 2, dtype=minicnn.float64)
ERRORS = [  # (call, exception, message)
    (lambda: minicnn.bmm(f32, f32.t()), RuntimeError, "batch1 must be a 3D tensor"),
    (lambda: minicnn.bmm(f32[None], f64[None]), RuntimeError, "expected scalar type Float but "
                                                              "found Double"),
    (lambda: minicnn.bmm(minicnn.ones(2, 2, 3), minicnn.ones(3, 3, 2)), RuntimeError,
     r"batch2 tensor to be: \[2, 3\] but got: \[3, 3\]"),
    (lambda: minicnn.bmm([1], f32), TypeError, "must be Tensor"),
    (lambda: minicnn.mv(f32, minicnn.ones(2)), RuntimeError, r"size mismatch, got input \(2\), "
                                                             r"mat \(2x3\), vec \(2\)"),
    (lambda: minicnn.mv(f32, f64[:, 0]), RuntimeError, "input tensors must have the same dtype"),
    (lambda: minicnn.mv(f32[0], f32[0]), RuntimeError, "vector \\+ matrix @ vector expected"),
    (lambda: minicnn.vdot(f32, f32), RuntimeError, "1D tensors expected, but got 2D and 2D"),
    (lambda: minicnn.vdot(f32[0], f64[0]), RuntimeError, "expected both vectors to have same "
                                                         "dtype"),
    (lambda: minicnn.vdot(f32[0], f32[0, :2]), RuntimeError, "inconsistent tensor size"),
    (lambda: minicnn.addmm(minicnn.ones(2, 2), f32, f64), RuntimeError,
     "self and mat2 must have the same dtype, but got Float and Double"),
    (lambda: minicnn.addmm(f64[:2], f32, f64), RuntimeError,
     "mat1 and mat2 must have the same dtype, but got Float and Double"),
    (lambda: minicnn.addmm(minicnn.ones(3), f32, f32.t()), RuntimeError,
     r"expanded size of the tensor \(2\) must match the existing size \(3\)"),
    (lambda: minicnn.addmm(minicnn.ones(2, 2), f32, f32), RuntimeError,
     r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 2x3\)"),
    (lambda: minicnn.addmm(minicnn.ones(2, 2), f32[0], f32.t()), RuntimeError,
     "mat1 must be a matrix, got 1-D tensor"),
    (lambda: minicnn.addmm(minicnn.ones(2, 2).long(), f32.long(), f32.t().long(), beta=0.5),
     RuntimeError, "argument beta must not be a floating point number"),
    (lambda: minicnn.addmm(minicnn.ones(2, 2), f32, f32.t(), alpha="a"), TypeError, "alpha"),
    (lambda: minicnn.addmv(minicnn.ones(3), f32, minicnn.ones(3)), RuntimeError,
     r"size mismatch, got input \(3\)"),
    (lambda: minicnn.addmv(minicnn.ones(1, 2), f32, minicnn.ones(3)), RuntimeError,
     "vector \\+ matrix @ vector expected, got 2, 2, 1"),
    (lambda: minicnn.baddbmm(minicnn.ones(2, 2, dtype=minicnn.float64), minicnn.ones(3, 2, 3),
                             minicnn.ones(3, 3, 2)), RuntimeError, "Input dtypes must be the same"),
    (lambda: minicnn.baddbmm(minicnn.ones(4, 2, 2), minicnn.ones(3, 2, 3), minicnn.ones(3, 3, 2)),
     RuntimeError, "expanded size"),
    (lambda: minicnn.addbmm(minicnn.ones(2, 2), minicnn.ones(3, 2, 3), minicnn.ones(4, 3, 2)),
     RuntimeError, "same number of batches, got 3 and 4"),
    (lambda: minicnn.addr(minicnn.ones(2, 3), minicnn.ones(2, 1), minicnn.ones(3)), RuntimeError,
     "addr: Expected 1-D argument vec1, but got 2-D"),
    (lambda: minicnn.outer(f32, f32[0]), RuntimeError, "outer: Expected 1-D argument self, but "
                                                       "got 2-D"),
    (lambda: minicnn.inner(f32, minicnn.ones(4, 2)), RuntimeError,
     "inner\\(\\) the last dimension must match"),
    (lambda: minicnn.inner(f32, f64.t()), RuntimeError, "both inputs should have same dtype"),
    (lambda: minicnn.tensordot(f32, f64, 1), RuntimeError, "both inputs should have same dtype"),
    (lambda: minicnn.tensordot(f32, f32, 1), RuntimeError, "contracted dimensions need to match, "
                                                           "but first has size 3"),
    (lambda: minicnn.tensordot(f32, f32, -1), RuntimeError, "dims >= 0"),
    (lambda: minicnn.tensordot(f32, f32, 3), RuntimeError, "dims < ndim_a or ndim_b"),
    (lambda: minicnn.tensordot(f32, f32, ([0], [0, 1])), RuntimeError,
     "both dimension lists should have same length"),
    (lambda: minicnn.tensordot(f32, f32, ([2], [0])), IndexError, "dims=2 is out of range"),
    (lambda: minicnn.einsum("ij,jk->ik", f32), RuntimeError, "fewer operands"),
    (lambda: minicnn.einsum("ij", f32, f32), RuntimeError, "more operands"),
    (lambda: minicnn.einsum("ijk->i", f32), RuntimeError, r"number of subscripts in the "
                                                          r"equation \(3\) does not match"),
    (lambda: minicnn.einsum("...ijk->i", f32), RuntimeError, "is more than the number of dim"),
    (lambda: minicnn.einsum("ij,jk->ik", f32, f32), RuntimeError,
     "subscript j has size 2 for operand 1 which does not broadcast with previously seen size 3"),
    (lambda: minicnn.einsum("ij->k", f32), RuntimeError, "output subscript k does not appear"),
    (lambda: minicnn.einsum("ij->ii", f32), RuntimeError, "appears more than once"),
    (lambda: minicnn.einsum("ii->i", f32), RuntimeError, "repeated for operand 0 but the sizes "
                                                         "don't match, 3 != 2"),
    (lambda: minicnn.einsum("i1,1k->ik", f32, f32), RuntimeError, "invalid subscript given at "
                                                                  "index 1"),
    (lambda: minicnn.einsum("ij-k", f32), RuntimeError, "invalid subscript given at index 2"),
    (lambda: minicnn.einsum("...i...->i", f32), RuntimeError, "found '.' for operand 0 for which "
                                                              "an ellipsis was already found"),
    (lambda: minicnn.einsum("i.j", f32), RuntimeError, "not part of any ellipsis"),
    (lambda: minicnn.einsum("...->......", f32), RuntimeError, "found '.' for output but an "
                                                               "ellipsis"),
    (lambda: minicnn.einsum("...i,...i->...", minicnn.ones(2, 3), minicnn.ones(4, 3)),
     RuntimeError, "dimension 0 covered by ellipsis in operand 1 has size 4"),
    (lambda: minicnn.einsum("ij,jk->ik", f32, f64), RuntimeError, "expected scalar type Float "
                                                                  "but found Double"),
    (lambda: minicnn.einsum("i", [1, 2]), TypeError, "expected Tensor as element 0"),
    (lambda: minicnn.einsum("->"), ValueError, "must specify the equation string"),
    (lambda: minicnn.einsum(f32, [0, 60]), ValueError, r"valid range \[0, 52\)"),
    (lambda: minicnn.tril(f32[0]), RuntimeError, "tril: input tensor must have at least 2 "
                                                 "dimensions"),
    (lambda: minicnn.triu(f32, 1.0), TypeError, "diagonal must be an int"),
    (lambda: minicnn.diag(minicnn.ones(2, 2, 2)), RuntimeError, "diag\\(\\): Supports 1D or 2D "
                                                                "tensors. Got 3D"),
    (lambda: minicnn.diag(minicnn.tensor(1.0)), RuntimeError, "Got 0D"),
    (lambda: minicnn.diag_embed(f32, 0, 1, 1), RuntimeError, "diagonal dimensions cannot be "
                                                             "identical 1, 1"),
    (lambda: minicnn.diag_embed(f32, 0, 0, 3), IndexError, "out of range"),
    (lambda: minicnn.diag_embed(minicnn.tensor(2.0)), IndexError, "out of range"),
    (lambda: minicnn.trace(minicnn.ones(2, 2, 2)), RuntimeError, "trace: expected a matrix, but "
                                                                 "got tensor with dim 3"),
    (lambda: minicnn.trace(minicnn.ones(2, 2) > 0), NotImplementedError, "Bool"),
    (lambda: minicnn.cross(minicnn.ones(2, 1, 3), minicnn.ones(5, 3)), RuntimeError,
     "same number of dimensions"),
    (lambda: minicnn.cross(minicnn.ones(3, 4), minicnn.ones(3, 4), dim=1), RuntimeError,
     "inputs dimension 1 must have length 3. Got 4 and 4"),
    (lambda: minicnn.cross(minicnn.ones(2, 4), minicnn.ones(2, 4)), RuntimeError,
     "no dimension of size 3 in input"),
    (lambda: minicnn.cross(minicnn.ones(3), f64[:, 0]), RuntimeError, "expected scalar type Float"),
    (lambda: minicnn.linalg.cross(minicnn.ones(3, 4), minicnn.ones(3, 4)), RuntimeError,
     "inputs dimension -1 must have length 3"),
    (lambda: minicnn.cdist(f32, f64.t()), RuntimeError, "expected scalar type Float but found "
                                                        "Double"),
    (lambda: minicnn.cdist(f32.long(), f32.long()), RuntimeError, "cdist only supports "
                                                                  "floating-point dtypes, X1 "
                                                                  "got: Long"),
    (lambda: minicnn.cdist(f32[0], f32[0]), RuntimeError, "at least 2D tensors, X1 got: 1D"),
    (lambda: minicnn.cdist(f32, f32[:, :2]), RuntimeError, "same number of columns. X1: 3 X2: 2"),
    (lambda: minicnn.cdist(f32, f32, -1), RuntimeError, "non-negative p values"),
    (lambda: minicnn.cdist(f32, f32, math.nan), RuntimeError, "non-negative p values"),
    (lambda: minicnn.cdist(f32, f32, compute_mode="foo"), ValueError, "foo is not a valid value"),
    (lambda: minicnn.cdist(minicnn.ones(2, 3, 4), minicnn.ones(3, 5, 4)), RuntimeError,
     r"size of tensor a \(2\) must match the size of tensor b \(3\) at non-singleton "
     r"dimension 0"),
    (lambda: minicnn.dist(f32.long(), f32.long()), RuntimeError, "input dtype should be either "
                                                                 "floating point"),
    (lambda: minicnn.linalg.vector_norm(f32.long()), RuntimeError, "Expected a floating point or "
                                                                   "complex tensor as input. Got "
                                                                   "Long"),
    (lambda: minicnn.linalg.vector_norm(f64, dtype=minicnn.float32), RuntimeError,
     "convertible without narrowing"),
    (lambda: minicnn.linalg.vector_norm(f32, "fro"), TypeError, "must be Number, not str"),
    (lambda: minicnn.linalg.matrix_norm(f32, 3), RuntimeError, "Order 3 not supported"),
    (lambda: minicnn.linalg.matrix_norm(f32[0]), RuntimeError, "at least 2 dimensions"),
    (lambda: minicnn.linalg.matrix_norm(f32, dim=(1, 1)), RuntimeError, "dims must be different"),
    (lambda: minicnn.linalg.matrix_norm(f32, dim=(0, 1, 2)), RuntimeError, "dim must be a 2-tuple"),
    (lambda: minicnn.linalg.matrix_norm(f32.long()), RuntimeError, "Got Long"),
    (lambda: minicnn.linalg.norm(minicnn.ones(2, 3, 4), 2), RuntimeError, "the input must be 1D or "
                                                                          "2D. Got 3D"),
    (lambda: minicnn.linalg.norm(f32[0], "fro"), RuntimeError, "at least 2 dimensions"),
    (lambda: minicnn.linalg.norm(f32, "fro", dim=1), RuntimeError, "dim must be a 2-tuple"),
    (lambda: minicnn.linalg.norm(minicnn.ones(2, 3, 4), dim=(0, 1, 2)), RuntimeError,
     "must be of length 1 or 2"),
    (lambda: minicnn.linalg.svdvals(f32[0]), RuntimeError, "at least 2 dimensions"),
    (lambda: minicnn.linalg.svdvals(f32.long()), RuntimeError, "Got Long"),
    (lambda: minicnn.linalg.vecdot(f32, f64.t()), RuntimeError, "same dtype"),
    (lambda: minicnn.linalg.vecdot(f32.long(), f32.long()), RuntimeError, "Got Long"),
    (lambda: minicnn.linalg.multi_dot([f32]), RuntimeError, "expected at least 2 tensors but "
                                                            "got 1"),
    (lambda: minicnn.linalg.multi_dot([f32, f64]), RuntimeError, "same dtype"),
    (lambda: minicnn.linalg.multi_dot([f32, f32.t()[None]]), RuntimeError,
     "the last tensor must be 1D or 2D but got 3D"),
    (lambda: minicnn.linalg.multi_dot([f32, f32, f32]), RuntimeError,
     r"tensors 0 and 1 with shapes \[2, 3\] and \[2, 3\]"),
    (lambda: minicnn.vdot(f32[0] > 0, f32[0] > 0), NotImplementedError, "Bool"),
    (lambda: minicnn.bmm(f32[None] > 0, f32.t()[None] > 0), NotImplementedError, "Bool"),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_errors_as_pytorch(case):
    call, error, message = ERRORS[case]
    with pytest.raises(error, match=message):
        call()


# --- against PyTorch (opt-in: skipped when torch is not importable) ------------------------------

@pytest.fixture
def torch():
    return pytest.importorskip("torch")


TORCH_CASES = {  # name -> (fn(lib, *tensors), operand shapes)
    "bmm": (lambda L, a, b: L.bmm(a, b), [(2, 3, 4), (2, 4, 5)]),
    "mv": (lambda L, a, v: L.mv(a, v), [(3, 4), (4,)]),
    "vdot": (lambda L, a, b: L.vdot(a, b), [(4,), (4,)]),
    "addmm": (lambda L, c, a, b: L.addmm(c, a, b, beta=0.5, alpha=2), [(5,), (3, 4), (4, 5)]),
    "addmm_beta0": (lambda L, c, a, b: L.addmm(c, a, b, beta=0), [(3, 5), (3, 4), (4, 5)]),
    "addmv": (lambda L, c, a, v: L.addmv(c, a, v, beta=2, alpha=-1), [(), (3, 4), (4,)]),
    "baddbmm": (lambda L, c, a, b: L.baddbmm(c, a, b, alpha=3), [(3, 5), (2, 3, 4), (2, 4, 5)]),
    "addbmm": (lambda L, c, a, b: L.addbmm(c, a, b, beta=2), [(3, 5), (2, 3, 4), (2, 4, 5)]),
    "addr": (lambda L, c, u, v: L.addr(c, u, v, beta=-1, alpha=0.5), [(3, 4), (3,), (4,)]),
    "outer": (lambda L, u, v: L.outer(u, v), [(3,), (4,)]),
    "ger": (lambda L, u, v: L.ger(u, v), [(3,), (4,)]),
    "inner": (lambda L, a, b: L.inner(a, b), [(2, 3, 4), (5, 4)]),
    "kron": (lambda L, a, b: L.kron(a, b), [(2, 3), (3, 1, 2)]),
    "tensordot": (lambda L, a, b: L.tensordot(a, b, ([0, 2], [2, 0])), [(3, 4, 5), (5, 2, 3)]),
    "tensordot_int": (lambda L, a, b: L.tensordot(a, b, 1), [(3, 4), (4, 2)]),
    "einsum_batch": (lambda L, a, b: L.einsum("...ij,...jk", a, b), [(5, 1, 3, 2), (4, 2, 4)]),
    "einsum_diag": (lambda L, a: L.einsum("ii->i", a), [(3, 3)]),
    "einsum_trace": (lambda L, a: L.einsum("ii", a), [(3, 3)]),
    "einsum_mixed": (lambda L, a, b: L.einsum("iij,jk->ik", a, b), [(3, 3, 2), (2, 4)]),
    "einsum_own_sum": (lambda L, a, b: L.einsum("ij,kl->jk", a, b), [(3, 2), (4, 5)]),
    "einsum_implicit": (lambda L, a, b: L.einsum("bA,cb", a, b), [(3, 2), (4, 3)]),
    "einsum_ellipsis_summed": (lambda L, a: L.einsum("...ij->j", a), [(5, 3, 2)]),
    "einsum_size1": (lambda L, a, b: L.einsum("ij,j->ij", a, b), [(3, 2), (1,)]),
    "einsum_6": (lambda L, *xs: L.einsum("ab,bc,cd,de,ef,fg->ag", *xs),
                 [(2, 3), (3, 2), (2, 4), (4, 2), (2, 3), (3, 2)]),
    "einsum_sublist": (lambda L, a, b: L.einsum(a, [0, 1], b, [1, 2], [0, 2]), [(2, 3), (3, 4)]),
    "tril": (lambda L, a: L.tril(a, -1), [(2, 3, 4)]),
    "triu": (lambda L, a: L.triu(a, 2), [(4, 3)]),
    "diag_vector": (lambda L, a: L.diag(a, -1), [(3,)]),
    "diag_matrix": (lambda L, a: L.diag(a, 1), [(3, 4)]),
    "diag_embed": (lambda L, a: L.diag_embed(a, 1, 0, 2), [(2, 3)]),
    "diagflat": (lambda L, a: L.diagflat(a, 1), [(2, 2)]),
    "trace": (lambda L, a: L.trace(a), [(3, 4)]),
    "cross": (lambda L, a, b: L.cross(a, b, dim=0), [(3, 1), (3, 4)]),
    "linalg_cross": (lambda L, a, b: L.linalg.cross(a, b), [(2, 1, 3), (2, 4, 3)]),
    "cdist_2": (lambda L, a, b: L.cdist(a, b), [(2, 3, 4), (1, 5, 4)]),
    "cdist_2_mm": (lambda L, a, b: L.cdist(a, b), [(30, 3), (4, 3)]),
    "cdist_1": (lambda L, a, b: L.cdist(a, b, 1), [(3, 4), (5, 4)]),
    "cdist_half": (lambda L, a, b: L.cdist(a, b, 0.5), [(3, 4), (5, 4)]),
    "cdist_1.5": (lambda L, a, b: L.cdist(a, b, 1.5), [(3, 4), (5, 4)]),
    "cdist_3": (lambda L, a, b: L.cdist(a, b, 3), [(3, 4), (5, 4)]),
    "cdist_inf": (lambda L, a, b: L.cdist(a, b, math.inf), [(3, 4), (5, 4)]),
    "cdist_0": (lambda L, a, b: L.cdist(a, b, 0), [(3, 4), (5, 4)]),
    "dist": (lambda L, a, b: L.dist(a, b, 3), [(3, 4), (4,)]),
    "vector_norm": (lambda L, a: L.linalg.vector_norm(a, 3, (0, 2), True), [(2, 3, 4)]),
    "vector_norm_inf": (lambda L, a: L.linalg.vector_norm(a, math.inf, 1), [(2, 3)]),
    "vector_norm_0d": (lambda L, a: L.linalg.vector_norm(a), [()]),
    "matrix_norm_fro": (lambda L, a: L.linalg.matrix_norm(a), [(2, 3, 4)]),
    "matrix_norm_nuc": (lambda L, a: L.linalg.matrix_norm(a, "nuc", (0, 2)), [(3, 2, 4)]),
    "matrix_norm_2": (lambda L, a: L.linalg.matrix_norm(a, 2, keepdim=True), [(2, 3, 4)]),
    "matrix_norm_-2": (lambda L, a: L.linalg.matrix_norm(a, -2), [(4, 3)]),
    "matrix_norm_1": (lambda L, a: L.linalg.matrix_norm(a, 1, (2, 0)), [(3, 2, 4)]),
    "matrix_norm_-inf": (lambda L, a: L.linalg.matrix_norm(a, -math.inf), [(2, 3, 4)]),
    "norm_default": (lambda L, a: L.linalg.norm(a), [(2, 3, 4)]),
    "norm_matrix": (lambda L, a: L.linalg.norm(a, math.inf), [(3, 4)]),
    "norm_vector_dim": (lambda L, a: L.linalg.norm(a, 0.5, 1), [(3, 4)]),
    "svdvals": (lambda L, a: L.linalg.svdvals(a), [(2, 3, 4)]),
    "vecdot": (lambda L, a, b: L.linalg.vecdot(a, b), [(2, 3), (3,)]),
    "multi_dot": (lambda L, *xs: L.linalg.multi_dot(xs), [(3,), (3, 4), (4, 2), (2,)]),
}


def _to_numpy(t):
    return t.detach().numpy() if hasattr(t, "detach") else np.asarray(t)


@pytest.mark.parametrize("name", list(TORCH_CASES))
def test_values_gradients_and_dtypes_match_pytorch(torch, name):
    fn, shapes = TORCH_CASES[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    arrays = [rng.standard_normal(s) for s in shapes]
    results = {}
    for lib in (minicnn, torch):
        for dtype in ("float32", "float64"):
            xs = [lib.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
            out = fn(lib, *xs)
            g = np.random.default_rng(1).standard_normal(tuple(out.shape)).astype(dtype)
            (out * lib.tensor(g)).sum().backward()
            results[lib.__name__, dtype] = (_to_numpy(out), str(out.dtype).split(".")[-1],
                                            [_to_numpy(x.grad) if x.grad is not None else None
                                             for x in xs])
    for dtype, rtol in (("float32", 1e-4), ("float64", 1e-10)):
        ours, theirs = results["minicnn", dtype], results["torch", dtype]
        assert ours[1] == theirs[1] == dtype
        np.testing.assert_allclose(ours[0], theirs[0], rtol=rtol, atol=rtol)
        for k, (a, b) in enumerate(zip(ours[2], theirs[2])):
            if b is None:
                assert a is None or not np.any(a), (name, k)
            else:
                np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol, err_msg=f"input {k}")


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("name", RANDOM_OPS)
def test_random_shapes_match_pytorch(torch, name, seed):
    rng = np.random.default_rng([seed, RANDOM_OPS.index(name)])
    fn, shapes, _ = _random_case(name, rng)
    arrays = [rng.uniform(0.5, 1.5, s) * rng.choice([-1, 1], s) for s in shapes]
    results = []
    for lib in (minicnn, torch):
        xs = [lib.tensor(a, requires_grad=True) for a in arrays]
        out = fn(lib, *xs)
        out.backward(lib.tensor(np.random.default_rng(seed).standard_normal(tuple(out.shape))))
        results.append((_to_numpy(out), [_to_numpy(x.grad) if x.grad is not None else
                                         np.zeros(x.shape) for x in xs]))
    (ours, our_grads), (theirs, their_grads) = results
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
    for a, b in zip(our_grads, their_grads):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("p", [0.5, 1, 1.5, 2, 3, math.inf])
@pytest.mark.parametrize("mode", ["use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist"])
def test_cdist_gradient_at_zero_distances_matches_pytorch(torch, p, mode):
    x1 = np.array([[1.0, 2.0, 0.5], [3.0, -1.0, 0.5], [1.0, 0.0, 2.0]])
    x2 = np.array([[1.0, 2.0, 0.5], [1.0, 5.0, 2.0]])  # a zero distance, and zero differences
    grads = []
    for lib in (minicnn, torch):
        a, b = (lib.tensor(x, requires_grad=True) for x in (x1, x2))
        lib.cdist(a, b, p, compute_mode=mode).sum().backward()
        grads.append((_to_numpy(a.grad), _to_numpy(b.grad)))
    for ours, theirs in zip(*grads):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)


DTYPE_CASES = [
    lambda L: L.outer(L.ones(2), L.ones(3, dtype=L.float64)),
    lambda L: L.outer(L.tensor([1, 2]), L.ones(3)),
    lambda L: L.kron(L.tensor([1, 2]), L.ones(2, 2)),
    lambda L: L.kron(L.tensor([True]), L.tensor([True, False])),
    lambda L: L.addr(L.ones(2, 3, dtype=L.int64), L.ones(2), L.ones(3)),
    lambda L: L.addr(L.ones(2, 3), L.ones(2), L.ones(3, dtype=L.float64)),
    lambda L: L.inner(L.tensor(2.0), L.ones(3, dtype=L.float64)),
    lambda L: L.bmm(L.ones(1, 2, 2, dtype=L.int8), L.ones(1, 2, 2, dtype=L.int8)),
    lambda L: L.mv(L.ones(2, 2, dtype=L.int32), L.ones(2, dtype=L.int32)),
    lambda L: L.einsum("ij->", L.ones(2, 2, dtype=L.uint8)),
    lambda L: L.einsum("ii->i", L.ones(2, 2, dtype=L.int32)),
    lambda L: L.einsum("ij,jk->ik", L.ones(2, 2, dtype=L.int8), L.ones(2, 2, dtype=L.int8)),
    lambda L: L.einsum("i,j->ij", L.tensor([True]), L.tensor([True, False])),
    lambda L: L.trace(L.ones(2, 2, dtype=L.int32)),
    lambda L: L.trace(L.ones(2, 2, dtype=L.float64)),
    lambda L: L.tril(L.ones(2, 2, dtype=L.bool)),
    lambda L: L.diag(L.tensor([1, 2], dtype=L.int32)),
    lambda L: L.diag_embed(L.ones(2, dtype=L.int32)),
    lambda L: L.cross(L.ones(3, dtype=L.int64), L.ones(3, dtype=L.int64), dim=0),
    lambda L: L.tensordot(L.ones(2, 2, dtype=L.int64), L.ones(2, 2, dtype=L.int64), 1),
    lambda L: L.vdot(L.ones(2, dtype=L.int64), L.ones(2, dtype=L.int64)),
    lambda L: L.dist(L.ones(2), L.zeros(2, dtype=L.float64)),
    lambda L: L.linalg.vector_norm(L.ones(2), dtype=L.float64),
    lambda L: L.linalg.matrix_norm(L.ones(2, 2), dtype=L.float64),
]


@pytest.mark.parametrize("case", range(len(DTYPE_CASES)))
def test_dtypes_match_pytorch(torch, case):
    ours, theirs = DTYPE_CASES[case](minicnn), DTYPE_CASES[case](torch)
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    np.testing.assert_allclose(_to_numpy(ours).astype(float), _to_numpy(theirs).astype(float))


@pytest.mark.filterwarnings("ignore:Using torch.cross without specifying the dim")
@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_errors_match_pytorch(torch, case):
    """Each call minicnn refuses, PyTorch refuses too, with the same exception type: the same
    lambda, run with ``minicnn`` (and the tensors it names) bound to torch's."""
    call, error, message = ERRORS[case]
    if "argument beta" in message:
        pytest.skip("a deliberate difference: PyTorch's addmm truncates a float beta to an int "
                    "for integer tensors, minicnn refuses it as PyTorch's addr does")
    names = {"__builtins__": __builtins__, "math": math, "minicnn": torch,
             "f32": torch.ones(2, 3), "f64": torch.ones(3, 2, dtype=torch.float64)}
    with pytest.raises(Exception) as info:
        type(call)(call.__code__, names)()
    assert type(info.value) is error, (message, info.value)
