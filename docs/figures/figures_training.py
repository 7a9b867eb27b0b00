"""The tutorial's and the data page's figures: training runs on the 8x8 digits, learning-rate
schedules, overfitting on a tiny subset, augmented samples and a model's shapes layer by layer."""
import contextlib
import io

import numpy as np

import minicnn
import minicnn.nn as nn
import minicnn.nn.functional as F
import minicnn.optim as optim
import minicnn.transforms as T
from minicnn.datasets import load_digits
from minicnn.models import digits_net
from minicnn.nn.utils import summary
from minicnn.optim import lr_scheduler
from minicnn.utils.data import DataLoader, TensorDataset

from _draw import _plt, _save


def _evaluate(model, data):
    model.eval()
    with minicnn.no_grad():
        images, labels = (minicnn.tensor(a) for a in data.arrays)
        logits = model(images)
        loss = F.cross_entropy(logits, labels).item()
        acc = float((logits.numpy().argmax(1) == labels.numpy()).mean())
    return loss, acc


def _train(model, train_set, test_set, epochs, lr, batch_size, schedule=True, eval_every=1):
    """SGD with momentum; with ``schedule`` the learning rate follows a cosine to zero."""
    opt = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loader = DataLoader(train_set, batch_size=batch_size, shuffle=True)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * len(loader)) if schedule else None
    history = []
    for epoch in range(epochs):
        model.train()
        for images, labels in loader:
            opt.zero_grad()
            F.cross_entropy(model(images), labels).backward()
            opt.step()
            if sched is not None:
                sched.step()
        if (epoch + 1) % eval_every == 0:
            row = {"epoch": epoch + 1}
            for name, data in (("train", train_set), ("test", test_set)):
                row[name + "_loss"], row[name + "_acc"] = _evaluate(model, data)
            history.append(row)
    return history


def _small_net():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(8 * 4 * 4, 10))


def training_figures(out_dir, epochs=6):
    """Curves of a stable run (cosine learning rate), conv1's filters, one digit's feature maps."""
    plt = _plt()
    minicnn.manual_seed(0)
    train_set, test_set = load_digits()
    model = _small_net()
    before = model[0].weight.detach().numpy().copy()
    history = _train(model, train_set, test_set, epochs, lr=0.05, batch_size=32)
    test_loss = [h["test_loss"] for h in history]
    # The sentence beside the figure: the loss falls on both splits, epoch after epoch.
    assert all(b < a for a, b in zip(test_loss, test_loss[1:])), test_loss
    paths = []
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3))
    ep = np.arange(1, len(history) + 1)
    for name, marker in (("train", "o-"), ("test", "s-")):
        a.plot(ep, [h[name + "_loss"] for h in history], marker, label=name)
        b.plot(ep, [100 * h[name + "_acc"] for h in history], marker, label=name)
    a.set(xlabel="epoch", ylabel="cross-entropy", title="loss"), a.legend()
    b.set(xlabel="epoch", ylabel="%", title="accuracy"), b.legend()
    for ax in (a, b):
        ax.set_xticks(ep)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    paths.append(_save(fig, out_dir, "training_curves"))
    # First-layer filters before/after, one shared zero-centred scale per row
    after = model[0].weight.detach().numpy()
    fig, axes = plt.subplots(2, 8, figsize=(10, 3.2))
    for row, (name, filt) in enumerate((("initial", before), (f"after {epochs} epochs", after))):
        m = np.abs(filt).max()
        for k in range(8):
            im = axes[row, k].imshow(filt[k, 0], cmap="RdBu_r", vmin=-m, vmax=m)
            axes[row, k].set_xticks([]), axes[row, k].set_yticks([])
        axes[row, 0].set_ylabel(name)
        fig.colorbar(im, ax=list(axes[row]), fraction=0.02, pad=0.01)
    fig.suptitle("conv1's eight 3x3 filters (red positive, blue negative, white 0)")
    paths.append(_save(fig, out_dir, "learned_filters"))
    # Feature maps of one test digit
    image = test_set.arrays[0][:1]
    with minicnn.no_grad():
        pre = model[0](minicnn.tensor(image)).numpy()[0]
    fig, axes = plt.subplots(2, 9, figsize=(12, 3.2))
    axes[0, 0].imshow(image[0, 0], cmap="Greys"), axes[0, 0].set_title("input")
    axes[1, 0].axis("off")
    m = np.abs(pre).max()
    for k in range(8):
        im = axes[0, k + 1].imshow(pre[k], cmap="RdBu_r", vmin=-m, vmax=m)
        axes[0, k + 1].set_title(f"conv1[{k}]")
        axes[1, k + 1].imshow(np.maximum(pre[k], 0), cmap="RdBu_r", vmin=-m, vmax=m)
    for ax in axes.ravel():
        ax.set_xticks([]), ax.set_yticks([])
    axes[1, 1].set_ylabel("after ReLU")
    fig.colorbar(im, ax=list(axes.ravel()), fraction=0.015, pad=0.01)
    paths.append(_save(fig, out_dir, "feature_maps"))
    return paths


