"""The likely cause of a wrong answer, read from its symptom.

Each function here compares your answer with the right one (and, where it needs to, with the
input) and returns one sentence naming the typical mistake that gives exactly this symptom, or
None when the symptom is not that one. The checks in ``_checks.py`` call them when an answer is
wrong, and print the first sentence that applies under the numbers.
"""
import numpy as np


def _close(a, b, rtol=1e-6, atol=1e-9):
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))


def wrong_dtype(got, expected_dtype):
    """``got`` has another dtype than the input's (float64 from float32 input, say)."""
    got_dtype = np.asarray(got).dtype
    if got_dtype != np.dtype(expected_dtype):
        return (f"{got_dtype} returned for {np.dtype(expected_dtype)} input: keep the input's "
                "dtype (allocate with dtype=x.dtype, and mind NumPy's float64 defaults)")
    return None


def kernel_flipped(got, want_with_flipped_kernel):
    """``got`` equals the right answer computed with the kernel turned 180 degrees: the
    true (flipped) convolution where deep learning's cross-correlation was asked for, or the
    other way round."""
    if _close(got, want_with_flipped_kernel):
        return ("your output equals the true convolution with the kernel flipped: a conv "
                "layer computes cross-correlation, y[i, j] = sum x[i + u, j + v] * w[u, v], "
                "with no 180-degree turn of w")
    return None


def ties_only(got_indices, want_indices, x):
    """The indices differ, but only where the values they point to are equal (a tie)."""
    got_indices, want_indices = np.asarray(got_indices), np.asarray(want_indices)
    if got_indices.shape != want_indices.shape or np.array_equal(got_indices, want_indices):
        return None
    flat = np.asarray(x).reshape(*np.shape(x)[:2], -1)
    try:
        got_values = np.take_along_axis(flat, got_indices.reshape(*flat.shape[:2], -1), axis=2)
    except (IndexError, ValueError):
        return None
    want_values = np.take_along_axis(flat, want_indices.reshape(*flat.shape[:2], -1), axis=2)
    if np.array_equal(got_values, want_values, equal_nan=True):
        return ("indices differ only at ties: the first maximum wins (compare with >, not >=, "
                "scanning the window row by row)")
    return None


def times_n(got, want, name="gradient"):
    """``got`` is a whole number N > 1 times ``want``: a mean's 1/N left out (or applied
    twice, for 1/N)."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape or not np.any(np.abs(want) > 1e-12):
        return None
    i = np.argmax(np.abs(want))
    ratio = got.flat[i] / want.flat[i]
    if ratio > 1.5 and abs(ratio - round(ratio)) < 1e-6 and _close(got, round(ratio) * want):
        return f"{name} {round(ratio)} times too large: the mean's 1/N is missing"
    if 0 < ratio < 0.67 and abs(1 / ratio - round(1 / ratio)) < 1e-6 \
            and _close(got * round(1 / ratio), want):
        return f"{name} {round(1 / ratio)} times too small: the mean's 1/N is applied twice"
    return None


def repeated_indices(got, want, writes):
    """``got`` is right wherever one value was written and wrong only where several were
    (``writes`` counts them per position): ``out[idx] += v`` with repeated ``idx`` keeps one."""
    got, want, writes = np.asarray(got), np.asarray(want), np.asarray(writes)
    if got.shape != want.shape or writes.shape != want.shape:
        return None
    wrong = ~np.isclose(got, want, rtol=1e-6, atol=1e-9)
    if wrong.any() and np.all(writes[wrong] > 1):
        return ("repeated indices: out[idx] += values keeps only one of several values sent to "
                "the same place; use np.add.at(out, idx, values) (or a loop) to add them all")
    return None


def unbiased_variance(got, want_with_unbiased_variance):
    """``got`` equals batch norm computed with the unbiased variance (divided by M - 1)."""
    if _close(got, want_with_unbiased_variance):
        return ("you normalised with the unbiased variance (ddof=1, divided by M - 1): batch "
                "norm divides by M, the number of values per channel (np.var's default)")
    return None


def rows_not_channel_first(got, want, c_kh_kw):
    """im2col's rows in (kh, kw, c) order where (c, kh, kw) was asked for."""
    C, KH, KW = c_kh_kw
    got, want = np.asarray(got), np.asarray(want)
    taps_first = want.reshape(C, KH, KW, -1).transpose(1, 2, 0, 3).reshape(want.shape)
    if got.shape == want.shape and not _close(got, want) and _close(got, taps_first):
        return ("your rows are in (kh, kw, c) order: they must go channel first, (c, kh, kw), "
                "the order of w.reshape(O, -1)")
    return None


def sum_to_shape(got_shape, shape):
    """sum_to's result has the right values in the wrong number of axes."""
    got_shape, shape = tuple(got_shape), tuple(shape)
    if len(got_shape) > len(shape) and got_shape[len(got_shape) - len(shape):] == shape:
        return "sum over the leading axes broadcasting prepended too (axis 0, 1, ...)"
    if len(got_shape) < len(shape) and tuple(n for n in shape if n != 1) == tuple(
            n for n in got_shape if n != 1):
        return "keep the stretched axes, with size 1 (sum with keepdims=True)"
    return None


def reused_value_overwritten(got, want):
    """A scalar graph's gradient that is too small where a value is used twice: the gradient
    was assigned (=) where it must be accumulated (+=)."""
    if not _close(got, want) and got != 0 and want != 0 and abs(got) < abs(want) \
            and _close(want / got, round(want / got)) and round(want / got) >= 2:
        return ("a value used twice gets only one use's gradient: add to .grad (+=) in each "
                "_backward, never assign it")
    return None


def uphill(losses):
    """Training made the loss grow: the step has the wrong sign."""
    losses = np.asarray(losses, dtype=np.float64)
    if losses.size >= 2 and losses[-1] > losses[0]:
        return "the loss grows: step against the gradient, w -= lr * grad"
    return None


def first(*hints):
    """The first hint that is not None, or None."""
    return next((h for h in hints if h), None)
