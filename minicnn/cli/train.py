"""``python -m minicnn train`` and ``python -m minicnn evaluate``: a plain, readable training loop.

The loop is the one you would write in PyTorch::

    for epoch in range(1, epochs + 1):
        model.train()
        for images, labels in train_loader:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(images), labels)
            loss.backward()
            optimizer.step()
        model.eval()
        with minicnn.no_grad():
            ...  # test loss and accuracy

around it: dataset and model selection, a tqdm progress bar (when stderr is a terminal), one
summary line per epoch, a checkpoint after every epoch (``--checkpoint``) that ``--resume``
continues bit-for-bit, a metrics JSON and a PNG of the curves.

Reproducibility: ``--seed`` seeds minicnn's one generator, which draws the initial weights and
then the batch order of every epoch. The kernels give bit-identical results for any thread
count and NumPy's BLAS (behind ``Linear``) is held at one thread, so the same seed and data
give the same loss curve whatever ``--threads`` is. A checkpoint stores the generator's
state, so a resumed run draws the same batch orders as an uninterrupted one.

Numerics: NaN or Inf never reaches the weights silently. A dataset whose images hold NaN/Inf
is refused before training (exit status 2, naming the dataset, split and first bad sample),
and if a batch's loss or any gradient is not finite, ``train_one_epoch`` raises
``FloatingPointError`` naming the epoch and batch *before* ``optimizer.step()``; the command
then exits with status 1, the weights and the last checkpoint as they were before that batch.
"""
import functools
import json
import math
import os
import sys
import time

import numpy as np

import minicnn
import minicnn.nn.functional as F
import minicnn.optim as optim
from minicnn import datasets, kernels
from minicnn.cli.arguments import (CLIError, add_evaluate_arguments, add_train_arguments,
                                   check_distinct_outputs, check_output_path)
from minicnn.cli.checkpoint import (check_checkpoint, read_checkpoint, restore,
                                    save_checkpoint)
from minicnn.cli.distributed import DistributedRun
from minicnn.cli.options import DATASETS, OPTIMIZERS, OPTIONS, default_options
from minicnn.cli.regularize import EarlyStopping, augment_batch, make_scheduler
from minicnn.models import INPUT_SHAPES, create_model
from minicnn.kernels.runtime import MAX_THREADS_PER_CORE, max_num_threads
from minicnn.rng import manual_seed, set_rng_state
from minicnn.serialization import write_atomically
from minicnn.utils.data import DataLoader, TensorDataset

__all__ = ["add_train_arguments", "train_main", "add_evaluate_arguments", "evaluate_main",
           "train_one_epoch", "evaluate", "load_dataset", "make_optimizer", "DATASETS"]

EVAL_BATCH_SIZE = 256  # evaluation needs no gradients; bigger batches run the kernels better

# The options that define a run: a resumed run must use the checkpoint's values.
RUN_OPTIONS = tuple(o.name for o in OPTIONS if o.run)


# ---------------------------------------------------------------------------------------------
# Data and model
# ---------------------------------------------------------------------------------------------

