"""The options of `python -m minicnn train` and `evaluate`, the defaults they fall back on, and the
rules every command's options share (argument types, output paths, CLIError)."""
import argparse
import math
import os

from minicnn import kernels
from minicnn.cli.regularize import SCHEDULERS
from minicnn.kernels.runtime import MAX_THREADS_PER_CORE
from minicnn.models import MODELS

__all__ = ["DATASETS", "DEFAULTS", "COMMON_DEFAULTS", "ADAM_LR", "add_train_arguments",
           "add_evaluate_arguments", "positive_int", "nonnegative_int", "nonnegative_float",
           "CLIError", "check_output_path", "check_distinct_outputs"]

DATASETS = ("digits", "mnist", "fashion-mnist", "cifar10")

# Hyper-parameters used when neither the command line nor a resumed checkpoint gives one.
# digits: about 98% test accuracy in a few seconds on 2 cores.
DEFAULTS = {
    "digits": {"epochs": 10, "batch_size": 32, "lr": 0.05},
    "mnist": {"epochs": 3, "batch_size": 64, "lr": 0.05},
    "fashion-mnist": {"epochs": 5, "batch_size": 64, "lr": 0.05},
    "cifar10": {"epochs": 10, "batch_size": 64, "lr": 0.02},
}
COMMON_DEFAULTS = {"optimizer": "sgd", "momentum": 0.9, "weight_decay": 0.0, "seed": 0}
ADAM_LR = 1e-3  # the default --lr when --optimizer is adam or adamw


class CLIError(Exception):
    """A problem with the command line or the files it names; reported without a traceback."""


def check_output_path(path, flag):
    """Refuse, before any work, an output path that cannot be written: an empty string, a
    missing or read-only directory, or something that is not a regular file."""
    if path is None:
        return
    if path == "":
        raise CLIError(f"{flag} must name a file, got an empty string")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise CLIError(f"{flag} {path}: directory {directory!r} does not exist")
    if os.path.isdir(path):
        raise CLIError(f"{flag} {path} is a directory; give a file name")
    if os.path.exists(path) and not os.path.isfile(path):
        raise CLIError(f"{flag} {path} exists and is not a regular file")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise CLIError(f"{flag} {path}: directory {directory!r} is not writable")


def check_distinct_outputs(outputs):
    """Refuse two output options naming one file (``--checkpoint X --metrics-json X`` would
    leave only the JSON); ``outputs`` holds ``(path or None, flag)`` pairs."""
    seen = {}
    for path, flag in outputs:
        if path is None:
            continue
        try:  # an existing file: by identity (hard links too)
            st = os.stat(path)
            key = (st.st_dev, st.st_ino)
        except OSError:
            key = os.path.normcase(os.path.realpath(path))
        if key in seen:
            raise CLIError(f"{seen[key]} and {flag} both name {path}: each output needs a file "
                           f"of its own")
        seen[key] = flag


def _whole_number(text, at_least, wording):
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < at_least:
        raise argparse.ArgumentTypeError(f"must be {wording}, got {text}")
    return value


def positive_int(text):
    """An argparse type: a whole number >= 1 (``--epochs 1.5`` is refused in those words)."""
    return _whole_number(text, 1, "a positive whole number")


def nonnegative_int(text):
    """An argparse type: a whole number >= 0."""
    return _whole_number(text, 0, "a whole number >= 0")


def _finite_number(text, wording, accept):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not accept(value):
        raise argparse.ArgumentTypeError(f"must be a finite number {wording}, got {text}")
    return value


def positive_float(text):
    """An argparse type: a finite number > 0."""
    return _finite_number(text, "> 0", lambda v: v > 0)


def nonnegative_float(text):
    """An argparse type: a finite number >= 0."""
    return _finite_number(text, ">= 0", lambda v: v >= 0)


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a fraction between 0 and 1, got {text}")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a fraction between 0 and 1, got {text}")
    return value


def _add_data_arguments(parser):
    parser.add_argument("--dataset", choices=DATASETS, default=None,
                        help="dataset (train default: digits, the offline 8x8 digits that "
                             "ship with minicnn; evaluate default: the checkpoint's)")
    parser.add_argument("--data-dir", default=None, metavar="DIR",
                        help="directory with the MNIST/Fashion-MNIST IDX files or the CIFAR-10 "
                             "python batches (required for those datasets)")
    parser.add_argument("--split-test", type=positive_int, default=None, metavar="N",
                        help="ignore the training files: train on the first N images of the "
                             "test split and test on the rest (when you have only the test "
                             "files, e.g. MNIST t10k)")
    parser.add_argument("--test-limit", type=positive_int, default=None, metavar="N",
                        help="evaluate on only the first N test images")
    parser.add_argument("--threads", type=positive_int, default=None, metavar="T",
                        help="OpenMP threads for the conv/pool kernels "
                             f"(default: {kernels.get_num_threads()}; at most "
                             f"{MAX_THREADS_PER_CORE} per usable core)")


