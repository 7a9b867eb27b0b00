"""Write docs/coverage/torch_names.json: PyTorch's public names, grouped as its docs group them.

    /path/to/torch-venv/bin/python tools/torch_names.py   # needs PyTorch (only this tool does)

The names come from PyTorch's own public listings, never from a hand-kept list of names:

* ``torch``: ``torch.__all__``, less modules, dtypes and other non-callables, the legacy typed
  tensor classes (``FloatTensor``...) and storages, the backend kernels and internals named
  by ``_BACKEND``, and the TorchScript/dispatcher C++ classes (see ``names_torch``);
* ``torch.Tensor``: ``dir(torch.Tensor)``, public names, split into methods and attributes
  (properties and descriptors such as ``shape``, ``grad``, ``T``);
* ``torch.nn``: ``torch.nn.modules.__all__``, ``Parameter`` and friends, and the functions of
  ``torch.nn.utils`` listed as ``utils.<name>``;
* ``torch.nn.functional``, ``torch.linalg``: ``dir()`` filtered to public callables (neither
  has an ``__all__``), less the helpers and typing names in ``_NOT_API`` (and, for
  ``functional``, less classes: its classes are imported types and enums);
* ``torch.nn.init``, ``torch.optim``, ``torch.optim.lr_scheduler``, ``torch.autograd``,
  ``torch.utils.data``: their ``__all__`` (less submodules; the datapipes of ``utils.data``,
  deprecated and absent from its docs page, are left out), and ``torch.optim.swa_utils``'s
  public classes and functions as ``swa_utils.<name>``.

The groups are those of PyTorch's docs pages (torch.rst, nn.rst, nn.functional.rst ...). The
table ``_GROUPS`` assigns names to them by regular expressions, one table per namespace, first
match wins; a name that no pattern matches goes under "other". The table is the only hand-kept
part, and it only sorts names: a name PyTorch adds appears in "other" until the table places it.

The output is sorted and written with one group per line, so that a PyTorch upgrade shows as a
small diff. tools/make_coverage.py reads it (without PyTorch) to write docs/coverage.md.
"""
import inspect
import json
import re
import types
from pathlib import Path

import torch
import torch.autograd
import torch.linalg
import torch.nn
import torch.nn.functional
import torch.nn.init
import torch.nn.utils
import torch.optim
import torch.optim.lr_scheduler
import torch.optim.swa_utils
import torch.utils.data

OUT = Path(__file__).resolve().parent.parent / "docs" / "coverage" / "torch_names.json"

# Names in a namespace's dir() that are imports or private helpers, not its API.
_NOT_API = {
    "torch.nn.functional": {"Optional", "assert_int_or_pair", "boolean_dispatch",
                            "handle_torch_function", "has_torch_function",
                            "has_torch_function_unary", "has_torch_function_variadic"},
    "torch.linalg": {"common_notes"},
    "torch.utils.data": {"DFIterDataPipe", "DataChunk", "IterDataPipe", "MapDataPipe",
                         "argument_validation", "functional_datapipe",
                         "guaranteed_datapipes_determinism", "non_deterministic",
                         "runtime_validation", "runtime_validation_disabled"},
}


def _alt(*names):
    return "^(" + "|".join(names) + ")$"


