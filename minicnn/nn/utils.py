"""Helpers around modules that are not part of one: ``summary``, the per-layer table.

``Module.summary(input_shape)`` calls :func:`summary`; it only uses a module's public methods
(``named_modules``, ``parameters``, ``register_forward_hook``, ...), so this file does not import
``minicnn.nn.module``.
"""
import numpy as np

from minicnn import rng as _random
from minicnn._checks import check_int, float_dtype
from minicnn._tensor import Tensor
from minicnn.autograd import no_grad

__all__ = ["summary"]


def summary(module, input_shape, dtype=None):
    """Print and return a table of each layer's output shape and parameter count.

    Runs one forward pass of ``module`` on zeros of ``input_shape`` under ``no_grad`` in eval
    mode (the training flags and minicnn's random state are restored afterwards).

    Parameters
    ----------
    module : Module
    input_shape : tuple of int
        Shape of the input batch *including* the batch size, e.g. ``(1, 1, 28, 28)``.
    dtype : numpy dtype, optional
        Dtype of the dummy input; default: the dtype of the first parameter (float32 for a
        module without parameters).

    Returns
    -------
    str
        The table: one row per layer in the order the layers ran (layers without
        sub-modules, and any module holding parameters of its own), then the totals (with a
        line for the buffers, if the module has any).
    """
    if not isinstance(input_shape, (tuple, list)) or not input_shape:
        raise TypeError(f"input_shape must be a non-empty tuple of ints, got {input_shape!r}")
    input_shape = tuple(check_int(s, "input_shape", 1) for s in input_shape)
    if dtype is None:
        first = next(module.parameters(), None)
        dtype = first.data.dtype if first is not None else np.float32
    dtype = float_dtype(dtype)

    rows, counted, handles = [], set(), []

    def record(name):
        def hook(layer, inputs, output):
            if id(layer) in counted:
                count = "(shared)"
            else:
                counted.add(id(layer))
                count = sum(p.data.size for p in layer.parameters(recurse=False))
            label = f"{name} ({type(layer).__name__})" if name else type(layer).__name__
            rows.append((label, _shape_text(output), count))
        return hook

    for name, layer in module.named_modules():
        has_children = any(True for _ in layer.children())
        has_own = any(True for _ in layer.parameters(recurse=False))
        if not has_children or has_own:
            handles.append(layer.register_forward_hook(record(name)))
    modes = [(layer, layer.training) for layer in module.modules()]
    rng_state = _random.get_rng_state()
    try:
        module.eval()
        with no_grad():
            module(Tensor(np.zeros(input_shape, dtype=dtype), dtype=dtype))
    finally:
        for handle in handles:
            handle.remove()
        for layer, mode in modes:
            object.__setattr__(layer, "training", mode)
        _random.set_rng_state(rng_state)

    params = list(module.parameters())
    total = sum(p.data.size for p in params)
    trainable = sum(p.data.size for p in params if p.requires_grad)
    size_mb = sum(p.data.nbytes for p in params) / 2 ** 20
    buffers = list(module.buffers())
    header = ("Layer (type)", "Output Shape", "Param #")
    body = [(label, shape, f"{count:,}" if isinstance(count, int) else count)
            for label, shape, count in rows]
    widths = [max(len(r[i]) for r in [header] + body) for i in range(3)]
    line = lambda r: f"{r[0]:<{widths[0]}}   {r[1]:<{widths[1]}}   {r[2]:>{widths[2]}}"
    rule = "=" * (sum(widths) + 6)
    totals = [
        f"Input shape: {list(input_shape)} ({dtype})",
        f"Total params: {total:,}",
        f"Trainable params: {trainable:,}",
        f"Non-trainable params: {total - trainable:,}",
        f"Params size (MB): {size_mb:.2f}",
    ]
    if buffers:
        totals.append(f"Buffers: {sum(b.data.size for b in buffers):,} values "
                      f"({sum(b.data.nbytes for b in buffers) / 2 ** 20:.2f} MB)")
    text = "\n".join([line(header), rule] + [line(r) for r in body] + [rule] + totals)
    print(text)
    return text


def _shape_text(output):
    if isinstance(output, (Tensor, np.ndarray)):
        return str(list(output.shape))
    if isinstance(output, (tuple, list)):
        return ", ".join(_shape_text(o) for o in output)
    return type(output).__name__
