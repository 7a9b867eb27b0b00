"""Embedding lookups (embedding, embedding_bag), as ``torch.nn.functional``; each Function above
its wrapper.

A lookup is a row gather ``weight[input]``; its gradient is a scatter-add of ``grad_out`` into
the looked-up rows (``np.add.at``, so an index used twice gets both contributions).
"""
import numpy as np

from minicnn._checks import check_real
from minicnn._tensor import Function, as_tensor_arg, float_tensor_arg

__all__ = ["EmbeddingFn", "embedding", "EmbeddingBagFn", "embedding_bag"]


def _indices(input, name="input"):
    """The index array of an integer tensor (PyTorch's Long/Int), as int64."""
    input = as_tensor_arg(input, name)
    if input.dtype.kind not in "iu":
        raise TypeError(f"Expected tensor for argument #1 'indices' to have one of the "
                        f"following scalar types: Long, Int; but got {input.dtype} instead "
                        f"(while checking arguments for embedding)")
    return input._data.astype(np.int64, copy=False)


def _check_weight(weight):
    weight = float_tensor_arg(weight, "weight")
    if weight.ndim != 2:
        raise ValueError(f"'weight' must be 2-D (num_embeddings, embedding_dim), got shape "
                         f"{weight.shape}")
    return weight


def _check_range(idx, num):
    if idx.size and (idx.min() < 0 or idx.max() >= num):
        raise IndexError("index out of range in self")


def _padding_idx(padding_idx, num):
    """A padding_idx in [-num, num) as a row number (negative counts from the end), or None."""
    if padding_idx is None:
        return None
    if not -num <= padding_idx < num:
        raise AssertionError("Padding_idx must be within num_embeddings")
    return padding_idx % num


def _renorm_(weight, idx, max_norm, norm_type):
    """PyTorch's ``embedding_renorm_``: rows of ``weight`` that ``idx`` looks up and whose
    ``norm_type``-norm exceeds ``max_norm`` are scaled in place to norm ``max_norm``
    (``max_norm / (norm + 1e-7)``), outside autograd, as PyTorch does under no_grad."""
    max_norm = check_real(max_norm, "max_norm")
    norm_type = check_real(norm_type, "norm_type")
    rows = np.unique(idx)
    data = weight._data
    norms = np.linalg.norm(data[rows], ord=norm_type, axis=1)
    big = norms > max_norm
    if big.any():
        scale = max_norm / (norms[big] + 1e-7)
        data[rows[big]] *= scale[:, None].astype(data.dtype)
        weight._version_box[0] += 1  # a graph that saved the old rows must not use them now


class EmbeddingFn(Function):
    @staticmethod
    def forward(ctx, weight, idx, padding_idx, scale_grad_by_freq):
        ctx.idx, ctx.num, ctx.padding_idx = idx, weight.shape[0], padding_idx
        ctx.scale_grad_by_freq = scale_grad_by_freq
        return weight[idx]

    @staticmethod
    def backward(ctx, grad_out):
        # y[...] = W[idx[...]]: grad_W[r] = sum of grad_out over the positions where idx == r
        # (divided by that count with scale_grad_by_freq); the padding row gets none
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        idx = ctx.idx.reshape(-1)
        g = grad_out.reshape(idx.size, -1)
        if ctx.scale_grad_by_freq:
            counts = np.bincount(idx, minlength=ctx.num)
            g = g / counts[idx][:, None].astype(g.dtype)
        grad_w = np.zeros((ctx.num, g.shape[1]), dtype=grad_out.dtype)
        np.add.at(grad_w, idx, g)
        if ctx.padding_idx is not None:
            grad_w[ctx.padding_idx] = 0
        return grad_w, None, None, None


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """Look up rows of ``weight``: ``weight[input]``, as ``torch.nn.functional.embedding``.

    Parameters
    ----------
    input : integer Tensor, any shape (*)
        Row numbers in [0, num_embeddings).
    weight : Tensor, shape (num_embeddings, embedding_dim)
    padding_idx : int, optional
        That row gets no gradient (it is still looked up as it is).
    max_norm : float, optional
        Rows looked up whose ``norm_type``-norm exceeds it are rescaled to it, in place in
        ``weight``, before the lookup (PyTorch's renorm; not differentiated).
    norm_type : float
    scale_grad_by_freq : bool
        Divide each row's gradient by how often the row occurs in ``input``.
    sparse : bool
        Must be False (minicnn has no sparse gradients).

    Returns
    -------
    Tensor, shape (*, embedding_dim)
    """
    idx = _indices(input)
    weight = _check_weight(weight)
    num = weight.shape[0]
    padding_idx = _padding_idx(padding_idx, num)
    if sparse:
        raise NotImplementedError("sparse gradients are not supported (sparse=True)")
    _check_range(idx, num)
    if max_norm is not None:
        _renorm_(weight, idx, max_norm, norm_type)
    return EmbeddingFn.apply(weight, idx, padding_idx, bool(scale_grad_by_freq))


