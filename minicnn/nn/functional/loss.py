"""Losses: cross-entropy, NLL, MSE, L1, smooth L1/Huber, BCE (with logits), KL divergence,
one_hot."""
import warnings

import numpy as np

from minicnn._checks import (check_bool, check_int, check_real, check_reduction,
                             legacy_reduction)
from minicnn._tensor import Function, Tensor, float_tensor_arg
from minicnn.nn.functional._common import _channel_shape, _reduce, _reduction_grad
from minicnn.ops._common import unbroadcast
from minicnn.ops.activation import _log_softmax, _stable_sigmoid

__all__ = [
    "CrossEntropyFn", "cross_entropy", "NLLLossFn", "nll_loss", "MSELossFn", "L1LossFn",
    "SmoothL1LossFn", "HuberLossFn", "BCELossFn", "BCEWithLogitsLossFn", "KLDivLossFn", "mse_loss",
    "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "kl_div", "one_hot",
]


def _reduce_by(loss, reduction, divisor):
    """``_reduce`` whose 'mean' divides the sum by ``divisor`` (the weighted count).

    A divisor of 0 (every target ignored, or all their weights 0) gives NaN, as PyTorch: its
    mean is a weighted sum of terms that are each 0 there, over a total weight of 0 (0/0),
    label smoothing's part included.
    """
    if reduction == "mean":
        mean = loss.sum() / divisor if divisor else np.nan
        return np.asarray(mean, dtype=loss.dtype)
    return _reduce(loss, reduction)


def _reduction_grad_by(grad_out, shape, reduction, divisor, keep=None):
    """The gradient of ``_reduce_by`` with respect to its per-sample input, shape ``shape``:
    0 for the samples outside ``keep`` (ignored targets), even where 'mean' divides by 0."""
    if reduction == "mean":
        # a divisor of 0: each kept sample's weight is 0 * (1/0) = NaN, as in PyTorch
        scale = grad_out / divisor if divisor else np.full_like(grad_out, np.nan)
        g = np.broadcast_to(scale, shape).astype(grad_out.dtype, copy=False)
    else:
        g = _reduction_grad(grad_out, shape, reduction)
    # An ignored sample is not in the loss: PyTorch leaves its gradient 0, whatever grad_out
    # and the divisor are (all ignored: the loss is 0/0 = NaN, the gradient 0).
    return g if keep is None else np.where(keep, g, 0).astype(g.dtype, copy=False)


def _target_array(target):
    if isinstance(target, Tensor):
        return target._data
    if isinstance(target, (list, tuple)):
        return np.asarray(target)
    if isinstance(target, np.ndarray):
        return target
    raise TypeError(f"target must be a Tensor or ndarray of class indices, got "
                    f"{type(target).__name__}")


def _class_weight(weight, C, dtype):
    if weight is None:
        return None
    w = float_tensor_arg(weight, "weight")._data
    if w.shape != (C,):
        raise ValueError(f"weight must have shape (C,) = ({C},) (one per class), got {w.shape}")
    return w.astype(dtype, copy=False)