def overfitting(out_dir, n_train=40, epochs=40):
    """A bigger net on 40 training digits, constant learning rate: train loss -> 0, test loss
    bottoms out and climbs back while the test accuracy stalls."""
    plt = _plt()
    minicnn.manual_seed(0)
    train_set, test_set = load_digits()
    tiny = TensorDataset(*(a[:n_train] for a in train_set.arrays))
    model = digits_net()
    history = _train(model, tiny, test_set, epochs, lr=0.05, batch_size=8, schedule=False,
                     eval_every=2)
    ep = [h["epoch"] for h in history]
    train_loss = [h["train_loss"] for h in history]
    test_loss = [h["test_loss"] for h in history]
    best = int(np.argmin(test_loss))
    # What the picture claims: memorised training set, test loss rising after its minimum.
    assert train_loss[-1] < 0.01 and test_loss[-1] > 1.2 * test_loss[best], (train_loss, test_loss)
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3))
    a.plot(ep, train_loss, "o-", ms=3, label=f"train ({n_train} digits)")
    a.plot(ep, test_loss, "s-", ms=3, label=f"test ({len(test_set)} digits)")
    a.axvline(ep[best], color="0.5", ls=":", label=f"lowest test loss (epoch {ep[best]})")
    a.set(xlabel="epoch", ylabel="cross-entropy", title="loss", yscale="log"), a.legend()
    b.plot(ep, [100 * h["train_acc"] for h in history], "o-", ms=3, label="train")
    b.plot(ep, [100 * h["test_acc"] for h in history], "s-", ms=3, label="test")
    b.set(xlabel="epoch", ylabel="%", title="accuracy"), b.legend()
    for ax in (a, b):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save(fig, out_dir, "overfitting")


def lr_schedules(out_dir, steps=100):
    """The learning rate per step of five schedulers, read from a real optimizer."""
    plt = _plt()

    def run(make):
        opt = optim.SGD([nn.Parameter(minicnn.zeros(1))], lr=0.1, momentum=0.9)
        sched = make(opt)
        lrs = []
        for _ in range(steps):
            lrs.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return np.array(lrs)

    curves = {
        "StepLR(step_size=30, gamma=0.1)": lambda o: lr_scheduler.StepLR(o, 30, gamma=0.1),
        "ExponentialLR(gamma=0.97)": lambda o: lr_scheduler.ExponentialLR(o, 0.97),
        "CosineAnnealingLR(T_max=100)": lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=steps),
        "warm-up 10 (LinearLR) then cosine": lambda o: lr_scheduler.SequentialLR(
            o, [lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=10),
                lr_scheduler.CosineAnnealingLR(o, T_max=steps - 10)], milestones=[10]),
        "OneCycleLR(max_lr=0.1)": lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1,
                                                                    total_steps=steps),
    }
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for name, make in curves.items():
        lrs = run(make)
        assert lrs.max() <= 0.1 + 1e-12 and lrs.min() >= 0
        ax.plot(np.arange(steps), lrs, label=name)
    ax.set(xlabel="step (scheduler.step() once per batch or per epoch)", ylabel="learning rate",
           title="lr = optimizer.param_groups[0]['lr'] before each step, base lr 0.1")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, out_dir, "lr_schedules")


