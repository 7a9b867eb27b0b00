"""Sampling from the distributions a tensor describes: bernoulli, multinomial, poisson (no
gradient: the draws are constants), from minicnn's generator or a ``generator=``."""
import numpy as np

from minicnn._checks import check_int
from minicnn._tensor import Tensor
from minicnn.rng import numpy_generator

__all__ = ["bernoulli", "multinomial", "poisson"]


def bernoulli(input, p=None, *, generator=None):
    """1 with probability ``input`` (or ``p``), else 0, elementwise, in ``input``'s dtype."""
    probs = input._data if p is None else np.broadcast_to(np.asarray(p, np.float64), input.shape)
    if np.any((probs < 0) | (probs > 1)) or np.any(np.isnan(probs)):
        raise RuntimeError("bernoulli: all probabilities must be in [0, 1]")
    draws = numpy_generator(generator).random(input.shape) < probs
    return Tensor(draws.astype(input._data.dtype), dtype=input._data.dtype)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """``num_samples`` category indices per row, drawn with probabilities proportional to the
    row's (non-negative) weights, as ``torch.multinomial``; int64, shape (num_samples,) or
    (rows, num_samples)."""
    weights = np.asarray(input._data, dtype=np.float64)
    if weights.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got shape "
                           f"{tuple(weights.shape)}")
    num_samples = check_int(num_samples, "num_samples", 1)
    rows = weights.reshape(-1, weights.shape[-1])
    if np.any(rows < 0) or not np.all(np.isfinite(rows)):
        raise RuntimeError("multinomial: probability tensor contains either inf, nan or "
                           "element < 0")
    if np.any(rows.sum(axis=1) <= 0):
        raise RuntimeError("multinomial: invalid multinomial distribution (sum of "
                           "probabilities <= 0)")
    if not replacement and num_samples > np.count_nonzero(rows, axis=1).min():
        raise RuntimeError("multinomial: cannot sample n_sample > prob_dist.size(-1) samples "
                           "without replacement")
    rng = numpy_generator(generator)
    out = np.stack([rng.choice(len(row), num_samples, replace=replacement, p=row / row.sum())
                    for row in rows]).astype(np.int64)
    return Tensor(out.reshape(weights.shape[:-1] + (num_samples,)))


def poisson(input, generator=None):
    """Draws from Poisson(rate) for each rate in ``input``, in ``input``'s dtype."""
    if np.any(input._data < 0):
        raise RuntimeError("poisson: the rates must be non-negative")
    draws = numpy_generator(generator).poisson(input._data)
    return Tensor(draws.astype(input._data.dtype), dtype=input._data.dtype)
