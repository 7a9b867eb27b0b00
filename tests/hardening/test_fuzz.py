"""Fuzzing the kernel boundary: random and adversarial arguments never crash the interpreter.

Two parts:

* Regression tests, in process, for what the fuzzer found (each names the bug it pins).
* The fuzzer: a seeded batch of cases run in a *subprocess* (this file, run as a script), so a
  segfault or abort in a compiled kernel fails one test, naming the last case started, instead
  of killing pytest. Every case must either return what the readable twin returns, or raise a
  TypeError/ValueError/IndexError/OverflowError whose message names an argument it was given.
"""
import os

import numpy as np
import pytest

import minicnn.kernels as K

# ---------------------------------------------------------------------------------------------
# Regressions
# ---------------------------------------------------------------------------------------------

X = np.ones((1, 1, 4, 4), np.float32)
W = np.ones((1, 1, 3, 3), np.float32)
G1 = np.ones((1, 1, 1, 1), np.float32)

HUGE = [2 ** 31, 2 ** 32, 2 ** 40, 2 ** 63, 2 ** 64, np.uint64(2 ** 63)]


@pytest.mark.parametrize("value", HUGE)
@pytest.mark.parametrize("call, name", [
    (lambda v: K.conv2d_forward(X, W, stride=v), "stride"),
    (lambda v: K.conv2d_forward(X, W, stride=(1, v)), "stride"),
    (lambda v: K.conv2d_forward(X, W, padding=v), "padding"),
    (lambda v: K.conv2d_forward(X, W, dilation=v), "dilation"),
    (lambda v: K.conv2d_forward(X, W, groups=v), "groups"),
    (lambda v: K.conv2d_backward_input(G1, W, X.shape, stride=v), "stride"),
    (lambda v: K.conv2d_backward_weight(X, G1, W.shape, stride=(v, 1)), "stride"),
    (lambda v: K.max_pool2d_forward(X, 2, stride=v), "stride"),
    (lambda v: K.max_pool2d_forward(X, v), "kernel_size"),
    (lambda v: K.avg_pool2d_forward(X, 2, stride=v), "stride"),
    (lambda v: K.avg_pool2d_forward(X, v, padding=v // 2), "kernel_size"),
    (lambda v: K.avg_pool2d_backward(G1, X.shape, 4, stride=v), "stride"),
])
def test_huge_geometry_ints_raise_value_error_naming_them(call, name, value):
    # Bug: a stride of 2**31 reached Cython's int conversion and raised a bare
    # "OverflowError: value too large to convert to int"; a pooling kernel of 2**32 (with
    # padding, so the window fits) overflowed KH*KW inside avg_pool2d and returned inf.
    with pytest.raises(ValueError, match=rf"{name} must be <= 2\*\*31 - 1"):
        call(int(value))


def test_set_num_threads_refuses_more_than_a_c_int():
    with pytest.raises(ValueError, match="number of threads"):
        K.set_num_threads(2 ** 31)


def test_largest_c_int_stride_and_pool_kernel_still_work():
    x = np.arange(16, dtype=np.float64).reshape(1, 1, 4, 4)
    big = 2 ** 31 - 1
    y = K.conv2d_forward(x, np.ones((1, 1, 1, 1)), stride=big)
    assert y.shape == (1, 1, 1, 1) and y[0, 0, 0, 0] == 0.0
    # One window covering everything: the mean over KH*KW = big**2 cells, padding included.
    y = K.avg_pool2d_forward(x, big, padding=big // 2)
    assert y.shape == (1, 1, 1, 1)
    assert y[0, 0, 0, 0] == pytest.approx(x.sum() / big ** 2, rel=1e-12)


@pytest.mark.parametrize("call, names", [
    # Bug: numpy's bare "array is too big" (or a MemoryError of 14 TiB) instead of naming the
    # argument that made the arrays so large.
    (lambda: K.conv2d_forward(X, W, padding=2 ** 30), ["padding", "padded input"]),
    (lambda: K.conv2d_forward(X, W, padding=10 ** 6), ["padding", "padded input"]),
    (lambda: K.conv2d_forward(G1, G1, stride=2 ** 30, padding=2 ** 29), ["padding"]),
    (lambda: K.conv2d_backward_input(G1, G1, (1, 1, 2 ** 40, 3)), ["input shape"]),
    (lambda: K.max_pool2d_backward(G1, np.zeros((1, 1, 1, 1), np.int64),
                                   (1, 1, 2 ** 40, 2 ** 40)), ["x_shape"]),
    (lambda: K.avg_pool2d_backward(G1, (1, 1, 2 ** 62, 1), 1), ["x_shape"]),
    (lambda: K.conv2d_backward_weight(np.ones((0, 1, 1, 1), np.float32),
                                      np.ones((0, 1, 1, 1), np.float32),
                                      (2 ** 62, 1, 1, 1)), ["w_shape"]),
])
def test_oversized_arrays_raise_value_error_naming_the_cause(call, names):
    with pytest.raises(ValueError) as info:
        call()
    assert any(n in str(info.value) for n in names), str(info.value)


def test_conv_transpose2d_takes_numpy_ints_and_names_bad_pairs():
    # Bug: conv_transpose2d computed its output size with the caller's NumPy scalars, so
    # dilation=(np.int32(1), np.int8(2)) with a large padding overflowed int32 ("Python
    # integer -4294967294 out of bounds for int32"), and stride=("a", "b") failed comparing
    # str with int; neither named the argument.
    import minicnn
    import minicnn.nn.functional as F

    x = minicnn.tensor(np.ones((1, 3, 2, 2)))
    w = minicnn.tensor(np.ones((3, 3, 3, 4)))
    y = F.conv_transpose2d(x, w, dilation=(np.int32(1), np.int8(2)), groups=np.int64(1))
    assert y.shape == (1, 3, 4, 8)
    with pytest.raises(ValueError, match=r"padding \(2147483647, 2147483647\) is too large"):
        F.conv_transpose2d(x, w, dilation=(np.int32(1), np.int8(2)), padding=2 ** 31 - 1)
    with pytest.raises(TypeError, match="stride must be an int or a pair"):
        F.conv_transpose2d(x, w, stride=("a", "b"))
    # the same wording as conv2d's (both check their settings with ConvArgs)
    with pytest.raises(ValueError, match=r"stride must be <= 2\*\*31 - 1 = 2147483647 \(the "
                                         r"kernels take C ints\)"):
        F.conv_transpose2d(x, w, stride=2 ** 63)
    with pytest.raises(ValueError, match="dilation must be >= 1"):
        F.conv_transpose2d(x, w, dilation=(0, 1))


@pytest.mark.parametrize("dtype", [np.complex128, object, np.str_])
@pytest.mark.parametrize("name", ["input", "weight", "bias"])
def test_functional_names_a_non_numeric_array(name, dtype):
    # Bug: F.conv2d(complex_array, w) raised Tensor()'s "data must be numeric, got an array
    # of dtype complex128", not saying which argument it was.
    import minicnn.nn.functional as F

    args = dict(input=np.ones((1, 2, 4, 4)), weight=np.ones((3, 2, 3, 3)), bias=np.ones(3))
    args[name] = args[name].astype(dtype)
    with pytest.raises(TypeError, match=rf"^{name} must be a float32 or float64 tensor"):
        F.conv2d(**args)


def test_dtype_mismatch_names_both_arrays():
    # Bug: "grad_out has dtype float32 but the other operand has float64" left the other
    # operand (x, which the caller had changed) unnamed.
    x, g = np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2), np.float32)
    with pytest.raises(TypeError, match="grad_out has dtype float32 but x has float64"):
        K.conv2d_backward_weight(x, g, (1, 1, 3, 3))
    with pytest.raises(TypeError, match="w has dtype float32 but x has float64"):
        K.conv2d_forward(x, W)
    with pytest.raises(TypeError, match="w has dtype float32 but grad_out has float64"):
        K.conv2d_backward_input(g.astype(np.float64), W, x.shape)


@pytest.mark.parametrize("backend_name", ["fast", "reference"])
def test_memory_errors_name_the_arguments(backend_name):
    # Bug: a shape within the index range but beyond memory gave NumPy's bare "Unable to
    # allocate 384. TiB for an array with shape ...", not saying which argument asked for it.
    with K.backend(backend_name), \
            pytest.raises(MemoryError, match=r"x_shape=\(2, 3, 1099511627776"):
        K.max_pool2d_backward(np.ones((2, 3, 1, 2)), np.zeros((2, 3, 1, 2), np.int64),
                              (2, 3, 2 ** 40, 8))
    with K.backend(backend_name), pytest.raises(MemoryError, match="padding=20000"):
        K.conv2d_forward(np.ones((1000, 1, 1, 1)), np.ones((1, 1, 1, 1)), padding=20000)


@pytest.mark.parametrize("backend_name", ["fast", "reference"])
def test_max_pool2d_backward_of_an_empty_batch(backend_name):
    # Bug: the twin reshaped the indices with -1, which NumPy cannot infer for 0 planes, so
    # F.max_pool2d on an empty batch failed on the reference backend.
    import minicnn
    import minicnn.nn.functional as F

    x = minicnn.tensor(np.ones((0, 2, 4, 4)), requires_grad=True)
    with K.backend(backend_name):
        y = F.max_pool2d(x, 2)
        y.backward(np.ones(y.shape, np.float32))
    assert y.shape == (0, 2, 2, 2) and x.grad.shape == (0, 2, 4, 4)


# ---------------------------------------------------------------------------------------------
# The fuzzer: case generation
# ---------------------------------------------------------------------------------------------
#
# A case is rebuilt from (seed, index) alone, so the fast and the reference run each get fresh
# arrays and a failure can be replayed: `python tests/hardening/test_fuzz.py --seed S --only I`.
#
# Each case starts from a valid call with small random sizes and gets 0-3 mutations. Every
# mutation says whether it leaves the call valid ("valid": it must return the twin's answer),
# surely breaks it ("invalid": it must raise), or may do either ("maybe"), and which words an
# error message about it must contain (at least one, case-insensitive).

KERNEL_ENTRIES = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight",
                  "max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward",
                  "avg_pool2d_backward"]
