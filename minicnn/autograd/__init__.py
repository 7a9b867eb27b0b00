"""The autograd engine: grad mode, what an op remembers (Context), and the backward graph walk.

Read this file top to bottom to see how reverse-mode differentiation works here:

1. Every differentiable op is a ``Function`` (``minicnn/_tensor.py``). When one runs on tensors
   that require grad, it records a ``Context``: a node of the graph that knows the nodes that
   made its inputs (``next_functions``) and keeps what its backward will need. A leaf that
   requires grad is reached through its ``AccumulateGrad`` node.
2. ``loss.backward()`` calls ``run_backward``: it orders every node the loss depends on so that
   each comes after all the nodes that used its output (``topological_order``), then walks that
   order once, handing each node the gradient of its output and collecting the gradients it
   returns for its inputs (the chain rule). AccumulateGrad nodes add theirs to ``.grad``.

The graph is made of nodes, not of tensors: an in-place op (``y.mul_(2)``) gives ``y`` a new
node whose input is ``y``'s old node, so no node can ever be its own ancestor. The engine
reaches tensors only through a node (``AccumulateGrad.variable``, a retained tensor) and
through ``Tensor._grad_node()``, so it imports nothing else from minicnn. The public names of
``minicnn.autograd`` that need the Tensor class (``Function``, ``gradcheck``) are attached to
this module by ``minicnn/__init__.py`` once both exist, which also imports the submodules
beside this file: ``functional.py`` (``jacobian``, ``vjp``, ``jvp``) and ``function.py``
(``once_differentiable``).
"""
import functools
import threading

import numpy as np

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "is_inference_mode_enabled", "Context", "run_backward", "backward", "grad"]


# ---------------------------------------------------------------------------------------------
# Grad mode. Thread-local, so a no_grad block in one thread (say, an evaluation loop) does not
# switch recording off for a training loop running in another.
# ---------------------------------------------------------------------------------------------

_grad_mode = threading.local()


def is_grad_enabled():
    """True if operations on tensors that require grad are being recorded (in this thread)."""
    return getattr(_grad_mode, "enabled", True)


class _set_grad_mode:
    """Base of ``no_grad``/``enable_grad``: a context manager that is also a decorator, with or
    without parentheses (``@no_grad()`` and ``@no_grad`` both work, as in PyTorch)."""

    mode = True

    def __new__(cls, func=None):
        self = super().__new__(cls)
        if callable(func):  # used bare, as @no_grad: decorate func directly
            return self(func)
        return self

    def __init__(self, func=None):
        pass

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
            with self._fresh():
                return func(*args, **kwargs)
        return wrapper

    def _fresh(self):
        return type(self)()


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


class set_grad_enabled(_set_grad_mode):
    """``set_grad_enabled(mode)``: record (True) or not (False) inside the block, as PyTorch's.

    Called as a plain function it switches the mode at once (``set_grad_enabled(False)``).
    """

    def __new__(cls, mode):
        return object.__new__(cls)

    def __init__(self, mode):
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled takes a bool, got {type(mode).__name__}")
        self.mode = mode
        # As in PyTorch, the switch takes effect on construction; __exit__ restores it.
        self._previous = [is_grad_enabled()]
        _grad_mode.enabled = mode

    def __enter__(self):
        return self

    def __call__(self, func):
        # Used as a decorator: undo the switch made on construction, as PyTorch does.
        _grad_mode.enabled = self._previous[0]
        return super().__call__(func)

    def _fresh(self):
        return set_grad_enabled(self.mode)


class inference_mode(_set_grad_mode):
    """As ``no_grad`` (minicnn has no separate inference tensors): nothing inside is recorded.

    ``inference_mode(False)`` leaves recording as it is.
    """

    def __new__(cls, mode=True):
        self = object.__new__(cls)
        if callable(mode):  # bare @inference_mode
            return self(mode)
        return self

    def __init__(self, mode=True):
        if callable(mode):
            mode = True
        self.enabled = bool(mode)

    def __enter__(self):
        self.__dict__.setdefault("_previous", []).append(is_grad_enabled())
        if self.enabled:
            _grad_mode.enabled = False
        return self

    def _fresh(self):
        return inference_mode(self.enabled)


def is_inference_mode_enabled():
    """True inside ``inference_mode()`` (here: whenever recording is off)."""
    return not is_grad_enabled()


# ---------------------------------------------------------------------------------------------
# The graph's nodes: a Context per recorded op, an AccumulateGrad per leaf that requires grad.
# Edges go from a node to the nodes that made its inputs (``next_functions``), never to tensor
# objects: an in-place op gives its tensor a new node and leaves the old one where it was, so
# the graph cannot get a cycle.
# ---------------------------------------------------------------------------------------------

