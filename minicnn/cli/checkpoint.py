"""The checkpoints of ``python -m minicnn train``: what one holds, writing it, and reading it back
with every field checked, so that a damaged or hand-edited file is refused naming the file and
the field before any training starts."""
import math

import numpy as np

import minicnn
from minicnn.models import MODELS
from minicnn.rng import get_rng_state

CHECKPOINT_FORMAT = "minicnn-checkpoint-v1"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file and what is wrong."""


def save_checkpoint(path, model, model_name, optimizer, epoch, options, history, extra=None):
    """Write the checkpoint of a run after ``epoch`` (atomically: see ``minicnn.save``).

    ``extra`` may add "scheduler" (its state dict), "early_stopping" (the counters) and
    "best_model" (the best epoch's weights)."""
    minicnn.save({
        **(extra or {}),
        "format": CHECKPOINT_FORMAT,
        "model_name": model_name,
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng": get_rng_state(),
        "args": options,
        "history": history,
        "version": minicnn.__version__,
    }, path)


def load_checkpoint(path, datasets):
    """Load a checkpoint written by ``python -m minicnn train`` and check every field a resume
    or an evaluation uses (``datasets``: the dataset names a run may name). Raises
    CheckpointError naming the file (and the field) for anything else."""
    try:
        checkpoint = minicnn.load(path)
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path!r} does not exist") from None
    except ValueError as exc:
        raise CheckpointError(str(exc)) from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path!r} is not a checkpoint written by `python -m minicnn train` "
                              f"(a minicnn.save file without format {CHECKPOINT_FORMAT!r})")
    if checkpoint.get("model_name") not in MODELS:
        raise CheckpointError(f"{path!r}: unknown model {checkpoint.get('model_name')!r}")
    # A damaged or hand-edited checkpoint must fail here, with its path, not as a traceback
    # from deep inside the resume.
    expected = {"epoch": int, "model": dict, "optimizer": dict, "rng": dict, "args": dict,
                "history": list}
    for key, kind in expected.items():
        value = checkpoint.get(key)
        if not isinstance(value, kind) or isinstance(value, bool):
            got = "missing" if key not in checkpoint else f"a {type(value).__name__}"
            raise CheckpointError(f"checkpoint {path!r} is damaged: its {key!r} entry should be a "
                                  f"{kind.__name__}, it is {got}")
    missing = [k for k in ("dataset", "model", "batch_size", "lr", "seed", "epochs")
               if k not in checkpoint["args"]]
    if missing:
        raise CheckpointError(f"checkpoint {path!r} is damaged: its 'args' lack {missing}")
    check_checkpoint_fields(path, checkpoint, datasets)
    return checkpoint


