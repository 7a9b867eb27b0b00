"""Convolution: conv2d, conv1d, conv_transpose2d/1d; each Function above its wrapper."""
from minicnn import kernels as K
from minicnn._checks import check_bias, check_output_padding, ntuple, pair
from minicnn._tensor import Function, float_tensor_arg
from minicnn.kernels.geometry import ConvArgs, ConvGeometry
from minicnn.nn.functional._common import unbatched
from minicnn.nn.functional.padding import pad

__all__ = [
    "Conv2dFn", "conv2d", "ConvTranspose2dFn", "conv_transpose2d", "conv_transpose1d", "conv1d",
]


class Conv2dFn(Function):
    @staticmethod
    def forward(ctx, x, w, b, geometry):
        # geometry: this call's ConvGeometry, checked once by the caller; the three kernels
        # share it and check nothing again.
        ctx.geometry = geometry
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None,
                              w if ctx.needs_input_grad[0] else None)
        y = K.conv2d_forward(x, w, geometry=geometry)
        if b is not None:
            y = K.bias_add(y, b)  # in place, parallel over the (n, o) planes
        return y

    @staticmethod
    def backward(ctx, grad_out):
        # grad_x = conv_transpose(grad_out, w); grad_w = sum_n corr(x, grad_out);
        # grad_b = sum over N, OH, OW of grad_out
        x, w = ctx.saved_tensors
        geo = ctx.geometry
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_x = (K.conv2d_backward_input(grad_out, w, geo.x_shape, geometry=geo)
                  if need_x else None)
        grad_w = (K.conv2d_backward_weight(x, grad_out, geo.w_shape, geometry=geo)
                  if need_w else None)
        grad_b = grad_out.sum(axis=(0, 2, 3)) if need_b else None
        return grad_x, grad_w, grad_b, None


def _conv_tensors(input, weight, bias, ndim):
    """``input``, ``weight`` (``ndim``-D float Tensors of one dtype) and ``bias`` checked."""
    input = float_tensor_arg(input, "input", ndim)
    weight = float_tensor_arg(weight, "weight", ndim)
    if weight.dtype != input.dtype:
        raise TypeError(f"weight has dtype {weight.dtype} but input has {input.dtype}")
    return input, weight, check_bias(bias, weight.shape[0], input.dtype)


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
    input, weight, bias = _conv_tensors(input, weight, bias, 4)
    args, extra = conv_args(stride, padding, dilation, groups, weight.shape[2:])
    return _conv2d(input, weight, bias, args, extra)


def conv_args(stride, padding, dilation, groups, kernel):
    """The checked settings of a 2-D conv with a ``kernel`` (KH, KW): a ``ConvArgs`` and the
    extra right/bottom pixel of an even kernel's ``padding='same'`` (else (0, 0)).

    What depends only on these settings, computed once: ``F.conv2d`` calls this on every call,
    ``nn.Conv1d``/``nn.Conv2d`` once for as long as their settings stay the same.
    """
    if not isinstance(padding, str):
        return ConvArgs(stride, padding, dilation, groups), (0, 0)
    args = ConvArgs(stride, 0, dilation, groups)
    args.padding, extra = _string_padding(padding, kernel, args.dilation, args.stride)
    return args, extra


def _conv2d(input, weight, bias, args, extra=(0, 0)):
    """conv2d of checked 4-D tensors with checked ``args``: this call's one ConvGeometry."""
    if any(extra):  # an even kernel's 'same': the odd pixel goes right/bottom, as PyTorch
        input = pad(input, (0, extra[1], 0, extra[0]))
    geometry = ConvGeometry.from_args(tuple(input.shape), tuple(weight.shape), args)
    return Conv2dFn.apply(input, weight, bias, geometry)


@unbatched(4)
def _conv2d_layer(input, weight, bias, args, extra):
    """conv2d with a layer's settings already checked (``conv_args``): the tensors are the
    call's own, so they are checked here."""
    input, weight, bias = _conv_tensors(input, weight, bias, 4)
    return _conv2d(input, weight, bias, args, extra)


@unbatched(3)
def _conv1d_layer(input, weight, bias, args, extra):
    """conv1d with a layer's settings already checked, as the 2-D ``conv_args`` of a conv of
    height 1 (the form ``conv1d`` runs as)."""
    input, weight, bias = _conv_tensors(input, weight, bias, 3)
    return _conv2d(input.unsqueeze(2), weight.unsqueeze(2), bias, args, extra).squeeze(2)


