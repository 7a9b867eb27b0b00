"""Linear algebra: the matrix products (bmm, addmm, addmv, baddbmm, mv, outer, kron), triangles
and diagonals (tril, triu, diag, diag_embed, trace), cross, cdist, svdvals, det and inverse; each Function
above its wrapper. einsum (and tensordot, inner) is ``contraction.py``; the ``torch.linalg``
namespace is ``minicnn/linalg.py``."""
import math
import numbers

import numpy as np

from minicnn import dtypes
from minicnn._checks import check_dim, check_dims, check_int
from minicnn.dtypes import torch_type_name
from minicnn._tensor import Function, Tensor
from minicnn.kernels.blas import numpy_blas
from minicnn.ops._common import binary, check_broadcast, unbroadcast
from minicnn.ops.arithmetic import MatMulFn, MulFn, dot
from minicnn.ops.contraction import check_tensor, refuse_bool
from minicnn.ops.pointwise import _sign, clone
from minicnn.ops.reduction import norm, sum
from minicnn.ops.shape import diagonal as _diagonal, flatten, reshape, transpose

# svdvals is defined here too but published only as minicnn.linalg.svdvals (torch has no
# torch.svdvals): this list is what minicnn.ops and the top level minicnn export.
__all__ = [
    "bmm", "mv", "vdot", "AddMatMulFn", "addmm", "addmv", "baddbmm", "addbmm", "addr", "outer",
    "ger", "kron", "TrilFn", "tril", "TriuFn", "triu",
    "DiagEmbedFn", "diag_embed", "diag", "diagflat", "trace", "CrossFn", "cross", "CdistFn",
    "cdist", "dist", "SvdvalsFn", "DetFn", "det", "InverseFn", "inverse",
]

# --- matrix products ------------------------------------------------------------------------

def bmm(input, mat2):
    """Batched matrix product: ``(B, N, M) @ (B, M, P) -> (B, N, P)``, no broadcasting."""
    for name, t in (("batch1", input), ("batch2", mat2)):
        if check_tensor(t, "bmm", name).ndim != 3:
            raise RuntimeError(f"{name} must be a 3D tensor")
    if mat2.shape[:2] != (input.shape[0], input.shape[2]):
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{input.shape[0]}, {input.shape[2]}] but got: "
                           f"[{mat2.shape[0]}, {mat2.shape[1]}].")
    if input.dtype != mat2.dtype:
        raise RuntimeError(f"expected scalar type {torch_type_name(input.dtype)} but found "
                           f"{torch_type_name(mat2.dtype)}")
    refuse_bool("bmm", input)
    return MatMulFn.apply(input, mat2)


def _mv_check(op, input, mat, vec):
    """addmv's and mv's shape and dtype rules (input None for mv)."""
    ndims = ", ".join(str(t.ndim) for t in (input, mat, vec) if t is not None)
    if (input is not None and input.ndim > 1) or mat.ndim != 2 or vec.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {ndims}")
    n = mat.shape[0] if input is None else input.numel()  # input: (N,), (1,) or 0-d
    if vec.shape[0] != mat.shape[1] or n not in (1, mat.shape[0]):
        raise RuntimeError(f"size mismatch, got input ({n}), mat ({mat.shape[0]}x{mat.shape[1]}), "
                           f"vec ({vec.shape[0]})")
    names = [torch_type_name(t.dtype) for t in (input, mat, vec) if t is not None]
    if len(set(names)) > 1:
        raise RuntimeError(f"{op} input tensors must have the same dtype, but got "
                           f"{', '.join(names[:-1])}, and {names[-1]}")
    refuse_bool(op, mat)


def mv(input, vec):
    """Matrix-vector product: ``(N, M) @ (M,) -> (N,)``."""
    _mv_check("mv", None, check_tensor(input, "mv", "input"), check_tensor(vec, "mv", "vec"))
    return MatMulFn.apply(input, vec)