def _target_distribution(input, target, weight, ignore_index, label_smoothing,
                         probabilities=True):
    """The per-element target distribution ``q`` (N, C, *), weights and smoothing folded in,
    the divisor of ``reduction='mean'``, and ``hit`` (N, C, *) bool: True at each kept sample's
    target class (None for probabilities, which ignore nothing).

    Class indices t: ``q[n, c] = w[t_n] * ((1 - eps) * [c == t_n] + eps / C * w[c] / w[t_n])``,
    zero where ``t_n == ignore_index``; the divisor is the sum of ``w[t_n]`` over the kept
    samples (PyTorch's weighted mean). Probabilities p (input's shape, float):
    ``q = ((1 - eps) * p + eps / C) * w[c]``; the divisor is N * d1 * ... (no weights).
    """
    if input.ndim < 2:
        raise ValueError(f"input must be 2-D (N, C) scores, or (N, C, d1, ...), got shape "
                         f"{input.shape}")
    shape, dtype = input.shape, input.dtype
    N, C, spatial = shape[0], shape[1], shape[2:]
    cshape = _channel_shape(input)
    t = _target_array(target)
    w = _class_weight(weight, C, dtype)
    eps = check_real(label_smoothing, "label_smoothing")
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {eps}")
    if probabilities and t.dtype.kind == "f" and t.shape == shape:
        q = t.astype(dtype)
        if eps:
            q = q * (1 - eps) + eps / C
        if w is not None:
            q = q * w.reshape(cshape)
        return q, max(N * int(np.prod(spatial, dtype=np.int64)), 1), None
    if t.dtype.kind not in "iu":
        also = " or class probabilities of the input's shape" if probabilities else ""
        raise TypeError(f"target must be integer class indices (e.g. int64){also}, got dtype "
                        f"{t.dtype} and shape {t.shape}; build it with minicnn.tensor(labels) "
                        f"from integer labels, or .long()")
    expected = (N,) + spatial
    if t.shape != expected:
        form = "(N,)" if not spatial else "(N, d1, ...)"
        raise ValueError(f"target must have shape {form} = {expected} to match input {shape}, "
                         f"got {t.shape}")
    keep = t != ignore_index
    kept = t[keep]
    if kept.size and (kept.min() < 0 or kept.max() >= C):
        raise ValueError(f"target values must be class indices in [0, C) = [0, {C}) (or "
                         f"ignore_index={ignore_index}), got values from {kept.min()} to "
                         f"{kept.max()}")
    safe = np.where(keep, t, 0).astype(np.int64)
    wt = (w[safe] if w is not None else np.ones(safe.shape, dtype)) * keep
    q = np.zeros(shape, dtype)
    np.put_along_axis(q, safe[:, None], ((1 - eps) * wt)[:, None].astype(dtype), axis=1)
    hit = np.zeros(shape, bool)
    np.put_along_axis(hit, safe[:, None], keep[:, None], axis=1)
    if eps:
        wc = w if w is not None else np.ones(C, dtype)
        q += (eps / C) * wc.reshape(cshape) * keep[:, None]
    return q, wt.sum(), hit


def _times_target(q, v):
    """``q * v`` with 0 where q is 0 (so a -inf log-probability of an unused class is no NaN)."""
    out = q * v
    out[q == 0] = 0
    return out


