"""PyTorch's names for dtypes and devices: minicnn.float32, minicnn.long, minicnn.device('cpu').

A minicnn dtype is a thin name over a NumPy dtype: it compares equal to it (``t.dtype ==
np.float32`` and ``t.dtype == minicnn.float32`` both hold), NumPy accepts it wherever it takes a
dtype (``np.zeros(3, dtype=minicnn.float64)``), and it prints as PyTorch's does
(``minicnn.float32``). minicnn runs on the CPU only: ``device('cpu')`` is the one device, and any
other device is refused with a clear error.
"""
import numpy as np

__all__ = ["dtype", "float32", "float64", "float16", "float", "double", "half", "int64", "long",
           "int32", "int", "int16", "short", "int8", "uint8", "bool", "as_dtype", "device",
           "as_device", "Size", "get_default_dtype", "set_default_dtype", "get_default_device",
           "set_default_device", "is_floating_point", "result_type",
           "promote_types", "can_cast"]


class dtype:
    """A tensor element type, named as in PyTorch (``minicnn.float32``) over a NumPy dtype."""

    def __init__(self, name, numpy_dtype):
        self.name = name
        self.numpy_dtype = np.dtype(numpy_dtype)

    @property
    def dtype(self):
        # NumPy's protocol: np.dtype(x), np.zeros(..., dtype=x) and astype(x) read this.
        return self.numpy_dtype

    @property
    def is_floating_point(self):
        """True for float16/32/64."""
        return self.numpy_dtype.kind == "f"

    @property
    def itemsize(self):
        """Bytes per element."""
        return self.numpy_dtype.itemsize

    def __getattr__(self, name):
        # The rest of NumPy's dtype interface (kind, type, char, ...), so code written for
        # ndarray dtypes keeps working with a Tensor's.
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.numpy_dtype, name)

    def __eq__(self, other):
        if isinstance(other, dtype):
            return self.numpy_dtype == other.numpy_dtype
        try:
            return self.numpy_dtype == np.dtype(other)
        except TypeError:
            return NotImplemented

    def __hash__(self):
        return hash(self.numpy_dtype)

    def __repr__(self):
        return f"minicnn.{self.name}"

    def __reduce__(self):
        return (as_dtype, (self.name,))


float32 = float = dtype("float32", np.float32)
float64 = double = dtype("float64", np.float64)
float16 = half = dtype("float16", np.float16)
int64 = long = dtype("int64", np.int64)
int32 = int = dtype("int32", np.int32)
int16 = short = dtype("int16", np.int16)
int8 = dtype("int8", np.int8)
uint8 = dtype("uint8", np.uint8)
bool = dtype("bool", np.bool_)

_BY_NUMPY = {d.numpy_dtype: d for d in (float32, float64, float16, int64, int32, int16, int8,
                                        uint8, bool)}
_BY_NAME = dict({d.name: d for d in _BY_NUMPY.values()},
                float=float32, double=float64, half=float16, long=int64, int=int32, short=int16)


def as_dtype(value):
    """The minicnn dtype for ``value``: a minicnn dtype, a NumPy dtype or scalar type, a name
    (``"float32"``, ``"long"``), or Python's ``float``/``int``/``bool`` (-> float32 as PyTorch's
    default, int64, bool). TypeError for anything else."""
    if isinstance(value, dtype):
        return value
    if value is _builtin_float:
        return float32
    if value is _builtin_int:
        return int64
    if value is _builtin_bool:
        return bool
    if isinstance(value, str) and value in _BY_NAME:
        return _BY_NAME[value]
    try:
        return _BY_NUMPY[np.dtype(value)]
    except (TypeError, KeyError):
        raise TypeError(f"dtype must be one of minicnn's dtypes (e.g. minicnn.float32, "
                        f"minicnn.long) or a NumPy dtype of those, got {value!r}") from None


# ---------------------------------------------------------------------------------------------
# Type promotion, as torch.result_type: what dtype a binary op computes in.
# ---------------------------------------------------------------------------------------------

def _category(np_dtype):
    """0 for bool, 1 for integers, 2 for floats: a higher category always wins."""
    return {"b": 0, "i": 1, "u": 1, "f": 2}[np.dtype(np_dtype).kind]


def _promote(a, b):
    """``promote_types`` on NumPy dtypes: the smallest dtype both convert to without leaving
    their category, PyTorch's table (int64 with float32 is float32, where NumPy says float64)."""
    a, b = np.dtype(a), np.dtype(b)
    if a == b:
        return a
    ca, cb = _category(a), _category(b)
    if ca != cb:
        return a if ca > cb else b
    return np.promote_types(a, b)


def promote_types(type1, type2):
    """The dtype both ``type1`` and ``type2`` convert to, as ``torch.promote_types``:
    ``promote_types(minicnn.int64, minicnn.float32)`` is float32, ``(uint8, int8)`` int16."""
    return as_dtype(_promote(as_dtype(type1).numpy_dtype, as_dtype(type2).numpy_dtype))


def _participant(value):
    """(kind, NumPy dtype) of one operand: "dim" for a tensor with dimensions, "zero" for a
    0-d tensor, "scalar" for a Python (or NumPy) number."""
    array = getattr(value, "_data", None)
    if array is not None:
        return ("dim" if array.ndim else "zero"), array.dtype
    if isinstance(value, np.ndarray):
        return ("dim" if value.ndim else "zero"), value.dtype
    if isinstance(value, (_builtin_bool, np.bool_)):
        return "scalar", np.dtype(np.bool_)
    if isinstance(value, (_builtin_int, np.integer)):
        return "scalar", np.dtype(np.int64)
    if isinstance(value, (_builtin_float, np.floating)):
        return "scalar", _default[0].numpy_dtype  # Python floats count as the default dtype
    raise TypeError(f"result_type takes tensors and numbers, got {type(value).__name__}")


