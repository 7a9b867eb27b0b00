"""Finite-difference gradient checking, with a report that points at the wrong element."""
import numpy as np

from minicnn._tensor import Tensor
from minicnn.autograd import no_grad

__all__ = ["gradcheck", "GradcheckError"]


class GradcheckError(AssertionError):
    """Raised by ``gradcheck`` when an analytic gradient disagrees with finite differences.

    Attributes
    ----------
    input_index : int
        Position of the offending input in ``inputs``.
    index : tuple of int
        Index of the worst element inside that input.
    numeric, analytic : float
        The finite-difference and the backward value at that element.
    """

    def __init__(self, message, input_index=None, index=None, numeric=None, analytic=None):
        super().__init__(message)
        self.input_index, self.index = input_index, index
        self.numeric, self.analytic = numeric, analytic


def _outputs(result):
    """fn's result as a tuple of Tensors, checked."""
    outs = result if isinstance(result, (tuple, list)) else (result,)
    for k, o in enumerate(outs):
        if not isinstance(o, Tensor):
            raise TypeError(f"fn must return a Tensor (or a tuple of Tensors); output {k} is a "
                            f"{type(o).__name__}")
        if o.dtype != np.float64:
            raise TypeError(f"fn's output {k} has dtype {o.dtype}: gradcheck needs float64 "
                            f"all the way through (does fn cast to float32 somewhere?)")
    return tuple(outs)


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, seed=0):
    """Check the gradients of ``fn`` against central finite differences.

    What is compared: for a fixed random ``g`` (drawn from its own generator seeded with ``seed``,
    one array per output of ``fn``), the scalar ``L = sum((fn(*inputs) * g).sum())``. Its
    gradient with respect to each input that requires grad is computed twice:

    * analytically, by ``L.backward()`` (so ``g`` is the ``grad_out`` every backward sees);
    * numerically, element by element: ``(L(x + eps) - L(x - eps)) / (2 eps)``.

    A random ``g`` checks the vector-Jacobian product that backward actually computes, with
    one backward and ``2 * numel`` forward calls per input, and a wrong gradient almost surely
    shows up in it. An element passes if ``|analytic - numeric| <= atol + rtol * |numeric|``.

    The inputs' ``.grad`` are left as they were. ``fn`` must be deterministic (reseed inside
    it if it draws random numbers, e.g. dropout) and, to be checkable, smooth near the inputs
    (keep ReLU inputs away from 0 and max-pool inputs free of ties).

    Parameters
    ----------
    fn : callable
        ``fn(*inputs)`` returns a Tensor (any shape) or a tuple of Tensors, in float64.
    inputs : Tensor or tuple
        The arguments of ``fn``. Those that are Tensors with ``requires_grad=True`` are
        checked: they must be float64 leaves. Other arguments are passed through.
    eps : float
        Finite-difference step.
    atol, rtol : float
        Absolute and relative tolerance.
    raise_exception : bool
        If False, return False instead of raising on a mismatch.
    seed : int
        Seed of the generator that draws ``g`` (minicnn's own generator is not touched).

    Returns
    -------
    bool
        True if every gradient matches.

    Raises
    ------
    GradcheckError
        On a mismatch; the message names the input (position and shape), the index of the
        worst element, the numeric and analytic values and the tolerance.
    TypeError, ValueError
        If an input to check is not a float64 leaf, or ``fn`` returns something else than
        float64 Tensors.

    Examples
    --------
    >>> import numpy as np, minicnn
    >>> x = minicnn.tensor(np.random.rand(3, 4), dtype=np.float64, requires_grad=True)
    >>> minicnn.gradcheck(lambda t: (t * t).sum(dim=1), (x,))
    True
    """
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    if not isinstance(inputs, (tuple, list)):
        raise TypeError(f"inputs must be a Tensor or a tuple of Tensors, got "
                        f"{type(inputs).__name__}")
    for name, value in (("eps", eps), ("atol", atol), ("rtol", rtol)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    if eps == 0:
        raise ValueError("eps must be > 0")
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("none of the inputs requires grad: create the ones to check with "
                         "requires_grad=True")
    for i in checked:
        t = inputs[i]
        if t.dtype != np.float64:
            raise TypeError(
                f"input {i} (shape {t.shape}) has dtype {t.dtype}: finite differences in "
                f"{t.dtype} are too inexact to check anything. Use float64, e.g. "
                f"minicnn.tensor(x, dtype=np.float64, requires_grad=True)")
        if not t.is_leaf:
            raise ValueError(f"input {i} (shape {t.shape}) is the result of an operation; "
                             f"gradcheck needs leaf tensors (use .detach() and set "
                             f"requires_grad=True)")

    # Analytic: one backward of L, leaving the users' .grad untouched.
    outs = _outputs(fn(*inputs))
    rng = np.random.default_rng(seed)  # its own generator: the user's random stream is untouched
    gs = [rng.standard_normal(o.shape) for o in outs]
    saved_grads = [inputs[i].grad for i in checked]
    try:
        for i in checked:
            inputs[i].grad = None
        terms = [(o * g).sum() for o, g in zip(outs, gs) if o.requires_grad]
        if terms:
            loss = terms[0]
            for term in terms[1:]:
                loss = loss + term
            loss.backward()
        analytic = [np.zeros(inputs[i].shape) if inputs[i].grad is None
                    else np.array(inputs[i].grad._data) for i in checked]
    finally:
        for i, grad in zip(checked, saved_grads):
            inputs[i].grad = grad

    def value():
        with no_grad():
            return sum(float(np.sum(o._data * g)) for o, g in zip(_outputs(fn(*inputs)), gs))

    # Numeric: nudge one element at a time, in place, and restore it.
    for i, a in zip(checked, analytic):
        t = inputs[i]
        original = t._data
        if not t._data.flags.writeable:
            t._data = t._data.copy()
        numeric = np.zeros(t.shape)
        try:
            for idx in np.ndindex(*t.shape):
                x0 = t._data[idx]
                try:
                    t._data[idx] = x0 + eps
                    plus = value()
                    t._data[idx] = x0 - eps
                    minus = value()
                finally:  # even when fn raises: the user's input must come back unchanged
                    t._data[idx] = x0
                numeric[idx] = (plus - minus) / (2 * eps)
        finally:
            t._data = original
        error = _compare(i, t.shape, numeric, a, eps, atol, rtol)
        if error is not None:
            if raise_exception:
                raise error
            return False
    return True


def _compare(i, shape, numeric, analytic, eps, atol, rtol):
    """A GradcheckError describing the worst element, or None if all are within tolerance."""
    diff = np.abs(analytic - numeric)
    tol = atol + rtol * np.abs(numeric)
    bad = ~(diff <= tol)  # also catches NaN
    if not bad.any():
        return None
    # The worst element: NaN first, then the largest excess over its tolerance.
    excess = np.where(np.isnan(diff), np.inf, diff - tol)
    idx = tuple(int(k) for k in np.unravel_index(int(np.argmax(excess)), shape))
    n, a = float(numeric[idx]), float(analytic[idx])
    message = (
        f"gradcheck failed for input {i} (shape {tuple(shape)}): at index {idx} the "
        f"numeric gradient is {n:.8g} but the analytic (backward) gradient is {a:.8g}; "
        f"|difference| = {float(diff[idx]):.3g} > tolerance atol + rtol*|numeric| = "
        f"{atol:g} + {rtol:g}*{abs(n):.3g} = {float(tol[idx]):.3g}. "
        f"{int(bad.sum())} of {bad.size} elements are out of tolerance. (Gradients of "
        f"(fn(*inputs) * g).sum() for a fixed random g; central differences, eps={eps:g}.)")
    return GradcheckError(message, input_index=i, index=idx,
                          numeric=n, analytic=a)
