"""nn.utils.parametrize and nn.utils.parametrizations (weight_norm, spectral_norm): names as
PyTorch's, values against NumPy, float64 gradchecks, assignment through right_inverse, cached(),
removal, errors."""
import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
from minicnn.nn.utils import parametrizations, parametrize


class Symmetric(nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).transpose(0, 1)


class Scale(nn.Module):
    def forward(self, x):
        return 2 * x

    def right_inverse(self, x):
        return x / 2


def test_register_parametrization_property_setter_and_removal():
    m = nn.Linear(3, 3).double()
    w = m.weight.detach().numpy().copy()
    parametrize.register_parametrization(m, "weight", Symmetric())
    assert type(m).__name__ == "ParametrizedLinear"
    assert parametrize.type_before_parametrizations(m) is nn.Linear
    assert parametrize.is_parametrized(m) and parametrize.is_parametrized(m, "weight")
    assert not parametrize.is_parametrized(m, "bias")
    assert list(m.state_dict()) == ["bias", "parametrizations.weight.original"]
    np.testing.assert_allclose(m.weight.detach().numpy(), np.triu(w) + np.triu(w, 1).T)
    parametrize.register_parametrization(m, "weight", Scale())          # applied after
    np.testing.assert_allclose(m.weight.detach().numpy(), 2 * (np.triu(w) + np.triu(w, 1).T))
    x = minicnn.tensor(np.random.default_rng(0).standard_normal((2, 3)))
    original = m.parametrizations.weight.original
    assert minicnn.gradcheck(lambda o: m(x), (original,))
    with parametrize.cached():
        assert m.weight is m.weight
    assert m.weight is not m.weight
    parametrize.remove_parametrizations(m, "weight", leave_parametrized=False)
    assert type(m) is nn.Linear and not hasattr(m, "parametrizations")
    assert list(m.state_dict()) == ["bias", "weight"] and m.weight is original
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        parametrize.remove_parametrizations(m, "weight")
    with pytest.raises(ValueError, match="does not have a parameter, a buffer"):
        parametrize.register_parametrization(m, "scale", Scale())


def test_parametrizations_weight_norm_values_gradcheck_and_assignment():
    m = nn.Conv2d(2, 3, 3).double()
    w = m.weight.detach().numpy().copy()
    assert parametrizations.weight_norm(m) is m
    assert list(m.state_dict()) == ["bias", "parametrizations.weight.original0",
                                    "parametrizations.weight.original1"]
    g = m.parametrizations.weight.original0
    np.testing.assert_allclose(g.detach().numpy(),
                               np.sqrt((w * w).sum((1, 2, 3), keepdims=True)), rtol=1e-12)
    np.testing.assert_allclose(m.weight.detach().numpy(), w, rtol=1e-12)
    x = minicnn.tensor(np.random.default_rng(1).standard_normal((1, 2, 5, 5)))
    v = m.parametrizations.weight.original1
    assert minicnn.gradcheck(lambda a, b: m(x), (g, v))
    m.weight = minicnn.tensor(3 * w)                              # through right_inverse
    np.testing.assert_allclose(g.detach().numpy().ravel(),
                               3 * np.sqrt((w * w).sum((1, 2, 3))), rtol=1e-12)
    parametrize.remove_parametrizations(m, "weight")
    assert isinstance(m.weight, nn.Parameter) and list(m.state_dict()) == ["bias", "weight"]
    np.testing.assert_allclose(m.weight.detach().numpy(), 3 * w, rtol=1e-12)
    with pytest.raises(ValueError, match="leave_parametrized=False"):
        parametrize.remove_parametrizations(parametrizations.weight_norm(nn.Linear(2, 2)),
                                            "weight", leave_parametrized=False)


def test_parametrizations_spectral_norm_converges_and_gradchecks():
    minicnn.manual_seed(0)
    m = nn.Linear(5, 4).double()
    w = m.weight.detach().numpy().copy()
    parametrizations.spectral_norm(m)
    assert [k for k in m.state_dict()] == ["bias", "parametrizations.weight.original",
                                           "parametrizations.weight.0._u",
                                           "parametrizations.weight.0._v"]
    for _ in range(30):
        weight = m.weight                                       # one power step per access
    np.testing.assert_allclose(weight.detach().numpy(), w / np.linalg.svd(w)[1][0], rtol=1e-8)
    m.eval()
    x = minicnn.tensor(np.random.default_rng(2).standard_normal((3, 5)))
    assert minicnn.gradcheck(lambda o: m(x), (m.parametrizations.weight.original,))
    t = nn.ConvTranspose2d(3, 2, 2)
    parametrizations.spectral_norm(t)
    assert t.parametrizations.weight[0]._u.shape == (2,)
    with pytest.raises(ValueError, match="no parameter or buffer with name 'scale'"):
        parametrizations.spectral_norm(nn.Linear(2, 2), "scale")
