"""The checkpoints of ``python -m minicnn train``: what one holds, writing it, and reading it back
with every field checked, so that a damaged or hand-edited file is refused naming the file and
the field before any training starts."""
import math

import numpy as np

import minicnn
from minicnn.cli.arguments import DATASETS, CLIError
from minicnn.cli.regularize import SCHEDULERS
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
    missing = [k for k in ("dataset", "model", "batch_size", "lr", "seed", "epochs",
                           "optimizer", "momentum", "weight_decay")
               if k not in checkpoint["args"]]
    if missing:
        raise CheckpointError(f"checkpoint {path!r} is damaged: its 'args' lack {missing}")
    check_checkpoint_fields(path, checkpoint, datasets)
    return checkpoint


# Sane bounds for a checkpoint's numbers: a hand-edited 10**30 fails here, not mid-run.
_MAX_COUNT = 10 ** 9
# What each optimizer the CLI offers keeps per parameter: (names it may keep, names it must).
_OPTIMIZER_STATE = {"sgd": ({"momentum_buffer"}, set()),
                    "adam": ({"step", "exp_avg", "exp_avg_sq"},) * 2,
                    "adamw": ({"step", "exp_avg", "exp_avg_sq"},) * 2}
# The group options a run changes as it goes (a schedule moves the rate and the momentum);
# every other option must be the one the run's settings give.
_MOVING_OPTIONS = ("lr", "momentum", "betas")
# The scheduler attributes that count the steps taken; every other one is fixed by the run's
# settings (the schedule's kind, --epochs and the batches per epoch).
_SCHEDULER_PROGRESS = ("last_epoch", "_step_count", "_is_initial", "_last_lr")


def _show(value):
    return repr(value)[:40]


def _kind(value):
    return (f"a {value.dtype} array of shape {value.shape}" if isinstance(value, np.ndarray)
            else f"a {type(value).__name__} {_show(value)}")


def _is_real(value):
    return isinstance(value, (int, float, np.integer, np.floating)) and \
        not isinstance(value, (bool, np.bool_))


