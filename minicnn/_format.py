"""How a tensor prints: as PyTorch prints its tensors (``tensor([0.5000, 1.2500])``)."""
import numpy as np

__all__ = ["tensor_repr", "set_printoptions"]

# dtypes PyTorch leaves out of a tensor's repr: the default float and int types, and bool.
_IMPLIED = ("float32", "int64", "bool")


# PyTorch's print options (torch.set_printoptions), with its defaults.
_OPTIONS = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}
_PROFILES = {"default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
             "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
             "full": {"precision": 4, "threshold": float("inf"), "edgeitems": 3,
                      "linewidth": 80}}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """How tensors print, as ``torch.set_printoptions``: ``precision`` digits after the point,
    summarise (``...``) tensors of more than ``threshold`` elements showing ``edgeitems`` at each
    end, ``linewidth`` columns; ``profile`` "default", "short" or "full" sets all four first;
    ``sci_mode`` True/False forces scientific/fixed notation (None: chosen per tensor)."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"profile must be one of {sorted(_PROFILES)}, got {profile!r}")
        _OPTIONS.update(_PROFILES[profile])
    for name, value in (("precision", precision), ("threshold", threshold),
                        ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a non-negative number, got {value!r}")
            _OPTIONS[name] = value
    if sci_mode is not None and not isinstance(sci_mode, bool):
        raise ValueError(f"sci_mode must be True, False or None, got {sci_mode!r}")
    _OPTIONS["sci_mode"] = sci_mode


def _float_formatter(values):
    """One format for every element, chosen as PyTorch does: whole numbers as ``2.``, else
    ``precision`` decimals, or scientific notation when the magnitudes span too much to read in
    fixed (or as ``sci_mode`` says)."""
    p, sci_mode = int(_OPTIONS["precision"]), _OPTIONS["sci_mode"]
    finite = np.abs(values[np.isfinite(values)]).astype(np.float64)
    if finite.size == 0 or np.all(finite == np.round(finite)):
        if sci_mode or (sci_mode is None and finite.size and finite.max() >= 1e8):
            return lambda x: f"{x:.{p}e}"
        return lambda x: (f"{x:.0f}." if np.isfinite(x) else f"{x}")
    nonzero = finite[finite > 0]
    if sci_mode or (sci_mode is None and nonzero.size and (
            nonzero.max() / nonzero.min() > 1000 or nonzero.max() >= 1e8
            or nonzero.min() < 1e-4)):
        return lambda x: f"{x:.{p}e}"
    return lambda x: f"{x:.{p}f}"


def _summarized(array):
    """What a summarized tensor shows (the first and last three along every dimension), from
    which the element width is taken, as PyTorch's ``get_summarized_data``."""
    edge = int(_OPTIONS["edgeitems"])
    if array.ndim == 0:
        return array
    if array.shape[0] > 2 * edge:
        array = np.concatenate([array[:edge], array[-edge:]])
    if array.ndim == 1:
        return array
    return np.stack([_summarized(a) for a in array])


def _element_formatter(array, shown):
    """A function formatting one element, padded to the width of the widest one shown."""
    if array.dtype.kind == "f":
        fmt = _float_formatter(shown)
    elif array.dtype.kind == "b":
        fmt = lambda x: "True" if x else "False"  # noqa: E731
    else:
        fmt = str
    width = max((len(fmt(x)) for x in shown.flat), default=0)
    return lambda x: fmt(x).rjust(width), width


def _layout(array, indent, summarize, fmt, width):
    """PyTorch's ``_tensor_str``: rows of as many elements as fit in 80 columns after the
    indent, nested dimensions one more column in, blank lines between 3-D blocks."""
    k = int(_OPTIONS["edgeitems"])
    edge = summarize and array.shape[0] > 2 * k
    if array.ndim == 1:
        per_line = max(1, int(_OPTIONS["linewidth"] - indent) // (width + 2))
        data = ([fmt(x) for x in array[:k]] + [" ..."]
                + [fmt(x) for x in array[-k:]]) if edge else [fmt(x) for x in array]
        lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = (list(range(k)) + [None] + list(range(len(array) - k, len(array)))
            if edge else range(len(array)))
    parts = ["..." if i is None else _layout(array[i], indent + 1, summarize, fmt, width)
             for i in rows]
    return "[" + ("," + "\n" * (array.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _body(array, indent):
    summarize = array.size > _OPTIONS["threshold"]
    fmt, width = _element_formatter(array, _summarized(array) if summarize else array)
    if array.ndim == 0:
        return fmt(array[()]).strip()
    return _layout(array, indent, summarize, fmt, width)


def _with_suffixes(text, suffixes, indent):
    """``, dtype=...`` and the like after the values, on a line of their own where the last
    line would pass 80 columns (PyTorch's ``_add_suffixes``)."""
    parts = [text]
    last_line = len(text) - text.rfind("\n") + 1
    for suffix in suffixes:
        if last_line + len(suffix) + 2 > _OPTIONS["linewidth"]:
            parts.append(",\n" + " " * indent + suffix)
            last_line = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line += len(suffix) + 2
    return "".join(parts) + ")"


def tensor_repr(t):
    """``tensor(<values>[, dtype=minicnn.float64][, grad_fn=<...>|requires_grad=True])``."""
    array = t._data
    extras = []
    if array.size == 0:
        body = "[]"
        if array.ndim != 1:
            extras.append(f"size={tuple(array.shape)}")
    else:
        body = _body(array, len("tensor("))
    if array.dtype.name not in _IMPLIED:
        extras.append(f"dtype={t.dtype!r}")
    if t._ctx is not None:
        extras.append(f"grad_fn=<{t._ctx.name()}Backward0>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return _with_suffixes("tensor(" + body, extras, len("tensor("))
