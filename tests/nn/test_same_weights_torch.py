"""Opt-in: a BatchNorm CNN with the same weights gives PyTorch's outputs, loss and gradients,
in training and in eval mode (skipped when torch is not importable)."""
import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
import minicnn.nn.functional as F

torch = pytest.importorskip("torch", reason="opt-in comparison: torch is not installed")


def _pair(rng):
    ours = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 4 * 4, 32), nn.BatchNorm1d(32), nn.ReLU(),
        nn.Linear(32, 10)).double()
    theirs = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1, bias=False), torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(8, 16, 3, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(16 * 4 * 4, 32),
        torch.nn.BatchNorm1d(32), torch.nn.ReLU(), torch.nn.Linear(32, 10)).double()
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    for name, value in state.items():
        if name.endswith("running_var"):
            value[...] = rng.uniform(0.5, 2.0, value.shape)
        elif value.dtype.kind == "f" and value.ndim:
            value[...] = rng.standard_normal(value.shape) * 0.3
    theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    ours.load_state_dict({k: np.array(v) for k, v in state.items()})
    return ours, theirs


def test_batchnorm_cnn_matches_pytorch_in_train_and_eval():
    rng = np.random.default_rng(0)
    ours, theirs = _pair(rng)
    for step in range(3):                       # running statistics accumulate over steps
        x = rng.standard_normal((6, 3, 16, 16))
        y = rng.integers(0, 10, 6)
        out_m = ours(minicnn.tensor(x, dtype=minicnn.float64))
        out_t = theirs(torch.tensor(x))
        np.testing.assert_allclose(out_m.data, out_t.detach().numpy(), rtol=1e-10, atol=1e-10)
        loss_m = F.cross_entropy(out_m, minicnn.tensor(y))
        loss_t = torch.nn.functional.cross_entropy(out_t, torch.tensor(y))
        np.testing.assert_allclose(loss_m.item(), loss_t.item(), rtol=1e-12)
        ours.zero_grad()
        theirs.zero_grad()
        loss_m.backward()
        loss_t.backward()
        grads_t = {n: p.grad.numpy() for n, p in theirs.named_parameters()}
        for name, p in ours.named_parameters():
            np.testing.assert_allclose(p.grad, grads_t[name], rtol=1e-9, atol=1e-11,
                                       err_msg=name)
    buffers_t = {n: b.numpy() for n, b in theirs.named_buffers()}
    for name, b in ours.named_buffers():
        np.testing.assert_allclose(b.data, buffers_t[name], rtol=1e-12, err_msg=name)
    ours.eval()
    theirs.eval()
    x = rng.standard_normal((4, 3, 16, 16))
    np.testing.assert_allclose(ours(minicnn.tensor(x, dtype=minicnn.float64)).data,
                               theirs(torch.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-10)