def check_checkpoint_fields(path, checkpoint, datasets):
    """Every field a resume or an evaluation uses, checked for type and range: a damaged or
    hand-edited checkpoint is refused naming the file and the field, before any training."""
    def damaged(field, what):
        return CheckpointError(f"checkpoint {path!r} is damaged: {field} {what}")

    def count(value, field, low):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                or not low <= value <= _MAX_COUNT:
            raise damaged(field, f"should be an integer in {low}..{_MAX_COUNT}, "
                                 f"it is {_show(value)}")

    def number(value, field):
        if not _is_real(value) or not math.isfinite(value) or value < 0:
            raise damaged(field, f"should be a finite number >= 0, it is {_show(value)}")

    count(checkpoint["epoch"], "'epoch'", 0)
    args = checkpoint["args"]
    if args["dataset"] not in datasets:
        raise damaged("args['dataset']", f"is {_show(args['dataset'])}, not one of "
                                         f"{', '.join(datasets)}")
    if args["model"] != checkpoint["model_name"]:
        raise damaged("args['model']", f"({_show(args['model'])}) differs from "
                                       f"'model_name' ({checkpoint['model_name']!r})")
    for key in ("batch_size", "epochs"):
        count(args[key], f"args[{key!r}]", 1)
    count(args["seed"], "args['seed']", 0)
    for key in ("limit", "test_limit", "split_test", "early_stopping"):
        if args.get(key) is not None:
            count(args[key], f"args[{key!r}]", 1)
    for key in ("lr", "momentum", "weight_decay"):
        number(args[key], f"args[{key!r}]")
    if not isinstance(args["optimizer"], str) or args["optimizer"] not in _OPTIMIZER_STATE:
        raise damaged("args['optimizer']", f"is {_show(args['optimizer'])}, not one of "
                                           f"{', '.join(_OPTIMIZER_STATE)}")
    scheduler = args.get("scheduler")
    if scheduler is not None and (not isinstance(scheduler, str) or scheduler not in SCHEDULERS):
        raise damaged("args['scheduler']", f"is {_show(scheduler)}, not one of "
                                           f"{', '.join(SCHEDULERS)}")
    val_split = args.get("val_split")
    if val_split is not None and not (_is_real(val_split) and 0 < val_split < 1):
        raise damaged("args['val_split']", f"should be a fraction between 0 and 1, it is "
                                           f"{_show(val_split)}")
    if args.get("augment") not in (None, True, False):
        raise damaged("args['augment']", f"should be true or false, it is "
                                         f"{_show(args['augment'])}")
    if not isinstance(args.get("data_dir", ""), str):
        raise damaged("args['data_dir']", f"should be a directory name, it is "
                                          f"{_kind(args['data_dir'])}")
    for field in ("model", "best_model"):
        state = checkpoint.get(field)
        if state is None and field == "best_model":
            continue
        if not isinstance(state, dict):
            raise damaged(f"{field!r}", f"should be a dict of arrays, it is {_kind(state)}")
        for name, value in state.items():
            # the model's own state dict checks names, shapes and dtypes (check_model_state)
            if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
                raise damaged(f"{field}[{_show(name)}]",
                              f"should be a numeric array, it is {_kind(value)}")
    optimizer = checkpoint["optimizer"]
    if not isinstance(optimizer.get("state"), dict) or \
            not isinstance(optimizer.get("param_groups"), list):
        raise damaged("'optimizer'", "should hold a 'state' dict and a 'param_groups' list")
    for index, entry in optimizer["state"].items():
        if not isinstance(entry, dict):
            raise damaged(f"optimizer['state'][{index!r}]", "should be a dict")
        for name, value in entry.items():
            field = f"optimizer['state'][{index!r}][{_show(name)}]"
            if name == "step":
                count(value, field, 0)
            elif name not in _OPTIMIZER_STATE[args["optimizer"]][0]:
                raise damaged(field, f"is not a state {args['optimizer']} keeps")
            elif not isinstance(value, np.ndarray) or value.dtype.kind != "f":
                raise damaged(field, f"should be a float array, it is {_kind(value)}")
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
        best_loss = stop.get("best_loss")
        if not _is_real(best_loss) or not best_loss >= 0:
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
                                  f"shape {want.shape}, it is {_kind(value)}")
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
                raise damaged(where, f"has {_show(key)}, which {name} does not use")
        if not _same(group["params"], own["params"]):
            raise damaged(f"{where}['params']", f"should be {_show(own['params'])}")
        params.update(zip(own["params"], optimizer.param_groups[g]["params"]))
        for key, value in group.items():
            if key == "params":
                continue
            if key in _MOVING_OPTIONS:
                if key == "betas":  # Adam's (beta1, beta2), each in [0, 1)
                    fits = isinstance(value, tuple) and len(value) == len(own[key]) and all(
                        _is_real(v) and 0 <= v < 1 for v in value)
                else:
                    fits = _is_real(value) and math.isfinite(value) and value >= 0
                if not fits:
                    raise damaged(f"{where}[{key!r}]", f"should be like {own[key]!r}, it is "
                                                       f"{_show(value)}")
            elif not _same(value, own[key]):
                raise damaged(f"{where}[{key!r}]", f"is {_show(value)}, but this run's "
                                                   f"settings give {own[key]!r}")
    allowed, required = _OPTIMIZER_STATE[name]
    if name != "sgd" and any(g["amsgrad"] for g in fresh["param_groups"]):
        allowed = required = allowed | {"max_exp_avg_sq"}
    for index, entry in saved["state"].items():
        where = f"optimizer['state'][{index!r}]"[:80]
        if index not in params:
            raise damaged(where, "belongs to no parameter")
        lacking = sorted(required - set(entry))
        if lacking or not set(entry) <= allowed:
            raise damaged(where, f"should hold {', '.join(sorted(required or allowed))}, it "
                                 f"holds {', '.join(map(_show, entry)) or 'nothing'}")
        want = params[index]._data
        for key, value in entry.items():
            if key != "step" and (value.shape != want.shape or value.dtype != want.dtype
                                  or not np.isfinite(value).all()):
                raise damaged(f"{where}[{key!r}]", f"should be a finite {want.dtype} array "
                                                   f"of shape {want.shape}, it is "
                                                   f"{_kind(value)}")
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
                                     f"{'unknown ' + _show(unknown) if unknown else ''}"
                                     f"{' ' if unknown and lacking else ''}"
                                     f"{'lacking ' + _show(lacking) if lacking else ''}")
    if "total_steps" in own and saved["total_steps"] != own["total_steps"]:
        raise CheckpointError(
            f"checkpoint {path!r}: its --scheduler {args['scheduler']} was planned for "
            f"{_show(saved['total_steps'])} steps, but {args['epochs']} epochs of this data "
            f"make {own['total_steps']} ({batches_per_epoch} batches each): resume with the "
            f"data (and --data-dir) the run began with")
    for key, value in saved.items():
        if key not in _SCHEDULER_PROGRESS and not _same(value, own[key]):
            raise damaged(f"scheduler[{key!r}]", f"is {_show(value)}, but this run's "
                                                 f"settings give {_show(own[key])}")
    steps = checkpoint["epoch"] * (batches_per_epoch if "total_steps" in own else 1)
    if not _same(saved["last_epoch"], steps) or not _same(saved["_step_count"], steps + 1):
        raise damaged("'scheduler'", f"has taken {_show(saved['last_epoch'])} steps, but "
                                     f"the epochs done ({checkpoint['epoch']}) take {steps}")
    last = saved["_last_lr"]
    if saved["_is_initial"] is not False or not isinstance(last, list) or \
            len(last) != len(own["_last_lr"]) or \
            not all(_is_real(v) and math.isfinite(v) and v >= 0 for v in last):
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
