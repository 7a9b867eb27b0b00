"""The tables of `python -m minicnn train` and `evaluate`: the datasets they can load, the
optimizers they can build, and their options, each option once with its argparse spec, its
default and the rule a resumed checkpoint's saved value must meet.

Adding a dataset is one row of ``DATASETS`` (and its loader in ``minicnn.datasets``); an
optimizer, one row of ``OPTIMIZERS``; an option, one ``Option`` in ``OPTIONS`` (and the code
that uses its value). ``arguments.py`` builds the parsers from ``OPTIONS``, ``checkpoint.py``
checks a checkpoint's saved options with it, ``train.py`` fills in the defaults from it.
"""
import argparse
import math
from dataclasses import dataclass

import numpy as np

from minicnn import datasets, kernels, optim
from minicnn.cli.regularize import SCHEDULERS
from minicnn.kernels.runtime import MAX_THREADS_PER_CORE
from minicnn.models import MODELS

__all__ = ["Dataset", "DATASETS", "Optimizer", "OPTIMIZERS", "Option", "OPTIONS", "MAX_COUNT",
           "positive_int", "nonnegative_int", "positive_float", "nonnegative_float",
           "default_options"]


# ---------------------------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Dataset:
    """One ``--dataset``: what it is called, how it is read and normalised, what trains on it.

    ``load(data_dir, split)`` returns TensorDatasets as ``minicnn.datasets.load_mnist`` does
    (``data_dir`` is None for a dataset that ships with minicnn); ``files`` is the table of its
    file names (``minicnn.datasets.MNIST_FILES``...), ``gz`` whether they may be gzipped;
    ``advice`` says where to get them (None: the files at ``minicnn.datasets.SOURCES[name]``).
    """
    title: str
    load: object
    model: str
    normalization: str
    epochs: int
    batch_size: int
    lr: float
    files: dict = None
    gz: bool = True
    flip: bool = False      # --augment also mirrors images left-right
    advice: str = None


DATASETS = {
    "digits": Dataset("8x8 digits", lambda data_dir, split: datasets.load_digits(split),
                      "digits_net", "the training split's own mean and std", 10, 32, 0.05),
    "mnist": Dataset("MNIST", datasets.load_mnist, "lenet", "mean 0.1307, std 0.3081",
                     3, 64, 0.05, datasets.MNIST_FILES),
    "fashion-mnist": Dataset("Fashion-MNIST", datasets.load_fashion_mnist, "lenet",
                             "mean 0.2860, std 0.3530", 5, 64, 0.05, datasets.MNIST_FILES),
    "kmnist": Dataset("KMNIST", datasets.load_kmnist, "lenet", "mean 0.5, std 0.5",
                      5, 64, 0.05, datasets.MNIST_FILES),
    "cifar10": Dataset("CIFAR-10", datasets.load_cifar10, "cifar_net",
                       "per channel, CIFAR-10's training-set mean and std", 10, 64, 0.02,
                       datasets.CIFAR10_FILES, gz=False, flip=True,
                       advice="get cifar-10-python.tar.gz (the python version) from {source} "
                              "and unpack it into {data_dir}"),
}


# ---------------------------------------------------------------------------------------------
# Optimizers
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Optimizer:
    """One ``--optimizer``: its class, the default ``--lr`` (None: the dataset's), the default
    ``--momentum`` (None: it takes none, and ``--momentum`` is refused), and the per-parameter
    state its ``state_dict`` keeps (the names it may keep, the names it
    must keep once it has stepped; Adam's ``amsgrad`` adds ``max_exp_avg_sq`` to both)."""
    cls: object
    lr: float = None
    momentum: float = None
    state: frozenset = frozenset()
    required_state: frozenset = frozenset()

    def state_names(self, groups):
        """(the names a parameter's state may hold, the names it must hold) for an optimizer
        with these param groups."""
        if any(group.get("amsgrad") for group in groups):
            extra = {"max_exp_avg_sq"}
            return self.state | extra, self.required_state | extra
        return self.state, self.required_state


_ADAM_STATE = frozenset({"step", "exp_avg", "exp_avg_sq"})
OPTIMIZERS = {
    "sgd": Optimizer(optim.SGD, momentum=0.9, state=frozenset({"momentum_buffer"})),
    "adam": Optimizer(optim.Adam, 1e-3, state=_ADAM_STATE, required_state=_ADAM_STATE),
    "adamw": Optimizer(optim.AdamW, 1e-3, state=_ADAM_STATE, required_state=_ADAM_STATE),
    "rmsprop": Optimizer(optim.RMSprop, 1e-3, momentum=0.0,
                         state=frozenset({"step", "square_avg", "momentum_buffer"}),
                         required_state=frozenset({"step", "square_avg"})),
}


