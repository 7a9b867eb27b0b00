"""Contractions: Einstein summation (einsum) and the products written as one (tensordot,
inner), the Function above its wrappers. The equation is parsed and checked here; EinsumFn
sees letters only."""
import collections
import numbers

import numpy as np

from minicnn._checks import check_dims
from minicnn.dtypes import torch_type_name
from minicnn._tensor import Function, Tensor
from minicnn.kernels.blas import numpy_blas
from minicnn.ops._common import binary
from minicnn.ops.arithmetic import MulFn
from minicnn.ops.shape import reshape

__all__ = ["EinsumFn", "einsum", "tensordot", "inner"]

# einsum's subscripts, in the order PyTorch and NumPy number them (0-25 upper, 26-51 lower case)
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def check_tensor(value, op, name):
    """``value`` if it is a Tensor, else PyTorch's TypeError naming the argument."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}(): argument '{name}' must be Tensor, not {type(value).__name__}")
    return value


def refuse_bool(op, *tensors):
    """PyTorch has no kernel summing products of bools (a dot product, a matrix product)."""
    if any(t.dtype == np.bool_ for t in tensors):
        raise NotImplementedError(f'"{op}" not implemented for \'Bool\'')


def _contract(inputs, output, arrays):
    """``np.einsum`` along the pairwise contraction order ``np.einsum_path`` finds (each pair a
    BLAS product where it can be), as a new array."""
    equation = ",".join(inputs) + "->" + output
    path, _ = np.einsum_path(equation, *arrays, optimize="greedy")
    with numpy_blas:
        out = np.einsum(equation, *arrays, optimize=path)
    # a lone operand may come back as a view of itself ('ij->ji'): the result owns its memory
    return out.copy() if any(np.may_share_memory(out, a) for a in arrays) else out


class EinsumFn(Function):
    """``einsum`` on operands whose subscripts are letters only (no ellipsis), each label of one
    size everywhere, the output labels distinct: ``inputs`` one label string per operand."""

    @staticmethod
    def forward(ctx, *operands, inputs, output):
        ctx.save_for_backward(*operands)
        ctx.inputs, ctx.output = inputs, output
        return _contract(inputs, output, operands)

    @staticmethod
    def backward(ctx, grad_out):
        # out[output] = sum over the other labels of prod_k A_k[inputs_k], so
        # dL/dA_k[inputs_k] = einsum(G[output], A_j[inputs_j] for j != k -> inputs_k).
        # A label of A_k that no other term has was summed over A_k alone: the gradient is
        # constant along it (broadcast). A repeated label ('ii') reads a diagonal: the gradient
        # lands on that diagonal, zero elsewhere.
        operands = ctx.saved_tensors
        grads = []
        for k, (labels, a) in enumerate(zip(ctx.inputs, operands)):
            if not ctx.needs_input_grad[k]:
                grads.append(None)
                continue
            others = [ctx.output] + [s for j, s in enumerate(ctx.inputs) if j != k]
            arrays = [grad_out] + [b for j, b in enumerate(operands) if j != k]
            unique = "".join(dict.fromkeys(labels))
            kept = "".join(label for label in unique if label in "".join(others))
            g = _contract(others, kept, arrays)
            size = dict(zip(labels, a.shape))
            g = np.broadcast_to(g.reshape([size[s] if s in kept else 1 for s in unique]),
                                [size[s] for s in unique])
            if len(unique) < len(labels):
                grad = np.zeros(a.shape, dtype=grad_out.dtype)
                np.einsum(f"{labels}->{unique}", grad)[...] = g  # a writable view of the diagonal
                g = grad
            grads.append(g)
        return tuple(grads)


def contract_labels(operands, inputs, output):
    """EinsumFn on checked subscripts, with PyTorch's dtype rules."""
    first = operands[0].dtype
    for t in operands[1:]:
        if t.dtype != first:
            raise RuntimeError(f"expected scalar type {torch_type_name(first)} but found "
                               f"{torch_type_name(t.dtype)}")
    summed = set("".join(inputs)) - set(output)
    if len(operands) > 1 and summed:
        refuse_bool("bmm", operands[0])
    elif summed and first.kind in "biu":
        operands = [operands[0].to(np.int64)]  # a sum over one operand: int64, as PyTorch's sum
    return EinsumFn.apply(*operands, inputs=tuple(inputs), output=output)


