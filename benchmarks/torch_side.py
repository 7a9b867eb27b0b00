"""The PyTorch side of the comparison: the same conv passes and LeNet step, on the same arrays.

PyTorch is optional: :func:`import_torch` says why it is missing, and callers leave its column out.
"""
import numpy as np

from minicnn.cli.bench import lenet_batch


def import_torch():
    """``(torch, "")``, or ``(None, why)`` when PyTorch is not installed.

    Only a missing module counts as "not installed"; a broken install raises, so that a
    comparison never loses its PyTorch column without saying why.
    """
    try:
        import torch
    except ImportError as exc:
        return None, f"PyTorch is not installed ({exc})"
    return torch, ""


def torch_calls(torch, layer, x, w, grad_out):
    """``{pass: call}`` of PyTorch on ``layer``'s arrays: forward, forward_backward,
    backward_input and backward_weight, each computing what minicnn's kernels compute."""
    # The very same arrays, shared with NumPy (from_numpy does not copy).
    xt, wt, gt = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(grad_out)
    s, p = [layer.S] * 2, [layer.P] * 2
    conv = torch.nn.functional.conv2d
    conv_backward = torch.ops.aten.convolution_backward

    def backward(mask):
        # The backward op autograd calls for conv2d; the mask picks (grad_x, grad_w, grad_b).
        return conv_backward(gt, xt, wt, None, s, p, [1, 1], False, [0, 0], 1, mask)

    def forward():
        with torch.no_grad():
            return conv(xt, wt, None, s, p)

    def backward_input():
        with torch.no_grad():
            return backward([True, False, False])[0]

    def backward_weight():
        with torch.no_grad():
            return backward([False, True, False])[1]

    def forward_backward():
        # The same three results minicnn computes, grad_x and grad_w in one backward call.
        with torch.no_grad():
            y = conv(xt, wt, None, s, p)
            gx, gw, _ = backward([True, True, False])
        return y, gx, gw

    return {"forward": forward, "forward_backward": forward_backward,
            "backward_input": backward_input, "backward_weight": backward_weight}


def torch_lenet_step(torch, batch, params):
    """A closure running one PyTorch LeNet training step, the model of ``minicnn.models.lenet``
    started from ``params`` (arrays, in ``parameters()`` order), on the same batch and optimizer."""
    nn = torch.nn
    model = nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1568, 10))
    with torch.no_grad():
        for p, a in zip(model.parameters(), params):
            p.copy_(torch.from_numpy(np.ascontiguousarray(a)))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = (torch.from_numpy(a) for a in lenet_batch(batch))

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step