# namespace -> [(group, regex)], the groups of that namespace's PyTorch docs page, in its order.
_GROUPS = {
    "torch": [
        ("tensors", _alt("is_tensor", "is_storage", "is_complex", "is_conj", "is_floating_point",
                         "is_nonzero", "set_default_dtype", "get_default_dtype",
                         "set_default_device", "get_default_device",
                         "set_default_tensor_type", "numel", "set_printoptions",
                         "set_flush_denormal")),
        ("creation ops", _alt("tensor", "sparse_.*_tensor", "asarray", "as_tensor",
                              "as_strided", "from_file", "from_numpy", "from_dlpack",
                              "frombuffer", "zeros", "zeros_like", "ones", "ones_like",
                              "arange", "range", "linspace", "logspace", "eye", "empty",
                              "empty_like", "empty_strided", "full", "full_like", "quantize_.*",
                              "dequantize", "complex", "polar", "heaviside")),
        ("indexing, slicing, joining, mutating ops", _alt(
            "adjoint", "argwhere", "cat", "concat", "concatenate", "conj", "chunk",
            "dsplit", "column_stack", "dstack", "gather", "hsplit", "hstack", "index_add",
            "index_copy", "index_reduce", "index_select", "masked_select", "movedim",
            "moveaxis", "narrow", "narrow_copy", "nonzero", "permute", "reshape", "row_stack",
            "select", "scatter", "diagonal_scatter", "select_scatter", "slice_scatter",
            "scatter_add", "scatter_reduce", "segment_reduce", "split", "squeeze", "stack",
            "swapaxes", "swapdims", "t", "take", "take_along_dim", "tensor_split", "tile",
            "transpose", "unbind", "unravel_index", "unsqueeze", "vsplit", "vstack",
            "where")),
        ("random sampling", _alt("seed", "manual_seed", "initial_seed", "get_rng_state",
                                 "set_rng_state", "bernoulli", "multinomial", "normal",
                                 "poisson", "rand", "rand_like", "randint", "randint_like",
                                 "randn", "randn_like", "randperm", "Generator")),
        ("locally disabling gradient computation", _alt(
            "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
            "inference_mode", "is_inference_mode_enabled")),
        ("math operations: pointwise ops", _alt(
            "abs", "absolute", "acos", "arccos", "acosh", "arccosh", "add", "addcdiv",
            "addcmul", "angle", "asin", "arcsin", "asinh", "arcsinh", "atan", "arctan",
            "atanh", "arctanh", "atan2", "arctan2", "bitwise_.*", "ceil", "clamp", "clip",
            "conj_physical", "copysign", "cos", "cosh", "deg2rad", "div", "divide", "digamma",
            "erf", "erfc", "erfinv", "exp", "exp2", "expm1", "fake_quantize_.*", "fix",
            "float_power", "floor", "floor_divide", "fmod", "frac", "frexp", "gradient",
            "imag", "ldexp", "lerp", "lgamma", "log", "log10", "log1p", "log2", "logaddexp",
            "logaddexp2", "logical_.*", "logit", "hypot", "i0", "igamma", "igammac", "mul",
            "multiply", "mvlgamma", "nan_to_num", "neg", "negative", "nextafter", "polygamma",
            "positive", "pow", "quantized_batch_norm", "quantized_max_pool.d", "rad2deg",
            "real", "reciprocal", "remainder", "round", "rsqrt", "sigmoid", "sign", "sgn",
            "signbit", "sin", "sinc", "sinh", "softmax", "sqrt", "square", "sub", "subtract",
            "tan", "tanh", "true_divide", "trunc", "xlogy")),
        ("math operations: reduction ops", _alt(
            "argmax", "argmin", "amax", "amin", "aminmax", "all", "any", "max", "min",
            "dist", "logsumexp", "mean", "nanmean", "median", "nanmedian", "mode", "norm",
            "nansum", "prod", "quantile", "nanquantile", "std", "std_mean", "sum", "unique",
            "unique_consecutive", "var", "var_mean", "count_nonzero", "hash_tensor")),
        ("math operations: comparison ops", _alt(
            "allclose", "argsort", "eq", "equal", "ge", "greater_equal", "gt", "greater",
            "isclose", "isfinite", "isin", "isinf", "isposinf", "isneginf", "isnan", "isreal",
            "kthvalue", "le", "less_equal", "lt", "less", "maximum", "minimum", "fmax", "fmin",
            "ne", "not_equal", "sort", "topk", "msort")),
        ("math operations: spectral ops", _alt(
            "stft", "istft", ".*_window")),
        ("math operations: other operations", _alt(
            "atleast_.d", "bincount", "block_diag", "broadcast_tensors", "broadcast_to",
            "broadcast_shapes", "bucketize", "cartesian_prod", "cdist", "clone",
            "combinations", "corrcoef", "cov", "cross", "cummax", "cummin", "cumprod", "cumsum",
            "diag", "diag_embed", "diagflat", "diagonal", "diff", "einsum", "flatten", "flip",
            "fliplr", "flipud", "kron", "rot90", "gcd", "histc", "histogram", "histogramdd",
            "meshgrid", "lcm", "logcumsumexp", "ravel", "renorm", "repeat_interleave", "roll",
            "searchsorted", "tensordot", "trace", "tril", "tril_indices", "triu",
            "triu_indices", "unflatten", "vander", "view_as_real", "view_as_complex",
            "resolve_conj", "resolve_neg")),
        ("BLAS and LAPACK operations", _alt(
            "addbmm", "addmm", "addmv", "addr", "baddbmm", "bmm", "chain_matmul", "cholesky",
            "cholesky_inverse", "cholesky_solve", "dot", "geqrf", "ger", "inner", "inverse",
            "det", "logdet", "slogdet", "lu", "lu_solve", "lu_unpack", "matmul", "matrix_power",
            "matrix_exp", "mm", "mv", "orgqr", "ormqr", "outer", "pinverse", "qr", "svd",
            "svd_lowrank", "pca_lowrank", "lobpcg", "trapz", "trapezoid", "cumulative_trapezoid",
            "triangular_solve", "vdot")),
        ("utilities", _alt(
            "compiled_with_cxx11_abi", "result_type", "can_cast", "promote_types",
            "use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
            "is_deterministic_algorithms_warn_only_enabled",
            "set_deterministic_debug_mode", "get_deterministic_debug_mode",
            "set_float32_matmul_precision", "get_float32_matmul_precision",
            "set_warn_always", "get_device_module", "is_warn_always_enabled", "vmap",
            "_assert", "cond", "while_loop", "compile", "typename", "Size", "device",
            "dtype", "finfo", "iinfo", "get_num_threads", "set_num_threads",
            "get_num_interop_threads", "set_num_interop_threads", "save", "load")),
    ],
    "torch.Tensor": [
        ("in-place methods", r"^(?!__).*[^_]_$"),
    ],
    "torch.nn": [
        ("parameters and containers", _alt("Parameter", "UninitializedParameter",
                                           "UninitializedBuffer", "Buffer", "Module",
                                           "Sequential", "ModuleList", "ModuleDict",
                                           "ParameterList", "ParameterDict")),
        ("convolution layers", r"^(Lazy)?Conv(Transpose)?\dd$|^(Unfold|Fold)$"),
        ("pooling layers", r"^(Max|Avg|FractionalMax|LP|AdaptiveMax|AdaptiveAvg)Pool\dd$"
                           r"|^MaxUnpool\dd$"),
        ("padding layers", r"Pad\dd$"),
        ("non-linear activations", _alt(
            "ELU", "Hardshrink", "Hardsigmoid", "Hardtanh", "Hardswish", "LeakyReLU",
            "LogSigmoid", "MultiheadAttention", "PReLU", "ReLU", "ReLU6", "RReLU", "SELU",
            "CELU", "GELU", "Sigmoid", "SiLU", "Mish", "Softplus", "Softshrink", "Softsign",
            "Tanh", "Tanhshrink", "Threshold", "GLU", "Softmin", "Softmax", "Softmax2d",
            "LogSoftmax", "AdaptiveLogSoftmaxWithLoss")),
        ("normalization layers", r"Norm(\dd)?$"),
        ("recurrent layers", r"^(RNN|LSTM|GRU)(Base|Cell|CellBase)?$"),
        ("transformer layers", r"^Transformer"),
        ("linear layers", _alt("Identity", "Linear", "Bilinear", "LazyLinear")),
        ("dropout layers", r"Dropout(\dd)?$"),
        ("sparse layers", _alt("Embedding", "EmbeddingBag")),
        ("distance functions", _alt("CosineSimilarity", "PairwiseDistance")),
        ("loss functions", r"Loss$"),
        ("vision layers", _alt("PixelShuffle", "PixelUnshuffle", "Upsample",
                               "UpsamplingNearest2d", "UpsamplingBilinear2d")),
        ("shuffle layers", _alt("ChannelShuffle")),
        ("DataParallel layers", _alt("DataParallel")),
        ("utilities (torch.nn.utils)", r"^utils\."),
    ],
    "torch.nn.functional": [
        ("convolution functions", r"^conv|^(unfold|fold)$"),
        ("pooling functions", r"pool"),
        ("attention mechanisms", r"attention"),
        ("non-linear activation functions", _alt(
            "threshold_?", "relu_?", "hardtanh_?", "hardswish", "relu6", "elu_?", "selu_?",
            "celu_?", "leaky_relu_?", "prelu", "rrelu_?", "glu", "gelu", "logsigmoid",
            "hardshrink", "tanhshrink", "softsign", "softplus", "softmin", "softmax",
            "softshrink", "gumbel_softmax", "log_softmax", "tanh", "sigmoid", "hardsigmoid",
            "silu", "mish", "batch_norm", "group_norm", "instance_norm", "layer_norm",
            "local_response_norm", "rms_norm", "normalize")),
        ("linear functions", _alt("linear", "bilinear")),
        ("dropout functions", r"dropout"),
        ("sparse functions", _alt("embedding", "embedding_bag", "one_hot")),
        ("distance functions", _alt("pairwise_distance", "cosine_similarity", "pdist")),
        ("loss functions", r"loss|^(binary_)?cross_entropy|^kl_div$|entropy"),
        ("vision functions", _alt("pixel_shuffle", "pixel_unshuffle", "pad", "interpolate",
                                  "upsample", "upsample_nearest", "upsample_bilinear",
                                  "grid_sample", "affine_grid", "channel_shuffle")),
    ],
    "torch.nn.init": [("initialisers", r"_$|^calculate_gain$"),
                      ("deprecated aliases (no trailing _)", r".")],
    "torch.optim": [("optimizers", r"^[A-Z]"), ("stochastic weight averaging", r"^swa_utils\.")],
    "torch.optim.lr_scheduler": [("schedulers", r".")],
    "torch.autograd": [("gradient computation", _alt("backward", "grad")),
                       ("locally disabling gradient computation", _alt(
                           "no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
                           "set_multithreading_enabled")),
                       ("Function", _alt("Function", "NestedIOFunction")),
                       ("numerical gradient checking", r"check$"),
                       ("anomaly detection", r"anomaly")],
    "torch.utils.data": [("datasets", r"Dataset$|^random_split$"),
                         ("samplers", r"Sampler$"),
                         ("loading", r".")],
    "torch.linalg": [("matrix properties", _alt("norm", "vector_norm", "matrix_norm",
                                                "diagonal", "det", "slogdet", "cond",
                                                "matrix_rank")),
                     ("decompositions", _alt("cholesky", "qr", "lu", "lu_factor", "eig",
                                             "eigvals", "eigh", "eigvalsh", "svd",
                                             "svdvals")),
                     ("solvers", _alt("solve", "solve_triangular", "lu_solve", "lstsq")),
                     ("inverses", _alt("inv", "pinv")),
                     ("matrix functions", _alt("matrix_exp", "matrix_power")),
                     ("matrix products", _alt("cross", "matmul", "vecdot", "multi_dot",
                                              "householder_product")),
                     ("tensor operations", _alt("tensorinv", "tensorsolve")),
                     ("misc", _alt("vander")),
                     ("experimental functions", r"_ex$|^ldl_")],
}


