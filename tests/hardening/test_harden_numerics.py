"""Numerics: the softmax losses stay finite for huge logits, and NaN/Inf never reaches the
weights silently (refused in the data, or training stops before optimizer.step())."""
import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
import minicnn.nn.functional as F
import minicnn.optim as optim
from minicnn import datasets
from minicnn.utils.data import DataLoader, TensorDataset
from minicnn.__main__ import main
from minicnn.cli.train import train_one_epoch


def reference_cross_entropy(logits, target):
    """Per-sample -log softmax(logits)[target], by log-sum-exp in float64."""
    logits = logits.astype(np.float64)
    m = logits.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(logits - m).sum(axis=1))
    return lse - logits[np.arange(len(target)), target]


SCALES = [(np.float32, 1e4), (np.float32, 1e30), (np.float64, 1e4), (np.float64, 1e300)]


@pytest.mark.parametrize("dtype, scale", SCALES)
def test_softmax_family_finite_for_huge_logits(dtype, scale):
    rng = np.random.default_rng(0)
    # Rows mixing +-scale with ordinary values, a row of equal huge values, a row of zeros.
    logits = np.concatenate([scale * rng.choice([-1.0, 1.0, 0.5, 0.0], (6, 5)),
                             np.full((1, 5), scale), np.full((1, 5), -scale), np.zeros((1, 5))])
    target = rng.integers(0, 5, len(logits))
    for fn in (lambda t: F.log_softmax(t, 1), lambda t: F.softmax(t, 1),
               lambda t: F.cross_entropy(t, target, reduction="none"),
               lambda t: F.nll_loss(F.log_softmax(t, 1), target, reduction="sum")):
        x = minicnn.tensor(logits, dtype=dtype, requires_grad=True)
        y = fn(x)
        assert y.dtype == dtype and np.isfinite(y.detach().numpy()).all()
        (y * minicnn.tensor(rng.standard_normal(y.shape), dtype=dtype)).sum().backward()
        assert np.isfinite(x.grad.numpy()).all()
    x = minicnn.tensor(logits, dtype=dtype, requires_grad=True)
    loss = F.cross_entropy(x, target)
    loss.backward()
    np.testing.assert_allclose(loss.item(), reference_cross_entropy(logits.astype(dtype),
                                                                    target).mean(), rtol=1e-6)
    # The gradient of the mean loss is (softmax - onehot) / N: each row sums to zero.
    np.testing.assert_allclose(x.grad.numpy().astype(np.float64).sum(axis=1), 0, atol=1e-6)
    p = np.exp(F.log_softmax(minicnn.tensor(logits, dtype=dtype), 1).numpy())
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-6)


# ---------------------------------------------------------------------------------------------
# NaN in the data, NaN in the loss, NaN in a gradient
# ---------------------------------------------------------------------------------------------

class Tiny(nn.Module):
    """Flatten + Linear(16 -> 10): quick to train, enough to carry NaN forward."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        return self.fc(x.flatten(1))


def make_run(nan_at=None, n=64, seed=0):
    """A model, its SGD optimizer with momentum, and an unshuffled loader of batches of 8."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1, 4, 4)).astype(np.float32)
    if nan_at is not None:
        x[nan_at, 0, 1, 2] = np.nan
    y = rng.integers(0, 10, n)
    minicnn.manual_seed(seed)
    model = Tiny()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return model, opt, DataLoader(TensorDataset(x, y), batch_size=8)


def snapshot(model, opt):
    return ({k: np.array(v) for k, v in model.state_dict().items()},
            {k: np.array(v) for k, v in opt.state_dict()["state"].get(0, {}).items()
             if isinstance(v, np.ndarray)})


