"""Devices and backends as a CPU-only PyTorch has them: layers' ``device=``/``dtype=``, the
default dtype and device, ``Tensor.is_cuda`` and friends, ``minicnn.cuda``/``backends``/
``accelerator``, and ``nn.DataParallel``."""
import inspect

import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
import minicnn.nn.functional as F


@pytest.fixture
def default_float64():
    """``set_default_dtype(float64)`` for one test, float32 restored whatever happens."""
    minicnn.set_default_dtype(minicnn.float64)
    try:
        yield
    finally:
        minicnn.set_default_dtype(minicnn.float32)


# Every layer that creates parameters or buffers, built small, with extra keywords.
LAYERS = {
    "Linear": lambda **kw: nn.Linear(3, 2, **kw),
    "Conv1d": lambda **kw: nn.Conv1d(2, 4, 3, **kw),
    "Conv2d": lambda **kw: nn.Conv2d(2, 4, 3, **kw),
    "ConvTranspose1d": lambda **kw: nn.ConvTranspose1d(2, 4, 3, **kw),
    "ConvTranspose2d": lambda **kw: nn.ConvTranspose2d(2, 4, 3, **kw),
    "BatchNorm1d": lambda **kw: nn.BatchNorm1d(3, **kw),
    "BatchNorm2d": lambda **kw: nn.BatchNorm2d(3, **kw),
    "LayerNorm": lambda **kw: nn.LayerNorm(3, **kw),
    "GroupNorm": lambda **kw: nn.GroupNorm(1, 3, **kw),
    "PReLU": lambda **kw: nn.PReLU(3, **kw),
}


def _float_tensors(module):
    """Every parameter and floating buffer of ``module``."""
    return [t for t in list(module.parameters()) + list(module.buffers())
            if t.dtype.is_floating_point]


# ---------------------------------------------------------------------------------------------
# device= and dtype= on layers
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("dtype", [minicnn.float32, minicnn.float64])
def test_layer_dtype_keyword_creates_parameters_and_buffers_in_it(name, dtype):
    layer = LAYERS[name](device="cpu", dtype=dtype)
    tensors = _float_tensors(layer)
    assert tensors and all(t.dtype == dtype for t in tensors)
    if name.startswith("BatchNorm"):
        assert layer.num_batches_tracked.dtype == minicnn.int64   # integer buffer kept


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_device_cpu_accepted_in_every_spelling(name):
    for device in (None, "cpu", "cpu:0", minicnn.device("cpu")):
        assert LAYERS[name](device=device).weight.device == minicnn.device("cpu")


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("device", ["cuda", "cuda:1", "mps", "meta"])
def test_layer_other_device_refused_naming_it(name, device):
    with pytest.raises(RuntimeError, match=f"CPU only; device '{device}' is not available"):
        LAYERS[name](device=device)


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("dtype", [minicnn.int64, minicnn.float16, "float16"])
def test_layer_non_float_dtype_refused_naming_it(name, dtype):
    with pytest.raises(TypeError, match="dtype must be float32 or float64, got .*(int64|float16)"):
        LAYERS[name](dtype=dtype)


