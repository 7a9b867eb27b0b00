"""``nn.utils.weight_norm``: a weight as a direction times a magnitude (Salimans and Kingma,
2016), kept in two parameters and recombined before every forward, as PyTorch's classic hook."""
import warnings

from minicnn.autograd import no_grad
from minicnn.nn.module import Parameter

__all__ = ["weight_norm", "remove_weight_norm"]


def norm_except_dim(v, dim):
    """The 2-norm of ``v`` over every axis but ``dim`` (kept as size-1 axes); over all of ``v``
    (a 0-d tensor) when ``dim`` is -1, as PyTorch's ``norm_except_dim``."""
    if dim == -1:
        return (v * v).sum().sqrt()
    axes = tuple(a for a in range(v.dim()) if a != dim)
    return (v * v).sum(dim=axes, keepdim=True).sqrt() if axes else v.abs()


class WeightNorm:
    """The forward pre-hook: ``module.<name> = <name>_v * (<name>_g / ||<name>_v||)``."""

    def __init__(self, name, dim):
        self.name, self.dim = name, -1 if dim is None else dim

    def compute_weight(self, module):
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        # w = g v / ||v||: dw/dg = v / ||v||, dw/dv = (g / ||v||)(I - v vᵀ / ||v||²), by autograd
        return v * (g / norm_except_dim(v, self.dim))

    @staticmethod
    def apply(module, name, dim):
        for hook in module._forward_pre_hooks.values():
            if isinstance(hook, WeightNorm) and hook.name == name:
                raise RuntimeError(f"Cannot register two weight_norm hooks on the same "
                                   f"parameter {name}")
        weight = module._parameters.get(name)
        if weight is None:
            raise ValueError(f"weight_norm cannot be applied: {type(module).__name__} has no "
                             f"parameter {name!r}")
        fn = WeightNorm(name, dim)
        if fn.dim < -1 or fn.dim >= max(weight.dim(), 1):
            raise IndexError(f"weight_norm: dim {dim} is out of range for the {weight.dim()}-d "
                             f"parameter {name!r} (use -1 or None for the norm over all of it)")
        del module._parameters[name]
        with no_grad():
            g = norm_except_dim(weight, fn.dim)
        module.register_parameter(name + "_g", Parameter(g.detach().clone()))
        module.register_parameter(name + "_v", Parameter(weight.detach()))
        setattr(module, name, fn.compute_weight(module))
        module.register_forward_pre_hook(fn)
        return fn

    def remove(self, module):
        with no_grad():
            weight = self.compute_weight(module)
        delattr(module, self.name)
        del module._parameters[self.name + "_g"]
        del module._parameters[self.name + "_v"]
        setattr(module, self.name, Parameter(weight.detach()))

    def __call__(self, module, inputs):
        setattr(module, self.name, self.compute_weight(module))


def weight_norm(module, name="weight", dim=0):
    """Reparametrize ``module.<name>`` as ``g * v / ||v||``, as ``torch.nn.utils.weight_norm``.

    The parameter ``name`` is replaced by two: ``<name>_g`` (the magnitude: the norm of each
    slice along ``dim``, shaped with size-1 axes elsewhere) and ``<name>_v`` (the direction, the
    old weight's values). Before every forward, a pre-hook recomputes ``module.<name>`` from
    them, so gradients reach ``g`` and ``v``. ``dim=None`` (or -1) takes one norm over the whole
    tensor. PyTorch deprecates this function in favour of
    ``nn.utils.parametrizations.weight_norm`` and warns (``FutureWarning``); so does minicnn.
    As in PyTorch, ``copy.deepcopy`` refuses a module with this hook (its ``weight`` is a
    computed tensor, not a leaf); the parametrizations form copies.

    Returns
    -------
    Module
        ``module`` itself.
    """
    warnings.warn("torch.nn.utils.weight_norm is deprecated in favor of "
                  "torch.nn.utils.parametrizations.weight_norm.", FutureWarning, stacklevel=2)
    WeightNorm.apply(module, name, dim)
    return module


def remove_weight_norm(module, name="weight"):
    """Undo ``weight_norm``: ``<name>`` becomes one Parameter again, with the current value."""
    return remove_hook(module, WeightNorm, name, "weight_norm")


def remove_hook(module, kind, name, what):
    """Take the pre-hook of class ``kind`` for parameter ``name`` off ``module`` (its
    ``remove`` puts the plain parameter back); ``what`` names the function in the error."""
    for key, hook in list(module._forward_pre_hooks.items()):
        if isinstance(hook, kind) and hook.name == name:
            hook.remove(module)
            del module._forward_pre_hooks[key]
            return module
    raise ValueError(f"{what} of '{name}' not found in {module}")