def _public(names):
    return sorted({n for n in names if not n.startswith("_")})


def _is_api(obj):
    """A callable or class that is neither a module nor a typing construct."""
    if isinstance(obj, types.ModuleType) or not callable(obj):
        return False
    return getattr(obj, "__module__", "") not in ("typing", "typing_extensions")


def _legacy(name):
    return name.endswith("Storage") or (name.endswith("Tensor") and name != "Tensor"
                                        and name[0].isupper())


# Prefixes of torch.__all__'s backend-specific kernels and internals (cuDNN, MIOpen, oneDNN,
# FBGEMM, quantization, symbolic shapes, autocast state): no docs page lists them as ops.
_BACKEND = re.compile(r"^(cudnn_|miopen_|mkldnn_|fbgemm_|quantized_(?!batch_norm|max_pool)|q_|"
                      r"sym_|.*autocast)")


def names_torch():
    """torch.__all__'s functions, and those of its classes that the table places.

    The classes that the table does not place are the bindings of TorchScript's and the
    dispatcher's C++ types (Graph, FunctionSchema, ScriptModule ...), left out.
    """
    placed = [re.compile(p) for _, p in _GROUPS["torch"]]
    out = []
    for n in _public(torch.__all__):
        obj = getattr(torch, n, None)
        if obj is None or not _is_api(obj) or _legacy(n) or isinstance(obj, torch.dtype):
            continue
        if _BACKEND.match(n):
            continue
        if inspect.isclass(obj) and not any(rx.search(n) for rx in placed):
            continue
        out.append(n)
    return out