def augmented_digits(out_dir, n=7):
    """One digit, resized to 28x28, through four random transforms, n draws each."""
    plt = _plt()
    train_set, _ = load_digits()
    d = train_set.arrays[0][0, 0]
    digit = np.round((d - d.min()) / (d.max() - d.min()) * 255).astype(np.uint8)
    big = T.Resize(28)(np.pad(digit, 1))                 # a 1-pixel margin: room to move
    augments = {
        "RandomRotation(25)": T.RandomRotation(25),
        "RandomCrop(28, padding=4)": T.RandomCrop(28, padding=4),
        "RandomResizedCrop(28,\nscale=(0.5, 1))": T.RandomResizedCrop(28, scale=(0.5, 1.0)),
        "ColorJitter(brightness=0.6,\ncontrast=0.6)": T.ColorJitter(brightness=0.6, contrast=0.6),
    }
    minicnn.manual_seed(0)
    fig, axes = plt.subplots(len(augments), n + 1, figsize=(1.3 * (n + 1) + 1.2, 1.45 * len(augments)))
    for row, (name, t) in enumerate(augments.items()):
        axes[row, 0].imshow(big, cmap="Greys", vmin=0, vmax=255)
        axes[row, 0].set_title("original" if row == 0 else "")
        axes[row, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=8)
        for k in range(n):
            out = t(big)
            assert out.shape == big.shape and out.dtype == np.uint8
            axes[row, k + 1].imshow(out, cmap="Greys", vmin=0, vmax=255)
    for ax in axes.ravel():
        ax.set_xticks([]), ax.set_yticks([])
    fig.suptitle("One 8x8 digit (padded, resized to 28x28 by T.Resize) through minicnn.transforms: "
                 "each call draws new random parameters", y=1.0)
    return _save(fig, out_dir, "augmented_digits")


def network_shapes(out_dir):
    """digits_net drawn from one forward pass: every layer with the shape it outputs."""
    plt = _plt()
    model = digits_net()
    layers = []
    handles = [layer.register_forward_hook(
        lambda m, inputs, out: layers.append((m, tuple(inputs[0].shape), tuple(out.shape))))
        for layer in model]
    with minicnn.no_grad():
        model(minicnn.zeros(1, 1, 8, 8))
    for h in handles:
        h.remove()
    with contextlib.redirect_stdout(io.StringIO()):
        table = summary(model, (1, 1, 8, 8))
    total = sum(p.numel() for p in model.parameters())
    assert f"Total params: {total:,}" in table and len(layers) == len(model)
    fig, ax = plt.subplots(figsize=(13, 1.5))
    boxes = [("input", "", (1, 1, 8, 8))] + [
        (type(m).__name__, _layer_args(m), out) for m, _, out in layers]
    colours = {"Conv2d": "#dbe9f6", "Linear": "#dbe9f6", "ReLU": "#e8f4e0",
               "MaxPool2d": "#fde7c8", "Flatten": "#eeeeee", "input": "#ffffff"}
    for k, (name, args, shape) in enumerate(boxes):
        params = sum(p.numel() for p in layers[k - 1][0].parameters()) if k else 0
        text = f"{name}\n{args}\n" if args else f"{name}\n"
        text += f"-> {shape}" + (f"\n{params:,} params" if params else "")
        ax.text(k * 1.6, 0, text, ha="center", va="center", fontsize=8,
                bbox=dict(boxstyle="round", fc=colours[name], ec="0.5"))
        if k:
            ax.annotate("", xy=(k * 1.6 - 0.62, 0), xytext=((k - 1) * 1.6 + 0.62, 0),
                        arrowprops=dict(arrowstyle="->", color="0.4"))
    ax.set_xlim(-0.8, (len(boxes) - 1) * 1.6 + 0.8), ax.set_ylim(-0.5, 0.5)
    ax.axis("off")
    ax.set_title(f"models.digits_net(): output shape (N, C, H, W) after each layer for one "
                 f"8x8 image, {total:,} parameters in all (as model.summary((1, 1, 8, 8)) lists)")
    return _save(fig, out_dir, "network_shapes")


def _layer_args(m):
    if isinstance(m, nn.Conv2d):
        return f"{m.in_channels}->{m.out_channels}, {m.kernel_size[0]}x{m.kernel_size[1]}, pad {m.padding[0]}"
    if isinstance(m, nn.Linear):
        return f"{m.in_features}->{m.out_features}"
    if isinstance(m, nn.MaxPool2d):
        return f"{m.kernel_size}x{m.kernel_size}"
    return ""
