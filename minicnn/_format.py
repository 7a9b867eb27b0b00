"""How a tensor prints: as PyTorch prints its tensors (``tensor([0.5000, 1.2500])``)."""
import numpy as np

__all__ = ["tensor_repr"]

# dtypes PyTorch leaves out of a tensor's repr: the default float and int types, and bool.
_IMPLIED = ("float32", "int64", "bool")


def _float_formatter(values):
    """One format for every element, chosen as PyTorch does: whole numbers as ``2.``, else four
    decimals, or scientific notation when the magnitudes span too much to read in fixed."""
    finite = np.abs(values[np.isfinite(values)]).astype(np.float64)
    if finite.size == 0 or np.all(finite == np.round(finite)):
        if finite.size and finite.max() >= 1e8:
            return lambda x: f"{x:.4e}"
        return lambda x: (f"{x:.0f}." if np.isfinite(x) else f"{x}")
    nonzero = finite[finite > 0]
    if nonzero.size and (nonzero.max() / nonzero.min() > 1000 or nonzero.max() >= 1e8
                         or nonzero.min() < 1e-4):
        return lambda x: f"{x:.4e}"
    return lambda x: f"{x:.4f}"


def _body(array):
    if array.dtype.kind == "f":
        fmt = _float_formatter(array)
        width = max((len(fmt(x)) for x in array.flat), default=0)
        formatter = {"float_kind": lambda x: fmt(x).rjust(width)}
    elif array.dtype.kind == "b":
        width = 5 if not array.all() else 4
        formatter = {"bool": lambda x: ("True" if x else "False").rjust(width)}
    else:
        width = max((len(str(x)) for x in array.flat), default=0)
        formatter = {"int": lambda x: str(x).rjust(width)}
    return np.array2string(array, separator=", ", prefix="tensor(", formatter=formatter,
                           max_line_width=80, threshold=1000, edgeitems=3)


def tensor_repr(t):
    """``tensor(<values>[, dtype=minicnn.float64][, grad_fn=<...>|requires_grad=True])``."""
    array = t._data
    if array.size == 0:
        body = "[]" if array.ndim == 1 else f"[], size={tuple(array.shape)}"
    else:
        body = _body(array)
    extras = []
    if array.dtype.name not in _IMPLIED:
        extras.append(f"dtype={t.dtype!r}")
    if t._ctx is not None:
        extras.append(f"grad_fn=<{t._ctx.name()}Backward0>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return "tensor(" + ", ".join([body] + extras) + ")"
