"""``minicnn.autograd.functional``: whole Jacobians and products with them, by repeated backward.

As ``torch.autograd.functional``: ``func`` takes the tensors of ``inputs`` (a Tensor or a tuple
of Tensors) and returns a Tensor or a tuple of Tensors; results mirror those structures (a tuple
in gives a tuple out). The inputs are detached copies that require grad, so ``func`` never
touches the caller's graph, and the results are cut from the graph.

minicnn has reverse mode only, and first-order backward formulas only:

* ``vjp`` (vᵀJ) is one backward pass, as in PyTorch;
* ``jacobian`` is one backward pass per output element (row by row; ``vectorize`` and
  ``strategy="forward-mode"`` give the same numbers by the same loop);
* ``jvp`` (J v) is computed from those rows, so it costs one backward per output element and is
  exact (PyTorch's double-backward trick needs higher-order gradients);
* ``hessian``, ``hvp`` and ``vhp`` need the gradient of a gradient, which minicnn does not have
  (higher-order gradients are out of scope): they raise ``NotImplementedError``, as does
  ``create_graph=True`` everywhere.
"""
import numpy as np

from minicnn._tensor import Tensor
from minicnn.autograd import enable_grad, grad, refuse_create_graph

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]


def _as_tuple(x, arg_name, fn_name):
    """(was it a tuple, its items as a tuple), every item checked to be a Tensor."""
    is_tuple = isinstance(x, tuple)
    items = x if is_tuple else (x,)
    for i, item in enumerate(items):
        if not isinstance(item, Tensor):
            where = (f"the value at index {i}" if is_tuple else f"the given {arg_name}")
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a "
                            f"tuple of Tensors but {where} has type {type(item)}.")
    return is_tuple, items


def _untuple(items, is_tuple):
    return tuple(items) if is_tuple else items[0]


def _call(func, inputs, fn_name):
    """func on detached copies of inputs that require grad: (copies, outputs as a tuple,
    whether func returned a tuple)."""
    inputs = tuple(t.detach().requires_grad_(True) for t in inputs)
    with enable_grad():
        outputs = func(*inputs)
    is_tuple, outputs = _as_tuple(outputs, "outputs of the user-provided function", fn_name)
    return inputs, outputs, is_tuple


def _v_arrays(v, other, fn_name, what):
    """v as arrays, checked against ``other`` (the outputs for vjp, the inputs for jvp); ones
    when v is None and ``other`` is one tensor with one element."""
    if v is None:
        if len(other) != 1 or other[0].numel() != 1:
            raise RuntimeError(f"The vector v can only be None if {what} a single Tensor with "
                               f"a single element.")
        return (np.ones(other[0].shape, dtype=other[0].dtype),)
    _, v = _as_tuple(v, "v", fn_name)
    if len(v) != len(other):
        raise RuntimeError(f"v is a tuple of invalid length: should be {len(other)} but got "
                           f"{len(v)}.")
    for i, (v_i, o_i) in enumerate(zip(v, other)):
        if v_i.shape != o_i.shape:
            raise RuntimeError(f"Entry {i} in v has invalid size: should be {o_i.shape} but "
                               f"got {v_i.shape}.")
    return tuple(t.numpy() for t in v)


def _check_output(out, i, strict):
    """Whether output ``i`` depends on the inputs at all (an error in strict mode if not)."""
    if out.requires_grad:
        return True
    if strict:
        raise RuntimeError(f"Output {i} of the user-provided function does not require "
                           f"gradients. The outputs must be computed in a differentiable "
                           f"manner from the input when running in strict mode.")
    return False


def _vjp_rows(outputs, inputs, grad_outputs, strict, retain_graph, out_index=None):
    """sum_k grad_outputs[k]ᵀ d(outputs[k])/d(inputs): one array per input (zeros for an input
    nothing depends on, or an error in strict mode)."""
    used = [(o, g) for k, (o, g) in enumerate(zip(outputs, grad_outputs))
            if _check_output(o, k if out_index is None else out_index, strict)]
    found = [None] * len(inputs)
    if used:
        found = grad([o for o, _ in used], list(inputs), [g for _, g in used],
                     retain_graph=retain_graph, allow_unused=True)
    rows = []
    for j, (g, inp) in enumerate(zip(found, inputs)):
        if g is None:
            if strict:
                which = "The output" if out_index is None else f"Output {out_index}"
                raise RuntimeError(f"{which} of the user-provided function is independent of "
                                   f"input {j}. This is not allowed in strict mode.")
            rows.append(np.zeros(inp.shape, dtype=inp.dtype))
        else:
            rows.append(g.numpy())
    return rows


def _jacobian_arrays(outputs, inputs, strict):
    """J[k][j], of shape outputs[k].shape + inputs[j].shape, one backward per output element."""
    jac = []
    for k, out in enumerate(outputs):
        blocks = [np.zeros(out.shape + inp.shape, dtype=inp.dtype) for inp in inputs]
        if _check_output(out, k, strict):
            flat = [b.reshape((out.numel(),) + tuple(inp.shape))
                    for b, inp in zip(blocks, inputs)]
            for e in range(out.numel()):
                onehot = np.zeros(out.numel(), dtype=out.dtype)
                onehot[e] = 1
                rows = _vjp_rows((out,), inputs, (onehot.reshape(out.shape),), strict,
                                 retain_graph=True, out_index=k)
                for f, row in zip(flat, rows):
                    f[e] = row
        jac.append(blocks)
    return jac