# ---------------------------------------------------------------------------------------------
# Argument types (argparse) and the rules for saved values (checkpoints)
# ---------------------------------------------------------------------------------------------

# Sane bounds for a checkpoint's numbers: a hand-edited 10**30 fails here, not mid-run.
MAX_COUNT = 10 ** 9


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
        value = math.nan
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a fraction between 0 and 1, got {text}")
    return value


def _unit_float(text):
    return _finite_number(text, "in [0, 1]", lambda v: 0 <= v <= 1)


def show(value):
    """A saved value in a message, cut short."""
    return repr(value)[:40]


def is_real(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and \
        not isinstance(value, (bool, np.bool_))


# Each rule takes a saved value and returns what is wrong with it (words to follow the field's
# name in "checkpoint ... is damaged: args['lr'] ..."), or None.
def count(low):
    def rule(value):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                or not low <= value <= MAX_COUNT:
            return f"should be an integer in {low}..{MAX_COUNT}, it is {show(value)}"
    return rule


def number(value):
    if not is_real(value) or not math.isfinite(value) or value < 0:
        return f"should be a finite number >= 0, it is {show(value)}"


def one_of(names):
    def rule(value):
        if not isinstance(value, str) or value not in names:
            return f"is {show(value)}, not one of {', '.join(names)}"
    return rule


def _fraction_rule(value):
    if not (is_real(value) and 0 < value < 1):
        return f"should be a fraction between 0 and 1, it is {show(value)}"


def _unit_rule(value):
    if not (is_real(value) and 0 <= value <= 1):
        return f"should be a number in [0, 1], it is {show(value)}"


def _bool_rule(value):
    if value not in (True, False):
        return f"should be true or false, it is {show(value)}"


def kind(value):
    """What a saved value is, in a message: its type and a short repr (or an array's shape)."""
    return (f"a {value.dtype} array of shape {value.shape}" if isinstance(value, np.ndarray)
            else f"a {type(value).__name__} {show(value)}")


def _directory_rule(value):
    if not isinstance(value, str):
        return f"should be a directory name, it is {kind(value)}"


# ---------------------------------------------------------------------------------------------
# The options
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Option:
    """One command-line option of ``train`` (and ``evaluate`` when ``evaluate``).

    ``spec``: argparse's keywords (``default`` is always None, so that an option given on the
    command line can be told from one left out). ``default``: the value a new run takes when
    the option is left out, a constant or a function of the dataset row and the optimizer row
    (None: the option stays off). ``saved``: the rule its value in a checkpoint's ``args``
    must meet (None values pass unless ``required``). ``run``: a resumed run keeps it (giving
    another value with ``--resume`` is refused).
    """
    name: str
    spec: dict
    default: object = None
    saved: object = None
    required: bool = False
    run: bool = True
    evaluate: bool = False

    @property
    def flag(self):
        return "--" + self.name.replace("_", "-")


def _optimizers_with(value):
    """``"0.001 with adam, adamw"`` for each default ``value(row)`` (None ones left out)."""
    by_value = {}
    for name, row in OPTIMIZERS.items():
        if value(row) is not None:
            by_value.setdefault(value(row), []).append(name)
    return "; ".join(f"{v} with {', '.join(names)}" for v, names in by_value.items())


_DATASET_NAMES = tuple(DATASETS)
OPTIONS = (
    Option("dataset", dict(choices=_DATASET_NAMES, help="dataset (train default: digits, the "
                           "offline 8x8 digits that ship with minicnn; evaluate default: the "
                           "checkpoint's)"),
           "digits", one_of(_DATASET_NAMES), required=True, evaluate=True),
    Option("data_dir", dict(metavar="DIR", help="directory with the IDX files (MNIST, "
                            "Fashion-MNIST, KMNIST) or the CIFAR-10 python batches (required "
                            "for those datasets)"),
           saved=_directory_rule, run=False, evaluate=True),
    Option("split_test", dict(type=positive_int, metavar="N", help="ignore the training files: "
                              "train on the first N images of the test split and test on the "
                              "rest (when you have only the test files, e.g. MNIST t10k)"),
           saved=count(1), evaluate=True),
    Option("test_limit", dict(type=positive_int, metavar="N",
                              help="evaluate on only the first N test images"),
           saved=count(1), evaluate=True),
    Option("threads", dict(type=positive_int, metavar="T", help="OpenMP threads for the "
                           f"conv/pool kernels (default: {kernels.get_num_threads()}; at most "
                           f"{MAX_THREADS_PER_CORE} per usable core)"),
           run=False, evaluate=True),
    Option("quiet", dict(action="store_true", help="no header, progress bar or early-stopping "
                         "note: only one line per epoch and the final test accuracy"),
           run=False),
    Option("model", dict(choices=sorted(MODELS), help="network (default: " + ", ".join(
        f"{d.model} for {name}" for name, d in DATASETS.items()) + ")"),
           lambda d, o: d.model, required=True),
    Option("epochs", dict(type=positive_int, metavar="N", help="total number of epochs, "
                          "counting those already in a resumed checkpoint (default: " +
                          ", ".join(f"{d.epochs} {name}" for name, d in DATASETS.items()) + ")"),
           saved=count(1), required=True, run=False),  # default: the dataset row's
    Option("batch_size", dict(type=positive_int, metavar="B",
                              help="mini-batch size (default: 32 for digits, 64 otherwise)"),
           lambda d, o: d.batch_size, count(1), required=True),
    Option("lr", dict(type=nonnegative_float, help="learning rate (default: " + ", ".join(
        f"{d.lr} {name}" for name, d in DATASETS.items()) + " with " + ", ".join(
        n for n, row in OPTIMIZERS.items() if row.lr is None) + "; " +
        _optimizers_with(lambda row: row.lr) + ")"),
           lambda d, o: d.lr if o.lr is None else o.lr, number, required=True),
    Option("momentum", dict(type=nonnegative_float, help="momentum (default: " +
                            _optimizers_with(lambda row: row.momentum) +
                            "; refused with the others, which take none, as in PyTorch)"),
           lambda d, o: 0.0 if o.momentum is None else o.momentum, number, required=True),
    Option("optimizer", dict(choices=tuple(OPTIMIZERS), help="optimizer (default: sgd)"),
           "sgd", one_of(tuple(OPTIMIZERS)), required=True),
    Option("weight_decay", dict(type=nonnegative_float, metavar="WD",
                                help="weight decay (default: 0)"),
           0.0, number, required=True),
    Option("label_smoothing", dict(type=_unit_float, metavar="S", help="label smoothing of the "
                                   "cross-entropy loss, in [0, 1] (default: 0, none)"),
           saved=_unit_rule),
    Option("seed", dict(type=nonnegative_int, help="seed for the initial weights and the batch "
                        "order (default: 0)"),
           0, count(0), required=True),
    Option("limit", dict(type=positive_int, metavar="N", help="train on only the first N "
                         "training images (quick experiments)"),
           saved=count(1)),
    Option("augment", dict(action="store_true", help="shift each training image by up to 1/8 "
                           "of its size (and, for cifar10, mirror half of them) anew every "
                           "epoch"),
           saved=_bool_rule),
    Option("scheduler", dict(choices=SCHEDULERS, help="learning-rate schedule: step (/10 after "
                             "each third of the epochs), cosine (annealed to 0), onecycle "
                             "(warm-up to --lr, then down); default: a constant rate"),
           saved=one_of(SCHEDULERS)),
    Option("val_split", dict(type=_fraction, metavar="F", help="hold out the last fraction F "
                             "of the training images as a validation set (default 0.1 with "
                             "--early-stopping)"),
           saved=_fraction_rule),
    Option("early_stopping", dict(type=positive_int, metavar="PATIENCE", help="stop when the "
                                  "validation loss has not improved for PATIENCE epochs, and "
                                  "keep the weights of the best epoch"),
           saved=count(1)),
    # What to write and how to run: not settings of the run, so a resume may change them.
    Option("checkpoint", dict(metavar="PATH", help="save model, optimizer, epoch and RNG state "
                              "here after every epoch"), run=False),
    Option("resume", dict(action="store_true", help="continue the run saved in --checkpoint up "
                          "to --epochs in total"), run=False),
    Option("overwrite", dict(action="store_true", help="start a new run even though "
                             "--checkpoint already exists (it is replaced after the first "
                             "epoch)"), run=False),
    Option("distributed", dict(action="store_true", help="run under mpiexec -n N (needs the "
                               "distributed extra): each process trains on its share of every "
                               "batch and rank 0 prints and writes the files (see "
                               "docs/distributed.md)"), run=False),
    Option("plot", dict(metavar="PNG", help="write loss/accuracy curves to this PNG (needs "
                        "matplotlib)"), run=False),
    Option("metrics_json", dict(metavar="PATH", help="write the final metrics and the "
                                "per-epoch history (losses, accuracies, seconds, images/s, peak "
                                "RSS) as JSON"), run=False),
)
OPTIONS_BY_NAME = {o.name: o for o in OPTIONS}


def default_options(options):
    """Fill in, in place, every option of a new run left out (None): the dataset first, then
    the optimizer, then the options whose default depends on them."""
    for name in ("dataset", "optimizer"):
        if options.get(name) is None:
            options[name] = OPTIONS_BY_NAME[name].default
    dataset, optimizer = DATASETS[options["dataset"]], OPTIMIZERS[options["optimizer"]]
    for option in OPTIONS:
        if option.run and option.default is not None and options.get(option.name) is None:
            default = option.default
            options[option.name] = default(dataset, optimizer) if callable(default) else default
    return options
