"""Small pieces of PyTorch's API that training scripts reach for, outside Tensor itself."""
import pytest

import minicnn
import minicnn.nn as nn


def test_save_load_with_pytorch_arguments(tmp_path):
    model = nn.Linear(2, 3)
    path = tmp_path / "model.pt"                    # any file name, as torch.save
    minicnn.save(model.state_dict(), path)
    other = nn.Linear(2, 3)
    other.load_state_dict(minicnn.load(path, weights_only=True, map_location="cpu"))
    assert minicnn.equal(other.weight, model.weight)
    minicnn.load(path, map_location=minicnn.device("cpu"))
    with pytest.raises(RuntimeError, match="CPU only"):
        minicnn.load(path, map_location="cuda:0")


def test_top_level_functions_mirror_torch():
    x = minicnn.arange(6).reshape(2, 3).float()
    assert minicnn.flatten(x).shape == (6,) and minicnn.flatten(x, 1).shape == (2, 3)
    assert minicnn.max(x, 1).indices.tolist() == [2, 2] and minicnn.sum(x).item() == 15
    assert minicnn.exp(minicnn.zeros(1)).item() == 1 and minicnn.numel(x) == 6
    assert minicnn.is_tensor(x) and minicnn.get_default_dtype() == minicnn.float32
    assert not minicnn.cuda.is_available() and not minicnn.backends.mps.is_available()


def test_generator_as_pytorch():
    from minicnn.utils.data import TensorDataset, random_split
    data = TensorDataset(minicnn.arange(10))
    a = random_split(data, [7, 3], generator=minicnn.Generator().manual_seed(42))
    b = random_split(data, [7, 3], generator=minicnn.Generator().manual_seed(42))
    assert a[0].indices == b[0].indices and sorted(a[0].indices + a[1].indices) == list(range(10))
    g = minicnn.Generator().manual_seed(3)
    assert g.initial_seed() == 3 and isinstance(g, minicnn.Generator)
    state = g.get_state()
    first = g.rng.random()
    assert g.set_state(state).rng.random() == first
    with pytest.raises(RuntimeError, match="CPU only"):
        minicnn.Generator(device="cuda")