class CrossEntropyFn(Function):
    grad_fn_name = "NllLoss"  # as PyTorch prints its grad_fn
    @staticmethod
    def forward(ctx, x, q, hit, reduction, divisor):
        logp = _log_softmax(x, 1)
        keep = None if hit is None else hit.any(axis=1)  # the samples whose target counts
        ctx.logp, ctx.q, ctx.keep, ctx.reduction, ctx.divisor = logp, q, keep, reduction, divisor
        loss = -_times_target(q, logp).sum(axis=1)
        if keep is not None:
            loss = np.where(keep, loss, 0).astype(loss.dtype, copy=False)  # +0, as PyTorch
        return _reduce_by(loss, reduction, divisor)

    @staticmethod
    def backward(ctx, grad_out):
        # L_n = -sum_c q_nc log softmax(x_n)_c: dL_n/dx_n = (sum_c q_nc) softmax(x_n) - q_n,
        # i.e. softmax - onehot for a plain label; times the reduction's weight (0 if ignored)
        q = ctx.q
        grad = np.exp(ctx.logp) * q.sum(axis=1, keepdims=True) - q
        g = _reduction_grad_by(grad_out, ctx.logp.shape[:1] + ctx.logp.shape[2:],
                               ctx.reduction, ctx.divisor, ctx.keep)
        with np.errstate(invalid="ignore"):  # a total weight of 0: 0 * inf = NaN, as PyTorch
            return grad * np.expand_dims(g, 1), None, None, None, None


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100,
                  reduce=None, reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy of raw scores, as ``torch.nn.functional.cross_entropy``.

    One fused, numerically stable op (log-softmax by the max-shift, no log of 0): finite for
    logits of any size, with gradient (softmax - onehot) / N for plain labels and 'mean'.

    Parameters
    ----------
    input : Tensor, shape (N, C) or (N, C, d1, ...)
        Unnormalised scores (logits); C is dim 1.
    target : Tensor or ndarray
        Class indices of shape (N,) or (N, d1, ...) in [0, C) (or ``ignore_index``), or
        class probabilities of the input's shape (float).
    weight : Tensor of shape (C,), optional
        A weight per class; with indices, 'mean' divides by the summed weights of the targets.
    ignore_index : int
        Targets equal to it add nothing to the loss or to the 'mean' divisor.
    reduction : {'mean', 'sum', 'none'}
    label_smoothing : float in [0, 1]
        Mix the target with the uniform distribution: ``(1 - eps) * target + eps / C``.
    size_average, reduce : deprecated, as PyTorch

    Returns
    -------
    Tensor: a scalar, or shape (N,) / (N, d1, ...) for ``reduction='none'``
    """
    input = float_tensor_arg(input, "input")
    reduction = check_reduction(legacy_reduction(size_average, reduce, reduction))
    q, divisor, hit = _target_distribution(input, target, weight,
                                           check_int(ignore_index, "ignore_index"),
                                           label_smoothing)
    return CrossEntropyFn.apply(input, q, hit, reduction, divisor)


class NLLLossFn(Function):
    grad_fn_name = "NllLoss"  # as PyTorch prints its grad_fn
    @staticmethod
    def forward(ctx, x, q, hit, reduction, divisor):
        ctx.q, ctx.hit, ctx.reduction, ctx.divisor = q, hit, reduction, divisor
        loss = -_times_target(q, x).sum(axis=1)
        loss = np.where(hit.any(axis=1), loss, 0).astype(loss.dtype, copy=False)  # ignored: +0
        return _reduce_by(loss, reduction, divisor)

    @staticmethod
    def backward(ctx, grad_out):
        # L_n = -sum_c q_nc x_nc = -w[t_n] x[n, t_n]: dL_n/dx_n = -q_n, times the reduction's
        # weight. As PyTorch, only each kept sample's target entry is written (the rest is 0
        # even where 'mean' divides by a total weight of 0).
        q, hit = ctx.q, ctx.hit
        g = _reduction_grad_by(grad_out, q.shape[:1] + q.shape[2:], ctx.reduction, ctx.divisor)
        with np.errstate(invalid="ignore"):
            grad = -q * np.expand_dims(g, 1)
        return np.where(hit, grad, 0).astype(grad.dtype, copy=False), None, None, None, None


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
             reduction="mean"):
    """Negative log-likelihood of log-probabilities against class indices, as ``F.nll_loss``.

    ``nll_loss(log_softmax(x, 1), t)`` equals ``cross_entropy(x, t)``, with the same
    ``weight``, ``ignore_index`` and (N, C, d1, ...) shapes.

    Parameters
    ----------
    input : Tensor, shape (N, C) or (N, C, d1, ...)
        Log-probabilities.
    target : Tensor or ndarray of int, shape (N,) or (N, d1, ...)
    weight : Tensor of shape (C,), optional
    ignore_index : int
    reduction : {'mean', 'sum', 'none'}

    Returns
    -------
    Tensor: a scalar, or shape (N,) / (N, d1, ...) for ``reduction='none'``
    """
    input = float_tensor_arg(input, "input")
    reduction = check_reduction(legacy_reduction(size_average, reduce, reduction))
    q, divisor, hit = _target_distribution(input, target, weight,
                                           check_int(ignore_index, "ignore_index"),
                                           0.0, probabilities=False)
    return NLLLossFn.apply(input, q, hit, reduction, divisor)


def _regression_target(input, target, name):
    """The target as a float Tensor of the input's dtype; a shape other than the input's must
    broadcast with it (PyTorch's UserWarning then says so)."""
    target = float_tensor_arg(target, "target")
    if target.dtype != input.dtype:
        raise TypeError(f"target has dtype {target.dtype} but input has {input.dtype}")
    if target.shape != input.shape:
        try:
            np.broadcast_shapes(input.shape, target.shape)
        except ValueError:
            raise ValueError(f"target must have the input's shape {input.shape} (or broadcast "
                             f"with it), got {target.shape}") from None
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input "
                      f"size ({input.shape}). This will likely lead to incorrect results due to "
                      f"broadcasting. Please ensure they have the same size.", UserWarning,
                      stacklevel=3)
    return target