class Context:
    """What a ``Function`` remembers between its forward and its backward: one node of the graph.

    ``forward`` stores arrays with ``ctx.save_for_backward(a, b)`` (read back as
    ``ctx.saved_tensors``) or as plain attributes (``ctx.mask = mask``). ``ctx.needs_input_grad``
    holds one bool per positional input of ``forward``: backward may skip (return ``None`` for)
    the gradients nobody asked for. After a backward pass without ``retain_graph=True`` the
    engine clears everything saved here, so activations are freed.
    """

    def __init__(self, fn, needs_input_grad):
        self._fn = fn
        self._next = ()         # per input: the node that made it, or None (no gradient)
        self._input_meta = ()   # per input: (shape, dtype) that its gradient must have
        self._freed = False
        self._pre_hooks = []    # register_hook on the tensor this node made
        self._retained = None   # weakref to the tensor whose .grad keeps the gradient (retain_grad)
        self.needs_input_grad = needs_input_grad
        self._saved = ()
        self._saved_versions = ()  # (version box, version when saved, which input) per saved input

    def save_for_backward(self, *arrays):
        """Keep ``arrays`` (ndarrays, or anything else) for backward, as ``ctx.saved_tensors``."""
        self._saved = arrays

    @property
    def saved_tensors(self):
        """The arrays given to ``save_for_backward`` (a tuple)."""
        if self._freed:
            raise RuntimeError(f"the saved buffers of {self!r} were freed by a backward pass; "
                               f"pass retain_graph=True to backward to keep them")
        for box, version, what in self._saved_versions:
            if box[0] != version:
                # The array saved for backward was changed in place since: its gradient would
                # be computed from the wrong values. PyTorch raises the same way.
                raise RuntimeError(
                    f"one of the variables needed for gradient computation has been modified "
                    f"by an inplace operation: {what} of {self!r} is at version {box[0]}; "
                    f"expected version {version} instead. Use an out-of-place operation "
                    f"(x = x + y instead of x += y), or .clone() the tensor first.")
        return self._saved

    @property
    def next_functions(self):
        """One ``(node, 0)`` per input, as PyTorch's: the Context that made the input, an
        ``AccumulateGrad`` for a leaf that requires grad, or ``None``."""
        return tuple((node, 0) for node in self._next)

    def _free(self):
        # Drop every saved buffer and the links to the inputs; keep only what error messages need.
        fn = self._fn
        self.__dict__.clear()
        self._fn, self._next, self._freed = fn, (), True
        self._pre_hooks, self._retained = [], None

    def register_hook(self, hook):
        """Call ``hook(grad_output)`` before this node's backward (a tensor hook lives here)."""
        self._pre_hooks.append(hook)
        return _HookHandle(self._pre_hooks, hook)

    def name(self):
        """The op's name as PyTorch prints it: a ``grad_fn_name`` the Function's forward set on
        this node or the Function class has, else its class name without ``Fn`` (``"Conv2d"``)."""
        name = self.__dict__.get("grad_fn_name") or getattr(self._fn, "grad_fn_name", None) \
            or self._fn.__name__
        return name[:-2] if name.endswith("Fn") else name

    def __repr__(self):
        # As PyTorch prints a grad_fn: <MulBackward0 object at 0x...>
        return f"<{self.name()}Backward0 object at {id(self):#x}>"


class AccumulateGrad:
    """The node that adds a gradient into a leaf's ``.grad`` (one per leaf, made on first use)."""

    _next = ()
    _freed = False
    next_functions = ()

    def __init__(self, variable):
        self.variable = variable

    @property
    def _pre_hooks(self):
        # a leaf's hooks live on the tensor (this node is made anew when a graph needs it)
        return self.variable.__dict__.get("_leaf_hooks", ())

    def name(self):
        return "AccumulateGrad"

    def __repr__(self):
        return f"<AccumulateGrad object at {id(self):#x}>"


class _HookHandle:
    """What ``register_hook`` returns: ``remove()`` takes the hook off again."""

    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


# ---------------------------------------------------------------------------------------------
# The graph walk.
# ---------------------------------------------------------------------------------------------

