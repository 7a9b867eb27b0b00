"""``nn.utils.parametrizations``: ``weight_norm`` and ``spectral_norm`` written with
``nn.utils.parametrize``, as PyTorch's (which recommends them over the classic hooks)."""
from minicnn import ops
from minicnn._tensor import Tensor
from minicnn.autograd import no_grad
from minicnn.creation import randn
from minicnn.nn.module import Module
from minicnn.nn.utils import parametrize
from minicnn.nn.utils.spectral_norm import normalize
from minicnn.nn.utils.weight_norm import norm_except_dim

__all__ = ["weight_norm", "spectral_norm"]


class _WeightNorm(Module):
    """``weight = v * (g / ||v||)``, the norm over every axis but ``dim`` (all, for -1)."""

    def __init__(self, dim=0):
        super().__init__()
        self.dim = -1 if dim is None else dim

    def forward(self, weight_g, weight_v):
        return weight_v * (weight_g / norm_except_dim(weight_v, self.dim))

    def right_inverse(self, weight):
        return norm_except_dim(weight, self.dim), weight


def weight_norm(module, name="weight", dim=0):
    """Reparametrize ``module.<name>`` as ``g * v / ||v||``, as
    ``torch.nn.utils.parametrizations.weight_norm``.

    The magnitude ``g`` and direction ``v`` live in ``module.parametrizations.<name>`` as
    ``original0`` and ``original1`` (state dict keys ``parametrizations.weight.original0``,
    ...); ``module.<name>`` is recomputed from them at each access. Undo it with
    ``nn.utils.parametrize.remove_parametrizations(module, name)``.

    Returns
    -------
    Module
        ``module`` itself.
    """
    if not isinstance(module, Module):
        raise TypeError(f"weight_norm expects a Module, got {type(module).__name__}")
    return parametrize.register_parametrization(module, name, _WeightNorm(dim), unsafe=True)


class _SpectralNorm(Module):
    """``weight / sigma``, sigma the largest singular value of the weight as a matrix (axis
    ``dim`` first), from the power iteration's vectors ``_u`` and ``_v`` (buffers): 15 steps
    when registered, then ``n_power_iterations`` per access in training mode. A 1-D weight is
    divided by its norm."""

    def __init__(self, weight, n_power_iterations=1, dim=0, eps=1e-12):
        super().__init__()
        ndim = weight.ndim
        if dim >= ndim or dim < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [-{ndim}, "
                             f"{ndim - 1}] but got {dim})")
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.dim = dim if dim >= 0 else dim + ndim
        self.eps = eps
        if ndim > 1:
            self.n_power_iterations = n_power_iterations
            weight_mat = self._reshape_weight_to_matrix(weight)
            h, w = weight_mat.shape
            with no_grad():
                self.register_buffer("_u", normalize(randn(h, dtype=weight.dtype), self.eps))
                self.register_buffer("_v", normalize(randn(w, dtype=weight.dtype), self.eps))
            self._power_method(weight_mat, 15)

    def _reshape_weight_to_matrix(self, weight):
        if self.dim != 0:
            weight = weight.permute(self.dim, *(d for d in range(weight.ndim) if d != self.dim))
        return weight.flatten(1)

    def _power_method(self, weight_mat, n_power_iterations):
        # in place on the buffers, outside autograd: u and v are constants of the gradient
        with no_grad():
            for _ in range(n_power_iterations):
                self._u.copy_(normalize(ops.mv(weight_mat, self._v), self.eps))
                self._v.copy_(normalize(ops.mv(weight_mat.t(), self._u), self.eps))

    def forward(self, weight):
        if weight.ndim == 1:
            return normalize(weight, self.eps)
        weight_mat = self._reshape_weight_to_matrix(weight)
        if self.training:
            self._power_method(weight_mat, self.n_power_iterations)
        sigma = ops.dot(self._u.clone(), ops.mv(weight_mat, self._v.clone()))
        return weight / sigma

    def right_inverse(self, value):
        return value


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Divide ``module.<name>`` by its spectral norm at each access, as
    ``torch.nn.utils.parametrizations.spectral_norm``.

    The weight stays in ``module.parametrizations.<name>.original``; the power iteration's
    vectors are the buffers ``parametrizations.<name>.0._u`` and ``._v``, refined at each access
    in training mode (as in PyTorch, reading ``module.weight`` twice in one step runs the
    iteration twice; ``parametrize.cached()`` computes it once). ``dim``: 0, or 1 for the
    transposed convolutions.

    Returns
    -------
    Module
        ``module`` itself.
    """
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"Module '{module}' has no parameter or buffer with name '{name}'")
    if dim is None:
        dim = 1 if type(module).__name__.startswith("ConvTranspose") else 0
    return parametrize.register_parametrization(
        module, name, _SpectralNorm(weight, n_power_iterations, dim, eps))
