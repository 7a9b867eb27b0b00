"""Command line: python -m minicnn {train, evaluate, bench, check, info}."""
import argparse
import importlib
import re
import sys

from minicnn import __version__

# Subcommand -> (function adding its options, function running it, one-line help), each as
# "module:function". Only the chosen subcommand's modules are imported: `--help`, `--version`
# and `info` never load scipy.signal (check), the training loop or the datasets' readers.
COMMANDS = {
    "train": ("minicnn.cli.arguments:add_train_arguments", "minicnn.cli.train:train_main",
              "train a CNN (default: the offline 8x8 digits)"),
    "evaluate": ("minicnn.cli.arguments:add_evaluate_arguments", "minicnn.cli.train:evaluate_main",
                 "evaluate a checkpoint on a test set"),
    "bench": ("minicnn.cli.bench:add_arguments", "minicnn.cli.bench:main",
              "time the conv kernels and a LeNet training step"),
    "check": ("minicnn.cli.check:add_arguments", "minicnn.cli.check:main",
              "verify the installed kernels and ops (scipy.signal, gradcheck, threads)"),
    "info": ("minicnn.cli.info:add_arguments", "minicnn.cli.info:main",
             "print versions, OpenMP, threads, BLAS and build flags"),
    "exercises": ("minicnn.cli.exercises:add_arguments", "minicnn.cli.exercises:main",
                  "show your progress in the exercises (in a source checkout)"),
}


class _Parser(argparse.ArgumentParser):
    """argparse, with a mistake reported in one line: the error and where the options are
    listed, not the whole usage block."""

    def error(self, message):
        # "argument --epochs: must be ..." (our argument types) reads "--epochs must be ...".
        message = re.sub(r"^argument (\S+): (?=must be )", r"\1 ", message)
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _load(spec):
    module, _, function = spec.partition(":")
    return getattr(importlib.import_module(module), function)


def _chosen_command(argv):
    """The subcommand on the command line: its first word not starting with "-" (the top-level
    options, --help and --version, take no value), or None."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in COMMANDS else None
    return None


def build_parser(command=None):
    """The parser of ``python -m minicnn``, with the options of ``command`` only (importing a
    subcommand's module to list its options is what ``--help`` must not pay for)."""
    parser = _Parser(prog="python -m minicnn", description=__doc__)
    parser.add_argument("--version", action="version", version=f"minicnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (add, _, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        if name == command:
            _load(add)(p)
    return parser


def _import_error_line(exc):
    """An ImportError in one line that names what could not be imported."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    if exc.name and exc.name not in text:
        text += f" (importing {exc.name})"
    return text


def main(argv=None):
    """Run ``python -m minicnn`` on ``argv`` (default ``sys.argv[1:]``); returns the exit status:
    a subcommand's own, 1 when a module it needs cannot be imported, 130 on Ctrl-C."""
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    command = _chosen_command(argv)
    prog = f"minicnn {command}" if command else "minicnn"
    try:
        args = build_parser(command).parse_args(argv)
        return _load(COMMANDS[args.command][1])(args) or 0
    except ImportError as exc:  # a real missing dependency, named, not hidden behind the command
        print(f"{prog}: error: {_import_error_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C (train and evaluate say more, themselves)
        print(f"\n{prog}: interrupted", file=sys.stderr)  # after the "^C" the terminal echoed
        return 130


if __name__ == "__main__":
    sys.exit(main())
