"""``nn.DataParallel`` as a CPU-only PyTorch runs it (the wrapped module, run as it is), and
``DistributedDataParallel`` over the processes of ``minicnn.distributed``.

PyTorch's DataParallel splits each batch over the GPUs; with no GPU it keeps
``device_ids == []`` and calls the module directly, and so does minicnn (which has no GPU).
What scripts rely on is kept: the module is ``.module``, and the state_dict keys carry the
``module.`` prefix, so checkpoints saved from a wrapped model load as PyTorch's do.

>>> import minicnn.nn as nn
>>> model = nn.DataParallel(nn.Linear(2, 3))
>>> list(model.state_dict())
['module.weight', 'module.bias']
"""
import contextlib

from minicnn.autograd import is_grad_enabled
from minicnn.nn.module import Module

__all__ = ["DataParallel", "DistributedDataParallel"]


class DataParallel(Module):
    """Run ``module`` on the CPU, as ``torch.nn.DataParallel`` does where there is no GPU.

    Parameters
    ----------
    module : Module
        The model; kept as ``self.module``.
    device_ids, output_device : ignored
        As in a CPU-only PyTorch: with no GPU they are not used (``device_ids`` becomes []).
    dim : int
        The batch dimension a GPU run would split (kept, unused).
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DataParallel wraps a Module, got {type(module).__name__}")
        self.module = module
        self.device_ids = []
        self.output_device = None
        self.dim = dim

    def forward(self, *inputs, **kwargs):
        """``self.module(*inputs, **kwargs)``."""
        return self.module(*inputs, **kwargs)


class DistributedDataParallel(Module):
    """Data-parallel training over the ranks of ``minicnn.distributed``, as
    ``torch.nn.parallel.DistributedDataParallel``.

    Every rank holds the whole model and runs it on its own share of each batch; after
    ``loss.backward()`` every parameter's ``.grad`` holds the mean of the ranks' gradients, so
    the optimizers (one per rank) take the same step and the models stay the same.

    At construction the ranks check that they built the same parameters (names, shapes, dtypes)
    and take rank 0's parameters and buffers. During backward the gradients are copied into
    flat buckets (parameters in reverse order, about ``bucket_cap_mb`` each); each bucket is
    all-reduced by a non-blocking MPI call as soon as its last gradient is ready, while backward
    goes on; the end of backward waits for them all (see ``minicnn/distributed/reducer.py``
    and docs/distributed.md).

    Parameters
    ----------
    module : Module
        The model; kept as ``self.module`` (state_dict keys carry the ``module.`` prefix).
    device_ids, output_device, dim : ignored
        As for a CPU model in PyTorch.
    broadcast_buffers : bool, default True
        Copy rank 0's buffers (BatchNorm's running statistics) to every rank at each forward.
    init_sync : bool, default True
        Take rank 0's parameters and buffers at construction.
    process_group : None
        Only the default group.
    bucket_cap_mb : float, optional
        Bucket size in MiB (default 25, as PyTorch's; the first bucket is at most 1 MiB).
    find_unused_parameters : bool, default False
        Allow parameters that some forward passes do not use: after each forward the graph is
        searched for them and they count as ready with a zero gradient; one that no rank used
        keeps its ``.grad`` as it was. Without it, a parameter that gets no gradient is a
        RuntimeError at the end of backward.
    check_reduction, gradient_as_bucket_view, static_graph :
        Accepted for PyTorch's signature; gradients are always copied out of the buckets.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0,
                 broadcast_buffers=True, init_sync=True, process_group=None, bucket_cap_mb=None,
                 find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        # imported here: minicnn.nn must not need the distributed package to load
        from minicnn.distributed.process_group import _check_group
        from minicnn.distributed.reducer import (Reducer, broadcast_tensors,
                                                 check_same_parameters)
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps a Module, got "
                            f"{type(module).__name__}")
        if bucket_cap_mb is None:
            bucket_cap_mb = 25
        if isinstance(bucket_cap_mb, bool) or not isinstance(bucket_cap_mb, (int, float)) \
                or not bucket_cap_mb > 0:
            raise ValueError(f"bucket_cap_mb must be a positive number, got {bucket_cap_mb!r}")
        group = _check_group(process_group)
        self.module = module
        self.device_ids, self.output_device, self.dim = [], None, dim
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.bucket_bytes_cap = int(bucket_cap_mb * 1024 * 1024)
        self.require_backward_grad_sync = True
        self.__dict__["_group"] = group     # plain attributes, outside the module's state
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        check_same_parameters(named, group)
        if init_sync:
            broadcast_tensors([p for _, p in module.named_parameters()]
                              + list(module.buffers()), 0, group,
                              "DistributedDataParallel's broadcast of rank 0's state")
        self.__dict__["reducer"] = Reducer(named, group, self.bucket_bytes_cap,
                                           self.find_unused_parameters)
        self.__dict__["_broadcast"] = broadcast_tensors

    def forward(self, *inputs, **kwargs):
        """Rank 0's buffers (with ``broadcast_buffers``), then ``self.module(*inputs)``; a forward
        with grad enabled outside ``no_sync()`` makes the next backward average the gradients."""
        buffers = list(self.module.buffers())
        if self.broadcast_buffers and buffers and self._group.size > 1:
            self._broadcast(buffers, 0, self._group,
                            "DistributedDataParallel's broadcast of rank 0's buffers")
        output = self.module(*inputs, **kwargs)
        if is_grad_enabled() and self.require_backward_grad_sync:
            self.reducer.prepare_for_backward(output)
        else:
            self.reducer.expect_hooks = False
        return output

    @contextlib.contextmanager
    def no_sync(self):
        """Inside this block, backward leaves each rank's gradients local (accumulated into
        ``.grad``); the first synchronised backward after it averages the sums."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous
