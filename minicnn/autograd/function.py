"""``minicnn.autograd.function``: the custom-Function base class and ``once_differentiable``."""
import functools

from minicnn._tensor import TensorFunction as Function
from minicnn.autograd import no_grad

__all__ = ["Function", "once_differentiable"]


def once_differentiable(fn):
    """Decorator for a custom ``Function``'s ``backward``, as PyTorch's: it runs under
    ``no_grad`` and its result is not itself differentiable.

    In PyTorch it marks a backward that cannot be differentiated again. minicnn has no
    higher-order gradients at all (a custom backward already runs with recording off), so here
    it only makes that explicit; scripts that use it run unchanged.

    Examples
    --------
    >>> import minicnn
    >>> from minicnn.autograd.function import Function, once_differentiable
    >>> class Square(Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x * x
    ...     @staticmethod
    ...     @once_differentiable
    ...     def backward(ctx, grad_output):
    ...         x, = ctx.saved_tensors
    ...         return 2 * x * grad_output
    >>> x = minicnn.tensor([3.0], requires_grad=True)
    >>> Square.apply(x).backward()
    >>> x.grad
    tensor([6.])
    """
    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with no_grad():
            return fn(ctx, *args)
    return wrapper