class _PointwiseLossFn(Function):
    """A loss that is a sum of per-element terms l(x, t): subclasses give ``terms`` returning
    (l, dl/dx, dl/dt), each with its formula; ``options`` are their settings."""

    @staticmethod
    def terms(x, t, options):
        raise NotImplementedError

    @classmethod
    def forward(cls, ctx, x, t, reduction, options):
        loss, dx, dt = cls.terms(x, t, options)
        ctx.shapes, ctx.dx, ctx.dt, ctx.reduction = (x.shape, t.shape), dx, dt, reduction
        return _reduce(loss.astype(x.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, grad_out):
        # d(reduce(l))/dx = dl/dx times the reduction's weight, summed over broadcast axes
        g = _reduction_grad(grad_out, ctx.dx.shape, ctx.reduction)
        need_x, need_t = ctx.needs_input_grad[:2]
        grad_x = unbroadcast(ctx.dx * g, ctx.shapes[0]) if need_x else None
        grad_t = (unbroadcast(ctx.dt * g, ctx.shapes[1])
                  if need_t and ctx.dt is not None else None)
        return grad_x, grad_t, None, None


class MSELossFn(_PointwiseLossFn):
    grad_fn_name = "MseLoss"  # as PyTorch prints its grad_fn
    @staticmethod
    def terms(x, t, options):
        # l = (x - t)^2: dl/dx = 2 (x - t), dl/dt = -2 (x - t)
        d = x - t
        return d * d, 2 * d, -2 * d


class L1LossFn(_PointwiseLossFn):
    @staticmethod
    def terms(x, t, options):
        # l = |x - t|: dl/dx = sign(x - t) (0 at a tie), dl/dt = -sign(x - t)
        d = x - t
        return np.abs(d), np.sign(d), -np.sign(d)


class SmoothL1LossFn(_PointwiseLossFn):
    @staticmethod
    def terms(x, t, options):
        # l = d^2 / (2 beta) if |d| < beta else |d| - beta/2: dl/dx = d / beta or sign(d)
        beta, d = options, x - t
        small = np.abs(d) < beta
        safe = beta if beta > 0 else 1.0
        loss = np.where(small, 0.5 * d * d / safe, np.abs(d) - 0.5 * beta)
        dx = np.where(small, d / safe, np.sign(d))
        return loss, dx, -dx


class HuberLossFn(_PointwiseLossFn):
    @staticmethod
    def terms(x, t, options):
        # l = d^2 / 2 if |d| < delta else delta (|d| - delta/2): dl/dx = d or delta sign(d)
        delta, d = options, x - t
        small = np.abs(d) < delta
        loss = np.where(small, 0.5 * d * d, delta * (np.abs(d) - 0.5 * delta))
        dx = np.where(small, d, delta * np.sign(d))
        return loss, dx, -dx


class BCELossFn(_PointwiseLossFn):
    grad_fn_name = "BinaryCrossEntropy"  # as PyTorch prints its grad_fn
    @staticmethod
    def terms(x, t, options):
        # l = -w (t log x + (1-t) log(1-x)), logs clamped at -100 as PyTorch:
        # dl/dx = w (x - t) / max(x (1-x), 1e-12), dl/dt = w (log(1-x) - log x)
        w = 1 if options is None else options
        with np.errstate(divide="ignore"):
            log_x = np.maximum(np.log(x), -100)
            log_1mx = np.maximum(np.log1p(-x), -100)
        loss = -w * (t * log_x + (1 - t) * log_1mx)
        dx = w * (x - t) / np.maximum(x * (1 - x), 1e-12)
        return loss, dx, w * (log_1mx - log_x)


class BCEWithLogitsLossFn(_PointwiseLossFn):
    grad_fn_name = "BinaryCrossEntropyWithLogits"  # as PyTorch prints its grad_fn
    @staticmethod
    def terms(x, t, options):
        # l = w (p t softplus(-x) + (1-t) softplus(x)), p = pos_weight, softplus stable:
        # dl/dx = w ((1-t) s - p t (1-s)) with s = sigmoid(x);
        # dl/dt = w (p softplus(-x) - softplus(x))
        w, p = options
        w = 1 if w is None else w
        p = 1 if p is None else p
        sp_pos = np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))   # softplus(x)
        sp_neg = sp_pos - x                                          # softplus(-x)
        s = _stable_sigmoid(x)
        loss = w * (p * t * sp_neg + (1 - t) * sp_pos)
        return loss, w * ((1 - t) * s - p * t * (1 - s)), w * (p * sp_neg - sp_pos)