def names_tensor():
    """(methods, attributes) of torch.Tensor."""
    methods, attrs = [], []
    for n in _public(dir(torch.Tensor)):
        raw = inspect.getattr_static(torch.Tensor, n)
        if isinstance(raw, (property, types.GetSetDescriptorType, types.MemberDescriptorType)):
            attrs.append(n)
        elif callable(getattr(torch.Tensor, n)):
            methods.append(n)
        else:
            attrs.append(n)
    return methods, attrs


def names_dir(ns, classes=True):
    mod = eval(ns, {"torch": torch})  # noqa: S307 - a fixed dotted name of ours
    skip = _NOT_API.get(ns, set())
    return [n for n in _public(dir(mod)) if n not in skip and _is_api(getattr(mod, n))
            and (classes or not inspect.isclass(getattr(mod, n)))]


def names_all(ns):
    mod = eval(ns, {"torch": torch})  # noqa: S307
    skip = _NOT_API.get(ns, set())
    return [n for n in _public(mod.__all__) if n not in skip and _is_api(getattr(mod, n))]


def names_nn():
    base = _public(torch.nn.modules.__all__)
    base += [n for n in ("Parameter", "UninitializedParameter", "UninitializedBuffer", "Buffer")
             if hasattr(torch.nn, n)]
    utils = ["utils." + n for n in names_dir("torch.nn.utils")]
    return sorted(set(base)) + utils


