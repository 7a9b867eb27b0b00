"""Train a small CNN on the 8x8 digits and write a report page: curves, confusion, mistakes, filters.

    python examples/report.py --out-dir report        # then open report/index.html
    python examples/report.py --epochs 1 --limit 300 --out-dir /tmp/report

Writes curves.png (loss and accuracy per epoch), confusion.png (true vs predicted test class),
mistakes.png (misclassified test digits), filters.png (the first layer's kernels, zero-centred
colours) and feature_maps.png (that layer + ReLU on one digit, 0 to its largest value), with an
index.html showing them all.
Needs matplotlib.
"""
import argparse
from pathlib import Path

import numpy as np

import minicnn
import minicnn.nn.functional as F
import minicnn.optim as optim
from minicnn.datasets import load_digits
from minicnn.utils.data import DataLoader, TensorDataset
from minicnn.models import digits_net


def figure(size):
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state
    return Figure(figsize=size, layout="constrained")


def predict(model, images):
    model.eval()
    with minicnn.no_grad():
        return model(minicnn.tensor(images)).numpy().argmax(axis=1)


def tiles(fig, arrays, titles, kind):
    """(K, H, W) arrays in a grid on one scale: "signed" (zero-centred, a colour bar),
    "positive" (0 to the largest, a colour bar: post-ReLU maps) or "image" (grey)."""
    cols = int(np.ceil(np.sqrt(len(arrays))))
    axes = np.atleast_1d(fig.subplots(int(np.ceil(len(arrays) / cols)), cols)).ravel()
    m = np.abs(arrays).max()
    scale = {"signed": ("RdBu_r", -m, m), "positive": ("magma", 0, m),
             "image": ("gray_r", None, None)}[kind]
    for ax, a, title in zip(axes, arrays, titles):
        im = ax.imshow(a, cmap=scale[0], vmin=scale[1], vmax=scale[2])
        ax.set_title(str(title), fontsize=8)
    for ax in axes:
        ax.set_axis_off()
    if kind != "image":
        fig.colorbar(im, ax=list(axes), shrink=0.6)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None, help="use only N training images")
    parser.add_argument("--out-dir", default="report")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for flag, value in (("--epochs", args.epochs), ("--limit", args.limit)):
        if value is not None and value < 1:
            parser.exit(2, f"{parser.prog}: error: {flag} must be at least 1, got {value}\n")
    try:  # checked before training, not after
        import matplotlib.figure  # noqa: F401 (figure() imports it again)
    except ImportError:
        parser.exit(2, f"{parser.prog}: error: the report needs matplotlib "
                       f"(pip install matplotlib)\n")
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)

    minicnn.manual_seed(args.seed)
    train_set, test_set = load_digits()
    if args.limit is not None:
        train_set = TensorDataset(*(a[:args.limit] for a in train_set.arrays))
    (train_x, train_y), (test_x, test_y) = train_set.arrays, test_set.arrays
    model = digits_net()
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    history = []
    for epoch in range(1, args.epochs + 1):
        model.train()
        losses = []
        for images, labels in DataLoader(train_set, batch_size=32, shuffle=True):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(images), labels)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        accuracy = [np.mean(predict(model, x) == y) for x, y in ((train_x, train_y),
                                                                 (test_x, test_y))]
        history.append((np.mean(losses), *accuracy))
        print(f"epoch {epoch}: train loss {history[-1][0]:.4f}, test accuracy {accuracy[1]:.2%}")

    fig = figure((9, 3.2))
    ax_loss, ax_acc = fig.subplots(1, 2)
    epochs, (loss, train_acc, test_acc) = np.arange(1, len(history) + 1), np.transpose(history)
    ax_loss.plot(epochs, loss, "o-")
    ax_loss.set(title="training loss", xlabel="epoch")
    ax_acc.plot(epochs, 100 * train_acc, "o-", epochs, 100 * test_acc, "s-")
    ax_acc.set(title="accuracy (%)", xlabel="epoch")
    ax_acc.legend(["train", "test"])
    fig.savefig(out / "curves.png", dpi=90)

    predicted = predict(model, test_x)
    confusion = np.zeros((10, 10), int)
    np.add.at(confusion, (test_y, predicted), 1)
    fig = figure((5, 4.4))
    ax = fig.subplots()
    fig.colorbar(ax.imshow(confusion, cmap="Blues"), ax=ax)
    for (i, j), n in np.ndenumerate(confusion):
        ax.text(j, i, n, ha="center", va="center", fontsize=7,
                color="white" if n > confusion.max() / 2 else "black")
    ax.set(xlabel="predicted", ylabel="true", xticks=range(10), yticks=range(10))
    fig.savefig(out / "confusion.png", dpi=90)

    wrong = np.flatnonzero(predicted != test_y)[:25]
    fig = figure((6, 6))
    if len(wrong):
        tiles(fig, test_x[wrong, 0], [f"{t} -> {p}" for t, p in
                                       zip(test_y[wrong], predicted[wrong])], "image")
    fig.suptitle(f"{np.sum(predicted != test_y)} of {len(test_y)} test digits misclassified "
                 f"(true -> predicted)")
    fig.savefig(out / "mistakes.png", dpi=90)

    conv1 = model[0]
    fig = figure((6, 6))
    tiles(fig, conv1.weight.detach().numpy()[:, 0], range(conv1.out_channels), "signed")
    fig.savefig(out / "filters.png", dpi=90)
    with minicnn.no_grad():
        maps = F.relu(conv1(minicnn.tensor(test_x[:1]))).numpy()[0]
    fig = figure((6, 6))
    tiles(fig, maps, range(len(maps)), "positive")  # after ReLU: all >= 0
    fig.suptitle(f"conv1 + ReLU feature maps of a test digit (label {test_y[0]})")
    fig.savefig(out / "feature_maps.png", dpi=90)

    rows = "".join(f"<tr><td>{e}</td><td>{h[0]:.4f}</td><td>{h[1]:.2%}</td><td>{h[2]:.2%}</td></tr>"
                   for e, h in zip(epochs, history))
    images = "".join(f'<h2>{t}</h2><img src="{n}.png" alt="{t}">' for n, t in [
        ("curves", "Curves"), ("confusion", "Confusion matrix"), ("mistakes", "Misclassified"),
        ("filters", "conv1 filters"), ("feature_maps", "Feature maps")])
    (out / "index.html").write_text(
        "<!doctype html><meta charset='utf-8'><title>minicnn report</title><h1>digits_net on the "
        "8x8 digits</h1><table border=1><tr><th>epoch</th><th>train loss</th><th>train accuracy"
        f"</th><th>test accuracy</th></tr>{rows}</table>{images}\n", encoding="utf-8")
    print(f"wrote {out / 'index.html'}")


if __name__ == "__main__":
    main()