def load_dataset(name, data_dir=None, split_test=None, limit=None, test_limit=None,
                 need_train=True):
    """Load a dataset by its CLI name as ``(train, test)`` TensorDatasets.

    Parameters
    ----------
    name : str
        A key of ``minicnn.cli.options.DATASETS`` ("digits", "mnist", "cifar10", ...).
    data_dir : str or None
        Directory of the files; required for every dataset but ``digits``.
    split_test : int or None
        Use only the test files: their first ``split_test`` images become the training set and
        the rest the test set.
    limit, test_limit : int or None
        Keep only the first ``limit`` training / ``test_limit`` test images.
    need_train : bool, default True
        False: read only the test files (``evaluate``); ``train`` is then None, unless
        ``split_test`` carves it out of them.

    Returns
    -------
    (train, test) : TensorDataset (None without ``need_train``), TensorDataset
        Images ``(N, C, H, W)`` float32 and labels ``(N,)`` int64.

    Raises
    ------
    CLIError
        Missing ``data_dir``, missing or malformed files, an impossible split, or images that
        hold NaN or Inf (naming the dataset, split and first bad sample).
    """
    if name not in DATASETS:
        raise CLIError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    split = "both" if need_train and split_test is None else "test"
    try:
        if DATASETS[name].files is None:  # ships with minicnn
            if data_dir is not None:
                raise CLIError(f"--data-dir is not used with --dataset {name} (it ships with "
                               f"minicnn)")
            loaded = DATASETS[name].load(None, split)
        else:
            if data_dir is None:
                raise CLIError(f"--dataset {name} needs --data-dir DIR, the directory holding "
                               f"its files (nothing is downloaded)")
            loaded = DATASETS[name].load(data_dir, split=split)
    except FileNotFoundError as exc:
        if getattr(exc, "missing", None):
            raise CLIError(_missing_files_message(name, data_dir, exc.looked_in, exc.missing,
                                                  need_train and split_test is None)) from None
        raise CLIError(str(exc)) from None
    except (ValueError, NotADirectoryError) as exc:
        raise CLIError(str(exc)) from None
    # NaN/Inf in the images would only surface epochs later as a NaN loss: refuse them now.
    parts = dict(zip(("train", "test"), loaded)) if split == "both" else {"test": loaded}
    for split_name, part in parts.items():
        try:
            datasets.check_finite(part, f"dataset {name} ({split_name} split)")
        except ValueError as exc:
            raise CLIError(str(exc)) from None
    if split == "both":
        train, test = loaded
    elif split_test is None:
        train, test = None, loaded
    else:
        n = len(loaded)
        if split_test >= n:
            raise CLIError(f"--split-test {split_test} leaves no test images: the test split "
                           f"has only {n}")
        x, y = loaded.arrays
        train = TensorDataset(x[:split_test], y[:split_test])
        test = TensorDataset(x[split_test:], y[split_test:])
    if limit is not None and train is not None:
        train = TensorDataset(*(a[:limit] for a in train.arrays))
    if test_limit is not None:
        test = TensorDataset(*(a[:test_limit] for a in test.arrays))
    return train, test


def _download_advice(name, data_dir):
    """Where the dataset's files come from: the places docs/data.md and minicnn.datasets name."""
    advice = DATASETS[name].advice or "get the files from {source}"
    return advice.format(source=datasets.SOURCES[name], data_dir=data_dir)


def _missing_files_message(name, data_dir, looked_in, missing, suggest_split_test):
    """What `train`/`evaluate` say when --data-dir lacks files: which (in the most complete of
    the directories ``looked_in``), where to get them, and (if ``suggest_split_test``) that the
    test files alone will do with --split-test."""
    row = DATASETS[name]
    files, title = row.files, row.title
    listed = ", ".join(n + "[.gz]" if row.gz else n for n in missing)
    looked = "looked in " + ", ".join(map(str, looked_in))
    advice = _download_advice(name, data_dir)
    if suggest_split_test and not set(files["test"]) & set(missing):  # the test files are there
        return (f"--data-dir {data_dir} lacks {title}'s training files: {looked} "
                f"for {listed}. With only the test files, add --split-test N to train on the "
                f"first N test images and test on the rest; for the full training set "
                f"(minicnn never downloads), {advice}.")
    text = (f"--data-dir {data_dir} lacks {title} files: {looked} for {listed}. "
            f"minicnn never downloads: {advice}.")
    if suggest_split_test:
        text += (f" With only the test files ({', '.join(files['test'])}), add --split-test N to "
                 f"train on the first N test images and test on the rest.")
    return text


def _check_not_empty(dataset_name, **parts):
    """An empty split would end in a division by zero after a whole epoch: refuse it now."""
    for split, part in parts.items():
        if len(part) == 0:
            raise CLIError(f"dataset {dataset_name}: the {split} set is empty (check the files, "
                           f"--limit, --test-limit and --split-test)")


