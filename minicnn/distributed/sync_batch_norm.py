"""SyncBatchNorm's op: batch normalisation whose statistics are those of the whole batch, all
ranks' shares together (``torch.nn.SyncBatchNorm``'s function).

Each rank sends its per-channel count, mean and sum of squared deviations; every rank merges
them in rank order (Chan's parallel formula), so every rank gets the same bits. Backward
exchanges the two per-channel sums the input gradient needs in the same way.
"""
import numpy as np

from minicnn._tensor import Function
from minicnn.distributed.process_group import wait_all

__all__ = ["SyncBatchNormFn"]


def _gather_rows(row, group, what):
    """Every rank's ``row`` (a 1-D float64 array of one length), stacked by rank."""
    table = np.empty((group.size, row.size), np.float64)
    wait_all([group.comm.Iallgather(np.ascontiguousarray(row, np.float64), table)], what, group)
    return table


class SyncBatchNormFn(Function):
    @staticmethod
    def forward(ctx, x, w, b, running_mean, running_var, momentum, eps, group):
        axes = (0,) + tuple(range(2, x.ndim))
        C = x.shape[1]
        cshape = (1, C) + (1,) * (x.ndim - 2)
        n = x.size // C
        mean = x.mean(axis=axes, dtype=np.float64)
        centred = x - mean.reshape(cshape)
        m2 = (centred * centred).sum(axis=axes, dtype=np.float64)
        table = _gather_rows(np.concatenate([[n], mean, m2]), group, "SyncBatchNorm's statistics")
        counts, means, m2s = table[:, 0], table[:, 1:C + 1], table[:, C + 1:]
        total = counts.sum()
        # Chan et al.: merge (count, mean, M2) of each rank, in rank order
        g_mean = (counts[:, None] * means).sum(axis=0) / total
        g_m2 = (m2s + counts[:, None] * (means - g_mean) ** 2).sum(axis=0)
        var = g_m2 / total
        if running_mean is not None:   # in place, as batch_norm's: unbiased running variance
            running_mean *= 1 - momentum
            running_mean += (momentum * g_mean).astype(running_mean.dtype)
        if running_var is not None:
            running_var *= 1 - momentum
            running_var += (momentum * g_m2 / (total - 1)).astype(running_var.dtype)
        rstd = (1 / np.sqrt(var + eps)).astype(x.dtype).reshape(cshape)
        xhat = (x - g_mean.astype(x.dtype).reshape(cshape)) * rstd
        ctx.saved = (xhat, rstd, axes, w, total, group)
        y = xhat if w is None else xhat * w.reshape(cshape)
        return y if b is None else y + b.reshape(cshape)

    @staticmethod
    def backward(ctx, grad_out):
        # As batch_norm's, with the means over every rank's images:
        # grad_x = rstd * (g - sum(g) / M - x_hat * sum(g * x_hat) / M), g = grad_out * w,
        # the two sums all ranks' (M images in all); grad_w, grad_b this rank's (DDP averages)
        xhat, rstd, axes, w, total, group = ctx.saved
        cshape = rstd.shape
        g = grad_out if w is None else grad_out * w.reshape(cshape)
        local = np.concatenate([g.sum(axis=axes, dtype=np.float64),
                                (g * xhat).sum(axis=axes, dtype=np.float64)])
        sums = _gather_rows(local, group, "SyncBatchNorm's gradient").sum(axis=0)
        C = cshape[1]
        mean_g = (sums[:C] / total).astype(g.dtype).reshape(cshape)
        mean_gx = (sums[C:] / total).astype(g.dtype).reshape(cshape)
        grad_x = rstd * (g - mean_g - xhat * mean_gx) if ctx.needs_input_grad[0] else None
        need_w, need_b = ctx.needs_input_grad[1:3]
        grad_w = (grad_out * xhat).sum(axis=axes) if need_w else None
        grad_b = grad_out.sum(axis=axes) if need_b else None
        return grad_x, grad_w, grad_b, None, None, None, None, None
