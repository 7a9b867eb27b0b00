"""nn.utils.weight_norm / spectral_norm (classic hooks) and register_forward_pre_hook: NumPy
oracles, float64 gradchecks, parameter and buffer names as PyTorch's, removal, errors."""
import warnings

import numpy as np
import pytest

import minicnn
import minicnn.nn as nn

pytestmark = pytest.mark.filterwarnings("ignore:torch.nn.utils.weight_norm is deprecated")


def _x(*shape, seed=0):
    return minicnn.tensor(np.random.default_rng(seed).standard_normal(shape))


def test_forward_pre_hook_sees_and_replaces_the_inputs():
    m = nn.Linear(2, 1).double()
    seen = []
    handle = m.register_forward_pre_hook(lambda mod, args: seen.append(args[0].shape))
    m(_x(3, 2))
    assert seen == [(3, 2)]
    handle.remove()
    m.register_forward_pre_hook(lambda mod, args: args[0] * 0)
    np.testing.assert_array_equal(m(_x(3, 2)).detach().numpy(), np.broadcast_to(m.bias.detach().numpy(), (3, 1)))
    with pytest.raises(TypeError, match="callable"):
        m.register_forward_pre_hook(3)


@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_names_values_and_gradcheck(dim):
    m = nn.Conv2d(2, 3, 3).double()
    w = m.weight.detach().numpy().copy()
    with pytest.warns(FutureWarning, match="deprecated"):
        assert nn.utils.weight_norm(m, dim=dim) is m
    assert list(m.state_dict()) == ["bias", "weight_g", "weight_v"]
    axes = tuple(a for a in range(4) if a != dim) if dim is not None else None
    g = np.sqrt((w * w).sum(axis=axes, keepdims=dim is not None))
    np.testing.assert_allclose(m.weight_g.detach().numpy(), g, rtol=1e-12)
    m.weight_g.data.mul_(2.0)
    x = _x(2, 2, 5, 5)
    m(x)
    np.testing.assert_allclose(m.weight.detach().numpy(), 2 * w, rtol=1e-12)   # recomputed before forward
    assert minicnn.gradcheck(lambda g_, v_: m(x), (m.weight_g, m.weight_v))
    nn.utils.remove_weight_norm(m)
    assert list(m.state_dict()) == ["bias", "weight"] and isinstance(m.weight, nn.Parameter)
    np.testing.assert_allclose(m.weight.detach().numpy(), 2 * w, rtol=1e-12)


def test_weight_norm_errors():
    m = nn.Linear(3, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nn.utils.weight_norm(m)
        with pytest.raises(RuntimeError, match="two weight_norm hooks"):
            nn.utils.weight_norm(m)
        with pytest.raises(ValueError, match="no parameter 'scale'"):
            nn.utils.weight_norm(m, name="scale")
    with pytest.raises(ValueError, match="weight_norm of 'bias' not found"):
        nn.utils.remove_weight_norm(m, "bias")


def _power_step(w, u, v, eps=1e-12):
    v = w.T @ u
    v = v / max(np.linalg.norm(v), eps)
    u = w @ v
    return u / max(np.linalg.norm(u), eps), v


def test_spectral_norm_power_iteration_vs_numpy_and_gradcheck():
    minicnn.manual_seed(0)
    m = nn.Conv2d(2, 4, 3).double()
    w = m.weight.detach().numpy().copy()
    assert nn.utils.spectral_norm(m) is m
    assert list(m.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    assert [n for n, _ in m.named_parameters()] == ["bias", "weight_orig"]
    u, v = m.weight_u.detach().numpy().copy(), m.weight_v.detach().numpy().copy()
    np.testing.assert_allclose([np.linalg.norm(u), np.linalg.norm(v)], [1, 1], rtol=1e-12)
    x = _x(1, 2, 5, 5)
    for _ in range(3):                                   # training mode: one step per forward
        m(x)
        u, v = _power_step(w.reshape(4, -1), u, v)
        np.testing.assert_allclose(m.weight_u.detach().numpy(), u, rtol=1e-10)
        np.testing.assert_allclose(m.weight_v.detach().numpy(), v, rtol=1e-10)
        np.testing.assert_allclose(m.weight.detach().numpy(), w / (u @ w.reshape(4, -1) @ v),
                                   rtol=1e-10)
    m.eval()
    before = m.weight_u.detach().numpy().copy()
    m(x)                                                 # eval: the buffers stay as they are
    np.testing.assert_array_equal(m.weight_u.detach().numpy(), before)
    assert minicnn.gradcheck(lambda w_: m(x), (m.weight_orig,))
    m.train()
    for _ in range(60):
        m(x)
    np.testing.assert_allclose(np.linalg.svd(m.weight.detach().numpy().reshape(4, -1))[1][0], 1.0,
                               rtol=1e-6)
    nn.utils.remove_spectral_norm(m)
    assert list(m.state_dict()) == ["bias", "weight"]


def test_spectral_norm_transposed_conv_uses_dim_1_and_errors():
    t = nn.ConvTranspose2d(3, 5, 2).double()
    nn.utils.spectral_norm(t)
    assert t.weight_u.shape == (5,) and t.weight_v.shape == (3 * 2 * 2,)
    with pytest.raises(RuntimeError, match="two spectral_norm hooks"):
        nn.utils.spectral_norm(t)
    with pytest.raises(ValueError, match="n_power_iterations"):
        nn.utils.spectral_norm(nn.Linear(2, 2), n_power_iterations=0)
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found"):
        nn.utils.remove_spectral_norm(nn.Linear(2, 2))
