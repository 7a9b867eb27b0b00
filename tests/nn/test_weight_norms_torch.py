"""Opt-in: nn.utils.weight_norm and spectral_norm, and their nn.utils.parametrizations forms,
give PyTorch's state dict names, outputs, gradients and power-iteration buffers (skipped when
torch is not importable)."""
import warnings

import numpy as np
import pytest

import minicnn
import minicnn.nn as nn

torch = pytest.importorskip("torch", reason="opt-in comparison: torch is not installed")


def _pair(make_ours, make_theirs, wrap_ours, wrap_theirs):
    ours, theirs = make_ours().double(), make_theirs().double()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wrap_ours(ours)
        wrap_theirs(theirs)
    state = {k: v.detach().numpy().copy() for k, v in theirs.state_dict().items()}
    assert list(ours.state_dict()) == list(state)
    ours.load_state_dict(state)
    return ours, theirs


def _three_steps_match(ours, theirs, shape, seed):
    """Three forward/backward steps: the same outputs, gradients and buffers."""
    rng = np.random.default_rng(seed)
    for step in range(3):
        x = rng.standard_normal(shape)
        out_m, out_t = ours(minicnn.tensor(x)), theirs(torch.tensor(x))
        np.testing.assert_allclose(out_m.detach().numpy(), out_t.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
        ours.zero_grad()
        theirs.zero_grad()
        (out_m * out_m).sum().backward()
        (out_t * out_t).sum().backward()
        grads_t = {n: p.grad.numpy() for n, p in theirs.named_parameters()}
        for name, p in ours.named_parameters():
            np.testing.assert_allclose(p.grad.numpy(), grads_t[name], rtol=1e-9, atol=1e-11,
                                       err_msg=name)
        for name, b in theirs.named_buffers():
            np.testing.assert_allclose(dict(ours.named_buffers())[name].numpy(), b.numpy(),
                                       rtol=1e-10, err_msg=name)


@pytest.mark.parametrize("kind", ["weight_norm", "spectral_norm"])
@pytest.mark.parametrize("layer", ["linear", "conv", "convT"])
def test_reparametrized_layers_match_pytorch(kind, layer):
    makers = {"linear": (lambda: nn.Linear(5, 3), lambda: torch.nn.Linear(5, 3), (4, 5)),
              "conv": (lambda: nn.Conv2d(2, 3, 3), lambda: torch.nn.Conv2d(2, 3, 3),
                       (2, 2, 6, 6)),
              "convT": (lambda: nn.ConvTranspose2d(3, 2, 2), lambda: torch.nn.ConvTranspose2d(
                  3, 2, 2), (2, 3, 4, 4))}
    make_ours, make_theirs, shape = makers[layer]
    ours, theirs = _pair(make_ours, make_theirs, getattr(nn.utils, kind),
                         getattr(torch.nn.utils, kind))
    _three_steps_match(ours, theirs, shape, seed=0)
    remove = "remove_" + kind
    getattr(nn.utils, remove)(ours)
    getattr(torch.nn.utils, remove)(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(),
                               rtol=1e-10)


@pytest.mark.parametrize("kind", ["weight_norm", "spectral_norm"])
@pytest.mark.parametrize("layer", ["linear", "convT"])
def test_parametrizations_match_pytorch(kind, layer):
    from minicnn.nn.utils import parametrizations, parametrize
    makers = {"linear": (lambda: nn.Linear(5, 3), lambda: torch.nn.Linear(5, 3), (4, 5)),
              "convT": (lambda: nn.ConvTranspose2d(3, 2, 2),
                        lambda: torch.nn.ConvTranspose2d(3, 2, 2), (2, 3, 4, 4))}
    make_ours, make_theirs, shape = makers[layer]
    ours, theirs = _pair(make_ours, make_theirs, getattr(parametrizations, kind),
                         getattr(torch.nn.utils.parametrizations, kind))
    assert type(ours).__name__ == type(theirs).__name__
    _three_steps_match(ours, theirs, shape, seed=1)
    parametrize.remove_parametrizations(ours, "weight")
    torch.nn.utils.parametrize.remove_parametrizations(theirs, "weight")
    assert list(ours.state_dict()) == list(theirs.state_dict())
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(),
                               rtol=1e-10)
