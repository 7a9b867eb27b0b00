"""Helpers around modules that are not part of one: ``summary``, the per-layer table, and
gradient clipping (``clip_grad_norm_``, ``clip_grad_value_``) and flattening parameters into one
vector (``parameters_to_vector``, ``vector_to_parameters``), as ``torch.nn.utils``; the weight
reparametrizations live in ``weight_norm.py`` and ``spectral_norm.py`` beside this file.

``Module.summary(input_shape)`` calls :func:`summary`; it only uses a module's public methods
(``named_modules``, ``parameters``, ``register_forward_hook``, ...).
"""
import math

import numpy as np

from minicnn import rng as _random
from minicnn._checks import check_int, check_real, float_dtype
from minicnn._tensor import Tensor
from minicnn.autograd import no_grad
from minicnn.nn.utils import parametrizations, parametrize
from minicnn.nn.utils.spectral_norm import remove_spectral_norm, spectral_norm
from minicnn.nn.utils.weight_norm import remove_weight_norm, weight_norm
from minicnn.ops import cat

__all__ = ["summary", "clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters", "weight_norm", "remove_weight_norm", "spectral_norm",
           "remove_spectral_norm", "parametrize", "parametrizations"]


def _grads(parameters):
    """The ``.grad`` arrays of ``parameters`` (one Tensor or an iterable), skipping None."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad._data for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Scale the gradients in place so that their total norm is at most ``max_norm``.

    The norm is taken over all gradients together, as if concatenated into one vector; if it
    exceeds ``max_norm`` every gradient is multiplied by ``max_norm / (norm + 1e-6)`` (PyTorch's
    formula). Call it between ``loss.backward()`` and ``optimizer.step()``.

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
        E.g. ``model.parameters()``; those without a gradient are skipped.
    max_norm : float
    norm_type : float
        The p of the p-norm; ``float('inf')`` for the largest absolute value.
    error_if_nonfinite : bool
        Raise RuntimeError if the total norm is NaN or infinite.
    foreach : ignored (accepted for PyTorch compatibility)

    Returns
    -------
    Tensor
        The total norm of the gradients *before* clipping (a 0-d float tensor).
    """
    grads = _grads(parameters)
    max_norm = check_real(max_norm, "max_norm")
    norm_type = check_real(norm_type, "norm_type")
    if not grads:
        return Tensor(np.array(0.0, dtype=np.float32))
    dtype = grads[0].dtype
    if norm_type == math.inf:
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    else:
        total = sum(float(np.sum(np.abs(g.astype(np.float64)) ** norm_type)) for g in grads)
        total = total ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from "
                           "`parameters` is non-finite, so it cannot be clipped. To disable "
                           "this error and scale the gradients by the non-finite norm anyway, "
                           "set `error_if_nonfinite=False`")
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for g in grads:
            g *= g.dtype.type(coef)
    return Tensor(np.array(total, dtype=dtype))


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clip every gradient element into ``[-clip_value, clip_value]``, in place.

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
    clip_value : float
    foreach : ignored (accepted for PyTorch compatibility)
    """
    clip_value = check_real(clip_value, "clip_value")
    for g in _grads(parameters):
        np.clip(g, -clip_value, clip_value, out=g)


def parameters_to_vector(parameters):
    """All ``parameters`` flattened and concatenated into one 1-D tensor, as
    ``torch.nn.utils.parameters_to_vector`` (differentiable: a ``cat`` of ``reshape(-1)``).

    Parameters
    ----------
    parameters : Tensor or iterable of Tensor
        E.g. ``model.parameters()``; all of one dtype.

    Returns
    -------
    Tensor, shape (sum of numel,)
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    parameters = list(parameters)
    for i, p in enumerate(parameters):
        if not isinstance(p, Tensor):
            raise TypeError(f"expected Tensor, but got: {type(p).__name__} (parameter {i})")
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D ``vec`` into ``parameters``, in place and outside
    autograd, as ``torch.nn.utils.vector_to_parameters`` (the inverse of
    :func:`parameters_to_vector`).

    PyTorch makes each parameter's ``.data`` a view of ``vec``; minicnn copies the values into
    the parameter's own array (its dtype and memory kept), so a later change to ``vec`` does not
    reach the parameters.

    Parameters
    ----------
    vec : Tensor, shape (sum of numel,)
    parameters : Tensor or iterable of Tensor
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected Tensor, but got: {type(vec).__name__}")
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    parameters = list(parameters)
    total = sum(p._data.size for p in parameters)
    if vec.ndim != 1 or vec._data.size != total:
        raise ValueError(f"vec must be 1-D with {total} elements (the parameters' total), got "
                         f"shape {tuple(vec.shape)}")
    start = 0
    with no_grad():
        for p in parameters:
            n = p._data.size
            p._data[...] = vec._data[start:start + n].reshape(p._data.shape)
            p._version_box[0] += 1  # a graph that saved the old values must not use them now
            start += n


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
        dtype = first._data.dtype if first is not None else None  # None: the default dtype
    dtype = float_dtype(dtype)

    rows, counted, handles = [], set(), []

    def record(name):
        def hook(layer, inputs, output):
            if id(layer) in counted:
                count = "(shared)"
            else:
                counted.add(id(layer))
                count = sum(p._data.size for p in layer.parameters(recurse=False))
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
    total = sum(p._data.size for p in params)
    trainable = sum(p._data.size for p in params if p.requires_grad)
    size_mb = sum(p._data.nbytes for p in params) / 2 ** 20
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
        totals.append(f"Buffers: {sum(b._data.size for b in buffers):,} values "
                      f"({sum(b._data.nbytes for b in buffers) / 2 ** 20:.2f} MB)")
    text = "\n".join([line(header), rule] + [line(r) for r in body] + [rule] + totals)
    print(text)
    return text


def _shape_text(output):
    if isinstance(output, (Tensor, np.ndarray)):
        return str(list(output.shape))
    if isinstance(output, (tuple, list)):
        return ", ".join(_shape_text(o) for o in output)
    return type(output).__name__