def _einsum_arguments(args):
    """``einsum``'s three calling forms -> (equation, operands)."""
    if not args:
        raise ValueError("einsum(): must specify the equation string and at least one operand, "
                         "or at least one operand and its subscripts list")
    if isinstance(args[0], str):
        equation, operands = args[0], args[1:]
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = tuple(operands[0])
    else:  # sublist form: einsum(x, [0, 1], y, [1, 2], [0, 2]), Ellipsis allowed
        terms = []
        for sublist in args[1::2] + ((args[-1],) if len(args) % 2 else ()):
            for s in sublist:
                if s is not Ellipsis and not (isinstance(s, numbers.Integral) and 0 <= s < 52):
                    raise ValueError("einsum(): subscript in subscript list is not within the "
                                     "valid range [0, 52)")
            terms.append("".join("..." if s is Ellipsis else LETTERS[s] for s in sublist))
        operands = args[0:len(args) - len(args) % 2:2]
        equation = ",".join(terms[:len(operands)]) + ("->" + terms[-1] if len(args) % 2 else "")
    if not operands:
        raise ValueError("einsum(): must specify the equation string and at least one operand, "
                         "or at least one operand and its subscripts list")
    for i, t in enumerate(operands):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 1, but got "
                            f"{type(t).__name__}")
    return equation, list(operands)


def _scan(equation):
    """The equation's terms as lists of letters and '...' (spaces ignored), and the output's
    (None when there is no '->')."""
    terms, term, output, i = [], [], None, 0
    while i < len(equation):
        c = equation[i]
        owner = "output" if output is not None else f"operand {len(terms)}"
        if c in LETTERS:
            term.append(c)
        elif c == "." and "..." in term:
            raise RuntimeError(f"einsum(): found '.' for {owner} " + (
                "but an ellipsis (...) was already found" if output is not None else
                "for which an ellipsis was already found"))
        elif c == ".":
            if equation[i:i + 3] != "...":
                raise RuntimeError(f"einsum(): found '.' for {owner} that is not part of any "
                                   f"ellipsis")
            term.append("...")
            i += 2
        elif c == "," and output is None:
            terms.append(term)
            term = []
        elif equation[i:i + 2] == "->" and output is None:
            terms.append(term)
            term = output = []
            i += 1
        elif c != " ":
            raise RuntimeError(f"einsum(): invalid subscript given at index {i} in the equation "
                               f"string, subscripts must be in [a-zA-Z]")
        i += 1
    return (terms, term) if output is not None else (terms + [term], None)