F_ENTRIES = ["F.conv2d", "F.conv_transpose2d", "F.conv1d", "F.max_pool2d", "F.avg_pool2d"]
ENTRIES = KERNEL_ENTRIES + F_ENTRIES
# MemoryError too: a shape that fits the index range may still not fit in memory; the seam
# re-raises it with the arguments (tests above), so it names them like the others.
ALLOWED_ERRORS = ("TypeError", "ValueError", "IndexError", "OverflowError", "MemoryError")

ARRAY_ARGS = ("x", "w", "grad_out", "input", "weight", "bias")
GEOMETRY_ARGS = ("stride", "padding", "dilation", "groups", "kernel_size", "output_padding")
SHAPE_ARGS = ("x_shape", "w_shape")
# Words that can name a geometry problem: a wrong padding can surface as "kernel ... is larger
# than the padded input", a wrong stride as a grad_out/output of the wrong shape.
GEOMETRY_WORDS = ("stride", "padding", "padded input", "dilation", "groups", "kernel",
                  "output", "grad_out", "shape")
HUGE_INTS = [2 ** 31, 2 ** 32, 2 ** 40, 2 ** 63, 2 ** 64, -2 ** 63, np.uint64(2 ** 63)]


class Case:
    """One fuzz case: an entry point, its keyword arguments, and what the mutations expect."""

    def __init__(self, index, entry, args, threads, seed=None):
        self.index, self.entry, self.args, self.threads = index, entry, args, threads
        self.seed = seed
        self.labels, self.keywords, self.targets = [], set(), set()
        self.status = "valid"

    def mutated(self, label, status, target, keywords=()):
        self.labels.append(label)
        self.targets.add(target)
        self.keywords.update(k.lower() for k in keywords)
        order = {"valid": 0, "maybe": 1, "invalid": 2}
        if order[status] > order[self.status]:
            self.status = status

    def describe(self):
        args = ", ".join(f"{k}={_describe(v)}" for k, v in self.args.items())
        return (f"case {self.index}: {self.entry}({args}) threads={self.threads} "
                f"mutations={self.labels or ['none']} expect={self.status}")


