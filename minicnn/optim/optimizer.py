"""The Optimizer base class: parameter groups, per-parameter state, zero_grad and state dicts.

Each optimizer (``sgd.py``, ``adam.py``, ``adaptive.py``, ``radam.py``, ``rprop.py``,
``asgd.py``) subclasses it and writes only its ``_check_options`` and its ``_update`` of one
parameter. Each optimizer updates ``p._data`` **in place**, in the parameter's own dtype, from
``p.grad``; parameters whose ``grad`` is None are skipped. ``maximize=True`` negates the
gradient before ``_update`` sees it (as PyTorch, whose every optimizer begins with
``grad = -grad if maximize``). The update equations are written out in each class docstring
exactly as PyTorch documents them. ``lbfgs.py`` writes its own ``step`` (it needs a closure).

PyTorch's implementation switches are accepted where PyTorch has them and kept in the groups
(as there), but they change nothing here or are refused (see :func:`_check_flags`).

>>> import numpy as np, minicnn.nn as nn, minicnn.optim as optim
>>> model = nn.Linear(3, 2)
>>> opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
>>> opt.param_groups[0]["momentum"]
0.9
"""
import numpy as np

from minicnn._checks import check_bool, check_real
from minicnn._tensor import Tensor

__all__ = ["Optimizer"]


def _check_flags(group):
    """Validate PyTorch's implementation switches where a group has them.

    ``foreach`` and ``fused`` only choose how PyTorch batches the same arithmetic into kernels,
    so they are accepted (None or a bool) and change nothing. ``differentiable=True`` makes
    PyTorch's step an autograd operation, and ``capturable=True`` keeps the state on the device
    for CUDA-graph capture; minicnn's steps write arrays outside autograd and it has no
    devices, so both raise NotImplementedError rather than silently doing something else.
    """
    for name in ("maximize", "differentiable", "capturable"):
        if name in group:
            group[name] = check_bool(group[name], name)
    for name in ("foreach", "fused"):
        if name in group and group[name] is not None:
            group[name] = check_bool(group[name], name)
    if group.get("fused"):
        if group.get("differentiable"):
            raise RuntimeError("`fused` does not support `differentiable`")
        if group.get("foreach"):
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
    if group.get("differentiable"):
        raise NotImplementedError("differentiable=True is not supported: minicnn's optimizer "
                                  "steps update arrays in place outside autograd, so a step "
                                  "cannot be differentiated through")
    if group.get("capturable"):
        raise NotImplementedError("capturable=True is not supported: it keeps optimizer state "
                                  "on an accelerator for CUDA-graph capture, and minicnn runs "
                                  "on NumPy arrays only")