def test_linear_made_in_float64_trains_in_float64():
    minicnn.manual_seed(0)
    model = nn.Linear(3, 1, dtype=minicnn.float64)
    optimizer = minicnn.optim.SGD(model.parameters(), lr=0.1)
    x = minicnn.randn(16, 3, dtype=minicnn.float64)
    y = x @ minicnn.tensor([[1.0], [-2.0], [0.5]], dtype=minicnn.float64) + 0.3
    losses = []
    for _ in range(50):
        optimizer.zero_grad()
        out = model(x)
        loss = F.mse_loss(out, y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        assert out.dtype == loss.dtype == minicnn.float64
        assert model.weight.grad.dtype == model.bias.grad.dtype == minicnn.float64
    assert model.weight.dtype == model.bias.dtype == minicnn.float64
    assert losses[-1] < 1e-3 * losses[0]


def test_factory_keywords_in_pytorchs_positional_order():
    # the positional slots after the layer's own options are device, then dtype, as PyTorch's
    assert nn.Linear(3, 2, True, "cpu", minicnn.float64).weight.dtype == minicnn.float64
    assert nn.BatchNorm2d(3, 1e-5, 0.1, True, True, None,
                          minicnn.float64).running_var.dtype == minicnn.float64
    assert nn.PReLU(1, 0.25, "cpu", minicnn.float64).weight.dtype == minicnn.float64
    with pytest.raises(RuntimeError, match="'cuda'"):
        nn.LayerNorm(3, 1e-5, True, True, "cuda")


@pytest.mark.parametrize("name", ["Linear", "Conv1d", "Conv2d", "ConvTranspose1d",
                                  "ConvTranspose2d", "BatchNorm1d", "BatchNorm2d", "LayerNorm",
                                  "GroupNorm", "PReLU"])
def test_layer_signatures_match_pytorch(name):
    torch = pytest.importorskip("torch", reason="opt-in comparison: torch is not installed")
    ours = list(inspect.signature(getattr(nn, name)).parameters)
    theirs = list(inspect.signature(getattr(torch.nn, name)).parameters)
    assert ours == theirs


# ---------------------------------------------------------------------------------------------
# The default dtype and device
# ---------------------------------------------------------------------------------------------

def test_default_dtype_is_float32():
    assert minicnn.get_default_dtype() == minicnn.float32
    assert minicnn.tensor([1.0]).dtype == minicnn.zeros(1).dtype == minicnn.float32
    assert nn.Linear(2, 2).weight.dtype == minicnn.float32


def test_set_default_dtype_float64_reaches_every_factory(default_float64):
    assert minicnn.get_default_dtype() == minicnn.float64
    made = {
        "tensor": minicnn.tensor([1.0, 2.5]), "Tensor": minicnn.Tensor([1.0]),
        "zeros": minicnn.zeros(2), "ones": minicnn.ones(2, 3), "empty": minicnn.empty(2),
        "full": minicnn.full((2,), 1.5), "eye": minicnn.eye(2),
        "rand": minicnn.rand(2), "randn": minicnn.randn(2), "normal": minicnn.normal(0, 1, (2,)),
        "arange": minicnn.arange(0.0, 2.0, 0.5), "linspace": minicnn.linspace(0, 1, 3),
        "logspace": minicnn.logspace(0, 1, 3), "Parameter": nn.Parameter(),
        "exp of ints": minicnn.exp(minicnn.tensor([1, 2])),
        "int * float": minicnn.tensor([1, 2]) * 2.5,
        "int / int": minicnn.tensor([1]) / minicnn.tensor([2]),
    }
    assert {name: t.dtype for name, t in made.items()} == dict.fromkeys(made, minicnn.float64)
    # what is not a float of the default dtype keeps its own dtype, as in PyTorch
    assert minicnn.arange(3).dtype == minicnn.tensor([1]).dtype == minicnn.int64
    assert minicnn.zeros(1, dtype=minicnn.float32).dtype == minicnn.float32
    assert minicnn.tensor(np.zeros(2, np.float32)).dtype == minicnn.float32


def test_set_default_dtype_float64_reaches_every_layer(default_float64):
    for name, make in LAYERS.items():
        tensors = _float_tensors(make())
        assert all(t.dtype == minicnn.float64 for t in tensors), name
    assert nn.Linear(2, 2, dtype=minicnn.float32).weight.dtype == minicnn.float32


def test_pytorch_script_with_float64_default_gets_float64(default_float64):
    # the pattern of a script that calls torch.set_default_dtype(torch.float64) first
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.BatchNorm2d(2), nn.ReLU(),
                          nn.Flatten(), nn.Linear(2 * 4 * 4, 3))
    x = minicnn.randn(5, 1, 4, 4)
    loss = F.cross_entropy(model(x), minicnn.tensor([0, 1, 2, 0, 1]))
    loss.backward()
    assert x.dtype == loss.dtype == minicnn.float64
    assert all(p.grad.dtype == minicnn.float64 for p in model.parameters())


def test_default_dtype_restored_by_the_fixture():
    assert minicnn.get_default_dtype() == minicnn.float32


@pytest.mark.parametrize("dtype", [minicnn.int64, minicnn.int32, minicnn.bool])
def test_set_default_dtype_refuses_integers_with_pytorchs_error(dtype):
    with pytest.raises(TypeError, match="only floating-point types are supported as the "
                                        "default type"):
        minicnn.set_default_dtype(dtype)
    assert minicnn.get_default_dtype() == minicnn.float32


