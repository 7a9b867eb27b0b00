"""Attention: scaled_dot_product_attention, composed of differentiable ops (matmul, softmax,
dropout), so its gradients come from theirs.

    attention(Q, K, V) = softmax(Q @ K^T * scale + bias) @ V,   scale = 1 / sqrt(E)

with ``bias`` 0, -inf where a boolean ``attn_mask`` is False or above the diagonal when
``is_causal``, or a float ``attn_mask`` itself.
"""
import math

import numpy as np

from minicnn._checks import check_bool, check_real
from minicnn._tensor import Tensor, float_tensor_arg
from minicnn.nn.functional.dropout import dropout

__all__ = ["scaled_dot_product_attention"]


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False):
    """``softmax(query @ key^T * scale + mask) @ value``, as
    ``torch.nn.functional.scaled_dot_product_attention``.

    Parameters
    ----------
    query : Tensor (..., L, E); key : (..., S, E); value : (..., S, Ev)
    attn_mask : bool Tensor (True: may attend) or float Tensor (added), broadcastable to
        (..., L, S); not together with ``is_causal``
    dropout_p : float, the probability of dropping an attention weight (always applied when
        > 0, as PyTorch's: pass 0.0 in evaluation)
    is_causal : bool, position i attends to positions <= i only
    scale : float or None (1 / sqrt(E))
    enable_gqa : bool, key and value heads (dim -3) repeated to query's number of heads

    Returns
    -------
    Tensor (..., L, Ev)
    """
    query, key, value = (float_tensor_arg(t, n) for t, n in
                         ((query, "query"), (key, "key"), (value, "value")))
    for name, t in (("query", query), ("key", key), ("value", value)):
        if t.ndim < 2:
            raise ValueError(f"scaled_dot_product_attention: {name} must have at least 2 "
                             f"dimensions (..., sequence, embedding), got shape {t.shape}")
    if key.shape[-1] != query.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: query (..., L, E) {query.shape}, key "
                         f"(..., S, E) {key.shape} and value (..., S, Ev) {value.shape} do not "
                         f"fit")
    is_causal, enable_gqa = check_bool(is_causal, "is_causal"), check_bool(enable_gqa,
                                                                          "enable_gqa")
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: pass attn_mask or is_causal=True, not "
                         "both")
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        if query.shape[-3] % key.shape[-3]:
            raise ValueError(f"scaled_dot_product_attention: enable_gqa needs query's heads "
                             f"({query.shape[-3]}) to be a multiple of key's ({key.shape[-3]})")
        groups = query.shape[-3] // key.shape[-3]
        key = key.repeat_interleave(groups, dim=-3)
        value = value.repeat_interleave(groups, dim=-3)
    L, S = query.shape[-2], key.shape[-2]
    scale = 1 / math.sqrt(query.shape[-1]) if scale is None else check_real(scale, "scale")
    scores = (query @ key.transpose(-2, -1)) * scale
    if is_causal:
        allowed = np.tril(np.ones((L, S), dtype=bool))
        scores = scores.masked_fill(Tensor(~allowed), float("-inf"))
    elif attn_mask is not None:
        if not isinstance(attn_mask, Tensor):
            raise TypeError(f"attn_mask must be a Tensor, got {type(attn_mask).__name__}")
        if attn_mask.dtype.kind == "b":
            scores = scores.masked_fill(attn_mask.logical_not(), float("-inf"))
        else:
            scores = scores + attn_mask
    weights = scores.softmax(dim=-1)
    p = check_real(dropout_p, "dropout_p")
    if p > 0:
        weights = dropout(weights, p, training=True)
    return weights @ value