def topological_order(root):
    """Nodes reachable from ``root`` (a node), each after every node that consumed its output.

    Iterative depth-first post-order (an explicit stack, no recursion), then reversed: Python's
    recursion limit would otherwise cap the depth of a graph at ~1000 ops.
    """
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        if node._freed:
            raise RuntimeError(
                f"Trying to backward through the graph a second time (through {node!r}, whose "
                f"saved buffers were freed by the first backward). Pass retain_graph=True to "
                f"the first backward if you need to backward twice.")
        stack.append((node, True))
        for nxt in node._next:
            if nxt is not None and id(nxt) not in visited:
                stack.append((nxt, False))
    order.reverse()
    return order


def _accumulate(tensor, g):
    """Add ``g`` into ``tensor.grad`` (a new Tensor the first time, in place after that)."""
    if tensor._grad is None or not tensor._grad._data.flags.writeable:
        # A private copy: `g` may alias an array the user or another op still holds (and a
        # .grad the user set to a read-only tensor is replaced, not written into).
        total = g if tensor._grad is None else tensor._grad._data + g
        tensor._grad = _wrap(np.array(total, dtype=tensor._data.dtype, copy=True))
    else:
        tensor._grad._data += g
        tensor._grad._version_box[0] += 1


# Callbacks queued during a backward pass (``_queue_callback``), run once it has finished: what
# PyTorch's ``Variable._execution_engine.queue_callback`` does; DistributedDataParallel waits for
# its gradient all-reduces there. Thread-local, as a backward runs in the thread that called it.
_callbacks = threading.local()


def _queue_callback(callback):
    """Run ``callback()`` when the backward pass now running ends (RuntimeError outside one)."""
    queue = getattr(_callbacks, "queue", None)
    if queue is None:
        raise RuntimeError("_queue_callback can only be called during a backward pass")
    queue.append(callback)


def run_backward(root, grad, retain_graph=False, inputs=None):
    """Add d(root)/d(leaf) to ``leaf.grad`` for every leaf that requires grad, then run the
    callbacks queued during the pass (``_queue_callback``), in the order they were queued.

    See ``_walk`` for the arguments and what is returned.
    """
    outer = getattr(_callbacks, "queue", None)
    _callbacks.queue = []
    try:
        found = _walk(root, grad, retain_graph, inputs)
        queue = _callbacks.queue
        while queue:  # a callback may queue another
            queue.pop(0)()
    finally:
        _callbacks.queue = outer
    return found


def _walk(root, grad, retain_graph=False, inputs=None):
    """Add d(root)/d(leaf) to ``leaf.grad`` for every leaf that requires grad.

    ``grad`` is d(something)/d(root), an ndarray of root's shape. Each node is visited once,
    after every node that consumed its output, so the gradient of its output is complete
    (summed over all uses) when its backward runs. With ``inputs`` (a list of tensors), nothing
    is written to ``.grad``: the gradients of those tensors are returned instead (for
    ``minicnn.autograd.grad``), None for one the root does not depend on.
    """
    root_node = root._grad_node()
    order = topological_order(root_node)
    grads = {id(root_node): grad}
    wanted = None
    if inputs is not None:
        wanted = {}
        for i, t in enumerate(inputs):
            wanted.setdefault(id(t._grad_node()), []).append(i)
        found = [None] * len(inputs)
    for node in order:
        g = grads.pop(id(node), None)
        if g is None:  # every path to this node returned None: it does not affect the output
            continue
        for hook in node._pre_hooks:  # register_hook: may replace the gradient
            replaced = hook(_wrap(g))
            if replaced is not None:
                new = np.asarray(_values(replaced))
                if new.shape != g.shape:  # as PyTorch: a gradient keeps its tensor's shape
                    raise RuntimeError(f"hook '{getattr(hook, '__name__', '<unknown>')}' has "
                                       f"changed the size of value (was {tuple(g.shape)}, got "
                                       f"{tuple(new.shape)})")
                g = new.astype(g.dtype, copy=False)
        if wanted is not None:
            for i in wanted.get(id(node), ()):
                found[i] = g
        if isinstance(node, AccumulateGrad):  # a leaf: accumulate, across calls too
            if wanted is None:
                _accumulate(node.variable, g)
                # register_post_accumulate_grad_hook: called with the tensor, its .grad complete
                for hook in tuple(node.variable.__dict__.get("_post_accumulate_hooks", ())):
                    hook(node.variable)
            continue
        retained = node._retained() if node._retained is not None else None
        if retained is not None and wanted is None:  # retain_grad()
            _accumulate(retained, g)
        if node._fn.tensor_io:  # a Tensor-level custom Function (minicnn.autograd.Function)
            with no_grad():
                input_grads = node._fn.backward(node, _wrap(g))
        else:
            input_grads = node._fn.backward(node, g)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        n_inputs = len(node._next)
        extra = input_grads[n_inputs:]
        if len(input_grads) < n_inputs or any(e is not None for e in extra):
            raise RuntimeError(f"{node._fn.__name__}.backward returned {len(input_grads)} "
                               f"gradients, expected one per forward input "
                               f"({n_inputs}; any beyond those must be None)")
        for i, (nxt, pg) in enumerate(zip(node._next, input_grads)):
            if pg is None or nxt is None:
                continue
            shape, dtype = node._input_meta[i]
            pg = np.asarray(_values(pg))
            if pg.shape != shape:
                raise RuntimeError(f"{node._fn.__name__}.backward returned a gradient of shape "
                                   f"{pg.shape} for input {i}, whose shape is {shape}")
            if pg.dtype != dtype:
                pg = pg.astype(dtype)
            previous = grads.get(id(nxt))
            # Out of place: the previous gradient may be an array a backward is still holding.
            grads[id(nxt)] = pg if previous is None else previous + pg
        if not retain_graph:
            node._free()
    return None if wanted is None else found


