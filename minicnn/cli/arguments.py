"""The parsers of `python -m minicnn train` and `evaluate`, built from the table of options in
``options.py``, and the rules every command's options share (argument types, output paths,
CLIError)."""
import os

from minicnn.cli.options import (OPTIONS, nonnegative_float, nonnegative_int, positive_float,
                                 positive_int)

__all__ = ["add_train_arguments", "add_evaluate_arguments", "positive_int", "nonnegative_int",
           "positive_float", "nonnegative_float", "CLIError", "check_output_path",
           "check_distinct_outputs"]


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


def _add(parser, option):
    spec = dict(option.spec)
    if option.run:  # None: left out, so that a resumed run can tell it from a value given
        spec["default"] = None
    parser.add_argument(option.flag, **spec)


def add_train_arguments(parser):
    """Add the ``train`` subcommand's options (``OPTIONS``) to an ``argparse.ArgumentParser``."""
    for option in OPTIONS:
        _add(parser, option)


def add_evaluate_arguments(parser):
    """Add the ``evaluate`` subcommand's options to an ``argparse.ArgumentParser``."""
    parser.add_argument("--checkpoint", required=True, metavar="PATH",
                        help="a checkpoint written by `python -m minicnn train --checkpoint`")
    for option in OPTIONS:
        if option.evaluate:
            _add(parser, option)