def names_optim():
    swa = [n for n in _public(dir(torch.optim.swa_utils))
           if _is_api(getattr(torch.optim.swa_utils, n))
           and getattr(getattr(torch.optim.swa_utils, n), "__module__", "")
           == "torch.optim.swa_utils"]
    return names_all("torch.optim") + ["swa_utils." + n for n in swa]


def group(ns, names):
    table = [(g, re.compile(p)) for g, p in _GROUPS.get(ns, [])]
    groups = {g: [] for g, _ in table}
    groups["other"] = []
    for n in names:
        for g, rx in table:
            if rx.search(n):
                groups[g].append(n)
                break
        else:
            groups["other"].append(n)
    return {g: sorted(v) for g, v in groups.items() if v}


def collect():
    methods, attrs = names_tensor()
    tensor = group("torch.Tensor", methods)
    tensor["methods"] = tensor.pop("other", [])
    tensor["attributes"] = attrs
    spaces = {
        "torch": group("torch", names_torch()),
        "torch.Tensor": tensor,
        "torch.nn": group("torch.nn", names_nn()),
        "torch.nn.functional": group("torch.nn.functional",
                                     names_dir("torch.nn.functional", classes=False)),
        "torch.nn.init": group("torch.nn.init", names_all("torch.nn.init")),
        "torch.optim": group("torch.optim", names_optim()),
        "torch.optim.lr_scheduler": group("torch.optim.lr_scheduler",
                                          names_all("torch.optim.lr_scheduler")),
        "torch.autograd": group("torch.autograd", names_all("torch.autograd")),
        "torch.utils.data": group("torch.utils.data", names_all("torch.utils.data")),
        "torch.linalg": group("torch.linalg", names_dir("torch.linalg")),
    }
    order = {ns: [g for g, _ in _GROUPS.get(ns, [])] for ns in spaces}
    order["torch.Tensor"] = ["methods", "in-place methods", "attributes"]
    for ns, groups in spaces.items():
        known = [g for g in order[ns] if g in groups] + (["other"] if "other" in groups else [])
        spaces[ns] = {g: groups[g] for g in known}
    return spaces


def dump(spaces):
    """JSON with one group per line: small, sorted, diffable."""
    lines = ["{",
             '"generated_by": "tools/torch_names.py",',
             f'"torch_version": {json.dumps(torch.__version__)},',
             '"note": "group order is that of PyTorch\'s docs pages; names in each group sorted",',
             '"namespaces": {']
    ns_items = list(spaces.items())
    for i, (ns, groups) in enumerate(ns_items):
        lines.append(f" {json.dumps(ns)}: [")
        g_items = list(groups.items())
        for j, (g, names) in enumerate(g_items):
            comma = "," if j < len(g_items) - 1 else ""
            lines.append(f"  [{json.dumps(g)}, {json.dumps(names)}]{comma}")
        lines.append(" ]" + ("," if i < len(ns_items) - 1 else ""))
    lines += ["}", "}"]
    text = "\n".join(lines) + "\n"
    json.loads(text)
    return text


def main():
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(dump(collect()))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