class KLDivLossFn(_PointwiseLossFn):
    @staticmethod
    def terms(x, t, options):
        # input x = log q. l = t (log t - x) (0 where t = 0): dl/dx = -t, dl/dt = log t + 1 - x;
        # log_target (t = log p): l = e^t (t - x): dl/dx = -e^t, dl/dt = e^t (t - x + 1)
        if options:
            p = np.exp(t)
            return p * (t - x), -p + 0 * x, p * (t - x + 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_t = np.where(t > 0, np.log(np.where(t > 0, t, 1)), 0)
        loss = np.where(t > 0, t * (log_t - x), 0)
        return loss, -t + 0 * x, np.where(t > 0, log_t + 1 - x, 0)


def _pointwise_loss(fn, input, target, reduction, options, size_average=None, reduce=None):
    input = float_tensor_arg(input, "input")
    target = _regression_target(input, target, fn.__name__)
    reduction = check_reduction(legacy_reduction(size_average, reduce, reduction))
    return fn.apply(input, target, reduction, options)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Mean squared error ``(input - target)**2``, as ``torch.nn.functional.mse_loss``.

    Parameters
    ----------
    input : Tensor, any shape
    target : Tensor or ndarray of the input's dtype (it may require grad too); a different
        shape must broadcast with the input's and gives PyTorch's UserWarning
    reduction : {'mean', 'sum', 'none'}

    Returns
    -------
    Tensor: a scalar, or the broadcast shape for ``reduction='none'``
    """
    return _pointwise_loss(MSELossFn, input, target, reduction, None, size_average, reduce)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Mean absolute error ``|input - target|``, as ``torch.nn.functional.l1_loss``.
    Shapes and reductions as :func:`mse_loss`."""
    return _pointwise_loss(L1LossFn, input, target, reduction, None, size_average, reduce)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean",
                   beta=1.0):
    """Quadratic below ``beta``, linear above: ``d**2 / (2 beta)`` if ``|d| < beta`` else
    ``|d| - beta / 2``, as ``torch.nn.functional.smooth_l1_loss`` (beta=0 is L1)."""
    beta = check_real(beta, "beta", 0.0)
    return _pointwise_loss(SmoothL1LossFn, input, target, reduction, beta, size_average,
                           reduce)


def huber_loss(input, target, reduction="mean", delta=1.0):
    """``d**2 / 2`` if ``|d| < delta`` else ``delta * (|d| - delta / 2)``, as
    ``torch.nn.functional.huber_loss`` (smooth_l1 times delta, with beta = delta)."""
    delta = check_real(delta, "delta")
    if delta <= 0:
        raise ValueError(f"delta must be > 0, got {delta}")
    return _pointwise_loss(HuberLossFn, input, target, reduction, delta)