def _describe(value):
    if isinstance(value, np.ndarray):
        flags = [f for f, on in (("F", value.flags.f_contiguous and not value.flags.c_contiguous),
                                 ("noncontig", not value.flags.c_contiguous
                                  and not value.flags.f_contiguous),
                                 ("readonly", not value.flags.writeable),
                                 ("unaligned", not value.flags.aligned)) if on]
        return f"array{value.shape}:{value.dtype}" + ("[" + ",".join(flags) + "]" if flags else "")
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _small(rng, lo, hi):
    return int(rng.integers(lo, hi + 1))


def _geometry_value(rng, value):
    """An int as itself or as a pair (both forms are accepted everywhere but conv1d)."""
    return value if rng.random() < 0.5 else (value, value)


def _normal(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def _conv_base(rng, dtype):
    # One case in six is larger (up to 24 channels per group, 24x24 pixels, 9 samples) so the
    # fast kernels' other layouts and GEMM blockings run too, not only the tiny-layer path.
    big = 8 if rng.random() < 1 / 6 else 1
    G = _small(rng, 1, 2)
    N = _small(rng, 0, 3 * (1 + (big > 1)) + (big > 1))
    C, O = G * _small(rng, 1, 3 * big), G * _small(rng, 1, 3 * big)
    KH, KW, SH, SW = _small(rng, 1, 4), _small(rng, 1, 4), _small(rng, 1, 3), _small(rng, 1, 3)
    DH, DW, PH, PW = _small(rng, 1, 2), _small(rng, 1, 2), _small(rng, 0, 2), _small(rng, 0, 2)
    H = max(1, DH * (KH - 1) + 1 - 2 * PH) + _small(rng, 0, 4 * (1 + 4 * (big > 1)))
    W = max(1, DW * (KW - 1) + 1 - 2 * PW) + _small(rng, 0, 4 * (1 + 4 * (big > 1)))
    OH = (H + 2 * PH - DH * (KH - 1) - 1) // SH + 1
    OW = (W + 2 * PW - DW * (KW - 1) - 1) // SW + 1
    if rng.random() < 1 / 8:
        # A batch past 16: the weight gradient sums several samples per chunk, and the
        # channels-last kernels put several samples in one GEMM.
        N = int(rng.choice([17, 40, 64, 70]))
    geo = dict(stride=(SH, SW) if SH != SW or rng.random() < 0.5 else SH,
               padding=(PH, PW) if PH != PW or rng.random() < 0.5 else PH,
               dilation=(DH, DW) if DH != DW or rng.random() < 0.5 else DH, groups=G)
    return ((N, C, H, W), (O, C // G, KH, KW), (N, O, OH, OW), geo)


def _pool_base(rng):
    N, C = _small(rng, 0, 3), _small(rng, 1, 3)
    KH, KW = _small(rng, 1, 4), _small(rng, 1, 4)
    PH, PW = _small(rng, 0, KH // 2), _small(rng, 0, KW // 2)
    stride = None if rng.random() < 0.3 else (_small(rng, 1, 3), _small(rng, 1, 3))
    SH, SW = stride if stride is not None else (KH, KW)
    H = max(1, KH - 2 * PH) + _small(rng, 0, 4)
    W = max(1, KW - 2 * PW) + _small(rng, 0, 4)
    OH, OW = (H + 2 * PH - KH) // SH + 1, (W + 2 * PW - KW) // SW + 1
    geo = dict(kernel_size=(KH, KW) if KH != KW or rng.random() < 0.5 else KH, stride=stride,
               padding=(PH, PW) if PH != PW or rng.random() < 0.5 else PH)
    if stride is not None and SH == SW and rng.random() < 0.5:
        geo["stride"] = SH
    return (N, C, H, W), (N, C, OH, OW), geo


def base_case(index, entry, rng):
    """A valid call of ``entry`` with small random sizes."""
    dtype = np.float32 if rng.random() < 0.6 else np.float64
    args = {}
    if entry.startswith("conv2d") or entry == "F.conv2d":
        x_shape, w_shape, y_shape, geo = _conv_base(rng, dtype)
        if entry == "conv2d_forward":
            args = dict(x=_normal(rng, x_shape, dtype), w=_normal(rng, w_shape, dtype))
        elif entry == "conv2d_backward_input":
            args = dict(grad_out=_normal(rng, y_shape, dtype), w=_normal(rng, w_shape, dtype),
                        x_shape=x_shape)
        elif entry == "conv2d_backward_weight":
            args = dict(x=_normal(rng, x_shape, dtype), grad_out=_normal(rng, y_shape, dtype),
                        w_shape=w_shape)
        else:
            args = dict(input=_normal(rng, x_shape, dtype), weight=_normal(rng, w_shape, dtype),
                        bias=_normal(rng, w_shape[:1], dtype) if rng.random() < 0.5 else None)
        args.update(geo)
    elif entry == "F.conv_transpose2d":
        # weight (C_in, C_out/G, KH, KW); the output is what a conv2d with this geometry
        # would map back onto the input, so reuse the conv geometry with roles swapped.
        x_shape, w_shape, y_shape, geo = _conv_base(rng, dtype)
        SH, SW = geo["stride"] if isinstance(geo["stride"], tuple) else (geo["stride"],) * 2
        out_pad = (_small(rng, 0, SH - 1), _small(rng, 0, SW - 1))
        # The transposed conv's output, (OH-1)*S - 2P + D*(K-1) + OP + 1, can be < 1 when the
        # conv's input was smaller than its stride; without padding it is always >= 1.
        OH, OW = y_shape[2:]
        PH, PW = geo["padding"] if isinstance(geo["padding"], tuple) else (geo["padding"],) * 2
        DH, DW = geo["dilation"] if isinstance(geo["dilation"], tuple) else (geo["dilation"],) * 2
        if min((OH - 1) * SH - 2 * PH + DH * (w_shape[2] - 1) + out_pad[0] + 1,
               (OW - 1) * SW - 2 * PW + DW * (w_shape[3] - 1) + out_pad[1] + 1) < 1:
            geo["padding"] = 0
        args = dict(input=_normal(rng, y_shape, dtype), weight=_normal(rng, w_shape, dtype),
                    bias=_normal(rng, (x_shape[1],), dtype) if rng.random() < 0.5 else None,
                    stride=geo["stride"], padding=geo["padding"], output_padding=out_pad,
                    groups=geo["groups"], dilation=geo["dilation"])
    elif entry == "F.conv1d":
        x_shape, w_shape, y_shape, geo = _conv_base(rng, dtype)
        N, C, _, L = x_shape
        O, CG, _, KW = w_shape
        first = lambda v: v[1] if isinstance(v, tuple) else v  # noqa: E731
        args = dict(input=_normal(rng, (N, C, L), dtype), weight=_normal(rng, (O, CG, KW), dtype),
                    bias=_normal(rng, (O,), dtype) if rng.random() < 0.5 else None,
                    stride=first(geo["stride"]), padding=first(geo["padding"]),
                    dilation=first(geo["dilation"]), groups=geo["groups"])
    else:
        x_shape, y_shape, geo = _pool_base(rng)
        if entry in ("max_pool2d_forward", "avg_pool2d_forward"):
            args = dict(x=_normal(rng, x_shape, dtype), **geo)
        elif entry == "max_pool2d_backward":
            from minicnn.kernels import reference
            _, indices = reference.max_pool2d_forward(_normal(rng, x_shape, np.float64),
                                                      geo["kernel_size"], geo["stride"],
                                                      geo["padding"])
            args = dict(grad_out=_normal(rng, y_shape, dtype), indices=indices, x_shape=x_shape)
        elif entry == "avg_pool2d_backward":
            args = dict(grad_out=_normal(rng, y_shape, dtype), x_shape=x_shape, **geo)
        else:
            args = dict(input=_normal(rng, x_shape, dtype), **geo)
        if "avg" in entry:
            args["count_include_pad"] = bool(rng.random() < 0.5)
    case = Case(index, entry, args, threads=_small(rng, 1, 3))
    case.base_hw = (x_shape[2], x_shape[3])
    return case


# --- mutations: each returns False when it does not apply to the case ------------------------

def _pick(rng, names):
    return names[rng.integers(len(names))] if names else None


def _free(case, names):
    return [n for n in names if n in case.args and n not in case.targets]


def mutate_geometry_int(case, rng):
    name = _pick(rng, _free(case, GEOMETRY_ARGS))
    if name is None:
        return False
    invalid = (HUGE_INTS + [-1, True, 1.5, float("nan"), "2", (1, 2, 3), (2 ** 63, 1), 1j,
                            np.float64(2.0)])
    if name not in ("padding", "output_padding"):
        invalid = invalid + [0]
    maybe = [1, 2, np.int64(2), [1, 1], (1, 2), (2, 1), 2 ** 31 - 1, (2 ** 31 - 1, 1), (),
             None, 0, (np.int32(1), np.int8(2))]
    value = (invalid + maybe)[rng.integers(len(invalid) + len(maybe))]
    status = "maybe" if any(value is m for m in maybe) else "invalid"
    if case.entry == "F.conv1d" and isinstance(value, tuple) and len(value) == 2:
        status = "invalid"  # conv1d takes an int or a 1-tuple
    case.args[name] = value
    case.mutated(f"{name}={_describe(value)}", status, name, (name,) + GEOMETRY_WORDS)
    return True


def mutate_shape_arg(case, rng):
    name = _pick(rng, _free(case, SHAPE_ARGS))
    if name is None:
        return False
    shape = list(case.args[name])
    i = int(rng.integers(4))
    kind = _pick(rng, ["short", "none", "negative", "huge", "float", "plus_one", "ndarray",
                       "list"])
    status = "invalid"
    if kind == "short":
        value = tuple(shape[:3])
    elif kind == "none":
        value = None
    elif kind == "ndarray":
        value = np.array(shape)
    elif kind == "list":
        value, status = shape, "valid"
    else:
        shape[i] = {"negative": -1, "huge": 2 ** 40, "float": shape[i] + 0.5,
                    "plus_one": shape[i] + 1}[kind]
        value = tuple(shape)
        # A huge size in an empty batch still describes an empty array.
        status = "maybe" if kind == "plus_one" or (kind == "huge" and 0 in shape) else "invalid"
    case.args[name] = value
    case.mutated(f"{name}:{kind}", status, name,
                 (name, "grad_out", "channels", "(c)", "(h)", "(w)", "(o)", "indices")
                 + GEOMETRY_WORDS)
    return True


def _float_arrays(case):
    return [n for n in ARRAY_ARGS if type(case.args.get(n)) is np.ndarray
            and case.args[n].dtype.kind == "f"]


def mutate_dtype(case, rng):
    name = _pick(rng, _free(case, _float_arrays(case)))
    if name is None:
        return False
    a = case.args[name]
    others = [n for n in _float_arrays(case) if n != name] + [
        n for n in ARRAY_ARGS if type(case.args.get(n)).__name__ == "Tensor"]
    choices = ["int32", "int64", "bool", "complex64", "complex128", "object", "float16",
               "uint8", ">f4", ">f8", "other_float"]
    kind = _pick(rng, choices)
    if kind == "object":
        value = np.empty(a.shape, dtype=object)
        value[...] = a.astype(np.float64)  # Python floats: an object array a list would give
    elif kind == "other_float":
        value = a.astype(np.float64 if a.dtype == np.float32 else np.float32)
    else:
        value = a.astype(kind)
    # One float array alone may be either float dtype; next to another, it must match it.
    status = "valid" if kind == "other_float" and not others else "invalid"
    if kind in (">f4", ">f8"):
        status = "maybe"  # a big-endian float: refusing it is fine, if the message says so
    if kind == "float16" and case.entry.startswith("F."):
        status = "maybe"  # F.* wraps an ndarray as a Tensor, which makes float16 float32
    case.args[name] = value
    case.mutated(f"{name}.dtype={value.dtype}", status, name, (name,))
    return True


def mutate_ndim(case, rng):
    name = _pick(rng, _free(case, [n for n in ARRAY_ARGS if type(case.args.get(n)) is np.ndarray]))
    if name is None:
        return False
    a = case.args[name]
    kind = _pick(rng, ["extra", "flat", "scalar", "drop"])
    if kind == "extra":
        value = a[None]
    elif kind == "flat":
        value = a.reshape(-1)
    elif kind == "scalar":
        value = np.asarray(a.reshape(-1)[0] if a.size else 0.0, dtype=a.dtype)
    else:
        value = a.reshape(a.shape[1:]) if a.ndim > 1 and a.shape[0] == 1 else a[..., None]
    if value.ndim == a.ndim:
        return False
    # F.conv2d/pools take an unbatched (C, H, W) input as PyTorch's do (and conv1d (C, L)):
    # dropping a batch axis of 1 leaves a valid call.
    unbatched = (case.entry.startswith("F.") and name == "input" and kind == "drop"
                 and a.ndim > 1 and a.shape[0] == 1)
    case.args[name] = value
    case.mutated(f"{name}:ndim {a.ndim}->{value.ndim}", "maybe" if unbatched else "invalid", name,
                 (name,))
    return True


def _unaligned(a):
    """A copy of ``a`` whose data starts one byte past an aligned address."""
    raw = np.empty(a.nbytes + 1, dtype=np.uint8)
    out = np.frombuffer(raw.data, dtype=a.dtype, count=a.size, offset=1).reshape(a.shape)
    out[...] = a
    return out


def mutate_layout(case, rng):
    """Odd but valid memory layouts: the values are unchanged, so the result must be too."""
    name = _pick(rng, _free(case, [n for n in ARRAY_ARGS + ("indices",)
                                   if type(case.args.get(n)) is np.ndarray]))
    if name is None:
        return False
    a = case.args[name]
    kind = _pick(rng, ["noncontig", "negstride", "fortran", "readonly", "transposed",
                       "unaligned", "broadcast"])
    axis = int(rng.integers(a.ndim)) if a.ndim else 0
    if kind == "noncontig" and a.ndim:
        big = np.repeat(a, 2, axis=axis)
        value = big[(slice(None),) * axis + (slice(None, None, 2),)]
    elif kind == "negstride" and a.ndim:
        flip = (slice(None),) * axis + (slice(None, None, -1),)
        value = a[flip].copy()[flip]
    elif kind == "fortran":
        value = np.asfortranarray(a)
    elif kind == "readonly":
        value = a.copy()
        value.flags.writeable = False
    elif kind == "transposed":
        value = np.ascontiguousarray(a.T).T
    elif kind == "unaligned":
        value = _unaligned(a)
    elif kind == "broadcast" and a.ndim and a.shape[0] > 0:
        value = np.broadcast_to(a[:1], a.shape)  # stride 0 along axis 0, read-only
        if name == "indices":
            return False  # changing indices' values is not a layout change
    else:
        return False
    case.args[name] = value
    case.mutated(f"{name}:{kind}", "valid", name)
    return True


def mutate_values(case, rng):
    name = _pick(rng, [n for n in _float_arrays(case) if case.args[n].size])
    if name is None:
        return False
    a = np.array(case.args[name])  # a C-ordered copy
    kind = _pick(rng, ["nan", "inf", "-inf", "max", "denormal", "-0"])
    value = {"nan": np.nan, "inf": np.inf, "-inf": -np.inf, "max": np.finfo(a.dtype).max,
             "denormal": np.finfo(a.dtype).smallest_subnormal, "-0": -0.0}[kind]
    flat = a.reshape(-1)
    flat[rng.integers(flat.size, size=max(1, flat.size // 10))] = value
    case.args[name] = a
    case.mutated(f"{name}:{kind} values", "valid", f"{name}:values")
    return True


def mutate_empty_batch(case, rng):
    """N = 0 everywhere: valid, returns empty arrays (and zero weight gradients)."""
    if case.targets:
        return False
    for name in ARRAY_ARGS + ("indices",):
        a = case.args.get(name)
        if isinstance(a, np.ndarray) and name not in ("w", "weight", "bias"):
            case.args[name] = a[:0]
    for name in ("x_shape",):
        if name in case.args:
            case.args[name] = (0,) + tuple(case.args[name][1:])
    case.mutated("N=0", "valid", "batch")
    return True


def mutate_zero_dim(case, rng):
    name = _pick(rng, _free(case, [n for n in ARRAY_ARGS if type(case.args.get(n)) is np.ndarray]))
    if name is None or case.args[name].ndim < 2:
        return False
    a = case.args[name]
    axis = int(rng.integers(1, a.ndim))
    case.args[name] = np.take(a, [], axis=axis)
    case.mutated(f"{name}: axis {axis} has size 0", "maybe", name,
                 (name, "channels", "height", "width", "(c)", "(h)", "(w)", "(o)", "must be >= 1",
                  "shape", "groups") + GEOMETRY_WORDS)
    return True


def mutate_channels(case, rng):
    name = _pick(rng, _free(case, ["w", "weight", "bias"]))
    if name is None or case.args[name] is None:
        return False
    a = case.args[name]
    axis = 0 if name == "bias" or case.entry == "F.conv_transpose2d" else 1
    shape = list(a.shape)
    shape[axis] += 1
    case.args[name] = np.ones(shape, a.dtype)
    case.mutated(f"{name}: channel axis {axis} + 1", "invalid", name,
                 (name, "w ", "groups", "channels", "shape", "grad_out"))
    return True


def mutate_kernel_too_big(case, rng):
    name = _pick(rng, _free(case, ["w", "weight", "kernel_size", "w_shape"]))
    if name is None or case.entry == "F.conv_transpose2d":
        return False  # a transposed conv's kernel is never "larger than its input"
    if name == "kernel_size":
        H, W = case.base_hw  # padding is at most 2, and may have been mutated to 2
        case.args[name] = (H + 2 * 2 + 1, 1) if rng.random() < 0.5 else W + 2 * 2 + 1
    else:
        a = case.args[name]
        shape = list(getattr(a, "shape", a))
        shape[-1] = 40
        case.args[name] = tuple(shape) if name == "w_shape" else np.ones(shape, a.dtype)
    case.mutated(f"{name}: kernel larger than the input", "invalid", name,
                 ("kernel", "larger", "padding", "shape", "grad_out"))
    return True


def mutate_not_an_array(case, rng):
    name = _pick(rng, _free(case, [n for n in ARRAY_ARGS + ("indices",)
                                   if type(case.args.get(n)) is np.ndarray]))
    if name is None:
        return False
    a = case.args[name]
    kind = _pick(rng, ["list", "None", "float", "str", "Tensor", "matrix"])
    if kind == "Tensor":
        import minicnn
        value = minicnn.Tensor(a)
    elif kind == "matrix":
        import warnings
        with warnings.catch_warnings():  # np.matrix is deprecated: exactly why it is here
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            value = np.asmatrix(a.reshape(len(a), -1)) if a.ndim > 1 and a.size else 3
    else:
        value = {"list": a.tolist(), "None": None, "float": 1.0, "str": "x"}[kind]
    status = "invalid"
    if case.entry.startswith("F.") and (kind == "Tensor" or (name == "bias" and value is None)):
        status = "valid"
    if case.entry.startswith("F.") and kind == "list":
        status = "maybe"
    case.args[name] = value
    case.mutated(f"{name}={kind}", status, name, (name,))
    return True


def mutate_indices(case, rng):
    if "indices" not in case.args or "indices" in case.targets:
        return False
    a = case.args["indices"]
    H, W = case.base_hw
    kind = _pick(rng, ["-1", "HW", "2**62", "float", "bool", "uint64", "shape", "int32"])
    if kind == "float":
        value = a.astype(np.float64)
    elif kind == "bool":
        value = a.astype(bool)
    elif kind == "uint64":
        value = a.astype(np.uint64)
        if value.size:
            value.reshape(-1)[0] = 2 ** 63
    elif kind == "int32":
        value = a.astype(np.int32)
    elif kind == "shape":
        value = a[..., :0] if a.shape[-1] else a[..., None]
    else:
        value = a.copy()
        if value.size:
            value.reshape(-1)[0] = {"-1": -1, "HW": H * W, "2**62": 2 ** 62}[kind]
    # An out-of-range value written into an empty array is no value at all.
    status = "valid" if kind == "int32" or (
        a.size == 0 and kind in ("-1", "HW", "2**62", "uint64")) else "invalid"
    if kind == "shape":
        status = "maybe"  # grad_out may have been cut to the same shape
    case.args["indices"] = value
    case.mutated(f"indices:{kind}", status, "indices", ("indices", "grad_out"))
    return True


def mutate_count_include_pad(case, rng):
    if "count_include_pad" not in case.args or "count_include_pad" in case.targets:
        return False
    value = [1, 0, None, "yes", np.bool_(False), np.bool_(True)][rng.integers(6)]
    status = "valid" if isinstance(value, np.bool_) else "invalid"
    case.args["count_include_pad"] = value
    case.mutated(f"count_include_pad={value!r}", status, "count_include_pad",
                 ("count_include_pad",))
    return True


MUTATIONS = [mutate_geometry_int, mutate_geometry_int, mutate_shape_arg, mutate_dtype,
             mutate_ndim, mutate_layout, mutate_layout, mutate_values, mutate_empty_batch,
             mutate_zero_dim, mutate_channels, mutate_kernel_too_big, mutate_not_an_array,
             mutate_indices, mutate_count_include_pad]


def build_case(seed, index):
    """Case ``index`` of the batch seeded ``seed`` (the same every time)."""
    rng = np.random.default_rng([seed, index])
    entry = ENTRIES[rng.integers(len(ENTRIES))]
    case = base_case(index, entry, rng)
    case.seed = seed
    wanted = [0, 0, 1, 1, 1, 2, 2, 3][rng.integers(8)]
    with np.errstate(all="ignore"):  # casting NaN to int, say, is what some mutations do
        for _ in range(20):
            if len(case.labels) >= wanted:
                break
            MUTATIONS[rng.integers(len(MUTATIONS))](case, rng)
    if any("channel axis" in m for m in case.labels) and \
            any(":plus_one" in m for m in case.labels) and case.status == "invalid":
        case.status = "maybe"  # a channel more in w and in x_shape may agree again
    if sum(".dtype=" in m for m in case.labels) >= 2 and case.status == "invalid":
        case.status = "maybe"  # two arrays changed to other floats may match again
    return case


# ---------------------------------------------------------------------------------------------
# The fuzzer: running and judging one case
# ---------------------------------------------------------------------------------------------

def _call(case, backend_name):
    """Run the case on one backend: ("ok", [arrays]) or ("error", type name, message)."""
    import minicnn
    import minicnn.nn.functional as F

    try:
        # Overflowing or NaN inputs warn; the fuzzer judges results, not warnings.
        with K.backend(backend_name), np.errstate(all="ignore"):
            if case.entry in KERNEL_ENTRIES:
                out = getattr(K, case.entry)(**case.args)
                return ("ok", list(out) if isinstance(out, tuple) else [out])
            args = dict(case.args)
            leaves = []
            for name in ("input", "weight", "bias"):
                a = args.get(name)
                if isinstance(a, np.ndarray) and a.dtype in (np.float32, np.float64):
                    args[name] = minicnn.Tensor(a, requires_grad=True)
                    leaves.append(args[name])
            y = getattr(F, case.entry[2:])(**args)
            if y.requires_grad:
                # A fixed upstream gradient, the same on both backends.
                g = np.random.default_rng(case.index).standard_normal(y.shape).astype(y.dtype)
                y.backward(g)
            return ("ok", [y.data] + [t.grad for t in leaves])
    except Exception as exc:  # judged below: the type and the message must be right
        return ("error", type(exc).__name__, str(exc))


def _snapshot(case):
    return {k: v.copy() for k, v in case.args.items() if isinstance(v, np.ndarray)}


def _same(a, b, dtype, overflow=False):
    """Fast vs twin: equal shapes and dtypes, equal non-finite pattern, close finite values.

    With ``overflow`` (inputs near the largest float) sums may overflow in one summation
    order and not in another, so only the places finite on both sides are compared.
    """
    if a is None or b is None:
        return (a is None) == (b is None), "one side has no gradient"
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False, f"shape/dtype {a.shape} {a.dtype} vs twin {b.shape} {b.dtype}"
    if a.dtype.kind != "f":
        return np.array_equal(a, b), "integer outputs differ"
    finite = np.isfinite(b)
    if overflow:
        finite &= np.isfinite(a)
    elif not np.array_equal(finite, np.isfinite(a)) or not np.array_equal(
            np.isnan(a), np.isnan(b)) or not np.array_equal(a[~finite & ~np.isnan(b)],
                                                            b[~finite & ~np.isnan(b)]):
        return False, "non-finite values differ"
    if not finite.any():
        return True, ""
    tol = 2e-4 if dtype == np.float32 else 1e-10
    scale = max(1.0, float(np.abs(b[finite]).max()))
    err = float(np.abs(a[finite].astype(np.float64) - b[finite]).max()) if a.size else 0.0
    return err <= tol * scale, f"max |fast - twin| = {err:.3g} (scale {scale:.3g})"


def judge(case):
    """Run the case on the fast kernels (at ``case.threads``) and on the twins.

    Returns ``(problem, outcome)``: ``problem`` is None or what went wrong; ``outcome`` is
    ``"returned"`` or ``"raised <type>"`` (of the fast run).
    """
    before = _snapshot(case)
    previous = K.get_num_threads()
    K.set_num_threads(case.threads)
    try:
        fast = _call(case, "fast")
    finally:
        K.set_num_threads(previous)
    outcome = "returned" if fast[0] == "ok" else f"raised {fast[1]}"
    for name, old in before.items():
        now = case.args[name]
        if not isinstance(now, np.ndarray):
            continue
        if old.dtype.hasobject:  # NaN objects: same object, not equal value
            same = old.shape == now.shape and all(a is b or a == b
                                                  for a, b in zip(old.flat, now.flat))
        else:
            same = np.array_equal(old, now, equal_nan=old.dtype.kind in "fc")
        if not same:
            return f"the call modified its argument {name}", outcome
    # The twin gets a freshly built copy of the same case.
    twin = _call(build_case(case.seed, case.index), "reference")
    if fast[0] == "error":
        etype, message = fast[1], fast[2]
        if etype not in ALLOWED_ERRORS:
            return f"raised {etype}: {message[:300]}", outcome
        if case.status == "valid":
            return f"rejected a valid call: {etype}: {message[:300]}", outcome
        words = case.keywords
        if words and not any(w in message.lower() for w in words):
            return (f"{etype} does not name the argument (one of {sorted(words)}): "
                    f"{message[:300]}"), outcome
        if twin[0] != "error" or twin[1] != etype:
            return f"fast raised {etype} but the twin gave {twin[:2]}", outcome
        return None, outcome
    if case.status == "invalid":
        return "accepted an invalid call (returned without an error)", outcome
    if twin[0] == "error":
        return f"fast returned but the twin raised {twin[1]}: {twin[2][:200]}", outcome
    if len(fast[1]) != len(twin[1]):
        return "fast and twin return different numbers of arrays", outcome
    dtype = next((np.asarray(a).dtype for a in twin[1] if a is not None), np.float64)
    for k, (a, b) in enumerate(zip(fast[1], twin[1])):
        ok, why = _same(a, b, dtype, overflow=any("max values" in lb for lb in case.labels))
        if not ok:
            return f"output {k} differs from the twin: {why}", outcome
    return None, outcome


def run_batch(seed, indices, progress_path):
    """Run the cases ``indices`` of batch ``seed``. Each case's description is written to
    ``progress_path`` and flushed before it runs (the operating system keeps what was written
    when the process dies), so if a kernel kills the interpreter the culprit is the last line.
    """
    import os
    import signal

    crash_at = int(os.environ.get("MINICNN_FUZZ_CRASH_AT", -1))  # tests the crash reporting
    results = {"seed": seed, "cases": 0, "problems": [], "outcomes": {}}
    with open(progress_path, "w") as progress:
        for index in indices:
            case = build_case(seed, index)
            progress.write(case.describe() + "\n")
            progress.flush()
            if index == crash_at:
                os.kill(os.getpid(), signal.SIGSEGV)
            problem, outcome = judge(case)
            results["cases"] += 1
            key = f"{case.status}: {outcome}"
            results["outcomes"][key] = results["outcomes"].get(key, 0) + 1
            if problem is not None:
                results["problems"].append({"case": case.describe(), "problem": problem})
    return results


def run_fuzz_subprocess(seed, cases, progress_path, timeout=600, env=None):
    """Run a batch in a fresh interpreter. Returns ``(results, None)``, or ``(None, why)`` if
    the interpreter died, by a signal or otherwise, naming the last case it started."""
    import json
    import os
    import signal
    import subprocess
    import sys

    command = [sys.executable, os.path.abspath(__file__), "--seed", str(seed),
               "--cases", str(cases), "--progress", str(progress_path)]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env=None if env is None else {**os.environ, **env})
    try:
        with open(progress_path) as f:
            started = f.read().splitlines()
    except FileNotFoundError:
        started = []
    last = started[-1] if started else "(no case started)"
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        return None, f"the fuzz subprocess died by {name} while running {last}"
    if proc.returncode != 0:
        return None, (f"the fuzz subprocess exited with status {proc.returncode} while running "
                      f"{last}:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout), None


# ---------------------------------------------------------------------------------------------
# The fuzz tests
# ---------------------------------------------------------------------------------------------

FUZZ_SEED = int(os.environ.get("MINICNN_FUZZ_SEED", "0"))
FUZZ_CASES = int(os.environ.get("MINICNN_FUZZ_CASES", "800"))  # a few s; the slow test: more


def _check_batch(seed, cases, tmp_path):
    results, died = run_fuzz_subprocess(seed, cases, tmp_path / "progress.txt")
    assert died is None, died
    assert results["cases"] == cases
    problems = "\n".join(f"{p['problem']}\n    in {p['case']}" for p in results["problems"])
    assert not results["problems"], (f"{len(results['problems'])} of {cases} fuzz cases went "
                                     f"wrong (replay one with `python tests/hardening/test_fuzz.py "
                                     f"--seed {seed} --only INDEX`):\n{problems}")
    # The batch must exercise both sides of the boundary, not only one.
    returned = sum(n for outcome, n in results["outcomes"].items() if outcome.endswith("returned"))
    assert cases // 4 <= returned <= cases - cases // 4, results["outcomes"]
    assert results["outcomes"].get("valid: returned", 0) >= cases // 4
    return results


def test_fuzz_batch_in_a_subprocess(tmp_path):
    """A seeded batch: every case returns the twin's answer or raises an error naming its
    argument, and the interpreter survives all of them."""
    results = _check_batch(FUZZ_SEED, FUZZ_CASES, tmp_path)
    raised = {o.split("raised ")[1] for o in results["outcomes"] if "raised" in o}
    assert {"TypeError", "ValueError"} <= raised


@pytest.mark.slow
@pytest.mark.parametrize("seed", [101, 102, 103, 104])
def test_fuzz_large_batches(tmp_path, seed):
    """5,000 cases per seed (about 15 s each); more with MINICNN_FUZZ_CASES."""
    _check_batch(seed, max(FUZZ_CASES, 5000), tmp_path)


def test_a_crash_is_reported_with_the_case_that_caused_it(tmp_path):
    # The worker kills itself with SIGSEGV when it reaches case 7, as a kernel bug would.
    results, died = run_fuzz_subprocess(3, 20, tmp_path / "progress.txt",
                                        env={"MINICNN_FUZZ_CRASH_AT": "7"})
    assert results is None
    assert "died by SIGSEGV" in died and "case 7:" in died, died
    assert build_case(3, 7).describe() in died


def test_generated_cases_include_batches_past_16_in_both_conv_layouts():
    from minicnn.kernels import _conv
    seen = set()
    for i in range(400):
        case = build_case(0, i)
        if case.entry != "conv2d_backward_weight" or case.status != "valid":
            continue
        x = case.args["x"]
        geo = {k: (v, v) if isinstance(v, int) else v for k, v in case.args.items()
               if k in ("stride", "padding", "dilation")}
        if x.shape[0] > 16:
            plan = _conv.plan(x.shape, case.args["w_shape"], *geo["stride"], *geo["padding"],
                              *geo["dilation"], case.args["groups"])
            seen.add((plan["layout"], plan["samples_per_gemm"] > 1))
    assert {("planar", False), ("channels_last", True)} <= seen, seen


def test_generated_cases_are_reproducible_and_varied():
    a, b = build_case(5, 11), build_case(5, 11)
    assert a.describe() == b.describe()
    for name, value in a.args.items():
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            np.testing.assert_array_equal(value, b.args[name])
    cases = [build_case(0, i) for i in range(300)]
    assert {c.entry for c in cases} == set(ENTRIES)
    assert {c.status for c in cases} == {"valid", "maybe", "invalid"}
    labels = " ".join(" ".join(c.labels) for c in cases)
    for kind in ("noncontig", "negstride", "fortran", "readonly", "unaligned", "nan values",
                 "dtype=complex", "dtype=object", "dtype=bool", "N=0", "has size 0",
                 "kernel larger", "1099511627776", "9223372036854775808"):
        assert kind in labels, kind


def main(argv=None):
    """``python tests/hardening/test_fuzz.py --seed S --cases N --progress FILE`` (JSON on stdout)."""
    import argparse
    import json
    import os

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--only", type=int, default=None, help="run just this case index")
    parser.add_argument("--progress", default=os.devnull)
    args = parser.parse_args(argv)
    indices = [args.only] if args.only is not None else range(args.cases)
    print(json.dumps(run_batch(args.seed, indices, args.progress)))


if __name__ == "__main__":
    main()