class EmbeddingBagFn(Function):
    @staticmethod
    def forward(ctx, weight, psw, idx, bag, n_bags, mode, scale_grad_by_freq):
        # idx, bag: the (non-padding) indices and the bag of each, bags in increasing order
        rows = weight[idx] if psw is None else weight[idx] * psw[:, None]
        out = np.zeros((n_bags, weight.shape[1]), dtype=weight.dtype)
        counts = np.bincount(bag, minlength=n_bags)
        if mode == "max":
            full = counts > 0
            starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[full]
            if starts.size:
                out[full] = np.maximum.reduceat(rows, starts, axis=0)
                # the first entry of each bag reaching the max, per column: who gets the grad
                pos = np.where(rows == out[bag], np.arange(len(idx))[:, None], len(idx))
                ctx.argmax = (full, np.minimum.reduceat(pos, starts, axis=0))
            else:
                ctx.argmax = (full, np.zeros((0, weight.shape[1]), dtype=np.int64))
        else:
            np.add.at(out, bag, rows)
            if mode == "mean":
                out /= np.maximum(counts, 1)[:, None].astype(out.dtype)
        ctx.save_for_backward(weight, *(() if psw is None else (psw,)))
        ctx.idx, ctx.bag, ctx.counts, ctx.mode = idx, bag, counts, mode
        ctx.scale_grad_by_freq = scale_grad_by_freq
        return out

    @staticmethod
    def backward(ctx, grad_out):
        # sum: out[b] = sum_{i in b} s_i W[idx_i] -> grad_W[idx_i] += s_i g[b], grad_s_i =
        # g[b].W[idx_i]; mean divides by the bag's size; max routes g[b, d] to the argmax row
        weight, *psw = ctx.saved_tensors
        psw = psw[0] if psw else None
        idx, bag = ctx.idx, ctx.bag
        grad_w = grad_psw = None
        if ctx.mode == "max":
            full, first = ctx.argmax
            grad_w = np.zeros_like(weight)
            cols = np.broadcast_to(np.arange(weight.shape[1]), first.shape)
            np.add.at(grad_w, (idx[first], cols), grad_out[full])
            return grad_w, None, None, None, None, None, None
        g = grad_out[bag]
        if ctx.mode == "mean":
            g = g / np.maximum(ctx.counts, 1)[bag][:, None].astype(g.dtype)
        if ctx.needs_input_grad[0]:
            gw = g if psw is None else g * psw[:, None]
            if ctx.scale_grad_by_freq:
                freq = np.bincount(idx, minlength=weight.shape[0])
                gw = gw / freq[idx][:, None].astype(gw.dtype)
            grad_w = np.zeros_like(weight)
            np.add.at(grad_w, idx, gw)
        if psw is not None and ctx.needs_input_grad[1]:
            grad_psw = (g * weight[idx]).sum(axis=1)
        return grad_w, grad_psw, None, None, None, None, None