def vdot(input, other):
    """The dot product of two 1-D tensors (``dot``: minicnn has no complex numbers to conjugate)."""
    check_tensor(input, "vdot", "input"), check_tensor(other, "vdot", "other")
    if input.ndim != 1 or other.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.ndim}D and {other.ndim}D tensors")
    if input.dtype != other.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                           f"{torch_type_name(input.dtype)} and {torch_type_name(other.dtype)}")
    if input.shape != other.shape:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{input.shape[0]}] and src "
                           f"[{other.shape[0]}] to have the same number of elements, but got "
                           f"{input.shape[0]} and {other.shape[0]} elements respectively")
    refuse_bool("dot", input)
    return dot(input, other)


class AddMatMulFn(Function):
    """``beta * input + alpha * (m1 @ m2)``: addmm (matrices), addmv (a matrix and a vector),
    baddbmm (batches of matrices); ``input`` broadcasts to the product's shape."""

    @staticmethod
    def forward(ctx, c, m1, m2, beta, alpha):
        ctx.save_for_backward(m1, m2)
        ctx.c_shape, ctx.beta, ctx.alpha = c.shape, beta, alpha
        with numpy_blas:  # one thread pool: NumPy's BLAS must not fight the OpenMP kernels
            out = np.matmul(m1, m2)
        if alpha != 1:
            out = alpha * out
        if beta != 0:  # beta = 0: input is not read at all (its NaN and inf neither), as PyTorch
            out = beta * c + out
        return np.broadcast_to(out, np.broadcast_shapes(out.shape, c.shape)).astype(m1.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        # d/d input = beta G (summed over broadcast dims), d/d m1 = alpha G m2^T,
        # d/d m2 = alpha m1^T G (for a vector m2: alpha outer(G, m2) and alpha m1^T G)
        m1, m2 = ctx.saved_tensors
        g = grad_out * ctx.alpha if ctx.alpha != 1 else grad_out
        grad_c = grad_m1 = grad_m2 = None
        if ctx.needs_input_grad[0]:
            grad_c = unbroadcast(grad_out * ctx.beta, ctx.c_shape)
        with numpy_blas:
            if ctx.needs_input_grad[1]:
                grad_m1 = np.outer(g, m2) if m2.ndim == 1 else g @ np.swapaxes(m2, -1, -2)
            if ctx.needs_input_grad[2]:
                grad_m2 = np.swapaxes(m1, -1, -2) @ g
        return grad_c, grad_m1, grad_m2


def _scalars(op, beta, alpha, dtype):
    """beta and alpha as numbers: floats are refused for integer tensors (PyTorch's addmm would
    truncate 0.5 to 0 there; its addr raises, as minicnn's add-products all do)."""
    for name, value in (("beta", beta), ("alpha", alpha)):
        if not isinstance(value, (numbers.Number, np.generic)):
            raise TypeError(f"{op}(): argument '{name}' must be a Number, not "
                            f"{type(value).__name__}")
        if dtype.kind in "biu" and not isinstance(value, (numbers.Integral, np.integer)):
            raise RuntimeError(f"For integral input tensors, argument {name} must not be a "
                               f"floating point number.")
    return beta, alpha


def _broadcasts_to(input, shape):
    """PyTorch's error when ``input`` does not broadcast to the product's ``shape``."""
    lead = len(shape) - input.ndim
    if lead < 0:
        raise RuntimeError(f"expand: the number of sizes provided ({len(shape)}) must be greater "
                           f"or equal to the number of dimensions in the tensor ({input.ndim})")
    for d, n in enumerate(input.shape):
        if n not in (1, shape[lead + d]):
            raise RuntimeError(f"The expanded size of the tensor ({shape[lead + d]}) must match "
                               f"the existing size ({n}) at non-singleton dimension {lead + d}.  "
                               f"Target sizes: {list(shape)}.  Tensor sizes: {list(input.shape)}")


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat1 @ mat2)``, mat1 (N, M), mat2 (M, P), input broadcast to
    (N, P)."""
    for name, t in (("input", input), ("mat1", mat1), ("mat2", mat2)):
        check_tensor(t, "addmm", name)
    for name, t in (("mat1", mat1), ("mat2", mat2)):
        if t.ndim != 2:
            raise RuntimeError(f"{name} must be a matrix, got {t.ndim}-D tensor")
    if mat1.shape[1] != mat2.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({mat1.shape[0]}x"
                           f"{mat1.shape[1]} and {mat2.shape[0]}x{mat2.shape[1]})")
    for name, t in (("self", input), ("mat1", mat1)):
        if t.dtype != mat2.dtype:
            raise RuntimeError(f"{name} and mat2 must have the same dtype, but got "
                               f"{torch_type_name(t.dtype)} and {torch_type_name(mat2.dtype)}")
    refuse_bool("addmm", mat1)
    _broadcasts_to(input, (mat1.shape[0], mat2.shape[1]))
    beta, alpha = _scalars("addmm", beta, alpha, input.dtype)
    return AddMatMulFn.apply(input, mat1, mat2, beta=beta, alpha=alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat @ vec)``, mat (N, M), vec (M,), input (N,), (1,) or 0-d."""
    for name, t in (("input", input), ("mat", mat), ("vec", vec)):
        check_tensor(t, "addmv", name)
    _mv_check("addmv", input, mat, vec)
    beta, alpha = _scalars("addmv", beta, alpha, input.dtype)
    return AddMatMulFn.apply(input, mat, vec, beta=beta, alpha=alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * bmm(batch1, batch2)``, input broadcast to (B, N, P)."""
    check_tensor(input, "baddbmm", "input")
    for name, t in (("batch1", batch1), ("batch2", batch2)):
        if check_tensor(t, "baddbmm", name).ndim != 3:
            raise RuntimeError(f"{name} must be a 3D tensor")
    if batch2.shape[:2] != (batch1.shape[0], batch1.shape[2]):
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{batch1.shape[0]}, {batch1.shape[2]}] but got: "
                           f"[{batch2.shape[0]}, {batch2.shape[1]}].")
    if len({input.dtype, batch1.dtype, batch2.dtype}) > 1:
        input_, batch1_, batch2_ = (torch_type_name(t.dtype).lower()
                                    for t in (input, batch1, batch2))
        raise RuntimeError(f"Input dtypes must be the same, got: input {input_}, batch1: "
                           f"{batch1_}, batch2: {batch2_}")
    refuse_bool("baddbmm", batch1)
    _broadcasts_to(input, (batch1.shape[0], batch1.shape[1], batch2.shape[2]))
    beta, alpha = _scalars("baddbmm", beta, alpha, input.dtype)
    return AddMatMulFn.apply(input, batch1, batch2, beta=beta, alpha=alpha)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * sum_b batch1[b] @ batch2[b]``, input broadcast to (N, P).

    The sum of the B products is one product: batch1's matrices side by side (N, B*M) times
    batch2's stacked (B*M, P), so this is addmm on two reshaped views."""
    for name, t in (("batch1", batch1), ("batch2", batch2)):
        if check_tensor(t, "addbmm", name).ndim != 3:
            raise RuntimeError(f"{name} must be a 3D tensor")
    if batch1.shape[0] != batch2.shape[0]:
        raise RuntimeError(f"batch1 and batch2 must have same number of batches, got "
                           f"{batch1.shape[0]} and {batch2.shape[0]}")
    if batch1.shape[2] != batch2.shape[1]:
        raise RuntimeError(f"Incompatible matrix sizes for bmm ({batch1.shape[1]}x"
                           f"{batch1.shape[2]} and {batch2.shape[1]}x{batch2.shape[2]})")
    b, n, m = batch1.shape
    side_by_side = reshape(transpose(batch1, 0, 1), (n, b * m))
    return addmm(input, side_by_side, reshape(batch2, (b * m, batch2.shape[2])), beta=beta,
                 alpha=alpha)


def _vector(t, op, name):
    if check_tensor(t, op, name).ndim != 1:
        raise RuntimeError(f"{op}: Expected 1-D argument {name}, but got {t.ndim}-D")
    return t


def outer(input, vec2):
    """The outer product ``input[i] * vec2[j]`` of two 1-D tensors (types promoted, as ``*``)."""
    return binary(MulFn, reshape(_vector(input, "outer", "self"), (-1, 1)),
                  _vector(vec2, "outer", "vec2"))


ger = outer  # PyTorch's old name


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """``beta * input + alpha * outer(vec1, vec2)``, input broadcast to (N, M); the dtypes are
    promoted (as PyTorch's addr, unlike addmm)."""
    check_tensor(input, "addr", "input")
    vec1, vec2 = _vector(vec1, "addr", "vec1"), _vector(vec2, "addr", "vec2")
    _broadcasts_to(input, (vec1.shape[0], vec2.shape[0]))
    target = dtypes._result_numpy(input, vec1, vec2)
    beta, alpha = _scalars("addr", beta, alpha, target)
    input, vec1, vec2 = (t.to(target) for t in (input, vec1, vec2))
    # outer(vec1, vec2) is the product of a column (N, 1) and a row (1, M)
    return AddMatMulFn.apply(input, reshape(vec1, (-1, 1)), reshape(vec2, (1, -1)), beta=beta,
                             alpha=alpha)


def kron(input, other):
    """The Kronecker product: block ``(i, j, ...)`` of the result is ``input[i, j, ...] *
    other`` (the shorter shape padded with leading 1s; types promoted, as ``*``)."""
    check_tensor(input, "kron", "input"), check_tensor(other, "kron", "other")
    nd = max(input.ndim, other.ndim)
    a_shape = (1,) * (nd - input.ndim) + tuple(input.shape)
    b_shape = (1,) * (nd - other.ndim) + tuple(other.shape)
    # (a0, 1, a1, 1, ...) * (1, b0, 1, b1, ...) -> (a0, b0, a1, b1, ...) -> (a0*b0, a1*b1, ...)
    a = reshape(input, tuple(n for s in a_shape for n in (s, 1)))
    b = reshape(other, tuple(n for s in b_shape for n in (1, s)))
    return reshape(binary(MulFn, a, b), tuple(m * n for m, n in zip(a_shape, b_shape)))


# --- triangles and diagonals --------------------------------------------------------------------

class TrilFn(Function):
    @staticmethod
    def forward(ctx, a, diagonal):
        ctx.diagonal = diagonal
        return np.tril(a, diagonal)

    @staticmethod
    def backward(ctx, grad_out):
        # the kept entries are the input's own (gradient 1), the zeroed ones constants (0)
        return np.tril(grad_out, ctx.diagonal)


class TriuFn(Function):
    @staticmethod
    def forward(ctx, a, diagonal):
        ctx.diagonal = diagonal
        return np.triu(a, diagonal)

    @staticmethod
    def backward(ctx, grad_out):
        # the kept entries are the input's own (gradient 1), the zeroed ones constants (0)
        return np.triu(grad_out, ctx.diagonal)


def _triangle(fn, name, input, diagonal):
    if check_tensor(input, name, "input").ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    return fn.apply(input, diagonal=check_int(diagonal, "diagonal"))


def tril(input, diagonal=0):
    """The lower triangle of the last two dimensions: the entries on and below the
    ``diagonal``-th diagonal (0 the main one, > 0 above it), zeros elsewhere."""
    return _triangle(TrilFn, "tril", input, diagonal)


def triu(input, diagonal=0):
    """The upper triangle of the last two dimensions: the entries on and above the
    ``diagonal``-th diagonal, zeros elsewhere."""
    return _triangle(TriuFn, "triu", input, diagonal)


class DiagEmbedFn(Function):
    @staticmethod
    def forward(ctx, a, offset, dim1, dim2):
        ctx.args = (offset, dim1, dim2)
        n = a.shape[-1] + abs(offset)
        shape = list(a.shape[:-1])
        for d in sorted((dim1, dim2)):
            shape.insert(d, n)
        out = np.zeros(shape, dtype=a.dtype)
        # np.diagonal's view is read-only by default: this one is our own fresh array
        view = np.diagonal(out, offset, dim1, dim2)
        view.flags.writeable = True
        view[...] = a
        return out

    @staticmethod
    def backward(ctx, grad_out):
        # each input element sits at one place on the diagonal: its gradient is read there
        return np.diagonal(grad_out, *ctx.args).copy()


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Square matrices with ``input``'s last dimension on their ``offset``-th diagonal, in the
    (``dim1``, ``dim2``) planes of a result with one more dimension; zero elsewhere."""
    ndim = check_tensor(input, "diag_embed", "input").ndim + 1
    dim1, dim2 = check_dim(dim1, ndim, "dim1"), check_dim(dim2, ndim, "dim2")
    if dim1 == dim2:  # (a 0-d input has no two dimensions to tell apart: it ends here)
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return DiagEmbedFn.apply(input, offset=check_int(offset, "offset"), dim1=dim1, dim2=dim2)


def diag(input, diagonal=0):
    """A 1-D tensor -> the square matrix with it on its ``diagonal``-th diagonal; a 2-D tensor
    -> its ``diagonal``-th diagonal (a copy, as PyTorch's, where ``diagonal()`` is a view)."""
    if check_tensor(input, "diag", "input").ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    if input.ndim == 2:
        return clone(_diagonal(input, diagonal, 0, 1))
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.ndim}D")


def diagflat(input, offset=0):
    """The square matrix with ``input``'s elements (flattened) on its ``offset``-th diagonal."""
    return diag_embed(flatten(check_tensor(input, "diagflat", "input")), offset, 0, 1)


def trace(input):
    """The sum of a matrix's diagonal (integers sum to int64, as PyTorch)."""
    if check_tensor(input, "trace", "input").ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    if input.dtype == np.bool_:
        raise NotImplementedError("\"trace\" not implemented for 'Bool'")
    if input.dtype.kind in "iu":
        input = input.to(np.int64)
    return sum(_diagonal(input, 0, 0, 1))


# --- cross product -------------------------------------------------------------------------------

class CrossFn(Function):
    """``a x b`` along ``axis``; the other dimensions broadcast."""

    @staticmethod
    def forward(ctx, a, b, axis):
        ctx.save_for_backward(a, b)
        ctx.axis = axis
        return np.cross(a, b, axis=axis)

    @staticmethod
    def backward(ctx, grad_out):
        # c = a x b is linear in each: <G, a x b> = <b x G, a> = <G x a, b>, so
        # dL/da = b x G and dL/db = G x a (summed over broadcast dimensions)
        a, b = ctx.saved_tensors
        return (unbroadcast(np.cross(b, grad_out, axis=ctx.axis), a.shape)
                if ctx.needs_input_grad[0] else None,
                unbroadcast(np.cross(grad_out, a, axis=ctx.axis), b.shape)
                if ctx.needs_input_grad[1] else None)


def cross(input, other, dim=None):
    """The cross product of 3-vectors along ``dim`` (the other dimensions broadcast); ``dim``
    None takes the first dimension of size 3, as ``torch.cross`` (``minicnn.linalg.cross``
    defaults to the last)."""
    check_tensor(input, "cross", "input"), check_tensor(other, "cross", "other")
    if input.ndim != other.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    if dim is None:
        dim = next((d for d, n in enumerate(input.shape) if n == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    axis = check_dim(dim, input.ndim)
    if input.shape[axis] != 3 or other.shape[axis] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got "
                           f"{input.shape[axis]} and {other.shape[axis]}")
    if input.dtype != other.dtype:
        raise RuntimeError(f"expected scalar type {torch_type_name(input.dtype)} but found "
                           f"{torch_type_name(other.dtype)}")
    if input.dtype == np.bool_:
        raise NotImplementedError("\"cross\" not implemented for 'Bool'")
    check_broadcast(input.shape, other.shape, CrossFn)
    return CrossFn.apply(input, other, axis=axis)


# --- distances ---------------------------------------------------------------------------------

class CdistFn(Function):
    """``out[..., i, j] = ||x1[..., i, :] - x2[..., j, :]||_p``; the batch dimensions broadcast."""

    @staticmethod
    def forward(ctx, x1, x2, p, use_mm):
        if use_mm:
            # |a - b|^2 = |a|^2 + |b|^2 - 2 a.b: one matrix product, no (P, R, M) array of
            # differences (rounding can push a zero distance below 0: clamped)
            with numpy_blas:
                prod = x1 @ np.swapaxes(x2, -1, -2)
            sq = (x1 * x1).sum(-1)[..., :, None] + (x2 * x2).sum(-1)[..., None, :] - 2 * prod
            out = np.sqrt(np.maximum(sq, 0))
        else:
            diff = np.abs(x1[..., :, None, :] - x2[..., None, :, :])
            if p == 0:
                out = (diff != 0).sum(-1).astype(x1.dtype)
            elif p == math.inf:
                out = diff.max(-1, initial=0)
            elif p == 1:
                out = diff.sum(-1)
            elif p == 2:
                out = np.sqrt((diff * diff).sum(-1))
            else:
                out = (diff ** p).sum(-1) ** (1 / p)
        ctx.save_for_backward(x1, x2, out)
        ctx.p = p
        return out

    @staticmethod
    def backward(ctx, grad_out):
        # PyTorch's _cdist_backward; with d = x1_i - x2_j and D = out_ij, dD/dx1_i is
        # p = 1: sgn(d); p = 2: d / D; p = inf: sgn(d) where |d| = D; other p:
        # sgn(d) |d|^(p-1) / D^(p-1); 0 where D = 0 (and at d = 0 for p < 1); p = 0: none.
        # dD/dx2_j = -dD/dx1_i; each point's gradient sums over the points it was paired with.
        x1, x2, out = ctx.saved_tensors
        p, g = ctx.p, grad_out
        if p == 0:  # a count of differing coordinates: piecewise constant
            grad1, grad2 = np.zeros(x1.shape, g.dtype), np.zeros(x2.shape, g.dtype)
        elif p == 2:
            # sum_j w_ij (x1_i - x2_j) = x1_i sum_j w_ij - (w @ x2)_i, with w = G / D
            with np.errstate(divide="ignore", invalid="ignore"):
                w = np.where(out == 0, 0, g / out).astype(g.dtype, copy=False)
            with numpy_blas:
                grad1 = x1 * w.sum(-1)[..., None] - w @ x2
                grad2 = x2 * w.sum(-2)[..., None] - np.swapaxes(w, -1, -2) @ x1
        else:
            d = x1[..., :, None, :] - x2[..., None, :, :]
            size, dist, gg = np.abs(d), out[..., None], g[..., None]
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                if p == 1:
                    each = _sign(d) * gg
                elif p == math.inf:
                    each = _sign(d) * (size == dist) * gg
                else:
                    each = _sign(d) * size ** (p - 1) * gg / dist ** (p - 1)
                    each = np.where((dist == 0) | ((size == 0) & (p < 1)), 0, each)
            each = each.astype(g.dtype, copy=False)
            grad1, grad2 = each.sum(-2), -each.sum(-3)
        return (unbroadcast(grad1, x1.shape) if ctx.needs_input_grad[0] else None,
                unbroadcast(grad2, x2.shape) if ctx.needs_input_grad[1] else None)


_COMPUTE_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                  "donot_use_mm_for_euclid_dist")


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """The p-norm distance between each row of ``x1`` (..., P, M) and each row of ``x2``
    (..., R, M): a (..., P, R) tensor, the batch dimensions broadcast.

    ``p`` >= 0 (0 counts differing coordinates, inf takes the largest). For p = 2 the default
    ``compute_mode`` uses ``|a|^2 + |b|^2 - 2 a.b`` (one matrix product, as PyTorch) when P or
    R exceeds 25; ``"donot_use_mm_for_euclid_dist"`` always takes differences (exact at zero
    distances). A zero distance gets gradient 0, as PyTorch's.
    """
    for name, t in (("X1", x1), ("X2", x2)):
        if check_tensor(t, "cdist", name.lower()).dtype.kind != "f":
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: "
                               f"{torch_type_name(t.dtype)}")
        if t.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {t.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{x1.shape[-1]} X2: {x2.shape[-1]}")
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not p >= 0:
        raise RuntimeError("cdist only supports non-negative p values")
    if compute_mode not in _COMPUTE_MODES and compute_mode is not None:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    if x1.dtype != x2.dtype:
        raise RuntimeError(f"expected scalar type {torch_type_name(x1.dtype)} but found "
                           f"{torch_type_name(x2.dtype)}")
    check_broadcast(x1.shape[:-2], x2.shape[:-2], CdistFn)
    mode = compute_mode or _COMPUTE_MODES[0]
    use_mm = p == 2 and (mode == _COMPUTE_MODES[1] or mode == _COMPUTE_MODES[0] and
                         (x1.shape[-2] > 25 or x2.shape[-2] > 25))
    return CdistFn.apply(x1, x2, p=float(p), use_mm=use_mm)


def dist(input, other, p=2):
    """The p-norm of ``input - other`` (broadcast; types promoted), a 0-d tensor."""
    diff = check_tensor(input, "dist", "input") - check_tensor(other, "dist", "other")
    if diff.dtype.kind != "f":
        raise RuntimeError(f"norm(): input dtype should be either floating point or complex. "
                           f"Got {torch_type_name(diff.dtype)} instead.")
    return norm(diff, p)


# --- singular values ---------------------------------------------------------------------------

class SvdvalsFn(Function):
    @staticmethod
    def forward(ctx, a):
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        ctx.u, ctx.vh = u, vh
        return s

    @staticmethod
    def backward(ctx, grad_out):
        # A = U diag(s) V^T and ds_i = u_i^T dA v_i, so dL/dA = U diag(G) V^T
        return (ctx.u * grad_out[..., None, :]) @ ctx.vh


def svdvals(A):
    """The singular values of the matrices in the last two dimensions, largest first:
    (..., min(M, N)). Published as ``minicnn.linalg.svdvals``."""
    return SvdvalsFn.apply(_matrices(A, "linalg.svd"))


# --- determinant and inverse -------------------------------------------------------------------

def _matrices(A, op, square=False):
    """``A`` checked to be floating batches of matrices (..., m, n), square ones if ``square``,
    with PyTorch's errors."""
    if check_tensor(A, op, "A").dtype.kind != "f":
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got "
                           f"{torch_type_name(A.dtype)}")
    if A.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if square and A.shape[-1] != A.shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are "
                           f"{A.shape[-2]} by {A.shape[-1]} matrices")
    return A