def test_set_default_dtype_refuses_float16_naming_it():
    with pytest.raises(TypeError, match="only float32 and float64 .* got minicnn.float16"):
        minicnn.set_default_dtype(minicnn.float16)
    assert minicnn.get_default_dtype() == minicnn.float32


def test_set_default_device_accepts_the_cpu_only():
    for device in (None, "cpu", minicnn.device("cpu")):
        minicnn.set_default_device(device)
    assert minicnn.get_default_device() == minicnn.device("cpu")
    for device in ("cuda", "mps", "cuda:0"):
        with pytest.raises(RuntimeError, match=f"device '{device}' is not available"):
            minicnn.set_default_device(device)


# ---------------------------------------------------------------------------------------------
# Device queries, backends, DataParallel
# ---------------------------------------------------------------------------------------------

def test_tensor_device_properties():
    x = minicnn.zeros(2)
    assert x.is_cpu and not (x.is_cuda or x.is_xpu or x.is_mps or x.is_meta)
    with pytest.raises(AttributeError):
        x.is_cuda = True                 # read-only, as PyTorch's


def test_cuda_accelerator_and_mps_report_nothing():
    import minicnn.accelerator
    import minicnn.cuda
    assert minicnn.cuda.is_available() is False and minicnn.cuda.device_count() == 0
    minicnn.cuda.manual_seed(0)
    minicnn.cuda.manual_seed_all(0)
    assert minicnn.accelerator.is_available() is False
    assert minicnn.accelerator.current_accelerator() is None
    assert minicnn.backends.mps.is_available() is False and not minicnn.backends.mps.is_built()


def test_cudnn_flags_are_settable_and_harmless():
    from minicnn.backends import cudnn
    assert minicnn.backends.cudnn is cudnn and not cudnn.is_available()
    saved = cudnn.benchmark, cudnn.deterministic
    try:
        cudnn.benchmark, cudnn.deterministic = True, True
        assert minicnn.backends.cudnn.benchmark and minicnn.backends.cudnn.deterministic
        minicnn.manual_seed(0)
        assert nn.Conv2d(1, 1, 3)(minicnn.ones(1, 1, 4, 4)).shape == (1, 1, 2, 2)
    finally:
        cudnn.benchmark, cudnn.deterministic = saved


def test_data_parallel_runs_the_module_on_the_cpu():
    from minicnn.nn.parallel import DataParallel
    assert DataParallel is nn.DataParallel
    inner = nn.Linear(3, 2)
    model = nn.DataParallel(inner)
    assert model.module is inner and model.device_ids == []
    x = minicnn.randn(4, 3)
    assert minicnn.equal(model(x), inner(x))
    assert list(model.state_dict()) == ["module.weight", "module.bias"]
    model(x).sum().backward()
    assert inner.weight.grad is not None
    assert "(module): Linear(in_features=3, out_features=2, bias=True)" in repr(model)
    # a checkpoint of the wrapped model loads back into a wrapped one
    other = nn.DataParallel(nn.Linear(3, 2), device_ids=[0])
    other.load_state_dict(model.state_dict())
    assert minicnn.equal(other.module.weight, inner.weight)


def test_data_parallel_state_dict_keys_match_pytorch():
    torch = pytest.importorskip("torch", reason="opt-in comparison: torch is not installed")
    ours = nn.DataParallel(nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)))
    theirs = torch.nn.DataParallel(torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3),
                                                       torch.nn.BatchNorm2d(2)))
    assert list(ours.state_dict()) == list(theirs.state_dict())


@pytest.mark.parametrize("make", [lambda: nn.BatchNorm1d(3, bias=False),
                                  lambda: nn.GroupNorm(1, 3, bias=False)])
def test_batch_and_group_norm_bias_keyword(make):
    # PyTorch's keyword-only bias= (beside factory_kwargs): the weight alone is learnt
    layer = make()
    assert layer.bias is None and [name for name, _ in layer.named_parameters()] == ["weight"]
    layer.reset_parameters()
    out = layer(minicnn.randn(4, 3, requires_grad=True))
    out.sum().backward()
    assert layer.weight.grad is not None


def test_to_tensor_gives_the_default_dtype(default_float64):
    from minicnn import transforms
    image = np.full((2, 2, 3), 255, np.uint8)
    out = transforms.ToTensor()(image)
    assert out.dtype == minicnn.float64 and out.shape == (3, 2, 2) and out.max().item() == 1.0
