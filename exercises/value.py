"""Task value: a scalar that remembers how it was computed, and backward() through it.

The first step of the engine track (micrograd, MiniTorch's module 1, DeZero's first steps):
every ``Value`` keeps the ``Value``\\s it was made from and a function that sends its gradient
back to them; ``backward()`` runs those functions from the output back to the inputs. Run its
tests with ``python -m pytest -m task_value``; read docs/backprop.md, "The chain rule on a
graph", first.
"""
import math  # noqa: F401  (math.exp and math.log are what you need)


class Value:
    """A float ``data``, its gradient ``grad`` (0.0 until ``backward()``), the Values it was
    computed from (``_children``) and ``_backward``, the function that adds this Value's
    ``grad`` times the local derivative to each child's ``grad``."""

    def __init__(self, data, _children=(), _op=""):
        self.data = float(data)
        self.grad = 0.0
        self._children = tuple(_children)
        self._op = _op
        self._backward = lambda: None      # a leaf sends nothing back

    def __repr__(self):
        return f"Value(data={self.data}, grad={self.grad})"

    # --- what you write -----------------------------------------------------------------------

    def __add__(self, other):
        """``self + other`` (``other`` a Value or a number): the result's ``_backward`` adds
        ``out.grad`` to both children's ``grad``."""
        raise NotImplementedError("Value.__add__: your code here")

    def __mul__(self, other):
        """``self * other``: d(ab)/da = b."""
        raise NotImplementedError("Value.__mul__: your code here")

    def __pow__(self, exponent):
        """``self ** exponent`` for a number ``exponent``: d(a^k)/da = k a^(k-1)."""
        raise NotImplementedError("Value.__pow__: your code here")

    def exp(self):
        """``e ** self``: its own derivative."""
        raise NotImplementedError("Value.exp: your code here")

    def log(self):
        """The natural logarithm: d(log a)/da = 1/a."""
        raise NotImplementedError("Value.log: your code here")

    def relu(self):
        """``max(self, 0)``; its derivative at 0 is 0 (as PyTorch's)."""
        raise NotImplementedError("Value.relu: your code here")

    def backward(self):
        """Set ``self.grad = 1`` and every other Value's ``grad`` in the graph to d self / d it.

        Order matters: a Value's ``_backward`` may run only once every Value computed from it
        has sent its share, so sort the graph topologically (a depth-first search that appends
        a node after its children) and call ``_backward`` in the reverse of that order.
        """
        raise NotImplementedError("Value.backward: your code here")

    # --- given: the rest, written with the operations above ----------------------------------

    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __truediv__(self, other):
        return self * (other ** -1 if isinstance(other, Value) else 1.0 / other)

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __rsub__(self, other):
        return (-self) + other

    def __rtruediv__(self, other):
        return Value(other) * self ** -1
