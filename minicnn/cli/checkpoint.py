"""The checkpoints of ``python -m minicnn train``: what one holds, writing it, and reading it back
with every field checked, so that a damaged or hand-edited file is refused naming the file and
the field before any training starts."""
import math

import numpy as np

import minicnn
from minicnn.cli.arguments import CLIError
from minicnn.cli import options
from minicnn.cli.options import DATASETS, OPTIMIZERS, OPTIONS, is_real, kind, show
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
    missing = [o.name for o in OPTIONS if o.required and o.name not in checkpoint["args"]]
    if missing:
        raise CheckpointError(f"checkpoint {path!r} is damaged: its 'args' lack {missing}")
    check_checkpoint_fields(path, checkpoint, datasets)
    return checkpoint


# The group options a run changes as it goes (a schedule moves the rate and the momentum);
# every other option must be the one the run's settings give.
_MOVING_OPTIONS = ("lr", "momentum", "betas")
# The scheduler attributes that count the steps taken; every other one is fixed by the run's
# settings (the schedule's kind, --epochs and the batches per epoch).
_SCHEDULER_PROGRESS = ("last_epoch", "_step_count", "_is_initial", "_last_lr")


def check_checkpoint_fields(path, checkpoint, datasets):
    """Every field a resume or an evaluation uses, checked for type and range: a damaged or
    hand-edited checkpoint is refused naming the file and the field, before any training."""
    def damaged(field, what):
        return CheckpointError(f"checkpoint {path!r} is damaged: {field} {what}")

    def check(rule, value, field):
        what = rule(value)
        if what:
            raise damaged(field, what)

    def count(value, field, low):
        check(options.count(low), value, field)

    count(checkpoint["epoch"], "'epoch'", 0)
    args = checkpoint["args"]
    for option in OPTIONS:  # each saved option against its rule in the table of options
        value = args.get(option.name)
        if option.saved is not None and (value is not None or option.required):
            rule = options.one_of(tuple(datasets)) if option.name == "dataset" else option.saved
            check(rule, value, f"args[{option.name!r}]")
    if args["model"] != checkpoint["model_name"]:
        raise damaged("args['model']", f"({show(args['model'])}) differs from "
                                       f"'model_name' ({checkpoint['model_name']!r})")
    for field in ("model", "best_model"):
        state = checkpoint.get(field)
        if state is None and field == "best_model":
            continue
        if not isinstance(state, dict):
            raise damaged(f"{field!r}", f"should be a dict of arrays, it is {kind(state)}")
        for name, value in state.items():
            # the model's own state dict checks names, shapes and dtypes (check_model_state)
            if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
                raise damaged(f"{field}[{show(name)}]",
                              f"should be a numeric array, it is {kind(value)}")
    optimizer = checkpoint["optimizer"]
    if not isinstance(optimizer.get("state"), dict) or \
            not isinstance(optimizer.get("param_groups"), list):
        raise damaged("'optimizer'", "should hold a 'state' dict and a 'param_groups' list")
    for index, entry in optimizer["state"].items():
        if not isinstance(entry, dict):
            raise damaged(f"optimizer['state'][{index!r}]", "should be a dict")
        for name, value in entry.items():
            field = f"optimizer['state'][{index!r}][{show(name)}]"
            if name == "step":
                count(value, field, 0)
            elif name not in OPTIMIZERS[args["optimizer"]].state_names(
                    optimizer["param_groups"])[0]:
                raise damaged(field, f"is not a state {args['optimizer']} keeps")
            elif not isinstance(value, np.ndarray) or value.dtype.kind != "f":
                raise damaged(field, f"should be a float array, it is {kind(value)}")
    for g, group in enumerate(optimizer["param_groups"]):
        if not isinstance(group, dict) or not isinstance(group.get("params"), list):
            raise damaged(f"optimizer['param_groups'][{g}]", "should be a dict with 'params'")
        for key in ("lr", "momentum", "weight_decay", "eps", "dampening"):
            if key in group:
                check(options.number, group[key], f"optimizer['param_groups'][{g}][{key!r}]")
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
        best_loss = stop.get("best_loss")
        if not is_real(best_loss) or not best_loss >= 0:
            raise damaged("early_stopping['best_loss']", "should be a number >= 0")
    for i, h in enumerate(checkpoint["history"]):
        if not isinstance(h, dict) or not isinstance(h.get("epoch"), int) or any(
                not isinstance(h.get(k), (int, float)) for k in
                ("train_loss", "train_accuracy", "test_loss", "test_accuracy", "seconds",
                 "images_per_second")):
            raise damaged(f"history[{i}]", "should be a dict of an epoch's figures")