def _result_numpy(*operands):
    """``result_type`` as a NumPy dtype."""
    found = {}
    for value in operands:
        kind, dt = _participant(value)
        found[kind] = dt if kind not in found else _promote(found[kind], dt)

    def combine(higher, lower):
        # a 0-d tensor or a number counts only when its category is higher than the rest's
        if higher is None or lower is None:
            return lower if higher is None else higher
        if _category(higher) == 2:
            return higher
        if _category(higher) == 0 or _category(lower) == 2:
            return _promote(higher, lower)
        return higher

    return combine(found.get("dim"), combine(found.get("zero"), found.get("scalar")))


def result_type(tensor1, tensor2):
    """The dtype ``tensor1 op tensor2`` computes in, as ``torch.result_type``.

    Categories are bool < integer < float. Tensors with dimensions decide, unless a 0-d tensor
    or a Python number is of a higher category; those then decide, by category only: a Python
    float counts as the default dtype (float32), so ``int8 tensor * 2.5`` is float32 and
    ``float32 tensor * float64 0-d tensor`` stays float32.
    """
    return as_dtype(_result_numpy(tensor1, tensor2))


def can_cast(from_, to):
    """True if ``from_`` converts to ``to`` under PyTorch's casting rule for in-place ops and
    ``out=``: never to a lower category (float to int, int to bool)."""
    return _category(as_dtype(from_).numpy_dtype) <= _category(as_dtype(to).numpy_dtype)


# The default dtype, a one-element list so that set_default_dtype changes it in place.
_default = [float32]


def torch_type_name(np_dtype):
    """PyTorch's name of a dtype, as its messages and ``Tensor.type()`` use it: Float, Long..."""
    names = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
             "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}
    name = np.dtype(np_dtype).name
    return names.get(name, name)


def get_default_dtype():
    """The dtype of tensors made from Python floats and of new layers' parameters: float32
    unless ``set_default_dtype`` changed it, as in PyTorch."""
    return _default[0]


def set_default_dtype(d):
    """Make ``d`` (float32 or float64) the default dtype, as ``torch.set_default_dtype``: the
    dtype of ``tensor([1.0])``, of ``zeros``, ``rand``, ``arange(0.5)``..., of layers'
    parameters and of integer inputs to float functions. TypeError for any other dtype
    (PyTorch's wording for integers; minicnn computes in float32 and float64 only)."""
    d = as_dtype(d)
    if not d.is_floating_point:
        raise TypeError("only floating-point types are supported as the default type")
    if d not in (float32, float64):
        raise TypeError(f"minicnn supports only float32 and float64 as the default type, "
                        f"got {d!r}")
    _default[0] = d


def default_numpy_float():
    """The default dtype as a NumPy dtype (what the factories allocate)."""
    return _default[0].numpy_dtype


def get_default_device():
    """``device('cpu')``: minicnn's one device (``torch.get_default_device``)."""
    return device("cpu")


def set_default_device(device):
    """Accept ``'cpu'`` (or None), as ``torch.set_default_device``: the CPU is already the
    default. Any other device is a RuntimeError naming it, as ``minicnn.device`` raises."""
    as_device(device)


def is_floating_point(tensor):
    """True if ``tensor`` holds floats (as ``torch.is_floating_point``)."""
    return tensor.dtype.is_floating_point


class device:
    """A device, as ``torch.device``. minicnn computes on the CPU only: ``device("cpu")`` (or
    ``"cpu:0"``) is accepted, anything else raises ``RuntimeError`` saying so."""

    def __init__(self, type="cpu", index=None):
        if isinstance(type, device):
            type, index = type.type, type.index
        if not isinstance(type, str):
            raise TypeError(f"device must be a string such as 'cpu', got {type!r}")
        name = type
        if ":" in type:
            type, _, idx = type.partition(":")
            index = _builtin_int(idx) if idx.isdigit() else idx
        if type != "cpu" or index not in (None, 0):
            raise RuntimeError(f"minicnn runs on the CPU only; device {name!r} is not "
                               f"available (use 'cpu')")
        self.type, self.index = "cpu", None

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except (RuntimeError, TypeError):
                return False
        return isinstance(other, device)

    def __hash__(self):
        return hash("cpu")

    def __repr__(self):
        return "device(type='cpu')"

    def __str__(self):
        return "cpu"


def as_device(value):
    """``value`` (None, a string or a device) checked to be the CPU; returns ``device('cpu')``."""
    return device("cpu") if value is None else device(value)


class Size(tuple):
    """A tensor's shape: a tuple of ints that prints as ``minicnn.Size([2, 3])``."""

    def numel(self):
        """The number of elements a tensor of this shape holds."""
        return _builtin_int(np.prod(self, dtype=np.int64))

    def __repr__(self):
        return f"minicnn.Size({list(self)})"

    def __getitem__(self, index):
        item = tuple.__getitem__(self, index)
        return Size(item) if isinstance(index, slice) else item


_builtin_float, _builtin_int, _builtin_bool = type(0.0), type(0), type(True)
