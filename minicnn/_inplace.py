"""In-place operations on a Tensor (``x += y``, ``x.add_(y)``, ``x[i] = v``), with PyTorch's rules.

A mixin of ``Tensor`` (kept apart to keep ``_tensor.py`` one screenful of ideas). Every in-place
op is its out-of-place op applied to a stand-in for the old values, then written back into the
same array: the tensor keeps its identity (and any NumPy array sharing its memory sees the
change), and when the change is recorded the tensor becomes that op's output. A version counter,
shared by tensors that share an array, is bumped on each change; a backward that needs an array
saved before the change raises instead of computing a wrong gradient.
"""
import numpy as np

from minicnn.autograd import is_grad_enabled

__all__ = ["InplaceOps"]


def _ops():
    from minicnn import ops  # the op package imports Tensor; looked up when first needed
    return ops


class InplaceOps:
    """The in-place methods of Tensor."""

    def _inplace(self, compute, name):
        """Make this tensor hold ``compute(self)``, in place, with PyTorch's safety rules.

        A leaf that requires grad may be changed in place only under ``no_grad`` (an optimizer
        step): otherwise its gradient would describe values it no longer has. When the change
        is recorded, the op's input is a stand-in for the old values, and this tensor becomes
        the op's output; the version counter lets backward detect a saved input that was
        changed afterwards.
        """
        recording = is_grad_enabled()
        if recording and self.requires_grad and self._ctx is None:
            raise RuntimeError(f"a leaf tensor that requires grad is being used in an in-place "
                               f"operation ({name}); do it under minicnn.no_grad() (as an "
                               f"optimizer step does), or on a .clone()")
        if recording:
            # The op may save its input for backward (x *= w saves x): give it the old values
            # on an array of their own, which the write below cannot change.
            old = type(self)._make(self.data.copy(), self._ctx)
        else:
            old = type(self)._make(self.data, self._ctx, self._version_box)
        old._requires_grad = self._requires_grad
        result = compute(old)
        if result.data.shape != self.data.shape:
            raise RuntimeError(f"{name}: the result's shape {tuple(result.data.shape)} doesn't "
                               f"match this tensor's shape {tuple(self.data.shape)} (in-place "
                               f"ops cannot broadcast the tensor they change)")
        if not np.can_cast(result.data.dtype, self.data.dtype, "same_kind"):
            raise RuntimeError(f"{name}: result type {result.data.dtype} can't be cast to this "
                               f"tensor's dtype {self.data.dtype}")
        if not self.data.flags.writeable:
            raise RuntimeError(f"{name}: this tensor's array is read-only")
        np.copyto(self.data, result.data, casting="unsafe")
        self._version_box[0] += 1
        if result._ctx is not None and recording:
            self._ctx, self._requires_grad = result._ctx, True
            result._ctx = None
            # The recorded op's output is now this tensor: its data is self.data.
        return self

    def __iadd__(self, other):
        return self._inplace(lambda old: old + other, "+=")

    def __isub__(self, other):
        return self._inplace(lambda old: old - other, "-=")

    def __imul__(self, other):
        return self._inplace(lambda old: old * other, "*=")

    def __itruediv__(self, other):
        return self._inplace(lambda old: old / other, "/=")

    def __ipow__(self, other):
        return self._inplace(lambda old: old ** other, "**=")

    def add_(self, other, *, alpha=1):
        """``self += alpha * other`` in place."""
        return self._inplace(lambda old: old + (other if alpha == 1 else other * alpha), "add_")

    def sub_(self, other, *, alpha=1):
        """``self -= alpha * other`` in place."""
        return self._inplace(lambda old: old - (other if alpha == 1 else other * alpha), "sub_")

    def mul_(self, other):
        """``self *= other`` in place."""
        return self._inplace(lambda old: old * other, "mul_")

    def div_(self, other):
        """``self /= other`` in place."""
        return self._inplace(lambda old: old / other, "div_")

    def pow_(self, exponent):
        """``self **= exponent`` in place."""
        return self._inplace(lambda old: old ** exponent, "pow_")

    def clamp_(self, min=None, max=None):
        """Clamp in place (see ``clamp``)."""
        return self._inplace(lambda old: _ops().clamp(old, min, max), "clamp_")

    def zero_(self):
        """Fill with zeros in place."""
        return self.fill_(0)

    def fill_(self, value):
        """Fill with ``value`` in place (a number or a one-element tensor)."""
        value = value.item() if hasattr(value, "item") and hasattr(value, "_ctx") else value
        return self.copy_(np.asarray(value, dtype=self.data.dtype))

    def copy_(self, src):
        """Copy ``src``'s values (broadcast to this shape, cast to this dtype) in place."""
        src = src if hasattr(src, "_ctx") else type(self)(np.asarray(src))

        def replace(old):
            # where(False, old, src): src's values (old's NaN or inf cannot leak in, as they
            # would through old * 0 + src), and a gradient to src but none to the old values
            nowhere = np.zeros(old.shape, dtype=bool)
            return _ops().where(nowhere, old, src.to(old.dtype).expand(*old.shape))
        return self._inplace(replace, "copy_")

    def __setitem__(self, index, value):
        self._inplace(lambda old: _ops().index_put(old, index, value), "__setitem__")
