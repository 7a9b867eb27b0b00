"""Oracles and assertions that minicnn's tests and ``python -m minicnn check`` share.

Each oracle computes an answer a second, independent way, in float64 and from plain NumPy or
SciPy, so that a kernel is judged by something that does not share its code:

* ``scipy_conv2d``: the three convolution kernels from ``scipy.signal`` 2-D correlations;
* ``numpy_max_pool2d``: max pooling (values and indices) from NumPy windows and ``np.argmax``;
* ``numerical_grad``: central differences of a scalar function, one entry at a time.

``assert_close`` compares two arrays with PyTorch's default tolerances
(``torch.testing.assert_close``) and says where and by how much they differ.
"""
import numpy as np

__all__ = ["CONV_CASES", "BIG_CONV_CASES", "assert_close", "case_label", "numerical_grad",
           "numpy_max_pool2d", "pool_case_label", "scipy_conv2d"]

# (N, C, H, W, O, KH, KW, stride, padding, dilation, groups): small, but each one exercises
# something: plain, stride > 1 with padding, dilation, groups, non-square, kernel == padded input.
CONV_CASES = [
    (2, 3, 7, 6, 4, 3, 3, 1, 0, 1, 1),
    (2, 2, 9, 8, 3, 3, 2, (2, 3), (1, 0), 1, 1),
    (1, 2, 9, 9, 2, 3, 3, 1, 2, (2, 1), 1),
    (2, 4, 6, 6, 6, 3, 3, 2, 1, 1, 2),
    (3, 1, 5, 4, 2, 7, 6, 1, (1, 1), 1, 1),
]
# Batches past 16, where the weight gradient sums several samples per chunk and the
# channels-last kernels put several samples in one GEMM: each layout the fast kernels choose
# (``minicnn.kernels._conv.plan``) with a batch that is not a multiple of the chunk sizes.
BIG_CONV_CASES = [
    (17, 1, 9, 8, 3, 3, 3, 1, 1, 1, 1),         # planar
    (17, 2, 9, 10, 3, 3, 3, (2, 1), (1, 0), 1, 1),  # planar, rows and columns strided apart
    (64, 1, 7, 7, 2, 3, 3, 1, 1, 1, 1),         # planar
    (40, 4, 6, 7, 4, 3, 3, 2, 1, 1, 2),         # planar, groups
    (40, 8, 6, 6, 4, 3, 3, 1, 1, 1, 1),         # channels-last, 8 samples per GEMM
    (70, 3, 6, 7, 5, 3, 3, (2, 1), 1, 1, 1),    # channels-last, several samples per GEMM
    (17, 13, 24, 24, 16, 3, 3, 1, 1, 1, 1),     # channels-last, pixel blocks
    (17, 16, 6, 6, 4, 3, 3, 1, 1, (1, 2), 1),   # channels-last, one kernel tap at a time
    (130, 8, 4, 4, 2, 3, 3, 1, 1, 1, 1),        # channels-last, chunks of 8-9: two GEMMs each
    (40, 16, 14, 14, 8, 3, 3, 1, 1, 1, 1),      # channels-last, weight gradient by columns,
                                                #   several samples per GEMM
    (40, 1, 8, 8, 8, 3, 3, 1, 1, 1, 1),         # planar, 8 outputs (minicnn's AVX2 GEMM)
]


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _label(value):
    a, b = _pair(value)
    return str(a) if a == b else f"{a},{b}"


def case_label(case):
    """``N,C,H,W=2,3,7,6 O,KH,KW=4,3,3 stride=1 padding=0 ...``: a conv case, labelled."""
    N, C, H, W, O, KH, KW, stride, padding, dilation, groups = case
    text = f"N,C,H,W={N},{C},{H},{W} O,KH,KW={O},{KH},{KW} stride={_label(stride)}"
    for name, value, default in (("padding", padding, 0), ("dilation", dilation, 1),
                                 ("groups", groups, 1)):
        if _pair(value) != _pair(default):
            text += f" {name}={_label(value)}"
    return text


def pool_case_label(x_shape, kernel_size, stride, padding):
    """``N,C,H,W=2,3,7,6 kernel=3,2 stride=1 padding=1,0``: a pooling case, labelled."""
    return (f"N,C,H,W={','.join(map(str, x_shape))} kernel={_label(kernel_size)} "
            f"stride={_label(stride)} padding={_label(padding)}")


# --- oracles -----------------------------------------------------------------------------------

def _dilate(w, DH, DW):
    """Insert DH-1 / DW-1 zeros between kernel taps: (KH, KW) -> (DH(KH-1)+1, DW(KW-1)+1)."""
    KH, KW = w.shape[-2:]
    out = np.zeros(w.shape[:-2] + (DH * (KH - 1) + 1, DW * (KW - 1) + 1), w.dtype)
    out[..., ::DH, ::DW] = w
    return out