def check_model_state(path, field, state, model, model_name):
    """A checkpoint's ``field`` ('model' or 'best_model') against ``model.state_dict()``:
    the same names, and for each parameter and buffer the same shape and dtype (BatchNorm's
    ``num_batches_tracked`` is an int64 counter) and finite values."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        parts = [f"{label} {', '.join(map(repr, keys[:4]))}{' ...' if len(keys) > 4 else ''}"
                 for label, keys in (("lacks", missing), ("has unknown entries", unexpected))
                 if keys]
        raise CheckpointError(f"checkpoint {path!r}: its {field!r} does not fit model "
                              f"{model_name}: it {' and '.join(parts)}")
    for name, tensor in expected.items():
        want, value = tensor._data, state[name]
        if value.dtype != want.dtype or value.shape != want.shape:
            raise CheckpointError(f"checkpoint {path!r}: its {field}[{name!r}] does not fit "
                                  f"model {model_name}: it should be a {want.dtype} array of "
                                  f"shape {want.shape}, it is {kind(value)}")
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise CheckpointError(f"checkpoint {path!r} is damaged: {field}[{name!r}] holds "
                                  f"NaN or Inf")


def _same(a, b):
    """Equal values of the same types (1 is not 1.0 or True here; tuples are not lists)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return a == b


def check_resume_state(path, checkpoint, optimizer, scheduler, batches_per_epoch):
    """The checkpoint's optimizer and scheduler state against the ones this run built from
    the checkpoint's settings, before any of it is loaded: the same parameter groups and
    options (only the rate and momentum may have moved), per-parameter state of the right
    names, shapes and dtypes, and a schedule with the same plan whose step count matches the
    epochs done. Raises CheckpointError, one line naming the file and the field."""
    def damaged(field, what):
        return CheckpointError(f"checkpoint {path!r} is damaged: {field} {what}")

    name = checkpoint["args"]["optimizer"]
    saved, fresh = checkpoint["optimizer"], optimizer.state_dict()
    if len(saved["param_groups"]) != len(fresh["param_groups"]):
        raise damaged("optimizer['param_groups']", f"has {len(saved['param_groups'])} groups, "
                                                   f"this model's {name} has "
                                                   f"{len(fresh['param_groups'])}")
    params = {}
    for g, (group, own) in enumerate(zip(saved["param_groups"], fresh["param_groups"])):
        where = f"optimizer['param_groups'][{g}]"
        for key in own:
            # a switch (None or a bool) an older minicnn did not save takes this run's value,
            # as Optimizer.load_state_dict fills it in; a number (momentum, ...) must be there
            if key not in group and not (own[key] is None or isinstance(own[key], bool)):
                raise damaged(where, f"lacks {key!r}")
        for key in group:
            if key not in own:
                raise damaged(where, f"has {show(key)}, which {name} does not use")
        if not _same(group["params"], own["params"]):
            raise damaged(f"{where}['params']", f"should be {show(own['params'])}")
        params.update(zip(own["params"], optimizer.param_groups[g]["params"]))
        for key, value in group.items():
            if key == "params":
                continue
            if key in _MOVING_OPTIONS:
                if key == "betas":  # Adam's (beta1, beta2), each in [0, 1)
                    fits = isinstance(value, tuple) and len(value) == len(own[key]) and all(
                        is_real(v) and 0 <= v < 1 for v in value)
                else:
                    fits = is_real(value) and math.isfinite(value) and value >= 0
                if not fits:
                    raise damaged(f"{where}[{key!r}]", f"should be like {own[key]!r}, it is "
                                                       f"{show(value)}")
            elif not _same(value, own[key]):
                raise damaged(f"{where}[{key!r}]", f"is {show(value)}, but this run's "
                                                   f"settings give {own[key]!r}")
    allowed, required = OPTIMIZERS[name].state_names(fresh["param_groups"])
    for index, entry in saved["state"].items():
        where = f"optimizer['state'][{index!r}]"[:80]
        if index not in params:
            raise damaged(where, "belongs to no parameter")
        lacking = sorted(required - set(entry))
        if lacking or not set(entry) <= allowed:
            raise damaged(where, f"should hold {', '.join(sorted(required or allowed))}, it "
                                 f"holds {', '.join(map(show, entry)) or 'nothing'}")
        want = params[index]._data
        for key, value in entry.items():
            if key != "step" and (value.shape != want.shape or value.dtype != want.dtype
                                  or not np.isfinite(value).all()):
                raise damaged(f"{where}[{key!r}]", f"should be a finite {want.dtype} array "
                                                   f"of shape {want.shape}, it is "
                                                   f"{kind(value)}")
    if scheduler is not None:
        _check_scheduler_state(path, checkpoint, scheduler, batches_per_epoch, damaged)


