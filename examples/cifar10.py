"""Train the classic CIFAR-10 CNN (three conv blocks, three FC layers) with SGD + momentum.

    python examples/cifar10.py --data-dir ~/data/cifar-10-batches-py
    python examples/cifar10.py --data-dir ~/data --epochs 1 --limit 5000

--data-dir holds the "python version" batches (data_batch_1..5, test_batch) or their parent
directory cifar-10-batches-py/. They are read with a restricted unpickler that runs no code
from the files. Nothing is downloaded.
"""
import argparse
import time

import numpy as np

import minicnn
import minicnn.nn as nn
import minicnn.optim as optim
from minicnn.datasets import load_cifar10
from minicnn.utils.data import DataLoader, TensorDataset
from minicnn.models import cifar_net

CLASSES = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--momentum", type=float, default=0.9)
    parser.add_argument("--limit", type=int, default=None, help="use only N training images")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.limit is not None and args.limit < 1:
        parser.exit(2, f"{parser.prog}: error: --limit must be at least 1, got {args.limit}\n")

    try:  # missing or damaged files: one line naming them, not a traceback
        train_set, test_set = load_cifar10(args.data_dir)  # images (N,3,32,32), labels (N,)
    except (FileNotFoundError, ValueError) as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    if args.limit is not None:
        train_set = TensorDataset(*(a[:args.limit] for a in train_set.arrays))
    minicnn.manual_seed(args.seed)
    model = cifar_net()
    print(model)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=256)

    for epoch in range(1, args.epochs + 1):
        model.train()
        running, seen, start = 0.0, 0, time.perf_counter()
        for i, (images, labels) in enumerate(train_loader, start=1):
            optimizer.zero_grad()
            loss = criterion(model(images), labels)
            loss.backward()
            optimizer.step()
            running += loss.item() * len(labels)
            seen += len(labels)
            if i % 100 == 0:
                print(f"  [{epoch}, {i:4d}] loss {running / seen:.3f} "
                      f"({seen / (time.perf_counter() - start):.0f} images/s)")
        print(f"epoch {epoch}: train loss {running / seen:.4f}")

    # Per-class accuracy on the test set, as in the classic tutorial.
    model.eval()
    correct = np.zeros(10, int)
    total = np.zeros(10, int)
    with minicnn.no_grad():
        for images, labels in test_loader:
            predicted = model(images).argmax(dim=1).numpy()
            np.add.at(total, labels.numpy(), 1)
            np.add.at(correct, labels.numpy(), predicted == labels.numpy())
    for c, name in enumerate(CLASSES):
        if total[c]:
            print(f"accuracy of {name:5s}: {correct[c] / total[c]:.1%}")
    print(f"test accuracy: {correct.sum() / total.sum():.2%}")


if __name__ == "__main__":
    main()