def einsum(*args):
    """Einstein summation, as ``torch.einsum``: ``einsum("bij,bjk->bik", x, y)``.

    Each operand's dimensions are named by letters; a letter missing from the output is summed
    over, one shared by operands multiplies them together. ``...`` stands for dimensions not
    named (broadcast between operands); without ``->``, the output is the ellipsis dimensions,
    then every letter used once, in alphabetical order (upper case first). A dimension of size
    1 broadcasts against its letter's size elsewhere. Operands must share one dtype.

    Also ``einsum(eq, [x, y])`` and the sublist form ``einsum(x, [0, 1], y, [1, 2], [0, 2])``.
    The contraction runs pairwise in the order ``numpy.einsum_path`` finds; each operand's
    gradient is itself an einsum.
    """
    equation, operands = _einsum_arguments(args)
    terms, out = _scan(equation)
    if len(terms) != len(operands):
        raise RuntimeError(f"einsum(): {'fewer' if len(terms) > len(operands) else 'more'} "
                           f"operands were provided than specified in the equation")
    # Write every ellipsis out as letters the equation does not use, aligned from the right.
    spare = [c for c in LETTERS if c not in equation]
    ell_ndims = []
    for k, (term, t) in enumerate(zip(terms, operands)):
        named = len(term) - ("..." in term)
        if "..." not in term and named != t.ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({named}) "
                               f"does not match the number of dimensions ({t.ndim}) for operand "
                               f"{k} and no ellipsis was given")
        if named > t.ndim:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({named}) is "
                               f"more than the number of dimensions ({t.ndim}) for operand {k}")
        ell_ndims.append(t.ndim - named if "..." in term else 0)
    if max(ell_ndims) > len(spare):
        raise RuntimeError("einsum(): too many dimensions: the ellipsis needs more letters than "
                           "the equation leaves unused")
    ell = "".join(spare[:max(ell_ndims)])
    inputs = ["".join(ell[len(ell) - e:] if s == "..." else s for s in term)
              for term, e in zip(terms, ell_ndims)]
    if out is None:
        once = [c for c, n in collections.Counter(c for t in terms for c in t if c != "...")
                .items() if n == 1]
        output = ell + "".join(sorted(once))
    else:
        output = "".join(ell if s == "..." else s for s in out)
        for c in output:
            if c not in "".join(inputs):
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the "
                                   f"equation for any input operand")
            if output.count(c) > 1:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in "
                                   f"the output")
    sizes = {}
    for k, (labels, t) in enumerate(zip(inputs, operands)):
        own = {}
        for label, size in zip(labels, t.shape):
            if own.setdefault(label, size) != size:
                raise RuntimeError(f"einsum(): subscript {label} is repeated for operand {k} but "
                                   f"the sizes don't match, {size} != {own[label]}")
        for label, size in own.items():
            seen = sizes.get(label, 1)
            if size != 1 and seen != 1 and size != seen:
                what = (f"dimension {ell[len(ell) - ell_ndims[k]:].index(label)} covered by "
                        f"ellipsis in operand {k} has size {size}" if label in ell else
                        f"subscript {label} has size {size} for operand {k}")
                raise RuntimeError(f"einsum(): {what} which does not broadcast with previously "
                                   f"seen size {seen}")
            sizes[label] = size if seen == 1 else seen
    # Broadcasting a size-1 dimension = leaving its label out of that operand (a view).
    for k, (labels, t) in enumerate(zip(inputs, operands)):
        keep = [d for d, c in enumerate(labels) if t.shape[d] != 1 or sizes[c] == 1]
        if len(keep) < len(labels):
            operands[k] = reshape(t, tuple(t.shape[d] for d in keep))
            inputs[k] = "".join(labels[d] for d in keep)
    return contract_labels(operands, inputs, output)


def tensordot(a, b, dims=2):
    """Sum of products over ``dims``: the last ``dims`` dimensions of ``a`` with the first
    ``dims`` of ``b`` (an int), or ``dims=(dims_a, dims_b)`` paired. The result has ``a``'s
    free dimensions, then ``b``'s."""
    check_tensor(a, "tensordot", "a"), check_tensor(b, "tensordot", "b")
    if isinstance(dims, Tensor):
        dims = dims.item() if dims.ndim == 0 else dims.tolist()
    if isinstance(dims, numbers.Integral) and not isinstance(dims, bool):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(a.ndim, b.ndim):
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        dims = (list(range(a.ndim - dims, a.ndim)), list(range(dims)))
    given_a, given_b = ([d] if isinstance(d, numbers.Integral) else list(d) for d in dims)
    if len(given_a) != len(given_b):
        raise RuntimeError("both dimension lists should have same length")
    dims_a = check_dims(tuple(given_a), a.ndim, "dims")
    dims_b = check_dims(tuple(given_b), b.ndim, "dims")
    for da, db, ga, gb in zip(dims_a, dims_b, given_a, given_b):
        if a.shape[da] != b.shape[db]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{a.shape[da]} in dim {ga} and second has size {b.shape[db]} in "
                               f"dim {gb}")
    if a.dtype != b.dtype:
        raise RuntimeError("both inputs should have same dtype")
    refuse_bool("dot", a)
    a_labels = LETTERS[:a.ndim]
    b_labels = [LETTERS[a.ndim + j] for j in range(b.ndim)]
    for da, db in zip(dims_a, dims_b):  # a contracted pair shares its letter
        b_labels[db] = a_labels[da]
    b_labels = "".join(b_labels)
    free = [c for c in a_labels if c not in b_labels] + [c for c in b_labels if c not in a_labels]
    return contract_labels([a, b], [a_labels, b_labels], "".join(free))


def inner(input, other):
    """Sum of products over the last dimension of both (``input * other`` if either is 0-d)."""
    check_tensor(input, "inner", "input"), check_tensor(other, "inner", "other")
    if input.ndim == 0 or other.ndim == 0:
        return binary(MulFn, input, other)
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but "
                           f"got shapes {list(input.shape)} and {list(other.shape)}")
    return tensordot(input, other, ([-1], [-1]))