def _check_scheduler_state(path, checkpoint, scheduler, batches_per_epoch, damaged):
    args, saved = checkpoint["args"], checkpoint.get("scheduler")
    if not isinstance(saved, dict):
        raise damaged("'scheduler'", f"is missing, but the run uses --scheduler "
                                     f"{args['scheduler']}")
    own = scheduler.state_dict()
    unknown = [k for k in saved if k not in own]
    lacking = [k for k in own if k not in saved]
    if unknown or lacking:
        raise damaged("'scheduler'", f"is not the state of --scheduler {args['scheduler']}: "
                                     f"{'unknown ' + show(unknown) if unknown else ''}"
                                     f"{' ' if unknown and lacking else ''}"
                                     f"{'lacking ' + show(lacking) if lacking else ''}")
    if "total_steps" in own and saved["total_steps"] != own["total_steps"]:
        raise CheckpointError(
            f"checkpoint {path!r}: its --scheduler {args['scheduler']} was planned for "
            f"{show(saved['total_steps'])} steps, but {args['epochs']} epochs of this data "
            f"make {own['total_steps']} ({batches_per_epoch} batches each): resume with the "
            f"data (and --data-dir) the run began with")
    for key, value in saved.items():
        if key not in _SCHEDULER_PROGRESS and not _same(value, own[key]):
            raise damaged(f"scheduler[{key!r}]", f"is {show(value)}, but this run's "
                                                 f"settings give {show(own[key])}")
    steps = checkpoint["epoch"] * (batches_per_epoch if "total_steps" in own else 1)
    if not _same(saved["last_epoch"], steps) or not _same(saved["_step_count"], steps + 1):
        raise damaged("'scheduler'", f"has taken {show(saved['last_epoch'])} steps, but "
                                     f"the epochs done ({checkpoint['epoch']}) take {steps}")
    last = saved["_last_lr"]
    if saved["_is_initial"] is not False or not isinstance(last, list) or \
            len(last) != len(own["_last_lr"]) or \
            not all(is_real(v) and math.isfinite(v) and v >= 0 for v in last):
        raise damaged("'scheduler'", "has a bad '_is_initial' or '_last_lr'")


# ---------------------------------------------------------------------------------------------
# For the commands: the checks above as CLIErrors (one line, no traceback)
# ---------------------------------------------------------------------------------------------

def read_checkpoint(path):
    """``load_checkpoint`` for ``train --resume`` and ``evaluate``."""
    try:
        return load_checkpoint(path, DATASETS)
    except CheckpointError as exc:
        raise CLIError(str(exc)) from None


def check_checkpoint(path, checkpoint, model, model_name, fields, resume=None):
    """The checkpoint's model states (``fields``) against ``model``'s own state dict and, with
    ``resume`` = (optimizer, scheduler, batches per epoch), its optimizer and scheduler state
    against the ones this run built; a mismatch is a CLIError naming the file and field."""
    try:
        for field in fields:
            if checkpoint.get(field) is not None:
                check_model_state(path, field, checkpoint[field], model, model_name)
        if resume is not None:
            check_resume_state(path, checkpoint, *resume)
    except CheckpointError as exc:
        raise CLIError(str(exc)) from None


def restore(path, what, load, state):
    """Load one part of a checkpoint (``load(state)``), turning a mismatch into a CLIError."""
    try:
        load(state)
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise CLIError(f"checkpoint {path!r}: its {what} does not fit: "
                       f"{type(exc).__name__}: {exc}") from None
