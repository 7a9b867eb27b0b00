"""The backend seam's argument checking: every rejection names the argument; every odd-but-valid
array layout (non-contiguous, Fortran, negative strides, read-only) and NaN input is accepted."""
import re

import numpy as np
import pytest

import minicnn.kernels as K

CONV = ["conv2d_forward", "conv2d_backward_input", "conv2d_backward_weight"]
POOL = ["max_pool2d_forward", "max_pool2d_backward", "avg_pool2d_forward", "avg_pool2d_backward"]
KERNELS = CONV + POOL

# The float array arguments of each kernel (indices of max_pool2d_backward are tested apart).
ARRAYS = {
    "conv2d_forward": ["x", "w"],
    "conv2d_backward_input": ["grad_out", "w"],
    "conv2d_backward_weight": ["x", "grad_out"],
    "max_pool2d_forward": ["x"],
    "max_pool2d_backward": ["grad_out"],
    "avg_pool2d_forward": ["x"],
    "avg_pool2d_backward": ["grad_out"],
}

X_SHAPE = (2, 4, 6, 7)
W_SHAPE = (6, 2, 3, 3)  # groups=2: C/G = 2 input channels per group, O = 6
CONV_GEO = dict(stride=(2, 1), padding=(1, 1), dilation=(1, 2), groups=2)
CONV_Y_SHAPE = (2, 6, 3, 5)  # OH = (6+2-2-1)//2+1, OW = (7+2-4-1)//1+1
POOL_GEO = dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 1))
POOL_Y_SHAPE = (2, 4, 3, 8)  # OH = (6+2-3)//2+1, OW = (7+2-2)//1+1


