"""Convolution: conv2d, conv1d, conv_transpose2d/1d; each Function above its wrapper."""
from minicnn import kernels as K
from minicnn._checks import INT_MAX, check_bias, check_int, check_output_padding, ntuple, pair
from minicnn._tensor import Function, float_tensor_arg
from minicnn.kernels.geometry import check_padded_sample
from minicnn.nn.functional._common import unbatched
from minicnn.nn.functional.padding import pad

__all__ = [
    "Conv2dFn", "conv2d", "ConvTranspose2dFn", "conv_transpose2d", "conv_transpose1d", "conv1d",
]


class Conv2dFn(Function):
    @staticmethod
    def forward(ctx, x, w, b, stride, padding, dilation, groups):
        ctx.geometry = (stride, padding, dilation, groups)
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None,
                              w if ctx.needs_input_grad[0] else None)
        ctx.x_shape, ctx.w_shape = x.shape, w.shape
        y = K.conv2d_forward(x, w, stride, padding, dilation, groups)
        if b is not None:
            y = K.bias_add(y, b)  # in place, parallel over the (n, o) planes
        return y

    @staticmethod
    def backward(ctx, grad_out):
        # grad_x = conv_transpose(grad_out, w); grad_w = sum_n corr(x, grad_out);
        # grad_b = sum over N, OH, OW of grad_out
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_x = (K.conv2d_backward_input(grad_out, w, ctx.x_shape, *ctx.geometry)
                  if need_x else None)
        grad_w = (K.conv2d_backward_weight(x, grad_out, ctx.w_shape, *ctx.geometry)
                  if need_w else None)
        grad_b = grad_out.sum(axis=(0, 2, 3)) if need_b else None
        return grad_x, grad_w, grad_b, None, None, None, None


@unbatched(4)
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation), as ``torch.nn.functional.conv2d``.

    Parameters
    ----------
    input : Tensor, shape (N, C, H, W), or (C, H, W) unbatched
    weight : Tensor, shape (O, C/G, KH, KW), same dtype
    bias : Tensor, shape (O,), optional
    stride, dilation : int or (int, int)
    padding : int, (int, int), 'valid' or 'same'
        'same' (stride 1 only) keeps H and W; an even kernel's odd pixel goes right/bottom.
    groups : int, divides C and O

    Returns
    -------
    Tensor, shape (N, O, OH, OW), OH = floor((H + 2*PH - DH*(KH-1) - 1) / SH) + 1
    """
    input = float_tensor_arg(input, "input", 4)
    weight = float_tensor_arg(weight, "weight", 4)
    if weight.dtype != input.dtype:
        raise TypeError(f"weight has dtype {weight.dtype} but input has {input.dtype}")
    bias = check_bias(bias, weight.shape[0], input.dtype)
    if isinstance(padding, str):
        padding, extra = _string_padding(padding, weight.shape[2:], dilation, stride)
        if any(extra):  # an even kernel's 'same': the odd pixel goes right/bottom, as PyTorch
            input = pad(input, (0, extra[1], 0, extra[0]))
    return Conv2dFn.apply(input, weight, bias, stride, padding, dilation, groups)


def _string_padding(padding, kernel, dilation, stride):
    """``padding='valid'`` (none) or ``'same'`` (output size = input size, stride 1 only) as
    the symmetric padding per axis and the extra pixel for the right/bottom side.

    The one owner of this rule (``nn.Conv1d``/``nn.Conv2d`` call it too).
    """
    n = len(kernel)
    if padding == "valid":
        return (0,) * n, (0,) * n
    if padding != "same":
        raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                         "{'valid', 'same'}")
    if any(s != 1 for s in ntuple(stride, n, "stride", 1)):
        raise ValueError("padding='same' is not supported for strided convolutions")
    totals = [d * (k - 1) for d, k in zip(ntuple(dilation, n, "dilation", 1), kernel)]
    return tuple(t // 2 for t in totals), tuple(t % 2 for t in totals)


class ConvTranspose2dFn(Function):
    @staticmethod
    def forward(ctx, x, w, b, y_shape, stride, padding, dilation, groups):
        # A transposed convolution is the input-gradient of the convolution whose input has
        # the shape of our output: the same kernel, run backwards.
        ctx.geometry = (stride, padding, dilation, groups)
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None,
                              w if ctx.needs_input_grad[0] else None)
        ctx.w_shape = w.shape
        y = K.conv2d_backward_input(x, w, y_shape, stride, padding, dilation, groups)
        if b is not None:
            y += b.reshape(1, -1, 1, 1)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        # grad_x = conv2d(grad_out, w); grad_w = conv2d_backward_weight with the roles of
        # input and output swapped (grad_out plays the conv input, x its output gradient)
        x, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_x = K.conv2d_forward(grad_out, w, *ctx.geometry) if need_x else None
        grad_w = (K.conv2d_backward_weight(grad_out, x, ctx.w_shape, *ctx.geometry)
                  if need_w else None)
        grad_b = grad_out.sum(axis=(0, 2, 3)) if need_b else None
        return grad_x, grad_w, grad_b, None, None, None, None, None


@unbatched(4)
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2-D transposed convolution, as ``torch.nn.functional.conv_transpose2d``.

    The adjoint of ``conv2d``: it maps a conv2d output back to the shape of its input.

    Parameters
    ----------
    input : Tensor, shape (N, C_in, H, W), or (C_in, H, W) unbatched
    weight : Tensor, shape (C_in, C_out/G, KH, KW) (PyTorch's layout for transposed convs)
    bias : Tensor, shape (C_out,), optional
    stride, padding, dilation : int or (int, int)
    output_padding : int or (int, int)
        Extra rows/columns added at the bottom/right of the output, to pick one of the
        output sizes a strided conv2d maps to the same input size. Must be >= 0 and
        < stride (minicnn's restriction; PyTorch also allows < dilation).
    groups : int

    Returns
    -------
    Tensor, shape (N, C_out, OH, OW), OH = (H-1)*SH - 2*PH + DH*(KH-1) + output_padding + 1
    """
    input = float_tensor_arg(input, "input", 4)
    weight = float_tensor_arg(weight, "weight", 4)
    if weight.dtype != input.dtype:
        raise TypeError(f"weight has dtype {weight.dtype} but input has {input.dtype}")
    G = check_int(groups, "groups", 1, INT_MAX)
    if input.shape[1] != weight.shape[0]:
        raise ValueError(f"weight must have shape (C_in, C_out/groups, KH, KW) with C_in = "
                         f"{input.shape[1]} (the input's channels), got {weight.shape}")
    (SH, SW), (PH, PW) = pair(stride, "stride", 1), pair(padding, "padding", 0)
    (DH, DW) = pair(dilation, "dilation", 1)
    (OPH, OPW) = pair(output_padding, "output_padding", 0)
    check_output_padding((OPH, OPW), (SH, SW))
    N, _, H, W = input.shape
    KH, KW = weight.shape[2:]
    out_shape = (N, weight.shape[1] * G,
                 (H - 1) * SH - 2 * PH + DH * (KH - 1) + OPH + 1,
                 (W - 1) * SW - 2 * PW + DW * (KW - 1) + OPW + 1)
    if min(out_shape[2:]) < 1:
        raise ValueError(f"conv_transpose2d output size {out_shape[2:]} is not positive: "
                         f"padding {padding!r} is too large for this input and kernel")
    # The kernel computes this output as the input-gradient of a conv2d: check its size here,
    # where it is the output.
    check_padded_sample(out_shape, PH, PW, padding, "conv_transpose2d output")
    bias = check_bias(bias, out_shape[1], input.dtype)
    return ConvTranspose2dFn.apply(input, weight, bias, out_shape, (SH, SW), (PH, PW), (DH, DW),
                                 G)