_MODES = ("sum", "mean", "max")


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False,
                  mode="mean", sparse=False, per_sample_weights=None, include_last_offset=False,
                  padding_idx=None):
    """Sum, mean or max of bags of embeddings, as ``torch.nn.functional.embedding_bag``
    (``embedding`` followed by a reduction per bag, without the (*, D) intermediate).

    Parameters
    ----------
    input : integer Tensor, shape (B, L) or (M,)
        2-D: B bags of L indices each (``offsets`` must be None). 1-D: all bags one after the
        other, cut by ``offsets``.
    weight : Tensor, shape (num_embeddings, D)
    offsets : integer Tensor, shape (B,) (or (B+1,) with ``include_last_offset``)
        Where each bag starts in ``input``; ``offsets[0]`` must be 0. An empty bag gives zeros.
    max_norm, norm_type, scale_grad_by_freq, sparse :
        As :func:`embedding`.
    mode : {'sum', 'mean', 'max'}
    per_sample_weights : float Tensor of ``input``'s shape, optional
        Weights of the looked-up rows (mode 'sum' only).
    include_last_offset : bool
        ``offsets`` has one more entry, the end of the last bag.
    padding_idx : int, optional
        Entries equal to it are left out of their bag (and of the mean's count).

    Returns
    -------
    Tensor, shape (B, D)
    """
    idx = _indices(input)
    weight = _check_weight(weight)
    num = weight.shape[0]
    if mode not in _MODES:
        raise ValueError("mode has to be one of sum, mean or max")
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(
                f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                f"supported for mode='sum' (got mode='{mode}').")
        per_sample_weights = float_tensor_arg(per_sample_weights, "per_sample_weights")
        if per_sample_weights.shape != idx.shape:
            raise ValueError(f"embedding_bag: If per_sample_weights ({per_sample_weights.shape})"
                             f" is not None, then it must have the same shape as the input "
                             f"({idx.shape})")
        if per_sample_weights.dtype != weight.dtype:
            raise TypeError(f"per_sample_weights has dtype {per_sample_weights.dtype} but "
                            f"weight has {weight.dtype}")
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated "
                             "is a mini-batch of fixed length sequences.")
        n_bags = idx.shape[0]
        bag = np.repeat(np.arange(n_bags), idx.shape[1])
        idx = idx.reshape(-1)
    elif idx.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        offs = _indices(offsets, "offsets")
        if offs.ndim != 1:
            raise ValueError(f"offsets has to be a 1D Tensor, but got Tensor of dimension "
                             f"{offs.ndim}")
        if offs.size and offs[0] != 0:
            raise ValueError(f"offsets[0] has to be 0, i.e., the first sequence in the "
                             f"mini-batch has to start from position 0. However, got {offs[0]}")
        if np.any(np.diff(offs) < 0) or (offs.size and offs[-1] > idx.size):
            raise ValueError(f"offsets must be non-decreasing and at most the input's length "
                             f"({idx.size}), got {offs.tolist()}")
        ends = np.append(offs[1:], idx.size)
        if include_last_offset:
            offs, ends = offs[:-1], offs[1:]
        n_bags = offs.size
        bag = np.repeat(np.arange(n_bags), ends - offs)
        idx = idx[:bag.size]
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{idx.ndim}")
    if sparse:
        raise NotImplementedError("sparse gradients are not supported (sparse=True)")
    _check_range(idx, num)
    padding_idx = _padding_idx(padding_idx, num)
    keep = slice(None) if padding_idx is None else idx != padding_idx
    if max_norm is not None:
        _renorm_(weight, idx, max_norm, norm_type)
    psw = None
    if per_sample_weights is not None:
        psw = per_sample_weights.reshape(-1)[:len(bag)]
        if padding_idx is not None:
            psw = psw[np.flatnonzero(keep)]
    return EmbeddingBagFn.apply(weight, psw, idx[keep], bag[keep], n_bags=n_bags, mode=mode,
                                scale_grad_by_freq=bool(scale_grad_by_freq))