def _wrap(array):
    """A gradient array as a Tensor (what hooks and custom Functions receive)."""
    from minicnn._tensor import Tensor  # the engine needs the class only to hand gradients out
    return Tensor._make(array, None)


def _values(x):
    """A Tensor's array, or ``x`` itself (an ndarray or a number)."""
    return x._data if hasattr(x, "_ctx") else x


def _as_list(tensors):
    return list(tensors) if isinstance(tensors, (list, tuple)) else [tensors]


def _root_grad(output, grad_output):
    """The gradient to start from: ``grad_output`` checked against ``output``, or ones for a
    one-element output."""
    if not getattr(output, "requires_grad", False):
        raise RuntimeError("element 0 of tensors does not require grad and does not have a "
                           "grad_fn: nothing it depends on requires grad (or it was computed "
                           "under no_grad)")
    if grad_output is None:
        if output._data.size != 1:
            raise RuntimeError(f"grad can be implicitly created only for scalar outputs; this "
                               f"tensor has shape {tuple(output.shape)}: pass a gradient of "
                               f"that shape, or reduce it first (e.g. .sum())")
        return np.ones_like(output._data)
    grad_output = np.asarray(_values(grad_output))
    if grad_output.shape != output.shape:
        raise ValueError(f"the gradient must have the output's shape {tuple(output.shape)}, "
                         f"got {grad_output.shape}")
    return grad_output.astype(output._data.dtype, copy=False)


def backward(tensors, grad_tensors=None, retain_graph=None):
    """``minicnn.autograd.backward``: ``t.backward(g)`` for each tensor (and gradient) given."""
    tensors = _as_list(tensors)
    grad_tensors = [None] * len(tensors) if grad_tensors is None else _as_list(grad_tensors)
    for i, (t, g) in enumerate(zip(tensors, grad_tensors)):
        keep = bool(retain_graph) or i < len(tensors) - 1
        run_backward(t, _root_grad(t, g), keep)


def refuse_create_graph(create_graph):
    """The one error for ``create_graph=True``: minicnn has no higher-order gradients."""
    if create_graph:
        raise NotImplementedError("create_graph=True (higher-order gradients) is not supported "
                                  "by minicnn: its backward formulas work on NumPy arrays")


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """The gradients of ``outputs`` with respect to ``inputs``, as ``torch.autograd.grad``:
    returned as a tuple of tensors, without touching any ``.grad``.

    ``create_graph=True`` (gradients that are themselves differentiable) is not supported:
    minicnn's backward formulas work on arrays.
    """
    refuse_create_graph(create_graph)
    outputs, inputs = _as_list(outputs), _as_list(inputs)
    grad_outputs = [None] * len(outputs) if grad_outputs is None else _as_list(grad_outputs)
    for i, t in enumerate(inputs):
        if not getattr(t, "requires_grad", False):
            raise RuntimeError(f"input {i} of grad() does not require grad")
    totals = [None] * len(inputs)
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        keep = bool(retain_graph) or i < len(outputs) - 1
        found = run_backward(out, _root_grad(out, g), keep, inputs=inputs)
        totals = [f if t is None else (t if f is None else t + f) for t, f in zip(totals, found)]
    for i, g in enumerate(totals):
        if g is None and not allow_unused:
            raise RuntimeError(f"input {i} of grad() was not used to compute the outputs; pass "
                               f"allow_unused=True to get None for it")
    return tuple(None if g is None else _wrap(np.array(g, copy=True))
                 for t, g in zip(inputs, totals))