class DetFn(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.linalg.det(a).astype(a.dtype)

    @staticmethod
    def backward(ctx, grad_out):
        # d det(A) / dA = adj(A)^T, the cofactor matrix (det(A) inv(A)^T when A is invertible).
        # Through the SVD A = U diag(s) V^T it exists for singular A too: adj(A) =
        # det(U) det(V) V diag(prod_{j != i} s_j) U^T.
        a, = ctx.saved_tensors
        if a.shape[-1] == 0:
            return np.zeros_like(a)
        u, s, vh = np.linalg.svd(a)
        n = s.shape[-1]
        others = np.stack([np.prod(np.delete(s, i, axis=-1), axis=-1) for i in range(n)], -1)
        sign = np.linalg.det(u) * np.linalg.det(vh)
        adj = np.swapaxes(vh, -1, -2) @ (others[..., :, None] * np.swapaxes(u, -1, -2))
        return (grad_out * sign)[..., None, None] * np.swapaxes(adj, -1, -2)


def det(A):
    """The determinant of the square matrices in the last two dimensions: (..., n, n) ->
    (...,). Differentiable also where A is singular (the gradient is A's cofactor matrix)."""
    return DetFn.apply(_matrices(A, "linalg.det", square=True))


def _singular(m):
    try:
        np.linalg.inv(m)
        return False
    except np.linalg.LinAlgError:
        return True


class InverseFn(Function):
    @staticmethod
    def forward(ctx, a):
        try:
            inv = np.linalg.inv(a)       # LU with partial pivoting, as PyTorch's
        except np.linalg.LinAlgError:
            flat = a.reshape(-1, *a.shape[-2:])
            bad = next(i for i, m in enumerate(flat) if _singular(m))
            where = f" (batch element {bad})" if a.ndim > 2 else ""
            raise RuntimeError(f"linalg.inv: the input matrix{where} is singular, the inversion "
                               f"could not be completed.") from None
        ctx.save_for_backward(inv)
        return inv.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, grad_out):
        # d(A^-1) = -A^-1 dA A^-1, so dL/dA = -A^-T G A^-T
        inv, = ctx.saved_tensors
        inv_t = np.swapaxes(inv, -1, -2)
        return -(inv_t @ grad_out @ inv_t)


def inverse(A):
    """The inverses of the square matrices in the last two dimensions; RuntimeError naming the
    batch entry when one is singular (as ``minicnn.linalg.inv``)."""
    return InverseFn.apply(_matrices(A, "linalg.inv", square=True))