def valid_args(kernel, dtype=np.float32):
    """A valid keyword-argument set for ``kernel`` (fresh arrays every call)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(X_SHAPE).astype(dtype)
    w = rng.standard_normal(W_SHAPE).astype(dtype)
    g_conv = rng.standard_normal(CONV_Y_SHAPE).astype(dtype)
    g_pool = rng.standard_normal(POOL_Y_SHAPE).astype(dtype)
    return {
        "conv2d_forward": dict(x=x, w=w, **CONV_GEO),
        "conv2d_backward_input": dict(grad_out=g_conv, w=w, x_shape=X_SHAPE, **CONV_GEO),
        "conv2d_backward_weight": dict(x=x, grad_out=g_conv, w_shape=W_SHAPE, **CONV_GEO),
        "max_pool2d_forward": dict(x=x, **POOL_GEO),
        "max_pool2d_backward": dict(grad_out=g_pool,
                                    indices=rng.integers(0, 6 * 7, POOL_Y_SHAPE),
                                    x_shape=X_SHAPE),
        "avg_pool2d_forward": dict(x=x, **POOL_GEO, count_include_pad=False),
        "avg_pool2d_backward": dict(grad_out=g_pool, x_shape=X_SHAPE, **POOL_GEO,
                                    count_include_pad=True),
    }[kernel]


def call(kernel, **overrides):
    return getattr(K, kernel)(**{**valid_args(kernel), **overrides})


def run(kernel, backend_name, args):
    """Call a kernel on a backend. Every error propagates: a kernel that raises (even
    NotImplementedError) fails the test, never skips it."""
    with K.backend(backend_name):
        return getattr(K, kernel)(**args)


def as_list(out):
    return list(out) if isinstance(out, tuple) else [out]


@pytest.mark.parametrize("kernel", KERNELS)
def test_valid_arguments_are_accepted(kernel):
    for out in as_list(run(kernel, "reference", valid_args(kernel))):
        assert isinstance(out, np.ndarray)


def test_a_kernel_that_is_not_written_fails_rather_than_skips(monkeypatch):
    def not_written(*args, **kwargs):
        raise NotImplementedError("no fast max_pool2d_forward")

    monkeypatch.setattr(K, "max_pool2d_forward", not_written)
    # BaseException: a pytest.skip() inside run() would be caught here too, and fail the assert.
    with pytest.raises(BaseException) as info:
        run("max_pool2d_forward", "fast", valid_args("max_pool2d_forward"))
    assert info.type is NotImplementedError, f"run() turned the error into {info.typename}"


# ---------------------------------------------------------------------------------------------
# Array arguments: type, dtype, ndim, dtype mismatch
# ---------------------------------------------------------------------------------------------

ARRAY_CASES = [(k, a) for k in KERNELS for a in ARRAYS[k]]


@pytest.mark.parametrize("kernel, arg", ARRAY_CASES)
@pytest.mark.parametrize("make", [lambda a: a.tolist(), lambda a: float(a.flat[0]), lambda a: None],
                         ids=["list", "float", "None"])
def test_non_ndarray_rejected(kernel, arg, make):
    bad = make(valid_args(kernel)[arg])
    with pytest.raises(TypeError, match=rf"^{arg}\b.*ndarray"):
        call(kernel, **{arg: bad})


@pytest.mark.parametrize("kernel, arg", ARRAY_CASES)
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_, np.complex64, np.complex128,
                                   object, np.float16])
def test_non_float_dtype_rejected(kernel, arg, dtype):
    bad = valid_args(kernel)[arg].astype(dtype)
    with pytest.raises(TypeError, match=rf"^{arg}\b.*dtype"):
        call(kernel, **{arg: bad})


@pytest.mark.parametrize("kernel, arg", ARRAY_CASES)
@pytest.mark.parametrize("ndim", [0, 1, 3, 5])
def test_wrong_ndim_rejected(kernel, arg, ndim):
    a = valid_args(kernel)[arg]
    if ndim == 0:
        bad = np.array(a.flat[0])
    elif ndim == 5:
        bad = a[..., None]
    else:
        bad = a.reshape(a.shape[:ndim - 1] + (-1,))
    assert bad.ndim == ndim
    with pytest.raises(ValueError, match=rf"^{arg}\b.*4-D"):
        call(kernel, **{arg: bad})


@pytest.mark.parametrize("kernel", [k for k in KERNELS if len(ARRAYS[k]) == 2])
@pytest.mark.parametrize("first, second", [(np.float32, np.float64), (np.float64, np.float32)])
def test_dtype_mismatch_rejected(kernel, first, second):
    a, b = ARRAYS[kernel]
    args = valid_args(kernel)
    args[a], args[b] = args[a].astype(first), args[b].astype(second)
    with pytest.raises(TypeError, match=rf"^{b}\b.*dtype"):
        getattr(K, kernel)(**args)


def test_pool_backward_grad_out_dtype_sets_the_result_dtype():
    for dtype in (np.float32, np.float64):
        args = valid_args("avg_pool2d_backward", dtype)
        assert K.avg_pool2d_backward(**args).dtype == dtype
        args = valid_args("max_pool2d_backward", dtype)
        assert K.max_pool2d_backward(**args).dtype == dtype


# ---------------------------------------------------------------------------------------------
# Geometry: sizes, strides, padding, dilation, groups, shapes
# ---------------------------------------------------------------------------------------------

CONV_GEOMETRY_CASES = [
    # (overrides, exception, regex naming the argument)
    (dict(stride=0), ValueError, r"^stride\b"),
    (dict(stride=(1, 0)), ValueError, r"^stride\b"),
    (dict(stride=-2), ValueError, r"^stride\b"),
    (dict(stride=True), TypeError, r"^stride\b"),
    (dict(stride=1.0), TypeError, r"^stride\b"),
    (dict(stride=(1, 2, 3)), ValueError, r"^stride\b"),
    (dict(stride=None), TypeError, r"^stride\b"),
    (dict(dilation=0), ValueError, r"^dilation\b"),
    (dict(dilation=(1, -1)), ValueError, r"^dilation\b"),
    (dict(dilation=False), TypeError, r"^dilation\b"),
    (dict(padding=-1), ValueError, r"^padding\b"),
    (dict(padding=(0, -1)), ValueError, r"^padding\b"),
    (dict(padding=np.True_), TypeError, r"^padding\b"),
    (dict(padding="same"), TypeError, r"^padding\b"),
    (dict(groups=0), ValueError, r"^groups\b"),
    (dict(groups=-2), ValueError, r"^groups\b"),
    (dict(groups=True), TypeError, r"^groups\b"),
    (dict(groups=2.0), TypeError, r"^groups\b"),
    (dict(groups=3), ValueError, r"^groups=3 must divide the input channels"),   # C = 4
    (dict(groups=4), ValueError, r"^groups=4 must divide the output channels O=6"),
    (dict(groups=1), ValueError, r"^w has 2 input channels per group"),          # C/G = 4
    (dict(padding=0, dilation=4), ValueError, r"^kernel height 3 \(dilated to 9\) is larger"),
]


def _conv_call(kernel, **overrides):
    """Conv call with overrides; a w/w_shape override applies to whichever the kernel takes."""
    if kernel == "conv2d_backward_weight" and "w" in overrides:
        overrides["w_shape"] = overrides.pop("w").shape
    return call(kernel, **overrides)


@pytest.mark.parametrize("kernel", CONV)
@pytest.mark.parametrize("overrides, error, pattern", CONV_GEOMETRY_CASES)
def test_conv_geometry_rejected(kernel, overrides, error, pattern):
    with pytest.raises(error, match=pattern):
        _conv_call(kernel, **overrides)


@pytest.mark.parametrize("kernel", CONV)
@pytest.mark.parametrize("w_shape, pattern", [
    ((5, 2, 3, 3), r"^groups=2 must divide the output channels O=5"),
    ((6, 3, 3, 3), r"^w has 3 input channels per group, expected C/groups = 4/2 = 2"),
    ((6, 2, 9, 3), r"^kernel height 9 .* larger than the padded input height 6 \+ 2\*1"),
    ((6, 2, 3, 6), r"^kernel width 6 \(dilated to 11\) is larger than the padded input width 7"),
    ((6, 2, 0, 3), r"^w height \(KH\) must be >= 1"),
    ((0, 2, 3, 3), r"^w out channels \(O\) must be >= 1"),
])
def test_conv_weight_shape_rejected(kernel, w_shape, pattern):
    with pytest.raises(ValueError, match=pattern):
        _conv_call(kernel, w=np.ones(w_shape, np.float32))


@pytest.mark.parametrize("kernel", ["conv2d_forward", "conv2d_backward_weight"])
@pytest.mark.parametrize("shape, pattern", [
    ((2, 3, 6, 7), r"^groups=2 must divide the input channels C=3"),
    ((2, 0, 6, 7), r"^x channels \(C\) must be >= 1"),
    ((2, 4, 0, 7), r"^x height \(H\) must be >= 1"),
    ((2, 4, 6, 0), r"^x width \(W\) must be >= 1"),
])
def test_conv_input_shape_rejected(kernel, shape, pattern):
    with pytest.raises(ValueError, match=pattern):
        call(kernel, x=np.ones(shape, np.float32))


@pytest.mark.parametrize("kernel", ["conv2d_backward_input", "conv2d_backward_weight",
                                    "avg_pool2d_backward"])
@pytest.mark.parametrize("delta", [(0, 0, 0, 1), (0, 0, -1, 0), (1, 0, 0, 0), (0, 1, 0, 0)])
def test_grad_out_of_the_wrong_shape_rejected(kernel, delta):
    good = valid_args(kernel)["grad_out"]
    bad = np.ones(tuple(s + d for s, d in zip(good.shape, delta)), good.dtype)
    with pytest.raises(ValueError, match="^grad_out must have shape " + re.escape(str(good.shape))):
        call(kernel, grad_out=bad)


SHAPE_ARG_CASES = [
    ((2, 4, 6), ValueError), ((2, 4, 6, 7, 1), ValueError), ("abcd", ValueError),
    (None, ValueError), (7, ValueError), ((2, 4, -6, 7), ValueError),
    ((2, 4, 6, 7.0), TypeError), ((2, 4, True, 7), TypeError), ((2, "4", 6, 7), TypeError),
]


@pytest.mark.parametrize("kernel, arg", [("conv2d_backward_input", "x_shape"),
                                         ("conv2d_backward_weight", "w_shape"),
                                         ("max_pool2d_backward", "x_shape"),
                                         ("avg_pool2d_backward", "x_shape")])
@pytest.mark.parametrize("bad, error", SHAPE_ARG_CASES)
def test_malformed_shape_argument_rejected(kernel, arg, bad, error):
    with pytest.raises(error, match=rf"^{arg}\b"):
        call(kernel, **{arg: bad})


POOL_GEOMETRY_CASES = [
    (dict(kernel_size=0), ValueError, r"^kernel_size\b"),
    (dict(kernel_size=(3, -1)), ValueError, r"^kernel_size\b"),
    (dict(kernel_size=True), TypeError, r"^kernel_size\b"),
    (dict(kernel_size=2.0), TypeError, r"^kernel_size\b"),
    (dict(kernel_size=None), TypeError, r"^kernel_size\b"),
    (dict(kernel_size=(2,)), ValueError, r"^kernel_size\b"),
    (dict(kernel_size=(2, 2, 2)), ValueError, r"^kernel_size\b"),
    (dict(kernel_size=(9, 2)), ValueError, r"^kernel_size height 9 is larger than the padded"),
    (dict(kernel_size=(3, 10), padding=(1, 0)), ValueError, r"^kernel_size width 10 is larger"),
    (dict(stride=0), ValueError, r"^stride\b"),
    (dict(stride=(2, 0)), ValueError, r"^stride\b"),
    (dict(stride=True), TypeError, r"^stride\b"),
    (dict(stride=1.5), TypeError, r"^stride\b"),
    (dict(padding=-1), ValueError, r"^padding\b"),
    (dict(padding=(1, 2)), ValueError, r"^padding \(1, 2\) must be at most half the kernel"),
    (dict(padding=2), ValueError, r"^padding 2 must be at most half the kernel"),
    (dict(padding=False), TypeError, r"^padding\b"),
]


@pytest.mark.parametrize("kernel", ["max_pool2d_forward", "avg_pool2d_forward",
                                    "avg_pool2d_backward"])
@pytest.mark.parametrize("overrides, error, pattern", POOL_GEOMETRY_CASES)
def test_pool_geometry_rejected(kernel, overrides, error, pattern):
    with pytest.raises(error, match=pattern):
        call(kernel, **overrides)


@pytest.mark.parametrize("kernel", ["max_pool2d_forward", "avg_pool2d_forward"])
@pytest.mark.parametrize("shape, pattern", [((2, 0, 6, 7), r"^x channels \(C\) must be >= 1"),
                                            ((2, 4, 0, 7), r"^x height \(H\) must be >= 1"),
                                            ((2, 4, 6, 0), r"^x width \(W\) must be >= 1")])
def test_pool_input_shape_rejected(kernel, shape, pattern):
    with pytest.raises(ValueError, match=pattern):
        call(kernel, x=np.ones(shape, np.float32))


@pytest.mark.parametrize("kernel", ["avg_pool2d_forward", "avg_pool2d_backward"])
@pytest.mark.parametrize("bad", [1, 0, None, "yes", np.float64(1.0)])
def test_count_include_pad_must_be_bool(kernel, bad):
    with pytest.raises(TypeError, match=r"^count_include_pad must be a bool"):
        call(kernel, count_include_pad=bad)


def test_count_include_pad_accepts_numpy_bool():
    out = call("avg_pool2d_forward", count_include_pad=np.True_)
    expected = call("avg_pool2d_forward", count_include_pad=True)
    np.testing.assert_array_equal(out, expected)


# ---------------------------------------------------------------------------------------------
# max_pool2d_backward's indices
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [
    np.zeros(POOL_Y_SHAPE, np.float32), np.zeros(POOL_Y_SHAPE, np.float64),
    np.zeros(POOL_Y_SHAPE, np.bool_), np.zeros(POOL_Y_SHAPE, np.complex64),
    np.zeros(POOL_Y_SHAPE, object), np.zeros(POOL_Y_SHAPE, np.int64).tolist(), None, 0,
], ids=["float32", "float64", "bool", "complex", "object", "list", "None", "int"])
def test_indices_of_the_wrong_type_rejected(bad):
    with pytest.raises(TypeError, match=r"^indices must be an integer numpy.ndarray"):
        call("max_pool2d_backward", indices=bad)


@pytest.mark.parametrize("value", [-1, 6 * 7, 10**6, np.iinfo(np.int64).min])
def test_indices_out_of_range_rejected(value):
    indices = valid_args("max_pool2d_backward")["indices"]
    indices[1, 2, 0, 3] = value
    with pytest.raises(ValueError, match=r"^indices must lie in \[0, H\*W\) = \[0, 42\)"):
        call("max_pool2d_backward", indices=indices)


def test_unsigned_indices_out_of_range_rejected():
    indices = valid_args("max_pool2d_backward")["indices"].astype(np.uint64)
    indices[0, 0, 0, 0] = np.iinfo(np.uint64).max  # would wrap to -1 as int64
    with pytest.raises(ValueError, match=r"^indices must lie in"):
        call("max_pool2d_backward", indices=indices)


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.uint16, np.uint32])
def test_other_integer_indices_accepted(dtype):
    args = valid_args("max_pool2d_backward")
    expected = K.max_pool2d_backward(**args)
    out = call("max_pool2d_backward", indices=args["indices"].astype(dtype))
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("shape", [(2, 4, 3, 7), (2, 4, 8, 3), (1, 4, 3, 8), POOL_Y_SHAPE[:3]])
def test_indices_of_the_wrong_shape_rejected(shape):
    with pytest.raises(ValueError, match=r"^indices must have the shape of grad_out"):
        call("max_pool2d_backward", indices=np.zeros(shape, np.int64))


@pytest.mark.parametrize("x_shape", [(1, 4, 6, 7), (2, 3, 6, 7), (3, 4, 6, 7)])
def test_max_pool2d_backward_batch_and_channels_must_match(x_shape):
    with pytest.raises(ValueError, match=r"but x_shape has"):
        call("max_pool2d_backward", x_shape=x_shape)


# ---------------------------------------------------------------------------------------------
# Accepted: unusual memory layouts and NaN
# ---------------------------------------------------------------------------------------------

def non_contiguous(a):
    big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    big[..., ::2] = a
    return big[..., ::2]


def fortran(a):
    return np.asfortranarray(a)


def negative_stride(a):
    return a[:, ::-1, ::-1].copy()[:, ::-1, ::-1]


def read_only(a):
    a = a.copy()
    a.flags.writeable = False
    return a


def transposed(a):
    return a.transpose(3, 2, 1, 0).copy().transpose(3, 2, 1, 0)


LAYOUTS = [non_contiguous, fortran, negative_stride, read_only, transposed]


@pytest.mark.parametrize("backend_name", ["fast", "reference"])
@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unusual_layouts_accepted(kernel, layout, backend_name, dtype):
    args = valid_args(kernel, dtype)
    arrays = ARRAYS[kernel] + (["indices"] if kernel == "max_pool2d_backward" else [])
    odd = {name: layout(args[name]) for name in arrays}
    for name in arrays:
        np.testing.assert_array_equal(odd[name], args[name])
        assert not odd[name].flags.c_contiguous or not odd[name].flags.writeable
    expected = as_list(run(kernel, backend_name, args))
    got = as_list(run(kernel, backend_name, {**args, **odd}))
    for e, g in zip(expected, got):
        assert g.flags.c_contiguous and g.dtype == e.dtype
        np.testing.assert_array_equal(g, e)
    for name in arrays:  # inputs are never written to
        np.testing.assert_array_equal(odd[name], args[name])


@pytest.mark.parametrize("backend_name", ["fast", "reference"])
@pytest.mark.parametrize("kernel, arg", ARRAY_CASES)
def test_nan_inputs_accepted_and_propagate(kernel, arg, backend_name):
    args = valid_args(kernel, np.float64)
    clean = as_list(run(kernel, backend_name, args))[0]
    args[arg] = args[arg].copy()
    args[arg][0, 0, 1, 1] = np.nan
    out = as_list(run(kernel, backend_name, args))[0]
    nan = np.isnan(out)
    assert nan.any(), f"{kernel}: a NaN in {arg} vanished"
    # Entries the NaN cannot reach are unchanged.
    np.testing.assert_array_equal(out[~nan], clean[~nan])


@pytest.mark.parametrize("backend_name", K.BACKENDS)
@pytest.mark.parametrize("kernel", CONV)
def test_conv2d_kernels_take_a_checked_geometry(kernel, backend_name):
    # geometry= (what the ops pass, built once per call) replaces the settings: the same
    # result as the validated call, and the settings given beside it are ignored.
    geo = K.ConvGeometry(X_SHAPE, W_SHAPE, **CONV_GEO)
    args = valid_args(kernel)
    plain = {k: v for k, v in args.items() if k not in CONV_GEO}
    with K.backend(backend_name):
        expected = getattr(K, kernel)(**args)
        got = getattr(K, kernel)(**plain, stride=7, groups=5, geometry=geo)
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("kernel", CONV)
def test_conv2d_kernels_refuse_a_geometry_of_other_shapes(kernel):
    # The compiled kernels index by the arrays' shapes and the geometry's ints: a geometry
    # for other shapes (or not a geometry at all) must not reach them.
    plain = {k: v for k, v in valid_args(kernel).items() if k not in CONV_GEO}
    other = K.ConvGeometry((2, 4, 9, 7), W_SHAPE, **CONV_GEO)
    with pytest.raises(ValueError, match=r"does not match the geometry's"):
        getattr(K, kernel)(**plain, geometry=other)
    with pytest.raises(TypeError, match="geometry must be a ConvGeometry, got dict"):
        getattr(K, kernel)(**plain, geometry=CONV_GEO)
