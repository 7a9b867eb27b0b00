"""Train LeNet on MNIST (or Fashion-MNIST) read from the standard IDX files in --data-dir.

    python examples/train_mnist.py --data-dir ~/data/mnist            # all four files
    python examples/train_mnist.py --data-dir ~/data/mnist --split-test 8000
        # only the t10k files: train on the first 8,000 test images, test on the other 2,000

Nothing is downloaded: put train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz],
t10k-images-idx3-ubyte[.gz] and t10k-labels-idx1-ubyte[.gz] in the directory yourself.
"""
import argparse
import time

import minicnn
import minicnn.nn.functional as F
import minicnn.optim as optim
from minicnn.datasets import load_fashion_mnist, load_mnist
from minicnn.utils.data import DataLoader, TensorDataset
from minicnn.models import lenet


def evaluate(model, loader):
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    with minicnn.no_grad():
        for images, labels in loader:
            logits = model(images)
            total_loss += F.cross_entropy(logits, labels).item() * len(labels)
            correct += int((logits.argmax(dim=1) == labels).sum())
            seen += len(labels)
    return total_loss / seen, correct / seen


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="directory with the IDX files")
    parser.add_argument("--fashion", action="store_true", help="the files are Fashion-MNIST")
    parser.add_argument("--split-test", type=int, default=None, metavar="N",
                        help="use only the t10k files: first N images train, the rest test")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--limit", type=int, default=None, help="use only N training images")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for flag, value in (("--limit", args.limit), ("--split-test", args.split_test)):
        if value is not None and value < 1:
            parser.exit(2, f"{parser.prog}: error: {flag} must be at least 1, got {value}\n")

    load = load_fashion_mnist if args.fashion else load_mnist
    try:  # missing or damaged files: one line naming them, not a traceback
        if args.split_test:
            images, labels = load(args.data_dir, split="test").arrays  # (10000,1,28,28), (10000,)
            n = args.split_test
            train_set = TensorDataset(images[:n], labels[:n])
            test_set = TensorDataset(images[n:], labels[n:])
        else:
            train_set, test_set = load(args.data_dir)
    except (FileNotFoundError, ValueError) as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    if args.split_test and len(test_set) == 0:
        parser.exit(2, f"{parser.prog}: error: --split-test {args.split_test} leaves no test "
                       f"images (the test files hold {len(train_set)})\n")
    if args.limit is not None:
        train_set = TensorDataset(*(a[:args.limit] for a in train_set.arrays))
    print(f"{len(train_set)} training and {len(test_set)} test images")

    minicnn.manual_seed(args.seed)
    model = lenet()  # conv 5x5 16 -> pool -> conv 5x5 32 -> pool -> linear 1568 -> 10
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    train_loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = DataLoader(test_set, batch_size=256)

    for epoch in range(1, args.epochs + 1):
        model.train()
        start = time.perf_counter()
        for images, labels in train_loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(images), labels)
            loss.backward()
            optimizer.step()
        seconds = time.perf_counter() - start
        test_loss, test_acc = evaluate(model, test_loader)
        print(f"epoch {epoch}: last batch loss {loss.item():.4f}, test loss {test_loss:.4f}, "
              f"test accuracy {test_acc:.2%}, {len(train_set) / seconds:.0f} images/s")


if __name__ == "__main__":
    main()