def add_train_arguments(parser):
    """Add the ``train`` subcommand's options to an ``argparse.ArgumentParser``."""
    _add_data_arguments(parser)
    parser.add_argument("--quiet", action="store_true",
                        help="no header, progress bar or early-stopping note: only one line "
                             "per epoch and the final test accuracy")
    parser.add_argument("--model", choices=sorted(MODELS), default=None,
                        help="network (default: digits_net for digits, lenet for (fashion-)mnist, "
                             "cifar_net for cifar10)")
    parser.add_argument("--epochs", type=positive_int, default=None, metavar="N",
                        help="total number of epochs, counting those already in a resumed "
                             "checkpoint (default: 10 for digits and cifar10, 3 mnist, "
                             "5 fashion-mnist)")
    parser.add_argument("--batch-size", type=positive_int, default=None, metavar="B",
                        help="mini-batch size (default: 32 for digits, 64 otherwise)")
    parser.add_argument("--lr", type=nonnegative_float, default=None,
                        help="learning rate (default: 0.05 with SGD, 0.02 for cifar10; "
                             f"{ADAM_LR} with Adam)")
    parser.add_argument("--momentum", type=nonnegative_float, default=None,
                        help="SGD momentum (default: 0.9; refused with adam and adamw, "
                             "which take none, as in PyTorch)")
    parser.add_argument("--optimizer", choices=("sgd", "adam", "adamw"), default=None,
                        help="optimizer (default: sgd)")
    parser.add_argument("--weight-decay", type=nonnegative_float, default=None, metavar="WD",
                        help="weight decay (default: 0)")
    parser.add_argument("--seed", type=nonnegative_int, default=None,
                        help="seed for the initial weights and the batch order (default: 0)")
    parser.add_argument("--limit", type=positive_int, default=None, metavar="N",
                        help="train on only the first N training images (quick experiments)")
    parser.add_argument("--augment", action="store_true", default=None,
                        help="shift each training image by up to 1/8 of its size (and, for "
                             "cifar10, mirror half of them) anew every epoch")
    parser.add_argument("--scheduler", choices=SCHEDULERS, default=None,
                        help="learning-rate schedule: step (/10 after each third of the "
                             "epochs), cosine (annealed to 0), onecycle (warm-up to --lr, "
                             "then down); default: a constant rate")
    parser.add_argument("--val-split", type=_fraction, default=None, metavar="F",
                        help="hold out the last fraction F of the training images as a "
                             "validation set (default 0.1 with --early-stopping)")
    parser.add_argument("--early-stopping", type=positive_int, default=None,
                        metavar="PATIENCE",
                        help="stop when the validation loss has not improved for PATIENCE "
                             "epochs, and keep the weights of the best epoch")
    parser.add_argument("--checkpoint", default=None, metavar="PATH",
                        help="save model, optimizer, epoch and RNG state here after every epoch")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run saved in --checkpoint up to --epochs in total")
    parser.add_argument("--overwrite", action="store_true",
                        help="start a new run even though --checkpoint already exists "
                             "(it is replaced after the first epoch)")
    parser.add_argument("--distributed", action="store_true",
                        help="run under mpiexec -n N (needs the distributed extra): each "
                             "process trains on its share of every batch and rank 0 prints "
                             "and writes the files (see docs/distributed.md)")
    parser.add_argument("--plot", default=None, metavar="PNG",
                        help="write loss/accuracy curves to this PNG (needs matplotlib)")
    parser.add_argument("--metrics-json", default=None, metavar="PATH",
                        help="write the final metrics and the per-epoch history (losses, "
                             "accuracies, seconds, images/s, peak RSS) as JSON")


def add_evaluate_arguments(parser):
    """Add the ``evaluate`` subcommand's options to an ``argparse.ArgumentParser``."""
    parser.add_argument("--checkpoint", required=True, metavar="PATH",
                        help="a checkpoint written by `python -m minicnn train --checkpoint`")
    _add_data_arguments(parser)