def _stuffed(grad_out, shape, SH, SW):
    """grad_out placed at every SH-th row / SW-th column of a zero array of the stride-1 size."""
    out = np.zeros(grad_out.shape[:2] + shape, grad_out.dtype)
    OH, OW = grad_out.shape[2:]
    out[:, :, :SH * OH:SH, :SW * OW:SW] = grad_out
    return out


def scipy_conv2d(x, w, stride=1, padding=0, dilation=1, groups=1, grad_out=None):
    """Oracle for the three conv kernels built from scipy.signal 2-D correlations.

    Parameters
    ----------
    x : ndarray, shape (N, C, H, W)
    w : ndarray, shape (O, C/G, KH, KW)
    stride, padding, dilation : int or (int, int)
    groups : int
    grad_out : ndarray, shape (N, O, OH, OW), optional

    Returns
    -------
    (y, grad_x, grad_w), float64; the last two are None unless ``grad_out`` is given:
    forward = sum_c correlate2d(x_pad[n, c], w[o, c], 'valid'), subsampled by the stride;
    grad_x  = sum_o convolve2d(grad_out_stuffed[n, o], w[o, c], 'full'), cropped by the padding;
    grad_w  = sum_n correlate2d(x_pad[n, c], grad_out_stuffed[n, o], 'valid').
    Dilation is a kernel with zeros inserted between its taps.
    """
    from scipy import signal  # here, not at the top: `check --help` stays quick
    (SH, SW), (PH, PW), (DH, DW), G = _pair(stride), _pair(padding), _pair(dilation), groups
    N, C, H, W = x.shape
    O, CG = w.shape[:2]
    OG = O // G
    x_pad = np.pad(x, ((0, 0), (0, 0), (PH, PH), (PW, PW))).astype(np.float64)
    w_dil = _dilate(w.astype(np.float64), DH, DW)
    full_h, full_w = x_pad.shape[2] - w_dil.shape[2] + 1, x_pad.shape[3] - w_dil.shape[3] + 1
    group = [o // OG for o in range(O)]
    y1 = np.zeros((N, O, full_h, full_w))
    for n in range(N):
        for o in range(O):
            for c in range(CG):
                y1[n, o] += signal.correlate2d(x_pad[n, group[o] * CG + c], w_dil[o, c], "valid")
    OH, OW = (full_h - 1) // SH + 1, (full_w - 1) // SW + 1
    y = y1[:, :, ::SH, ::SW][:, :, :OH, :OW]
    if grad_out is None:
        return y, None, None
    g1 = _stuffed(grad_out.astype(np.float64), (full_h, full_w), SH, SW)
    grad_x_pad = np.zeros(x_pad.shape)
    grad_w_dil = np.zeros(w_dil.shape)
    for n in range(N):
        for o in range(O):
            for c in range(CG):
                ci = group[o] * CG + c
                grad_x_pad[n, ci] += signal.convolve2d(g1[n, o], w_dil[o, c], "full")
                grad_w_dil[o, c] += signal.correlate2d(x_pad[n, ci], g1[n, o], "valid")
    grad_x = grad_x_pad[:, :, PH:PH + H, PW:PW + W]
    return y, grad_x, grad_w_dil[:, :, ::DH, ::DW]


def numpy_max_pool2d(x, kernel_size, stride, padding):
    """Oracle for max pooling: (y, indices) from NumPy windows and ``np.argmax``, which takes
    the first of equal maxima and the first NaN, in row-major window order (padding -inf).

    ``x`` has shape (N, C, H, W); ``indices`` are flat positions ``h * W + w`` in the input
    plane, as ``minicnn.kernels.max_pool2d_forward`` returns them.
    """
    (KH, KW), (SH, SW), (PH, PW) = _pair(kernel_size), _pair(stride), _pair(padding)
    N, C, H, W = x.shape
    pad = ((0, 0), (0, 0), (PH, PH), (PW, PW))
    x_pad = np.pad(x, pad, constant_values=-np.inf)
    where = np.pad(np.arange(H * W).reshape(H, W), pad[2:], constant_values=-1)
    view = np.lib.stride_tricks.sliding_window_view
    windows = view(x_pad, (KH, KW), axis=(2, 3))[:, :, ::SH, ::SW]
    places = view(where, (KH, KW))[::SH, ::SW]
    OH, OW = windows.shape[2:4]
    flat = windows.reshape(N, C, OH, OW, KH * KW)
    best = np.argmax(flat, axis=-1)
    y = np.take_along_axis(flat, best[..., None], -1)[..., 0]
    indices = np.take_along_axis(np.broadcast_to(places.reshape(OH, OW, KH * KW), flat.shape),
                                 best[..., None], -1)[..., 0]
    return y, indices


def numerical_grad(f, a, eps=1e-6):
    """Central differences of the scalar ``f(a)`` with respect to every entry of ``a``.

    ``a`` (a float64 array) is changed in place one entry at a time and restored; the result has
    ``a``'s shape: ``grad[i] = (f(a + eps e_i) - f(a - eps e_i)) / (2 eps)``.
    """
    grad = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + eps
        up = f(a)
        a[i] = old - eps
        down = f(a)
        a[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad


# --- assertions --------------------------------------------------------------------------------

# torch.testing.assert_close's defaults: (rtol, atol) by dtype; other dtypes compare exactly.
_TOLERANCES = {
    np.dtype(np.float16): (1e-3, 1e-5),
    np.dtype(np.float32): (1.3e-6, 1e-5),
    np.dtype(np.float64): (1e-7, 1e-7),
    np.dtype(np.complex64): (1.3e-6, 1e-5),
    np.dtype(np.complex128): (1e-7, 1e-7),
}


def _as_array(value):
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a minicnn Tensor
        return value.detach().numpy()
    return np.asarray(value)


def assert_close(actual, expected, *, rtol=None, atol=None, equal_nan=False, check_dtype=True,
                 msg=None):
    """Raise AssertionError unless ``|actual - expected| <= atol + rtol * |expected|`` everywhere.

    As ``torch.testing.assert_close``, for arrays, scalars and minicnn Tensors.

    Parameters
    ----------
    actual, expected : array_like or Tensor, the same shape
    rtol, atol : float, optional
        Give both or neither. By default they follow the dtype, as PyTorch's do (float32: 1.3e-6
        and 1e-5; float64: 1e-7 and 1e-7; float16: 1e-3 and 1e-5; integers and booleans: exact);
        for two dtypes, those of the dtype they promote to.
    equal_nan : bool
        Whether NaN equals NaN.
    check_dtype : bool
        Whether the dtypes must be equal.
    msg : str or callable, optional
        A message to raise instead, or a function given the message that returns the one to raise.

    The message counts the mismatched elements and names the greatest absolute and relative
    differences with their indices and the tolerances allowed.
    """
    if (rtol is None) != (atol is None):
        raise ValueError(f"assert_close: give both rtol and atol or neither, got rtol={rtol!r} "
                         f"and atol={atol!r}")
    actual, expected = _as_array(actual), _as_array(expected)

    def fail(message):
        if callable(msg):
            message = msg(message)
        elif msg is not None:
            message = msg
        raise AssertionError(message)

    if actual.shape != expected.shape:
        fail(f"The values for attribute 'shape' do not match: {actual.shape} != {expected.shape}.")
    if check_dtype and actual.dtype != expected.dtype:
        fail(f"The values for attribute 'dtype' do not match: {actual.dtype} != {expected.dtype}.")
    if rtol is None:  # the tolerances of the dtype both promote to, as PyTorch's
        rtol, atol = _TOLERANCES.get(np.result_type(actual.dtype, expected.dtype), (0.0, 0.0))
    a, e = actual.astype(np.complex128 if np.iscomplexobj(actual) else np.float64), \
        expected.astype(np.complex128 if np.iscomplexobj(expected) else np.float64)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        abs_diff = np.abs(a - e)
        close = abs_diff <= atol + rtol * np.abs(e)
        close |= a == e  # equal infinities
        if equal_nan:
            close |= np.isnan(a) & np.isnan(e)
        if close.all():
            return
        rel_diff = abs_diff / np.abs(e)
    bad = int((~close).sum())
    # Among the mismatches, a NaN difference counts as the greatest.
    abs_key = np.where(close, -1.0, np.nan_to_num(abs_diff, nan=np.inf))
    rel_key = np.where(close, -1.0, np.nan_to_num(rel_diff, nan=np.inf))
    lines = [("Scalars" if actual.ndim == 0 else "Arrays") + " are not close!", ""]
    if actual.ndim == 0:
        lines += [f"Expected {e.item()} but got {a.item()}.",
                  f"Absolute difference: {abs_diff.item():.6g} (up to {atol:.2g} allowed)",
                  f"Relative difference: {rel_diff.item():.6g} (up to {rtol:.2g} allowed)"]
    else:
        i = np.unravel_index(np.argmax(abs_key), abs_key.shape)
        j = np.unravel_index(np.argmax(rel_key), rel_key.shape)
        lines += [f"Mismatched elements: {bad} / {close.size} ({100 * bad / close.size:.1f}%)",
                  f"Greatest absolute difference: {abs_diff[i]:.6g} at index "
                  f"{tuple(int(v) for v in i)} (up to {atol:.2g} allowed)",
                  f"Greatest relative difference: {rel_diff[j]:.6g} at index "
                  f"{tuple(int(v) for v in j)} (up to {rtol:.2g} allowed)"]
    fail("\n".join(lines))