def _check_model_fits(model_name, dataset_name, images, advice="pick another --model"):
    """Refuse a model whose input shape is not the dataset's; ``advice`` says what to change."""
    image_shape = tuple(images.arrays[0].shape[1:])
    if image_shape != INPUT_SHAPES[model_name]:
        fmt = "x".join
        raise CLIError(f"model {model_name} takes {fmt(map(str, INPUT_SHAPES[model_name]))} "
                       f"images but dataset {dataset_name} has {fmt(map(str, image_shape))}; "
                       f"{advice}")


def make_optimizer(name, parameters, lr, momentum=0.0, weight_decay=0.0):
    """Build the optimizer ``--optimizer name`` names (a row of ``options.OPTIMIZERS``):
    ``momentum`` goes to those that take one (SGD, RMSprop)."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    row = OPTIMIZERS[name]
    extra = {} if row.momentum is None else {"momentum": momentum}
    return row.cls(parameters, lr=lr, weight_decay=weight_decay, **extra)


# ---------------------------------------------------------------------------------------------
# The training loop
# ---------------------------------------------------------------------------------------------

_NOT_FINITE_ADVICE = ("The weights are as they were before this batch (optimizer.step() was "
                      "not called). Check the data for NaN/Inf (minicnn.datasets.check_finite) or "
                      "lower the learning rate.")


def _where(epoch, batch, n_batches):
    return f"epoch {epoch if epoch is not None else '?'}, batch {batch} of {n_batches}"


def _check_finite_loss(loss, where):
    value = loss.item()
    if not math.isfinite(value):
        raise FloatingPointError(f"{where}: the loss is {value}, not finite. "
                                 f"{_NOT_FINITE_ADVICE}")


def _check_finite_grads(model, loss, where):
    # A finite loss can still have an overflowing backward; ~20 us for LeNet's 26k numbers.
    for name, param in model.named_parameters():
        if param.grad is not None and not np.isfinite(param.grad._data).all():
            raise FloatingPointError(f"{where}: the gradient of {name} holds NaN/Inf although "
                                     f"the loss ({loss.item():.6g}) is finite. "
                                     f"{_NOT_FINITE_ADVICE}")


def train_one_epoch(model, loader, optimizer, progress=None, epoch=None, augment=None,
                    after_step=None, label_smoothing=0.0):
    """One pass over ``loader``: forward, loss, backward, step for every mini-batch.

    Non-finite numbers stop training instead of spreading into the weights: if a batch's loss
    or any parameter's gradient is NaN or Inf, ``FloatingPointError`` is raised, naming the
    epoch and the batch, *before* ``optimizer.step()`` (the weights keep their values from
    before that batch, so the last checkpoint and the model in memory stay usable).

    Parameters
    ----------
    model : nn.Module
        Maps images ``(B, C, H, W)`` to logits ``(B, classes)``.
    loader : DataLoader
        Yields ``(images, labels)``.
    optimizer : optim.Optimizer
    progress : tqdm or None
        A progress bar over the batches, updated with the running loss, accuracy and images/s.
    epoch : int or None
        The epoch's number, for error messages only.
    augment : callable or None
        Applied to each batch's image array before the forward pass (``--augment``).
    after_step : callable or None
        Called after every ``optimizer.step()`` (a per-batch learning-rate schedule).
    label_smoothing : float, default 0.0
        The cross-entropy's label smoothing (``--label-smoothing``).

    Returns
    -------
    dict
        ``loss`` (mean over images), ``accuracy`` (fraction), ``seconds``, ``images_per_second``.

    Raises
    ------
    FloatingPointError
        A loss or gradient is NaN/Inf (the message names the epoch, the batch and, for a
        gradient, the parameter).
    ValueError
        The loader yielded no images.
    """
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    start = time.perf_counter()
    n_batches = len(loader)
    for batch_index, (images, labels) in enumerate(loader, start=1):
        if augment is not None:
            images = minicnn.tensor(augment(images._data))
        optimizer.zero_grad()
        logits = model(images)
        loss = F.cross_entropy(logits, labels, label_smoothing=label_smoothing)
        where = _where(epoch, batch_index, n_batches)
        _check_finite_loss(loss, where)
        loss.backward()
        _check_finite_grads(model, loss, where)
        optimizer.step()
        if after_step is not None:
            after_step()

        batch = len(labels)
        total_loss += loss.item() * batch
        correct += int((logits._data.argmax(axis=1) == labels._data).sum())
        seen += batch
        if progress is not None:
            elapsed = time.perf_counter() - start
            progress.set_postfix_str(f"loss {total_loss / seen:.4f}, acc {correct / seen:.2%}, "
                                     f"{seen / elapsed:.0f} img/s", refresh=False)
            progress.update(1)
    if progress is not None:
        progress.refresh()  # tqdm skips redraws within 0.1 s: show the epoch's final figures
    _check_seen(seen, "train_one_epoch")
    seconds = time.perf_counter() - start
    return {"loss": total_loss / seen, "accuracy": correct / seen, "seconds": seconds,
            "images_per_second": seen / seconds}


def evaluate(model, loader):
    """Mean cross-entropy loss and accuracy of ``model`` over ``loader``, without gradients.

    Parameters
    ----------
    model : nn.Module
    loader : DataLoader
        Yields ``(images (B, C, H, W), labels (B,))``.

    Returns
    -------
    (loss, accuracy) : float, float
        Loss averaged over all images; accuracy as a fraction in [0, 1].

    Raises
    ------
    ValueError
        The loader yielded no images.
    """
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    with minicnn.no_grad():
        for images, labels in loader:
            logits = model(images)
            total_loss += F.cross_entropy(logits, labels).item() * len(labels)
            correct += int((logits._data.argmax(axis=1) == labels._data).sum())
            seen += len(labels)
    _check_seen(seen, "evaluate")
    return total_loss / seen, correct / seen


def _check_seen(seen, name):
    """Means over no images do not exist: say so instead of dividing by zero."""
    if seen == 0:
        raise ValueError(f"{name}: the loader yielded no images (is its dataset empty?)")


# ---------------------------------------------------------------------------------------------
# Metrics and plot
# ---------------------------------------------------------------------------------------------

def _write_plot(path, history, title):
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    from matplotlib.ticker import MaxNLocator

    epochs = [h["epoch"] for h in history]
    fig = Figure(figsize=(9, 3.5), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    # the validation split (--val-split, --early-stopping) too, when there is one
    curves = [("train", "o-"), ("val", "^-"), ("test", "s-")]
    for name, style in curves:
        if all(f"{name}_loss" in h for h in history):
            ax_loss.plot(epochs, [h[f"{name}_loss"] for h in history], style, label=name)
            ax_acc.plot(epochs, [100 * h[f"{name}_accuracy"] for h in history], style,
                        label=name)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs 1, 2, 3: no 1.5
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle(title)
    fig.savefig(path, dpi=100)
    return fig


def _peak_rss_mb():
    """Peak resident memory of this process so far, in MiB (None where unsupported)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Unix
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2 ** 20 if sys.platform == "darwin" else 2 ** 10), 1)  # bytes vs KiB