def _result(array):
    return Tensor._make(np.ascontiguousarray(array), None)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """The vector-Jacobian product vᵀJ of ``func`` at ``inputs``, as
    ``torch.autograd.functional.vjp``: one backward pass.

    Parameters
    ----------
    func : callable
        Takes the tensors of ``inputs``; returns a Tensor or a tuple of Tensors.
    inputs : Tensor or tuple of Tensors
    v : Tensor or tuple of Tensors, optional
        Shaped like ``func``'s output(s). May be omitted when ``func`` returns one tensor with
        one element.
    create_graph : bool
        Must be False: minicnn has no higher-order gradients.
    strict : bool
        Raise if an output does not depend on the inputs, or an input does not reach the
        outputs (otherwise their part is zeros).

    Returns
    -------
    (func_output, vjp) : func's output(s), detached; vᵀJ shaped like ``inputs``.
    """
    refuse_create_graph(create_graph)
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
    inputs, outputs, is_outputs_tuple = _call(func, inputs, "vjp")
    v = _v_arrays(v, outputs, "vjp", "the user-provided function returns")
    rows = _vjp_rows(outputs, inputs, v, strict, retain_graph=False)
    return (_untuple([o.detach() for o in outputs], is_outputs_tuple),
            _untuple([_result(r) for r in rows], is_inputs_tuple))


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """The Jacobian-vector product J v of ``func`` at ``inputs``, as
    ``torch.autograd.functional.jvp``.

    minicnn has no forward mode and no double backward: J v is computed exactly from the
    Jacobian's rows, one backward pass per output element (fine for small outputs).

    Parameters
    ----------
    func, inputs, create_graph, strict : as in ``vjp``.
    v : Tensor or tuple of Tensors, optional
        Shaped like ``inputs``. May be omitted when ``inputs`` is one tensor with one element.

    Returns
    -------
    (func_output, jvp) : func's output(s), detached; J v shaped like the output(s).
    """
    refuse_create_graph(create_graph)
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
    v = _v_arrays(v, inputs, "jvp", "the input to the user-provided function is")
    inputs, outputs, is_outputs_tuple = _call(func, inputs, "jvp")
    jac = _jacobian_arrays(outputs, inputs, strict)
    products = []
    for out, blocks in zip(outputs, jac):
        total = np.zeros(out.shape, dtype=out.dtype)
        for b, v_j in zip(blocks, v):
            total = total + np.tensordot(b, v_j, axes=v_j.ndim).astype(out.dtype, copy=False)
        products.append(_result(total))
    return (_untuple([o.detach() for o in outputs], is_outputs_tuple),
            _untuple(products, is_outputs_tuple))


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``, as ``torch.autograd.functional.jacobian``.

    Entry ``[k][j]`` has shape ``output[k].shape + inputs[j].shape``. With one input and one
    output (not tuples) the result is that Tensor; with a tuple on one side only, a tuple over
    that side; with tuples on both, a tuple (over outputs) of tuples (over inputs).

    Computed row by row, one backward pass per output element. ``vectorize=True`` and
    ``strategy="forward-mode"`` (which, as in PyTorch, needs ``vectorize=True``) are accepted
    and give the same numbers.
    """
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')
    refuse_create_graph(create_graph)
    if strategy == "forward-mode" and not vectorize:
        raise NotImplementedError("jacobian: strategy=\"forward-mode\" requires "
                                  "vectorize=True.")
    is_inputs_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    inputs, outputs, is_outputs_tuple = _call(func, inputs, "jacobian")
    jac = [[_result(b) for b in blocks] for blocks in _jacobian_arrays(outputs, inputs, strict)]
    if is_outputs_tuple:
        return tuple(_untuple(blocks, is_inputs_tuple) for blocks in jac)
    return _untuple(jac[0], is_inputs_tuple)


_NO_SECOND_ORDER = ("needs second derivatives (the gradient of a gradient), and minicnn's "
                    "backward formulas are first-order: higher-order gradients are out of "
                    "scope (see the PyTorch coverage page). jacobian() of a function that "
                    "returns a gradient you wrote out yourself gives the same matrix.")


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """Not available: the Hessian needs higher-order gradients, which minicnn does not have.

    Raises ``NotImplementedError`` (rather than a finite-difference approximation that would
    silently differ from PyTorch's exact result).
    """
    raise NotImplementedError(f"hessian {_NO_SECOND_ORDER}")


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """Not available: the vector-Hessian product needs higher-order gradients (see ``hessian``)."""
    raise NotImplementedError(f"vhp {_NO_SECOND_ORDER}")


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """Not available: the Hessian-vector product needs higher-order gradients (see ``hessian``)."""
    raise NotImplementedError(f"hvp {_NO_SECOND_ORDER}")