@pytest.mark.parametrize("nan_at", [0, 21])
def test_nan_in_a_batch_stops_training_before_the_step(nan_at):
    model, opt, loader = make_run(nan_at)
    bad_batch = nan_at // 8 + 1
    with pytest.raises(FloatingPointError,
                       match=rf"epoch 3, batch {bad_batch} of 8: the loss is nan"):
        train_one_epoch(model, loader, opt, epoch=3)
    # The weights and the momentum are exactly those after the batches before the bad one.
    twin, twin_opt, _ = make_run()
    clean = TensorDataset(*(a[:8 * (bad_batch - 1)] for a in loader.dataset.arrays))
    if len(clean):
        train_one_epoch(twin, DataLoader(clean, batch_size=8), twin_opt)
    got, want = snapshot(model, opt), snapshot(twin, twin_opt)
    for part in (0, 1):
        assert got[part].keys() == want[part].keys()
        for name in got[part]:
            assert np.isfinite(got[part][name]).all()
            np.testing.assert_array_equal(got[part][name], want[part][name], err_msg=name)


class SqrtRelu(nn.Module):
    """sqrt(relu(x)): finite forward, but d/dx at x < 0 is inf * 0 = NaN."""

    def forward(self, x):
        return F.relu(x).sqrt()


def test_nan_gradient_with_a_finite_loss_stops_training_naming_the_parameter():
    minicnn.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 10), SqrtRelu())
    opt = optim.SGD(model.parameters(), lr=0.1)
    before = {k: np.array(v) for k, v in model.state_dict().items()}
    rng = np.random.default_rng(1)
    loader = DataLoader(TensorDataset(
        rng.standard_normal((8, 1, 4, 4)).astype(np.float32), rng.integers(0, 10, 8)),
        batch_size=8)
    with np.errstate(all="ignore"), pytest.raises(
            FloatingPointError, match=r"batch 1 of 1: the gradient of 1\.(weight|bias) holds "
                                      r"NaN/Inf although the loss \([0-9.]+\) is finite"):
        train_one_epoch(model, loader, opt)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_check_finite_names_the_array_and_the_first_bad_sample():
    x = np.zeros((10000, 3), np.float32)
    x[[9000, 9500], 1] = [np.inf, np.nan]
    with pytest.raises(ValueError, match=r"mine: array 0 \(float32, shape \(10000, 3\)\) holds "
                                         r"NaN or Inf in 2 of 10000 samples, first in sample "
                                         r"9000"):
        datasets.check_finite(TensorDataset(x, np.arange(10000)), "mine")
    datasets.check_finite(TensorDataset(np.zeros((0, 2)), np.zeros(0)))  # empty: fine
    datasets.check_finite(TensorDataset(np.arange(3)))                   # integers: fine
    with pytest.raises(TypeError, match="TensorDataset"):
        datasets.check_finite([1.0, np.nan])


def _cli(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(autouse=True)
def restore_threads():
    previous = minicnn.get_num_threads()
    yield
    minicnn.set_num_threads(previous)


def test_cli_refuses_a_dataset_with_nan(capsys, monkeypatch):
    real = datasets.load_digits

    def digits_with_a_nan(split="both"):
        train, test = real(split)
        images = train.arrays[0].copy()
        images[7, 0, 3, 3] = np.nan
        return TensorDataset(images, train.arrays[1]), test

    monkeypatch.setattr(datasets, "load_digits", digits_with_a_nan)
    status, _, err = _cli(capsys, "train", "--quiet", "--epochs", 1, "--threads", 1)
    assert status == 2 and "Traceback" not in err
    assert "dataset digits (train split): array 0" in err and "first in sample 7" in err


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_cli_stops_a_diverging_run_with_exit_status_1(capsys, tmp_path):
    ckpt = tmp_path / "run.npz"
    status, _, err = _cli(capsys, "train", "--quiet", "--limit", 256, "--test-limit", 64,
                          "--epochs", 2, "--threads", 1, "--lr", "1e30", "--checkpoint", ckpt)
    assert status == 1 and "Traceback" not in err
    assert "epoch 1, batch" in err and "not finite" in err and "optimizer.step()" in err
    assert not ckpt.exists()  # no epoch finished: nothing (and nothing NaN) was saved