def _write_json(path, obj):
    text = json.dumps(obj, indent=2) + "\n"
    write_atomically(path, lambda f: f.write(text.encode("utf-8")))


# ---------------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------------

def _resolve_options(args, checkpoint):
    """The run's options: command line, else the resumed checkpoint, else the defaults."""
    given = {k: getattr(args, k, None) for k in RUN_OPTIONS}
    if checkpoint is not None:
        saved = checkpoint["args"]
        for key, value in given.items():
            if value is not None and value != saved.get(key):
                flag = "--" + key.replace("_", "-")
                raise CLIError(f"{flag} {value} differs from the checkpoint's "
                               f"{saved.get(key)!r}: a resumed run keeps its settings (leave "
                               f"{flag} out, or start a new run without --resume)")
        return dict(saved)
    return default_options(dict(given))


def _epoch_line(h, epochs):
    val = (f"val loss {h['val_loss']:.4f}  val acc {h['val_accuracy']:7.2%}  "
           if "val_loss" in h else "")
    return (f"epoch {h['epoch']:>{len(str(epochs))}}/{epochs}  "
            f"train loss {h['train_loss']:.4f}  train acc {h['train_accuracy']:7.2%}  " + val +
            f"test loss {h['test_loss']:.4f}  test acc {h['test_accuracy']:7.2%}  "
            f"{h['seconds']:6.1f} s  {h['images_per_second']:7.0f} img/s")


