"""``nn.utils.spectral_norm``: a weight divided by its largest singular value, estimated by
power iteration before every forward (Miyato et al., 2018), as PyTorch's classic hook."""
from minicnn import ops
from minicnn.autograd import no_grad
from minicnn.creation import randn
from minicnn.nn.module import Parameter
from minicnn.nn.utils.weight_norm import remove_hook

__all__ = ["spectral_norm", "remove_spectral_norm"]


def normalize(a, eps):
    """a / max(||a||, eps), as ``F.normalize(a, dim=0, eps=eps)`` on a vector."""
    return a / a.norm().clamp_min(eps)


class SpectralNorm:
    """The forward pre-hook: ``module.<name> = <name>_orig / sigma``, with
    ``sigma = uᵀ W v`` from the buffers ``<name>_u`` and ``<name>_v`` (W: the weight as a matrix
    with axis ``dim`` first), refined by ``n_power_iterations`` steps in training mode."""

    def __init__(self, name="weight", n_power_iterations=1, dim=0, eps=1e-12):
        if n_power_iterations <= 0:
            raise ValueError(f"Expected n_power_iterations to be positive, but got "
                             f"n_power_iterations={n_power_iterations}")
        self.name, self.dim, self.eps = name, dim, eps
        self.n_power_iterations = n_power_iterations

    def reshape_weight_to_matrix(self, weight):
        if self.dim != 0:
            weight = weight.permute(self.dim, *[d for d in range(weight.dim()) if d != self.dim])
        return weight.reshape(weight.shape[0], -1)

    def compute_weight(self, module, do_power_iteration):
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u")
        v = getattr(module, self.name + "_v")
        weight_mat = self.reshape_weight_to_matrix(weight)
        if do_power_iteration:
            # The buffers are updated in place (they persist between steps), outside autograd:
            # u and v are constants of the weight's gradient, as in PyTorch.
            with no_grad():
                for _ in range(self.n_power_iterations):
                    v.copy_(normalize(ops.mv(weight_mat.t(), u), self.eps))
                    u.copy_(normalize(ops.mv(weight_mat, v), self.eps))
            u, v = u.clone(), v.clone()
        sigma = ops.dot(u, ops.mv(weight_mat, v))
        return weight / sigma

    @staticmethod
    def apply(module, name, n_power_iterations, dim, eps):
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, SpectralNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two spectral_norm hooks on the same "
                                   f"parameter {name}")
        fn = SpectralNorm(name, n_power_iterations, dim, eps)
        weight = module._parameters.get(name)
        if weight is None:
            raise ValueError(f"`SpectralNorm` cannot be applied as parameter `{name}` is None")
        with no_grad():
            h, w = fn.reshape_weight_to_matrix(weight).shape
            # u and v start random (the global generator), as in PyTorch
            u = normalize(randn(h, dtype=weight.dtype), eps)
            v = normalize(randn(w, dtype=weight.dtype), eps)
        delattr(module, name)
        module.register_parameter(name + "_orig", weight)
        setattr(module, name, weight.detach())
        module.register_buffer(name + "_u", u)
        module.register_buffer(name + "_v", v)
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module):
        with no_grad():
            weight = self.compute_weight(module, do_power_iteration=False)
        delattr(module, self.name)
        delattr(module, self.name + "_u")
        delattr(module, self.name + "_v")
        delattr(module, self.name + "_orig")
        module.register_parameter(self.name, Parameter(weight.detach()))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module, module.training))


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Divide ``module.<name>`` by its spectral norm before every forward, as
    ``torch.nn.utils.spectral_norm``.

    The parameter ``name`` becomes ``<name>_orig``; two buffers ``<name>_u`` and ``<name>_v``
    (random unit vectors at first) hold the power iteration's estimates of the top singular
    vectors. In training mode each forward runs ``n_power_iterations`` steps, updating them in
    place; in eval mode they are used as they are. ``sigma = uᵀ W v`` and the weight
    ``W / sigma`` are differentiated through (u and v are constants there). ``dim``: the axis of
    the output channels, 0 by default and 1 for the transposed convolutions.

    Returns
    -------
    Module
        ``module`` itself.
    """
    if dim is None:
        transposed = type(module).__name__ in ("ConvTranspose1d", "ConvTranspose2d",
                                               "ConvTranspose3d")
        dim = 1 if transposed else 0
    SpectralNorm.apply(module, name, n_power_iterations, dim, eps)
    return module


def remove_spectral_norm(module, name="weight"):
    """Undo ``spectral_norm``: ``<name>`` becomes one Parameter again, ``<name>_orig / sigma``
    with the current ``u`` and ``v``."""
    return remove_hook(module, SpectralNorm, name, "spectral_norm")
