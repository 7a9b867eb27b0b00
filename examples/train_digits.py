"""Train a small CNN on the 8x8 digits with a from-scratch, PyTorch-style loop (no CLI magic).

    python examples/train_digits.py                # ~98% test accuracy in a few seconds
    python examples/train_digits.py --epochs 1 --limit 256

Everything here is public API: minicnn.datasets and minicnn.utils.data for the data,
minicnn.nn for the layers, minicnn.optim for SGD with momentum, F.cross_entropy for the loss.
"""
import argparse
import time

import minicnn
import minicnn.nn as nn
import minicnn.nn.functional as F
import minicnn.optim as optim
from minicnn.datasets import load_digits
from minicnn.utils.data import DataLoader, TensorDataset


def build_model():
    # (N,1,8,8) -conv-> (N,32,8,8) -conv-> (N,32,8,8) -pool-> (N,32,4,4) -flatten-> (N,512)
    # -linear-> (N,10) logits. The same net as minicnn.models.digits_net().
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(512, 10))


def accuracy(model, loader):
    model.eval()  # no dropout/batch-norm here, but it is the habit to keep
    correct = total = 0
    with minicnn.no_grad():  # no graph is recorded: faster, less memory
        for images, labels in loader:
            predictions = model(images).argmax(dim=1)
            correct += int((predictions == labels).sum())
            total += len(labels)
    return correct / total


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--limit", type=int, default=None, help="use only N training images")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.limit is not None and args.limit < 1:  # --limit 0 must not mean "everything"
        parser.exit(2, f"{parser.prog}: error: --limit must be at least 1, got {args.limit}\n")

    minicnn.manual_seed(args.seed)  # same seed -> same weights and batch order
    train_set, test_set = load_digits()  # (N,1,8,8) float32 images, (N,) int64 labels
    if args.limit is not None:
        train_set = TensorDataset(*(a[:args.limit] for a in train_set.arrays))
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=256)

    model = build_model()
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    print(model)

    for epoch in range(1, args.epochs + 1):
        model.train()
        start, running_loss, seen = time.perf_counter(), 0.0, 0
        for images, labels in train_loader:
            optimizer.zero_grad()                    # .grad accumulates: clear it first
            logits = model(images)                   # (B, 10)
            loss = F.cross_entropy(logits, labels)   # mean over the batch
            loss.backward()                          # fills p.grad for every parameter
            optimizer.step()                         # p.data -= lr * (momentum-smoothed grad)
            running_loss += loss.item() * len(labels)
            seen += len(labels)
        seconds = time.perf_counter() - start
        print(f"epoch {epoch}: train loss {running_loss / seen:.4f}, "
              f"test accuracy {accuracy(model, test_loader):.2%}, {seconds:.1f} s")

    final = accuracy(model, test_loader)
    print(f"final test accuracy: {final:.2%}")


if __name__ == "__main__":
    main()
