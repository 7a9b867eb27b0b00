"""Normalisation layers as Modules: BatchNorm1d, BatchNorm2d, InstanceNorm1d, InstanceNorm2d,
LayerNorm, GroupNorm (``torch.nn``).

Each holds its settings, its affine Parameters and (BatchNorm) its running statistics as
buffers, and calls ``minicnn.nn.functional``'s ``batch_norm``/``layer_norm``/``group_norm``.

>>> import minicnn.nn as nn
>>> nn.BatchNorm2d(16)
BatchNorm2d(16, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)
"""
import numpy as np

from minicnn._checks import check_bool, check_int, check_real, factory_dtype, ntuple
from minicnn._tensor import Tensor, float_tensor_arg
from minicnn.nn import functional as F
from minicnn.nn.module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "SyncBatchNorm", "InstanceNorm1d", "InstanceNorm2d",
           "LayerNorm", "GroupNorm"]


def _eps(eps):
    eps = check_real(eps, "eps")
    if eps <= 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    return eps


class _BatchNorm(Module):
    """Shared by BatchNorm1d/2d: parameters, buffers, the momentum rule and the repr."""

    _input_dims = ()

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, device=None, dtype=None, *, bias=True):
        super().__init__()
        self.num_features = check_int(num_features, "num_features", 1)
        self.eps = _eps(eps)
        self.momentum = None if momentum is None else check_real(momentum, "momentum")
        self.affine = check_bool(affine, "affine")
        self.track_running_stats = check_bool(track_running_stats, "track_running_stats")
        bias = check_bool(bias, "bias")
        dtype = factory_dtype(device, dtype)
        C = self.num_features
        if self.affine:
            self.weight = Parameter(np.ones(C, dtype=dtype))
            if bias:
                self.bias = Parameter(np.zeros(C, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if self.track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(C, dtype=dtype)))
            self.register_buffer("running_var", Tensor(np.ones(C, dtype=dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def reset_running_stats(self):
        """Running mean 0, running variance 1, no batches tracked."""
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def reset_parameters(self):
        """Running statistics reset; weight 1, bias 0."""
        self.reset_running_stats()
        if self.affine:
            self.weight._data[...] = 1
            if self.bias is not None:
                self.bias._data[...] = 0

    def forward(self, input):
        """(N, C, *) -> the same shape."""
        ndim = getattr(input, "ndim", None)
        if ndim not in self._input_dims:
            dims = " or ".join(f"{d}D" for d in self._input_dims)
            raise ValueError(f"expected {dims} input (got {ndim}D input)")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked._data += 1
            if self.momentum is None:  # a cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked._data)
        # Batch statistics in training, and in eval too when no running statistics are kept
        use_batch = self.training or self.running_mean is None
        return self._normalize(input, use_batch, factor)

    def _normalize(self, input, use_batch, factor):
        return F.batch_norm(input, self.running_mean, self.running_var, self.weight, self.bias,
                            use_batch, factor, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over (N, C) or (N, C, L) inputs, per feature C.

    Parameters
    ----------
    num_features : int
        C.
    eps : float
        Added to the variance, > 0.
    momentum : float or None
        Running statistics ``r = (1 - momentum) * r + momentum * batch_stat``; None: a
        cumulative average over the batches seen.
    affine : bool
        Learn ``weight`` (init 1) and ``bias`` (init 0).
    track_running_stats : bool
        Keep ``running_mean``, ``running_var`` (unbiased) and ``num_batches_tracked``
        buffers and use them in eval mode; False: batch statistics in both modes.
    device, dtype : ``'cpu'`` only; float32 or float64 (the default dtype if None)
    bias : bool, keyword-only
        With ``affine``, also learn the bias (False: ``bias`` is None).

    Shapes: (N, C) or (N, C, L) -> the same.
    """

    _input_dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over (N, C, H, W) inputs, per channel (statistics over N, H, W).

    Parameters as :class:`BatchNorm1d`. Shapes: (N, C, H, W) -> the same.
    """

    _input_dims = (4,)


class _InstanceNorm(_BatchNorm):
    """Shared by InstanceNorm1d/2d: _BatchNorm's parameters and buffers with PyTorch's other
    defaults (no affine parameters, no running statistics), statistics per sample and channel;
    an unbatched input (no N) is taken as one sample."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=False,
                 track_running_stats=False, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)

    def forward(self, input):
        ndim = getattr(input, "ndim", None)
        if ndim not in self._input_dims:
            raise ValueError(f"expected {self._input_dims[0]}D (unbatched) or "
                             f"{self._input_dims[1]}D (batched) input (got {ndim}D input)")
        if ndim == self._input_dims[0]:
            return self.forward(input.unsqueeze(0)).squeeze(0)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked._data += 1
            if self.momentum is None:
                factor = 1.0 / float(self.num_batches_tracked._data)
        return F.instance_norm(input, self.running_mean, self.running_var, self.weight,
                               self.bias, self.training or not self.track_running_stats, factor,
                               self.eps)


class InstanceNorm1d(_InstanceNorm):
    """Instance normalisation of (N, C, L) or unbatched (C, L) inputs: each sample's each channel
    normalised over its L positions. Parameters as :class:`BatchNorm1d`, but ``affine`` and
    ``track_running_stats`` default to False, as in PyTorch."""

    _input_dims = (2, 3)


class InstanceNorm2d(_InstanceNorm):
    """Instance normalisation of (N, C, H, W) or unbatched (C, H, W) inputs: each sample's each
    channel normalised over its H*W positions (the style-transfer normalisation). Parameters as
    :class:`InstanceNorm1d`."""

    _input_dims = (3, 4)


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation whose statistics are the whole batch's, over every rank of
    ``minicnn.distributed`` (each rank holding its share), as ``torch.nn.SyncBatchNorm``.

    With data parallelism each rank's plain BatchNorm sees only its share of the batch; this
    one exchanges the per-channel counts, means and squared deviations (and in backward the
    two per-channel gradient sums), so N ranks normalise as one process with the whole batch
    would. Without a process group of more than one rank, or in eval mode with running
    statistics, it is BatchNorm. Parameters as :class:`BatchNorm1d`; ``process_group``: only
    the default group (None).

    Shapes: (N, C, *) -> the same.
    """

    _input_dims = (2, 3, 4, 5)

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True,
                 track_running_stats=True, process_group=None, device=None, dtype=None):
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        if process_group is not None:
            raise ValueError("SyncBatchNorm supports the default process group only "
                             "(process_group=None)")

    def _normalize(self, input, use_batch, factor):
        from minicnn import distributed
        if not (use_batch and distributed.is_initialized() and
                distributed.get_world_size() > 1):
            return super()._normalize(input, use_batch, factor)
        from minicnn.distributed.process_group import _default_group
        from minicnn.distributed.sync_batch_norm import SyncBatchNormFn
        input = float_tensor_arg(input, "input")
        return SyncBatchNormFn.apply(
            input, self.weight, self.bias,
            None if self.running_mean is None else self.running_mean._data,
            None if self.running_var is None else self.running_var._data,
            factor, self.eps, _default_group())

    @classmethod
    def convert_sync_batchnorm(cls, module, process_group=None):
        """``module`` with every BatchNorm1d/2d replaced by a SyncBatchNorm holding the same
        parameters and buffers (returned; a BatchNorm given itself is returned converted)."""
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            converted = cls(module.num_features, module.eps, module.momentum, module.affine,
                            module.track_running_stats, process_group)
            for name in ("weight", "bias"):
                if getattr(module, name, None) is not None:
                    setattr(converted, name, getattr(module, name))
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                setattr(converted, name, getattr(module, name))
            converted.train(module.training)
            return converted
        for name, child in list(module.named_children()):
            setattr(module, name, cls.convert_sync_batchnorm(child, process_group))
        return module


class LayerNorm(Module):
    """Layer normalisation over the last dimensions (``normalized_shape``) of each sample.

    Parameters
    ----------
    normalized_shape : int or tuple of int
        The trailing shape to normalise over.
    eps : float
    elementwise_affine : bool
        Learn ``weight`` (init 1) and ``bias`` (init 0) of shape ``normalized_shape``.
    bias : bool
        With ``elementwise_affine``, also learn the bias.
    device, dtype : ``'cpu'`` only; float32 or float64 (the default dtype if None)

    Shapes: (*, *normalized_shape) -> the same.
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True,
                 device=None, dtype=None):
        super().__init__()
        n = len(normalized_shape) if isinstance(normalized_shape, (tuple, list)) else 1
        self.normalized_shape = ntuple(normalized_shape, n, "normalized_shape", 1)
        self.eps = _eps(eps)
        self.elementwise_affine = check_bool(elementwise_affine, "elementwise_affine")
        bias = check_bool(bias, "bias")
        dtype = factory_dtype(device, dtype)
        if self.elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, input):
        """(*, *normalized_shape) -> the same shape."""
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class GroupNorm(Module):
    """Group normalisation: each sample's channels in ``num_groups`` groups, each normalised.

    Parameters
    ----------
    num_groups : int
        Divides ``num_channels``.
    num_channels : int
    eps : float
    affine : bool
        Learn a per-channel ``weight`` (init 1) and ``bias`` (init 0).
    device, dtype : ``'cpu'`` only; float32 or float64 (the default dtype if None)
    bias : bool, keyword-only
        With ``affine``, also learn the bias (False: ``bias`` is None).

    Shapes: (N, C, *) -> the same.
    """

    def __init__(self, num_groups, num_channels, eps=1e-5, affine=True, device=None,
                 dtype=None, *, bias=True):
        super().__init__()
        self.num_groups = check_int(num_groups, "num_groups", 1)
        self.num_channels = check_int(num_channels, "num_channels", 1)
        if self.num_channels % self.num_groups:
            raise ValueError(f"num_channels ({self.num_channels}) must be divisible by "
                             f"num_groups ({self.num_groups})")
        self.eps = _eps(eps)
        self.affine = check_bool(affine, "affine")
        bias = check_bool(bias, "bias")
        dtype = factory_dtype(device, dtype)
        if self.affine:
            self.weight = Parameter(np.ones(self.num_channels, dtype=dtype))
            if bias:
                self.bias = Parameter(np.zeros(self.num_channels, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def reset_parameters(self):
        """Weight 1, bias 0."""
        if self.affine:
            self.weight._data[...] = 1
            if self.bias is not None:
                self.bias._data[...] = 0

    def forward(self, input):
        """(N, C, *) -> the same shape."""
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}"