def train_main(args):
    """Run ``python -m minicnn train`` with parsed ``args``; returns the exit status:
    0 done, 1 stopped by NaN/Inf or divergence, 2 a bad option or file, 130 Ctrl-C."""
    state = {"epoch": None, "saved": None}  # the epoch running, the last one checkpointed
    code = _train_or_report(args, state)
    if code and state.get("distributed") is not None:
        state["distributed"].stop_all(code)   # the other ranks would wait for this one
    return code


def _train_or_report(args, state):
    try:
        return _train(args, state)
    except CLIError as exc:
        print(f"minicnn train: error: {exc}", file=sys.stderr)
        return 2
    except FloatingPointError as exc:  # a NaN/Inf loss or gradient: stopped before the step
        print(f"minicnn train: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(file=sys.stderr)  # end the line the progress bar was on
        print(f"minicnn train: {_interrupted(args, state)}", file=sys.stderr)
        return 130


def _interrupted(args, state):
    """The one line Ctrl-C prints: where training stopped and how to continue."""
    where = (f"interrupted in epoch {state['epoch']}" if state["epoch"] is not None
             else "interrupted before the first epoch")
    if not getattr(args, "checkpoint", None):
        return f"{where}; no checkpoint (no --checkpoint given)"
    if state["saved"] is None:
        return f"{where}; no complete checkpoint yet in {args.checkpoint}"
    return (f"{where}; last complete checkpoint: epoch {state['saved']}; resume with: "
            f"python -m minicnn train --checkpoint {args.checkpoint} --resume"
            + (f" --epochs {args.epochs}" if args.epochs else ""))


# An epoch whose weights grow past this has diverged even if every number is still finite.
DIVERGED_WEIGHT = 1e6


def _check_not_diverged(model, record, epoch, saved, path):
    """Raise FloatingPointError naming the epoch if it diverged (a non-finite loss, or weights
    that are NaN/Inf or huge); its weights are then not saved over the last checkpoint."""
    problem = None
    for key in ("train_loss", "test_loss"):
        if not math.isfinite(record[key]):
            problem = f"its {key.replace('_', ' ')} is {record[key]}"
            break
    if problem is None:
        for name, param in model.named_parameters():
            largest = float(np.max(np.abs(param._data))) if param._data.size else 0.0
            if not math.isfinite(largest) or largest > DIVERGED_WEIGHT:
                problem = f"{name} holds {largest:.3g} (more than {DIVERGED_WEIGHT:g})"
                break
    if problem is None:
        return
    kept = (f"the checkpoint {path} still holds epoch {saved}" if path and saved is not None
            else "nothing was saved for it")
    raise FloatingPointError(f"epoch {epoch} diverged: {problem}; {kept}. Lower the learning "
                             f"rate (--lr) and start again.")


def _is_terminal(stream):
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _train(args, state):
    from tqdm import tqdm

    outputs = ((args.checkpoint, "--checkpoint"), (args.metrics_json, "--metrics-json"),
               (args.plot, "--plot"))
    for path, flag in outputs:
        check_output_path(path, flag)
    check_distinct_outputs(outputs)
    if args.resume and not args.checkpoint:
        raise CLIError("--resume needs --checkpoint PATH (the run to continue)")
    if args.resume and getattr(args, "overwrite", False):
        raise CLIError("--resume continues the checkpoint and --overwrite replaces it: "
                       "give one of them")
    if args.checkpoint and not args.resume and os.path.exists(args.checkpoint) \
            and not getattr(args, "overwrite", False):
        raise CLIError(f"--checkpoint {args.checkpoint} already exists: pass --resume to "
                       f"continue that run, or --overwrite to start a new run that replaces "
                       f"it (after its first epoch)")
    if args.threads is not None and args.threads > max_num_threads():
        raise CLIError(f"--threads {args.threads} is more than {MAX_THREADS_PER_CORE} per "
                       f"usable core: at most {max_num_threads()} here")
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise CLIError("--plot needs matplotlib: pip install matplotlib") from None
    checkpoint = read_checkpoint(args.checkpoint) if args.resume else None
    options = _resolve_options(args, checkpoint)
    if args.momentum is not None and OPTIMIZERS[options["optimizer"]].momentum is None:
        # As torch.optim.Adam(momentum=...) is a TypeError: a momentum silently dropped would
        # leave the user believing it shaped the run.
        takers = " and ".join(n for n, row in OPTIMIZERS.items() if row.momentum is not None)
        raise CLIError(f"--momentum applies to --optimizer {takers} only: "
                       f"{options['optimizer']} takes none (its moving averages use betas 0.9 "
                       f"and 0.999, as PyTorch's do); leave --momentum out or use --optimizer "
                       f"sgd")
    epochs = args.epochs or (checkpoint["args"]["epochs"] if checkpoint else
                             DATASETS[options["dataset"]].epochs)
    if checkpoint is not None and options.get("scheduler") and \
            epochs != checkpoint["args"]["epochs"]:
        raise CLIError(f"--epochs {epochs}: this run's --scheduler {options['scheduler']} was "
                       f"planned for {checkpoint['args']['epochs']} epochs, so the run cannot "
                       f"be shortened or extended (leave --epochs out to finish it)")
    options["epochs"] = epochs
    if args.data_dir is not None:  # kept so `evaluate` finds the data without --data-dir
        options["data_dir"] = os.path.abspath(args.data_dir)
    data_dir = options.get("data_dir")
    if args.threads is not None:
        minicnn.set_num_threads(args.threads)
    threads = minicnn.get_num_threads()
    run = state["distributed"] = DistributedRun() if getattr(args, "distributed", False) else None
    if run is not None and not run.writes:
        args.metrics_json = args.plot = None   # rank 0 writes the files, the checkpoint too

    train_set, test_set = load_dataset(options["dataset"], data_dir, options["split_test"],
                                       options["limit"], options["test_limit"])
    if options.get("early_stopping") and not options.get("val_split"):
        options["val_split"] = 0.1
    val_set = None
    if options.get("val_split"):
        # The last fraction of the training images (a fixed split: the same on every resume).
        x, y = train_set.arrays
        n_val = max(1, int(round(len(y) * options["val_split"])))
        train_set = TensorDataset(x[:-n_val], y[:-n_val])
        val_set = TensorDataset(x[-n_val:], y[-n_val:])
    _check_not_empty(options["dataset"], train=train_set, test=test_set)
    _check_model_fits(options["model"], options["dataset"], train_set)

    # Seed first: the initial weights and then every epoch's batch order come from this generator.
    manual_seed(options["seed"])
    model = create_model(options["model"])
    optimizer = make_optimizer(options["optimizer"], model.parameters(), options["lr"],
                               options["momentum"], options["weight_decay"])
    train_loader = (run.loader(train_set, options["batch_size"]) if run else
                    DataLoader(train_set, batch_size=options["batch_size"], shuffle=True))
    # The schedule is built before a resumed optimizer state is loaded (as PyTorch resumes).
    scheduler, per_batch = (make_scheduler(options["scheduler"], optimizer, epochs,
                                           len(train_loader))
                            if options.get("scheduler") else (None, False))
    stopper = EarlyStopping(options["early_stopping"]) if options.get("early_stopping") else None
    augment = (functools.partial(augment_batch, flip=DATASETS[options["dataset"]].flip)
               if options.get("augment") else None)
    history, start_epoch = [], 1
    if checkpoint is not None:
        # Every part checked against what this run built, before any of it is loaded.
        check_checkpoint(args.checkpoint, checkpoint, model, options["model"],
                          ("model", "best_model"), (optimizer, scheduler, len(train_loader)))
        restore(args.checkpoint, f"model state ({options['model']})", model.load_state_dict,
                 checkpoint["model"])
        restore(args.checkpoint, "optimizer state", optimizer.load_state_dict,
                 checkpoint["optimizer"])
        restore(args.checkpoint, "random generator state", set_rng_state, checkpoint["rng"])
        if scheduler is not None:
            restore(args.checkpoint, "scheduler state", scheduler.load_state_dict,
                     checkpoint.get("scheduler", {}))
        if stopper is not None:
            restore(args.checkpoint, "early-stopping state",
                     lambda s: stopper.load_state_dict(s, checkpoint.get("best_model")),
                     checkpoint.get("early_stopping", {}))
        history = list(checkpoint["history"])
        start_epoch = int(checkpoint["epoch"]) + 1
        state["saved"] = int(checkpoint["epoch"])
        if start_epoch > epochs:
            print(f"checkpoint {args.checkpoint} already holds {start_epoch - 1} epochs "
                  f"(--epochs {epochs}): nothing to train")
    test_loader = DataLoader(test_set, batch_size=EVAL_BATCH_SIZE)
    val_loader = None if val_set is None else DataLoader(val_set, batch_size=EVAL_BATCH_SIZE)

    if not args.quiet:
        print(f"training {options['model']} on {options['dataset']} ({len(train_set)} train, "
              f"{len(test_set)} test images), {options['optimizer']} lr {options['lr']}, "
              f"batch {options['batch_size']}, seed {options['seed']}, {threads} threads")
    # A bar redraws itself ten times a second: on a terminal. In a log (stderr redirected) each
    # redraw would be another line, so there the epoch's summary line is all that is written.
    show_bar = not args.quiet and _is_terminal(sys.stderr) and (run is None or run.writes)
    trained = run.wrap(model) if run else model
    for epoch in range(start_epoch, epochs + 1):
        state["epoch"] = epoch
        with tqdm(total=len(train_loader), desc=f"epoch {epoch}/{epochs}", unit="batch",
                  leave=False, disable=not show_bar, file=sys.stderr) as bar:
            stats = train_one_epoch(trained, train_loader, optimizer, bar, epoch=epoch,
                                    augment=augment,
                                    after_step=scheduler.step if per_batch else None,
                                    label_smoothing=options.get("label_smoothing") or 0.0)
        if run is not None:
            stats = run.combine(stats)
        if scheduler is not None and not per_batch:
            scheduler.step()
        test_loss, test_accuracy = evaluate(model, test_loader)
        history.append({"epoch": epoch, "train_loss": stats["loss"],
                        "train_accuracy": stats["accuracy"], "test_loss": test_loss,
                        "test_accuracy": test_accuracy, "seconds": stats["seconds"],
                        "images_per_second": stats["images_per_second"],
                        "peak_rss_mb": _peak_rss_mb()})
        stop = False
        if val_loader is not None:
            history[-1]["val_loss"], history[-1]["val_accuracy"] = evaluate(model, val_loader)
            if stopper is not None:
                stop = stopper.update(epoch, history[-1]["val_loss"], model)
        print(_epoch_line(history[-1], epochs), flush=True)
        _check_not_diverged(model, history[-1], epoch, state["saved"], args.checkpoint)
        extra = {}
        if scheduler is not None:
            extra["scheduler"] = scheduler.state_dict()
        if stopper is not None:
            extra["early_stopping"] = stopper.state_dict()
            extra["best_model"] = stopper.best_state
        if args.checkpoint and (run is None or run.writes):
            try:
                save_checkpoint(args.checkpoint, model, options["model"], optimizer, epoch,
                                 options, history, extra)
            except OSError as exc:
                raise CLIError(f"cannot write --checkpoint {args.checkpoint} after epoch "
                               f"{epoch}: {exc.strerror or exc}") from None
            state["saved"] = epoch
        if stop:
            if not args.quiet:
                print(f"early stopping: the validation loss has not improved for "
                      f"{stopper.patience} epochs since epoch {stopper.best_epoch}")
            break
    state["epoch"] = None
    if stopper is not None and stopper.best_state is not None:
        # The best epoch's weights are the result of the run: test them.
        model.load_state_dict(stopper.best_state)
        test_loss, test_accuracy = evaluate(model, test_loader)
        history[-1] = dict(history[-1], best_epoch=stopper.best_epoch,
                           best_test_loss=test_loss, best_test_accuracy=test_accuracy)

    if not history:
        raise CLIError("no epoch was trained and the checkpoint holds no history")
    final = history[-1]
    train_seconds = sum(h["seconds"] for h in history)
    images = sum(h["seconds"] * h["images_per_second"] for h in history)
    metrics = {
        "dataset": options["dataset"], "model": options["model"], "epochs": final["epoch"],
        "test_accuracy": final.get("best_test_accuracy", final["test_accuracy"]),
        "test_loss": final.get("best_test_loss", final["test_loss"]),
        "train_seconds": train_seconds, "images_per_second": images / train_seconds,
        "threads": threads, "seed": options["seed"], "minicnn_version": minicnn.__version__,
        "backend": kernels.get_backend(), "options": options, "history": history,
    }
    if args.metrics_json:
        _write_json(args.metrics_json, metrics)
    if args.plot:
        _write_plot(args.plot, history, f"{options['model']} on {options['dataset']}")
    best = (f", the weights of epoch {final['best_epoch']} (best validation loss)"
            if "best_epoch" in final else "")
    print(f"test accuracy {metrics['test_accuracy']:.2%} after {final['epoch']} epochs"
          f"{best} ({train_seconds:.1f} s of training)")  # the result: shown even with --quiet
    return 0


def evaluate_main(args):
    """Run ``python -m minicnn evaluate`` with parsed ``args``; returns the exit status."""
    try:
        return _evaluate(args)
    except CLIError as exc:
        print(f"minicnn evaluate: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nminicnn evaluate: interrupted", file=sys.stderr)
        return 130


def _evaluate(args):
    checkpoint = read_checkpoint(args.checkpoint)
    saved = checkpoint["args"]
    name = args.dataset or saved["dataset"]
    # Reuse the checkpoint's split only for its own dataset.
    same = name == saved["dataset"]
    split_test = args.split_test if args.split_test is not None else \
        (saved.get("split_test") if same else None)
    test_limit = args.test_limit if args.test_limit is not None else \
        (saved.get("test_limit") if same else None)
    data_dir = args.data_dir
    if data_dir is None and DATASETS[name].files is not None and same:
        data_dir = saved.get("data_dir")
    _, test_set = load_dataset(name, data_dir, split_test, None, test_limit, need_train=False)
    _check_not_empty(name, test=test_set)
    model_name = checkpoint["model_name"]
    # evaluate has no --model: the checkpoint fixes the network, so the dataset must change.
    _check_model_fits(model_name, name, test_set,
                      f"the checkpoint's network needs --dataset {saved['dataset']} (the one "
                      f"it was trained on) or another dataset of that image size")
    model = create_model(model_name)
    # With early stopping the run's result is its best epoch's weights.
    best = checkpoint.get("best_model")
    check_checkpoint(args.checkpoint, checkpoint, model, model_name,
                      ["best_model" if best is not None else "model"])
    restore(args.checkpoint, f"model state ({model_name})", model.load_state_dict,
             best if best is not None else checkpoint["model"])
    if args.threads is not None:
        if args.threads > max_num_threads():
            raise CLIError(f"--threads {args.threads} is more than {MAX_THREADS_PER_CORE} per "
                           f"usable core: at most {max_num_threads()} here")
        minicnn.set_num_threads(args.threads)
    loss, accuracy = evaluate(model, DataLoader(test_set, batch_size=EVAL_BATCH_SIZE))
    print(f"{model_name} (epoch {checkpoint['epoch']}) on {name}: test loss {loss:.4f}, "
          f"test accuracy {accuracy:.2%} ({len(test_set)} images)")
    return 0