# Sane bounds for a checkpoint's numbers: a hand-edited 10**30 fails here, not mid-run.
_MAX_COUNT = 10 ** 9
_OPTIMIZER_ARRAYS = ("momentum_buffer", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")


def check_checkpoint_fields(path, checkpoint, datasets):
    """Every field a resume or an evaluation uses, checked for type and range: a damaged or
    hand-edited checkpoint is refused naming the file and the field, before any training."""
    def damaged(field, what):
        return CheckpointError(f"checkpoint {path!r} is damaged: {field} {what}")

    def count(value, field, low):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                or not low <= value <= _MAX_COUNT:
            raise damaged(field, f"should be an integer in {low}..{_MAX_COUNT}, "
                                 f"it is {str(value)[:40]!r}")

    def number(value, field):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
                or not math.isfinite(value) or value < 0:
            raise damaged(field, f"should be a finite number >= 0, it is {str(value)[:40]!r}")

    count(checkpoint["epoch"], "'epoch'", 0)
    args = checkpoint["args"]
    if args["dataset"] not in datasets:
        raise damaged("args['dataset']", f"is {str(args['dataset'])[:40]!r}, not one of "
                                         f"{', '.join(datasets)}")
    if args["model"] != checkpoint["model_name"]:
        raise damaged("args['model']", f"({str(args['model'])[:40]!r}) differs from "
                                       f"'model_name' ({checkpoint['model_name']!r})")
    for key in ("batch_size", "epochs"):
        count(args[key], f"args[{key!r}]", 1)
    count(args["seed"], "args['seed']", 0)
    for key in ("limit", "test_limit", "split_test"):
        if args.get(key) is not None:
            count(args[key], f"args[{key!r}]", 1)
    for key in ("lr", "momentum", "weight_decay"):
        if key in args:
            number(args[key], f"args[{key!r}]")
    if args.get("optimizer", "sgd") not in ("sgd", "adam", "adamw"):
        raise damaged("args['optimizer']", f"is {str(args.get('optimizer'))[:40]!r}, not sgd, "
                                           f"adam or adamw")
    def kind(value):
        return (f"a {value.dtype} array" if isinstance(value, np.ndarray)
                else f"a {type(value).__name__}")

    for name, value in checkpoint["model"].items():
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            raise damaged(f"model[{str(name)[:60]!r}]", f"should be a float array, it is "
                                                       f"{kind(value)}")
    optimizer = checkpoint["optimizer"]
    if not isinstance(optimizer.get("state"), dict) or \
            not isinstance(optimizer.get("param_groups"), list):
        raise damaged("'optimizer'", "should hold a 'state' dict and a 'param_groups' list")
    for index, entry in optimizer["state"].items():
        if not isinstance(entry, dict):
            raise damaged(f"optimizer['state'][{index!r}]", "should be a dict")
        for name, value in entry.items():
            field = f"optimizer['state'][{index!r}][{str(name)[:40]!r}]"
            if name in _OPTIMIZER_ARRAYS:
                if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
                    raise damaged(field, f"should be a float array, it is {kind(value)}")
            elif name == "step":
                count(value, field, 0)
            else:
                raise damaged(field, "is not a state this optimizer keeps")
    for g, group in enumerate(optimizer["param_groups"]):
        if not isinstance(group, dict) or not isinstance(group.get("params"), list):
            raise damaged(f"optimizer['param_groups'][{g}]", "should be a dict with 'params'")
        for key in ("lr", "momentum", "weight_decay", "eps", "dampening"):
            if key in group:
                number(group[key], f"optimizer['param_groups'][{g}][{key!r}]")
    if "scheduler" in checkpoint:
        sched = checkpoint["scheduler"]
        if not isinstance(sched, dict) or "last_epoch" not in sched:
            raise damaged("'scheduler'", "should be a scheduler's state dict")
        count(sched["last_epoch"], "scheduler['last_epoch']", 0)
    if "early_stopping" in checkpoint:
        stop = checkpoint["early_stopping"]
        if not isinstance(stop, dict):
            raise damaged("'early_stopping'", "should be a dict")
        count(stop.get("best_epoch"), "early_stopping['best_epoch']", 0)
        count(stop.get("bad_epochs"), "early_stopping['bad_epochs']", 0)
        if not isinstance(stop.get("best_loss"), (int, float)) or stop["best_loss"] < 0:
            raise damaged("early_stopping['best_loss']", "should be a number >= 0")
    best = checkpoint.get("best_model")
    if best is not None:
        if not isinstance(best, dict) or set(best) != set(checkpoint["model"]) or any(
                not isinstance(v, np.ndarray) or v.dtype.kind != "f" for v in best.values()):
            raise damaged("'best_model'", "should hold the same float arrays as 'model'")
    for i, h in enumerate(checkpoint["history"]):
        if not isinstance(h, dict) or not isinstance(h.get("epoch"), int) or any(
                not isinstance(h.get(k), (int, float)) for k in
                ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds",
                 "images_per_second")):
            raise damaged(f"history[{i}]", "should be a dict of an epoch's figures")
