"""In-place operations on a Tensor (``x += y``, ``x.add_(y)``, ``x[i] = v``), with PyTorch's rules.

A mixin of ``Tensor`` (kept apart to keep ``_tensor.py`` one screenful of ideas). Every in-place
op is its out-of-place op applied to a stand-in for the old values, then written back into the
same memory: the tensor keeps its identity (and every view of the same memory, and any NumPy
array sharing it, sees the change). A version counter, shared by a base and all its views, is
bumped on each change; a backward that needs a value saved before the change raises instead of
computing a wrong gradient.

When the change is recorded, the history moves on as PyTorch's does:

* on a tensor that is not a view, the tensor gets the op's node (whose input is its old node);
* on a view ``v`` of a base ``b`` (``b[1:]``, ``b.t()``, ...), the *base* gets a new node,
  ``CopySlices``: "the old ``b``, with ``v``'s elements replaced by ``f(old v)``". The view and
  every other view of ``b`` then read their history from ``b``'s new node.
"""
import numpy as np

from minicnn import dtypes
from minicnn.autograd import is_grad_enabled, no_grad

__all__ = ["InplaceOps"]


def _ops():
    from minicnn import ops  # the op package imports Tensor; looked up when first needed
    return ops


def _tensor_module():
    from minicnn import _tensor
    return _tensor


class InplaceOps:
    """The in-place methods of Tensor."""

    def _inplace(self, compute, name):
        """Make this tensor hold ``compute(self)``, in place, with PyTorch's safety rules.

        A leaf that requires grad (or a view of one) may be changed in place only under
        ``no_grad`` (an optimizer step): otherwise its gradient would describe values it no
        longer has.
        """
        recording = is_grad_enabled()
        base = self._base
        if recording and (self.requires_grad and self.grad_fn is None or base is not None
                          and base._requires_grad and base._ctx is None):
            what = "a view of a leaf tensor" if base is not None else "a leaf tensor"
            raise RuntimeError(f"{what} that requires grad is being used in an in-place "
                               f"operation ({name}); do it under minicnn.no_grad() (as an "
                               f"optimizer step does), or on a .clone()")
        multi = self.__dict__.get("_multi_output")
        if multi is not None and recording and (self.requires_grad or base._requires_grad):
            raise RuntimeError(f"Output {multi[1]} of {multi[0]} is a view and is being modified "
                               f"inplace. This view is the output of a function that returns "
                               f"multiple views. Such functions do not allow the output views "
                               f"to be modified inplace. You should replace the inplace "
                               f"operation by an out-of-place one.")
        if not self._data.flags.writeable:
            raise RuntimeError(f"{name}: this tensor's memory is read-only (an expanded or "
                               f"broadcast view); clone() it first")
        T = type(self)
        if recording:
            # The op may save its input for backward (x *= w saves x): give it the old values
            # in memory of their own, which the write below cannot change.
            old = T._make(self._data.copy(), self.grad_fn)
            old._requires_grad = self.requires_grad
        else:
            old = T._make(self._data, None, self._version_box)
        result = compute(old)
        if recording and old.requires_grad and result._ctx is None:
            # values that do not depend on the old ones (a random fill, say): still a node, whose
            # gradient to the old values is 0, so the history before this write is cut
            nowhere = np.zeros(old._data.shape, dtype=bool)
            result = _ops().where(nowhere, old, result.to(old.dtype))
        if result._data.shape != self._data.shape:
            raise RuntimeError(f"{name}: the result's shape {tuple(result._data.shape)} doesn't "
                               f"match this tensor's shape {tuple(self._data.shape)} (in-place "
                               f"ops cannot broadcast the tensor they change)")
        if not np.can_cast(result._data.dtype, self._data.dtype, "same_kind"):
            raise RuntimeError(f"{name}: result type "
                               f"{dtypes.torch_type_name(result._data.dtype)} can't be cast to "
                               f"the desired output type "
                               f"{dtypes.torch_type_name(self._data.dtype)}")
        np.copyto(self._data, result._data, casting="unsafe")
        self._version_box[0] += 1
        node = result._ctx
        if node is None or not recording:
            return self
        if node._saved_versions:
            # The op saved its output, which is now this tensor's memory: a later change of it
            # (through any view) must be caught, as PyTorch does.
            node._saved_versions = tuple(
                (self._version_box, self._version_box[0], what) if box is result._version_box
                else (box, version, what) for box, version, what in node._saved_versions)
        if base is None:
            # This tensor is now the op's output: it gets the op's node.
            if self.__dict__.get("_retains_grad") and self._ctx is not None:
                # retain_grad() follows the tensor to its new node, as in PyTorch
                self._ctx._retained, node._retained = None, self._ctx._retained
            self._ctx, self._requires_grad = node, True
        else:
            # A view changed: the base's history becomes "old base, with the view replaced".
            _tensor = _tensor_module()
            copy = _tensor.Context(_tensor.CopySlicesFn, (base._requires_grad, True))
            copy._next = (base._grad_node(), node)
            copy._input_meta = ((base._data.shape, base._data.dtype),
                                (result._data.shape, result._data.dtype))
            copy.view_fn, copy.base_shape = self._view_fn, base._data.shape
            copy._output_meta = (base._data.shape, base._data.dtype)
            base._ctx, base._requires_grad = copy, True
            # this view (and every other) now reads its history from the base: see _refresh_view
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

    def __imod__(self, other):
        return self._inplace(lambda old: old % other, "%=")

    def __ifloordiv__(self, other):
        return self._inplace(lambda old: old // other, "//=")

    def __iand__(self, other):
        return self._inplace(lambda old: old & other, "&=")

    def __ior__(self, other):
        return self._inplace(lambda old: old | other, "|=")

    def __ixor__(self, other):
        return self._inplace(lambda old: old ^ other, "^=")

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
        if hasattr(value, "_ctx") and value.requires_grad:
            return self.copy_(value.reshape(()) if value.ndim else value)
        value = value.item() if hasattr(value, "_ctx") else value
        if not (is_grad_enabled() and self.requires_grad):
            # No history to record (w.grad.zero_(), say): write the value, with _inplace's
            # checks but without the copy of the old values a recorded op would need.
            with no_grad():
                return self._inplace(lambda old: _filled(old, value), "fill_")
        return self.copy_(np.asarray(value, dtype=self._data.dtype))

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
        if _is_basic(index):
            # x[1:, 0] = v writes into a view, as PyTorch's: the view's copy_ (CopySlices).
            # As there, v may carry extra leading dimensions of size 1 (x[0] = row[None]).
            view = self[index]
            if not hasattr(value, "_ctx"):
                value = np.asarray(value)
            extra = value.ndim - view.ndim
            if extra > 0 and all(n == 1 for n in value.shape[:extra]):
                value = value.reshape(tuple(value.shape[extra:]))
            view.copy_(value)
        else:  # integer tensors or masks pick copies: written back by index_put
            self._inplace(lambda old: _ops().index_put(old, index, value), "__setitem__")


def _is_basic(index):
    """True for an index of ints, slices, None and Ellipsis only (it selects a view)."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (slice, type(None), type(Ellipsis))) or
               (isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_)))
               for i in parts)


def _filled(old, value):
    """``old``'s shape and dtype, every element ``value`` (no graph: nothing requires grad)."""
    return type(old)._make(np.full(old._data.shape, value, dtype=old._data.dtype), None)