@unbatched(3)
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0,
                     groups=1, dilation=1):
    """1-D transposed convolution, as ``torch.nn.functional.conv_transpose1d`` (a
    conv_transpose2d of unit height).

    Parameters
    ----------
    input : Tensor, shape (N, C_in, L), or (C_in, L) unbatched
    weight : Tensor, shape (C_in, C_out/G, K)
    bias : Tensor, shape (C_out,), optional
    stride, padding, output_padding, dilation : int or (int,)
    groups : int

    Returns
    -------
    Tensor, shape (N, C_out, OL), OL = (L-1)*S - 2*P + D*(K-1) + output_padding + 1
    """
    input = float_tensor_arg(input, "input", 3)
    weight = float_tensor_arg(weight, "weight", 3)
    out = conv_transpose2d(input.unsqueeze(2), weight.unsqueeze(2), bias,
                           stride=(1,) + ntuple(stride, 1, "stride"),
                           padding=(0,) + ntuple(padding, 1, "padding"),
                           output_padding=(0,) + ntuple(output_padding, 1, "output_padding"),
                           groups=groups, dilation=(1,) + ntuple(dilation, 1, "dilation"))
    return out.squeeze(2)


@unbatched(3)
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution, as ``torch.nn.functional.conv1d`` (a conv2d of height 1).

    Parameters
    ----------
    input : Tensor, shape (N, C, L), or (C, L) unbatched
    weight : Tensor, shape (O, C/G, K)
    bias : Tensor, shape (O,), optional
    stride, dilation : int or (int,)
    padding : int, (int,), 'valid' or 'same'
    groups : int

    Returns
    -------
    Tensor, shape (N, O, OL), OL = floor((L + 2*P - D*(K-1) - 1) / S) + 1
    """
    input = float_tensor_arg(input, "input", 3)
    weight = float_tensor_arg(weight, "weight", 3)
    out = conv2d(input.unsqueeze(2), weight.unsqueeze(2), bias,
                 stride=(1,) + ntuple(stride, 1, "stride"),
                 padding=(padding if isinstance(padding, str)
                          else (0,) + ntuple(padding, 1, "padding")),
                 dilation=(1,) + ntuple(dilation, 1, "dilation"), groups=groups)
    return out.squeeze(2)
