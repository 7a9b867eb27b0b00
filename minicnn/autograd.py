"""The autograd engine: grad mode, what an op remembers (Context), and the backward graph walk.

Read this file top to bottom to see how reverse-mode differentiation works here:

1. Every differentiable op is a ``Function`` (``minicnn/_tensor.py``). When one runs on tensors
   that require grad, it records a ``Context``: its inputs (the graph's edges) and what its
   backward will need.
2. ``loss.backward()`` calls ``run_backward``: it orders every tensor the loss depends on so that
   each comes after all the tensors computed from it (``topological_order``), then walks that
   order once, handing each recorded op the gradient of its output and collecting the gradients
   it returns for its inputs (the chain rule). Leaves add theirs to ``.grad``.

The engine sees tensors only through four attributes (``_ctx``, ``requires_grad``, ``data``,
``grad``), so it imports nothing else from minicnn.
"""
import functools
import threading

import numpy as np

__all__ = ["no_grad", "enable_grad", "is_grad_enabled", "Context", "run_backward"]


# ---------------------------------------------------------------------------------------------
# Grad mode. Thread-local, so a no_grad block in one thread (say, an evaluation loop) does not
# switch recording off for a training loop running in another.
# ---------------------------------------------------------------------------------------------

_grad_mode = threading.local()


def is_grad_enabled():
    """True if operations on tensors that require grad are being recorded (in this thread)."""
    return getattr(_grad_mode, "enabled", True)


class _set_grad_mode:
    """Base of ``no_grad``/``enable_grad``: a context manager that is also a decorator."""

    mode = True

    def __enter__(self):
        # A stack of previous states (not one slot), so the same object can be nested or reused.
        self.__dict__.setdefault("_previous", []).append(is_grad_enabled())
        _grad_mode.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _grad_mode.enabled = self._previous.pop()
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with type(self)():
                return func(*args, **kwargs)
        return wrapper


class no_grad(_set_grad_mode):
    """Context manager and decorator: inside it nothing is recorded for backward.

    Results of operations have ``requires_grad=False`` and no graph, and no buffers are kept
    for a backward pass, which saves memory and time in evaluation loops.

    Examples
    --------
    >>> import minicnn
    >>> x = minicnn.tensor([1.0, 2.0], requires_grad=True)
    >>> with minicnn.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    >>> @minicnn.no_grad()
    ... def evaluate(x):
    ...     return x * 2
    >>> evaluate(x).requires_grad
    False
    """

    mode = False


class enable_grad(_set_grad_mode):
    """Context manager and decorator: turn recording back on inside a ``no_grad`` block."""

    mode = True


# ---------------------------------------------------------------------------------------------
# Context: one node of the graph.
# ---------------------------------------------------------------------------------------------

class Context:
    """What a ``Function`` remembers between its forward and its backward.

    ``forward`` stores arrays with ``ctx.save_for_backward(a, b)`` (read back as
    ``ctx.saved_tensors``) or as plain attributes (``ctx.mask = mask``). ``ctx.needs_input_grad``
    holds one bool per positional input of ``forward``: backward may skip (return ``None`` for)
    the gradients nobody asked for. After a backward pass without ``retain_graph=True`` the
    engine clears everything saved here, so activations are freed.
    """

    def __init__(self, fn, needs_input_grad):
        self._fn = fn
        self._parents = None
        self._freed = False
        self.needs_input_grad = needs_input_grad
        self._saved = ()

    def save_for_backward(self, *arrays):
        """Keep ``arrays`` (ndarrays, or anything else) for backward, as ``ctx.saved_tensors``."""
        self._saved = arrays

    @property
    def saved_tensors(self):
        """The arrays given to ``save_for_backward`` (a tuple)."""
        if self._freed:
            raise RuntimeError(f"the saved buffers of {self!r} were freed by a backward pass; "
                               f"pass retain_graph=True to backward to keep them")
        return self._saved

    def _free(self):
        # Drop every saved buffer and the links to the inputs; keep only what error messages need.
        fn = self._fn
        self.__dict__.clear()
        self._fn, self._parents, self._freed = fn, None, True

    def name(self):
        """The op's name: its Function class without the ``Fn`` suffix (e.g. ``"Conv2d"``)."""
        name = self._fn.__name__
        return name[:-2] if name.endswith("Fn") else name

    def __repr__(self):
        return f"<{self.name()}Backward>"


# ---------------------------------------------------------------------------------------------
# The graph walk.
# ---------------------------------------------------------------------------------------------

def topological_order(root):
    """Tensors reachable from ``root`` through recorded ops, each after all its consumers.

    Iterative depth-first post-order (an explicit stack, no recursion), then reversed: Python's
    recursion limit would otherwise cap the depth of a graph at ~1000 ops.
    """
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        t, children_done = stack.pop()
        if children_done:
            order.append(t)
            continue
        if id(t) in visited:
            continue
        visited.add(id(t))
        stack.append((t, True))
        ctx = t._ctx
        if ctx is None:
            continue
        if ctx._freed:
            raise RuntimeError(
                f"Trying to backward through the graph a second time (through {ctx!r}, whose "
                f"saved buffers were freed by the first backward). Pass retain_graph=True to "
                f"the first backward if you need to backward twice.")
        for p in ctx._parents:
            if getattr(p, "requires_grad", False) and id(p) not in visited:
                stack.append((p, False))
    order.reverse()
    return order


def run_backward(root, grad, retain_graph=False):
    """Add d(root)/d(leaf) to ``leaf.grad`` for every leaf that requires grad.

    ``grad`` is d(something)/d(root), an ndarray of root's shape. Each recorded op is visited
    once, after every op that consumed its output, so the gradient of its output is complete
    (summed over all uses) when its backward runs.
    """
    order = topological_order(root)
    grads = {id(root): grad}
    for t in order:
        g = grads.pop(id(t), None)
        if g is None:  # every path to t returned None: it does not affect the output
            continue
        ctx = t._ctx
        if ctx is None:  # a leaf: accumulate (+=, across backward calls too)
            if t.grad is None:
                # A private copy: `g` may alias an array the user or another op still holds.
                t.grad = np.array(g, dtype=t.data.dtype, copy=True)
            else:
                t.grad += g
            continue
        input_grads = ctx._fn.backward(ctx, g)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        if len(input_grads) != len(ctx._parents):
            raise RuntimeError(f"{ctx._fn.__name__}.backward returned {len(input_grads)} "
                               f"gradients, expected one per forward input "
                               f"({len(ctx._parents)})")
        for i, (p, pg) in enumerate(zip(ctx._parents, input_grads)):
            if pg is None or not getattr(p, "requires_grad", False):
                continue
            pg = np.asarray(pg)
            if pg.shape != p.shape:
                raise RuntimeError(f"{ctx._fn.__name__}.backward returned a gradient of shape "
                                   f"{pg.shape} for input {i}, whose shape is {p.shape}")
            if pg.dtype != p.data.dtype:
                pg = pg.astype(p.data.dtype)
            previous = grads.get(id(p))
            # Out of place: the previous gradient may be an array a backward is still holding.
            grads[id(p)] = pg if previous is None else previous + pg
        if not retain_graph:
            ctx._free()