def _string_padding(padding, kernel, dilation, stride):
    """``padding='valid'`` (none) or ``'same'`` (output size = input size, stride 1 only) as
    the symmetric padding per axis and the extra pixel for the right/bottom side.

    ``kernel``, ``dilation`` and ``stride`` are tuples of checked ints, one per axis. The one
    owner of this rule (``nn.Conv1d``/``nn.Conv2d`` call it too).
    """
    n = len(kernel)
    if padding == "valid":
        return (0,) * n, (0,) * n
    if padding != "same":
        raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                         "{'valid', 'same'}")
    if any(s != 1 for s in stride):
        raise ValueError("padding='same' is not supported for strided convolutions")
    totals = [d * (k - 1) for d, k in zip(dilation, kernel)]
    return tuple(t // 2 for t in totals), tuple(t % 2 for t in totals)


class ConvTranspose2dFn(Function):
    @staticmethod
    def forward(ctx, x, w, b, geometry):
        # A transposed convolution is the input-gradient of the convolution whose input has
        # the shape of our output: the same kernel, run backwards. geometry is that conv's.
        ctx.geometry = geometry
        ctx.save_for_backward(x if ctx.needs_input_grad[1] else None,
                              w if ctx.needs_input_grad[0] else None)
        y = K.conv2d_backward_input(x, w, geometry.x_shape, geometry=geometry)
        if b is not None:
            y += b.reshape(1, -1, 1, 1)
        return y

    @staticmethod
    def backward(ctx, grad_out):
        # grad_x = conv2d(grad_out, w); grad_w = conv2d_backward_weight with the roles of
        # input and output swapped (grad_out plays the conv input, x its output gradient)
        x, w = ctx.saved_tensors
        geo = ctx.geometry
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        grad_x = K.conv2d_forward(grad_out, w, geometry=geo) if need_x else None
        grad_w = (K.conv2d_backward_weight(grad_out, x, geo.w_shape, geometry=geo)
                  if need_w else None)
        grad_b = grad_out.sum(axis=(0, 2, 3)) if need_b else None
        return grad_x, grad_w, grad_b, None


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
    input, weight = _conv_tensors(input, weight, None, 4)[:2]
    args = ConvArgs(stride, padding, dilation, groups)
    return _conv_transpose2d(input, weight, bias, args,
                             pair(output_padding, "output_padding", 0))


def _conv_transpose2d(input, weight, bias, args, output_padding):
    """conv_transpose2d of checked 4-D tensors with checked ``args`` and ``output_padding``
    (a pair of ints): this call's one ConvGeometry."""
    if input.shape[1] != weight.shape[0]:
        raise ValueError(f"weight must have shape (C_in, C_out/groups, KH, KW) with C_in = "
                         f"{input.shape[1]} (the input's channels), got {weight.shape}")
    (SH, SW), (PH, PW), (DH, DW) = args.stride, args.padding, args.dilation
    (OPH, OPW) = output_padding
    check_output_padding(output_padding, args.stride)
    N, _, H, W = input.shape
    KH, KW = weight.shape[2:]
    out_shape = (N, weight.shape[1] * args.groups,
                 (H - 1) * SH - 2 * PH + DH * (KH - 1) + OPH + 1,
                 (W - 1) * SW - 2 * PW + DW * (KW - 1) + OPW + 1)
    if min(out_shape[2:]) < 1:
        raise ValueError(f"conv_transpose2d output size {out_shape[2:]} is not positive: "
                         f"padding {args.padding} is too large for this input and kernel")
    # The kernel computes this output as the input-gradient of a conv2d: that conv's geometry
    # (its input is our output) is checked here, once, and handed to the three kernels.
    geometry = ConvGeometry.from_args(out_shape, tuple(weight.shape), args,
                                      sample="conv_transpose2d output")
    bias = check_bias(bias, out_shape[1], input.dtype)
    return ConvTranspose2dFn.apply(input, weight, bias, geometry)


@unbatched(4)
def _conv_transpose2d_layer(input, weight, bias, args, output_padding):
    """conv_transpose2d with a layer's settings already checked (``conv_args``)."""
    input, weight = _conv_tensors(input, weight, None, 4)[:2]
    return _conv_transpose2d(input, weight, bias, args, output_padding)


@unbatched(3)
def _conv_transpose1d_layer(input, weight, bias, args, output_padding):
    """conv_transpose1d with a layer's settings already checked, as the 2-D ``conv_args``
    and ``output_padding`` of a transposed conv of height 1."""
    input, weight = _conv_tensors(input, weight, None, 3)[:2]
    return _conv_transpose2d(input.unsqueeze(2), weight.unsqueeze(2), bias, args,
                             output_padding).squeeze(2)


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
