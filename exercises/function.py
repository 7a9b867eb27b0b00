"""Task function: a tiny Tensor whose operations are ``Function``\\s with a context.

The engine track's third step: what ``Value`` did for one float, for whole NumPy arrays, in the
shape of PyTorch's ``torch.autograd.Function`` (and minicnn's ``minicnn.autograd.Function``):
``forward(ctx, *arrays)`` computes the result and saves in ``ctx`` what the backward needs;
``backward(ctx, grad)`` returns one gradient per input. ``Function.apply`` runs the forward
and records the graph; ``Tensor.backward`` walks it. Broadcasting's backward is task sum_to's
``sum_to``, imported from your exercises/sum_to.py: solve that task first. Run the tests with
``python -m pytest -m task_function``.
"""
import numpy as np

from exercises.sum_to import sum_to


class Context:
    """What a Function's forward leaves for its backward."""

    def save_for_backward(self, *arrays):
        """Keep ``arrays``; the backward reads them back as ``ctx.saved_tensors`` (a tuple)."""
        raise NotImplementedError("Context.save_for_backward: your code here")


class Tensor:
    """An ndarray ``data``, its gradient ``grad`` (None until ``backward()``), and, if a
    Function made it, that Function (``_fn``), its ``_ctx`` and its input Tensors
    (``_parents``)."""

    def __init__(self, data):
        self.data = np.asarray(data, dtype=np.float64)
        self.grad = None
        self._fn, self._ctx, self._parents = None, None, ()

    @property
    def shape(self):
        return self.data.shape

    def __add__(self, other):
        return Add.apply(self, other)

    def __mul__(self, other):
        return Mul.apply(self, other)

    def exp(self):
        return Exp.apply(self)

    def sum(self):
        return Sum.apply(self)

    def backward(self):
        """Fill ``grad`` of every Tensor this one was computed from: ``self.grad`` is
        ``np.ones_like(self.data)`` (call it on a sum, a one-element Tensor); then, in reverse
        topological order, each Tensor made by a Function calls ``_fn.backward(_ctx, grad)`` and
        adds the i-th result to the i-th parent's ``grad`` (a Tensor used twice gets both)."""
        raise NotImplementedError("Tensor.backward: your code here")


class Function:
    """Subclasses define ``forward(ctx, *arrays)`` and ``backward(ctx, grad)``."""

    @staticmethod
    def forward(ctx, *arrays):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError

    @classmethod
    def apply(cls, *tensors):
        """Make a fresh Context, run ``cls.forward`` on the Tensors' arrays, and return the
        result as a Tensor that remembers ``cls``, the context and ``tensors``."""
        raise NotImplementedError("Function.apply: your code here")


class Add(Function):
    """Given, as the example: ``a + b`` with broadcasting."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = a.shape, b.shape
        return a + b

    @staticmethod
    def backward(ctx, grad):
        a_shape, b_shape = ctx.shapes
        return sum_to(grad, a_shape), sum_to(grad, b_shape)


class Mul(Function):
    """``a * b`` with broadcasting: save a and b with ``ctx.save_for_backward``."""

    @staticmethod
    def forward(ctx, a, b):
        raise NotImplementedError("Mul.forward: your code here")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("Mul.backward: your code here")


class Exp(Function):
    """``e ** a``: save the output, which is its own derivative."""

    @staticmethod
    def forward(ctx, a):
        raise NotImplementedError("Exp.forward: your code here")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("Exp.backward: your code here")


class Sum(Function):
    """The sum of every element (a 0-d array); its backward spreads ``grad`` to a's shape."""

    @staticmethod
    def forward(ctx, a):
        raise NotImplementedError("Sum.forward: your code here")

    @staticmethod
    def backward(ctx, grad):
        raise NotImplementedError("Sum.backward: your code here")
