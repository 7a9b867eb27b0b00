"""Find a motif in noisy sequences with a 1-D convolution (Conv1d), and see the filters it learns.

    python examples/sequence_conv1d.py --plot motif.png   # seconds; --plot needs matplotlib

The data are made up on the spot: sequences of Gaussian noise, half of which (class 1) also hold a
short fixed pattern, the motif, at a random position. A Conv1d slides its filters along the
sequence (a cross-correlation, as Conv2d along an image); AdaptiveMaxPool1d(1) keeps each
filter's strongest response wherever it was, so the answer does not depend on the position.
Trained, one filter usually looks like the motif itself: the matched filter of signal processing.
"""
import argparse
from pathlib import Path

import numpy as np

import minicnn
import minicnn.nn as nn
import minicnn.nn.functional as F
import minicnn.optim as optim
from minicnn.utils.data import DataLoader, TensorDataset

MOTIF = np.array([0, 2, 3, 1, -1, -3, -2, 1, -1], np.float32)   # zero mean, not symmetric


def make_sequences(n, noise, rng, length=64):
    """(n, 1, length) float32 sequences and their 0/1 labels; class 1 holds MOTIF somewhere."""
    x = rng.normal(0, noise, (n, 1, length)).astype(np.float32)
    y = rng.integers(0, 2, n)
    for i, start in enumerate(rng.integers(0, length - len(MOTIF) + 1, n)):
        x[i, 0, start:start + len(MOTIF)] += MOTIF * y[i]
    return x, y


def plot(path, filters, correlations, example):
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state
    fig = Figure(figsize=(3 * len(filters), 5.5), layout="constrained")
    axes = fig.subplots(2, len(filters))
    axes[0, 0].plot(example[0], color="k", lw=1)
    axes[0, 0].set_title("a class-1 sequence (motif hidden in it)")
    axes[0, 1].bar(range(len(MOTIF)), MOTIF, color="gray")
    axes[0, 1].set_title("the motif")
    for ax in axes[0, 2:]:
        ax.set_axis_off()
    for ax, w, r in zip(axes[1], filters, correlations):
        m = np.abs(w).max()
        ax.bar(range(len(w)), w, color=["tab:red" if v > 0 else "tab:blue" for v in w])
        ax.plot(MOTIF * m / np.abs(MOTIF).max(), "k.--", lw=1, label="motif (scaled)")
        ax.set_ylim(-1.15 * m, 1.15 * m)                       # zero in the middle
        ax.axhline(0, color="gray", lw=0.5)
        ax.set_title(f"learned filter, corr {r:+.2f}")
    axes[1, 0].legend(fontsize=7)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    print(f"wrote {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--samples", type=int, default=2000, help="training sequences")
    parser.add_argument("--noise", type=float, default=1.0, help="the noise's standard deviation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default=None, help="draw the learned filters into this PNG")
    args = parser.parse_args()
    fail = lambda message: parser.exit(2, f"{parser.prog}: error: {message}\n")  # noqa: E731
    for flag, value, least in (("--epochs", args.epochs, 1), ("--samples", args.samples, 8),
                               ("--noise", args.noise, 0)):
        if not value >= least:   # not "value < least": a NaN noise fails too
            fail(f"{flag} must be at least {least}, got {value}")
    if args.plot is not None:
        try:
            import matplotlib  # noqa: F401 - checked before training, not after
        except ImportError:
            fail("--plot needs matplotlib (pip install matplotlib)")

    minicnn.manual_seed(args.seed)                  # initial weights and shuffling
    rng = np.random.default_rng(args.seed)          # the made-up data
    x_train, y_train = make_sequences(args.samples, args.noise, rng)
    x_test, y_test = make_sequences(max(args.samples // 4, 100), args.noise, rng)
    train_set = TensorDataset(minicnn.tensor(x_train), minicnn.tensor(y_train))
    model = nn.Sequential(
        nn.Conv1d(1, 4, kernel_size=len(MOTIF)),    # (N, 1, 64) -> (N, 4, 56): 4 filters
        nn.ReLU(),
        nn.AdaptiveMaxPool1d(1),                    # -> (N, 4, 1): each filter's best match
        nn.Flatten(),                               # -> (N, 4)
        nn.Linear(4, 2))                            # -> (N, 2): the two classes' logits
    optimizer = optim.Adam(model.parameters(), lr=0.02)
    for epoch in range(1, args.epochs + 1):
        model.train()
        for xb, yb in DataLoader(train_set, batch_size=32, shuffle=True):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            optimizer.step()
        model.eval()
        with minicnn.no_grad():
            accuracy = (model(minicnn.tensor(x_test)).numpy().argmax(1) == y_test).mean()
        print(f"epoch {epoch}: last batch loss {loss.item():.3f}, test accuracy {accuracy:.1%} "
              f"on {len(y_test)} sequences (chance: 50%)")

    filters = model[0].weight.detach().numpy()[:, 0]                  # (4, 9)
    correlations = [np.corrcoef(w, MOTIF)[0, 1] for w in filters]
    print("each filter's correlation with the motif: "
          + ", ".join(f"{r:+.2f}" for r in correlations))
    if args.plot is not None:
        plot(args.plot, filters, correlations, x_test[np.argmax(y_test)])


if __name__ == "__main__":
    main()