def _elementwise_weight(weight, input, name="weight"):
    if weight is None:
        return None
    w = float_tensor_arg(weight, name)._data.astype(input.dtype, copy=False)
    try:
        np.broadcast_shapes(w.shape, input.shape)
    except ValueError:
        raise ValueError(f"{name} of shape {w.shape} does not broadcast with the input's "
                         f"shape {input.shape}") from None
    return w


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction="mean"):
    """Binary cross-entropy of probabilities, as ``torch.nn.functional.binary_cross_entropy``:
    ``-w (t log x + (1 - t) log(1 - x))`` with the logs clamped at -100.

    Parameters
    ----------
    input : Tensor, any shape, values in [0, 1]
    target : Tensor or ndarray, the input's shape, values in [0, 1]
    weight : Tensor broadcasting with the input, optional
    reduction : {'mean', 'sum', 'none'}
    """
    input = float_tensor_arg(input, "input")
    target = float_tensor_arg(target, "target")
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input "
                         f"size ({input.shape}) is deprecated. Please ensure they have the "
                         "same size.")
    if input.numel() and (input._data.min() < 0 or input._data.max() > 1):
        raise ValueError("all elements of input should be between 0 and 1 (probabilities; "
                         "use binary_cross_entropy_with_logits for raw scores)")
    return _pointwise_loss(BCELossFn, input, target, reduction,
                           _elementwise_weight(weight, input), size_average, reduce)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction="mean", pos_weight=None):
    """Sigmoid and binary cross-entropy in one stable op, as
    ``torch.nn.functional.binary_cross_entropy_with_logits``:
    ``w (p t softplus(-x) + (1 - t) softplus(x))``.

    Parameters
    ----------
    input : Tensor, any shape (logits)
    target : Tensor or ndarray, the input's shape, values in [0, 1]
    weight : Tensor broadcasting with the input, optional
    pos_weight : Tensor broadcasting with the input (one per class, last dim), optional
        Weight of the positive term (> 1 raises recall).
    reduction : {'mean', 'sum', 'none'}
    """
    input = float_tensor_arg(input, "input")
    target = float_tensor_arg(target, "target")
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    options = (_elementwise_weight(weight, input),
               _elementwise_weight(pos_weight, input, "pos_weight"))
    return _pointwise_loss(BCEWithLogitsLossFn, input, target, reduction, options,
                           size_average, reduce)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Kullback-Leibler divergence ``target * (log target - input)``, as
    ``torch.nn.functional.kl_div``: ``input`` holds log-probabilities.

    Parameters
    ----------
    input : Tensor, any shape (log q)
    target : Tensor or ndarray, the input's shape (p, or log p if ``log_target``)
    reduction : {'mean', 'batchmean', 'sum', 'none'}
        'batchmean' (the true KL divergence per sample) divides the sum by N; 'mean' divides
        by every element, with PyTorch's warning.
    log_target : bool
    """
    reduction = legacy_reduction(size_average, reduce, reduction)
    if reduction not in ("mean", "batchmean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'batchmean', 'sum' or 'none', got "
                         f"{reduction!r}")
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", UserWarning, stacklevel=2)
    log_target = check_bool(log_target, "log_target")
    if reduction != "batchmean":
        return _pointwise_loss(KLDivLossFn, input, target, reduction, log_target)
    loss = _pointwise_loss(KLDivLossFn, input, target, "sum", log_target)
    n = input.shape[0] if getattr(input, "ndim", 0) else 1
    return loss / n


def one_hot(tensor, num_classes=-1):
    """Class indices as one-hot vectors, as ``torch.nn.functional.one_hot``.

    Parameters
    ----------
    tensor : Tensor or ndarray of int, any shape
    num_classes : int
        -1: one more than the largest index.

    Returns
    -------
    Tensor of int64, shape ``tensor.shape + (num_classes,)``
    """
    t = _target_array(tensor)
    if t.dtype.kind not in "iu":
        raise TypeError(f"one_hot is only applicable to index tensors, got dtype {t.dtype}")
    num_classes = check_int(num_classes, "num_classes", -1)
    if num_classes == -1:
        num_classes = int(t.max()) + 1 if t.size else 0
    if t.size and (t.min() < 0 or t.max() >= num_classes):
        raise ValueError(f"Class values must be in [0, num_classes) = [0, {num_classes}), got "
                         f"values from {t.min()} to {t.max()}")
    out = np.zeros(t.shape + (num_classes,), dtype=np.int64)
    np.put_along_axis(out, t.astype(np.int64)[..., None], 1, axis=-1)
    return Tensor(out)