class Optimizer:
    """Base class: parameter groups, per-parameter state, ``zero_grad`` and state dicts.

    Parameters
    ----------
    params : iterable of Tensor, or iterable of dict
        The parameters to optimise, e.g. ``model.parameters()``; or parameter groups, dicts
        with a ``"params"`` entry and any options that override ``defaults`` for that group,
        e.g. ``[{"params": model.conv.parameters()}, {"params": head, "lr": 1e-3}]``.
    defaults : dict
        Default options for every group (``lr``, ``momentum``, ...).

    Attributes
    ----------
    param_groups : list of dict
        One dict per group: ``"params"`` (list of Tensors) and every option.
    state : dict
        Per-parameter state (momentum buffers, Adam moments), keyed by the parameter.
    """

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = {}
        if isinstance(params, Tensor):
            raise TypeError("params must be an iterable of Tensors or of dicts, got a single "
                            "Tensor; wrap it in a list")
        if isinstance(params, dict):
            params = [params]
        try:
            groups = list(params)
        except TypeError:
            raise TypeError("params must be an iterable of Tensors or of dicts, got "
                            f"{type(params).__name__}") from None
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def _check_options(self, group):
        """Validate (and normalise) a group's options; subclasses raise on bad values."""

    def add_param_group(self, param_group):
        """Add a parameter group (a dict with ``"params"`` and optional option overrides).

        Useful to start training layers that were frozen: the new group's options default to
        the optimizer's ``defaults``.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("param_group must have a 'params' entry")
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but params[{i}] is a "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"can't optimize a non-leaf Tensor (params[{i}])")
        if len({id(p) for p in params}) != len(params):
            raise ValueError("a parameter group contains the same parameter more than once")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        unknown = set(param_group) - set(self.defaults) - {"params"}
        if unknown:
            raise ValueError(f"unknown option(s) {sorted(unknown)} for {type(self).__name__}; "
                             f"valid options are {sorted(self.defaults)}")
        group = {"params": params}
        for name, default in self.defaults.items():
            group[name] = param_group.get(name, default)
        _check_flags(group)
        self._check_options(group)
        self.param_groups.append(group)

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of every optimised parameter.

        Parameters
        ----------
        set_to_none : bool
            True (default): set ``p.grad = None`` (frees memory; the next ``step`` skips
            parameters that get no gradient). False: fill the existing gradients with zeros.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    p.grad.zero_()

    def step(self, closure=None):
        """Update every parameter that has a gradient.

        Parameters
        ----------
        closure : callable, optional
            Re-evaluates the model and returns the loss (called before the update).

        Returns
        -------
        The closure's loss, or None.
        """
        loss = closure() if closure is not None else None
        self._opt_called = True  # lets a scheduler warn when it is stepped before the optimizer
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad._data
                if grad.shape != p._data.shape:
                    raise ValueError(f"a parameter of shape {p._data.shape} has a gradient of "
                                     f"shape {grad.shape}")
                # Work in the parameter's dtype: a float32 model stays float32.
                grad = grad.astype(p._data.dtype, copy=False)
                if group.get("maximize"):
                    grad = -grad  # gradient ascent: PyTorch's first line in every update
                self._update(p, grad, self.state.setdefault(p, {}), group)
                # The update wrote into p's memory: a graph that saved p must not use it now.
                p._version_box[0] += 1
        return loss

    def _update(self, p, grad, state, group):
        raise NotImplementedError

    # ----- state dicts --------------------------------------------------------------------

    def state_dict(self):
        """The optimizer's state as plain data (numbers, tuples, ndarray copies).

        Returns
        -------
        dict
            ``{"state": {index: {name: value}}, "param_groups": [{option: value, ...,
            "params": [index, ...]}]}`` where ``index`` numbers the parameters in group order,
            as PyTorch does. ``minicnn.save`` can store it; ``load_state_dict`` restores it.
        """
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index[id(p)] = len(index)
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if self.state.get(p):
                    state[index[id(p)]] = {k: (v.copy() if isinstance(v, np.ndarray) else v)
                                           for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore state saved by :meth:`state_dict` (so that training resumes exactly).

        The optimizer must have been built over parameters of the same shapes in the same
        order. Arrays are copied and cast to each parameter's dtype; group options (``lr``,
        ...) are taken from ``state_dict``.

        Parameters
        ----------
        state_dict : dict
            As returned by :meth:`state_dict`, possibly after ``minicnn.save``/``load``.
        """
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            raise ValueError("state_dict must be a dict with exactly the keys 'state' and "
                             "'param_groups' (as returned by Optimizer.state_dict())")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has {len(saved_groups)} parameter groups, "
                             f"this optimizer has {len(self.param_groups)}")
        params_by_index = {}
        for g, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"parameter group {g} has {len(saved['params'])} parameters "
                                 f"in the loaded state dict but {len(group['params'])} here")
            for i, p in zip(saved["params"], group["params"]):
                params_by_index[i] = p
        new_state = {}
        for i, saved_state in dict(state_dict["state"]).items():
            if i not in params_by_index:
                raise ValueError(f"loaded state dict has state for parameter {i!r}, which "
                                 "belongs to no parameter group")
            p = params_by_index[i]
            new_state[p] = self._load_param_state(i, p, saved_state)
        new_groups = []
        for saved, group in zip(saved_groups, self.param_groups):
            options = {k: v for k, v in saved.items() if k != "params"}
            if isinstance(options.get("betas"), list):
                options["betas"] = tuple(options["betas"])
            merged = dict(group, **options)
            _check_flags(merged)
            self._check_options(merged)
            new_groups.append(merged)
        self.state = new_state
        self.param_groups = new_groups

    def _load_param_state(self, i, p, saved_state):
        """Validate one parameter's saved state and return it copied, in ``p``'s dtype."""
        entry = {}
        for name, value in saved_state.items():
            # Any ndarray, 0-d included, stays an array: the updates modify state in
            # place (`buf *= momentum`), which a Python float would silently ignore.
            if isinstance(value, np.ndarray) and value.dtype.kind != "f":
                raise TypeError(f"state {name!r} of parameter {i} must be a float array, "
                                f"got an array of dtype {value.dtype}")
            if not isinstance(value, np.ndarray) and (
                    isinstance(value, (bool, np.bool_))
                    or not isinstance(value, (int, float, np.integer, np.floating))):
                raise TypeError(f"state {name!r} of parameter {i} must be an array or a "
                                f"number, got {type(value).__name__} {str(value)[:40]!r}")
            if name == "step" and not (value >= 0 and float(value) == int(value)):
                raise ValueError(f"state 'step' of parameter {i} must be a non-negative "
                                 f"whole number, got {value!r}")
            if isinstance(value, np.ndarray):
                if value.shape != p._data.shape:
                    raise ValueError(f"state {name!r} of parameter {i} has shape "
                                     f"{value.shape}, but the parameter has shape "
                                     f"{p._data.shape}")
                value = np.array(value, dtype=p._data.dtype)  # a copy, in the param dtype
            elif isinstance(value, np.generic):
                value = value.item()
            entry[name] = value
        return entry

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)
