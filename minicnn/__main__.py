"""Command line: python -m minicnn {train, evaluate, bench, check, info}."""
import argparse
import importlib
import os
import platform
import sys

# Subcommand -> (module, function adding its arguments, function running it, one-line help).
# Modules are imported only when their subcommand runs, so `info` stays fast.
COMMANDS = {
    "train": ("minicnn.cli.train", "add_train_arguments", "train_main",
              "train a CNN (default: the offline 8x8 digits)"),
    "evaluate": ("minicnn.cli.train", "add_evaluate_arguments", "evaluate_main",
                 "evaluate a checkpoint on a test set"),
    "bench": ("minicnn.cli.bench", "add_arguments", "main",
              "time the conv kernels and a LeNet training step"),
    "check": ("minicnn.cli.check", "add_arguments", "main",
              "verify the installed kernels and ops (scipy.signal, gradcheck, threads)"),
    "info": ("minicnn.__main__", "add_info_arguments", "info_main",
             "print versions, OpenMP, threads, BLAS and build flags"),
}


def add_info_arguments(parser):
    pass


def info_main(args):
    import numpy
    import scipy
    import scipy.linalg  # noqa: F401  (loads scipy's BLAS so threadpoolctl can see it)

    from minicnn import __version__, kernels

    rows = [
        ("minicnn", __version__),
        ("Python", platform.python_version()),
        ("numpy", numpy.__version__),
        ("scipy", scipy.__version__),
        ("Cython", f"{kernels._openmp.cython_version()} (built with)"),
        ("OpenMP", "on" if kernels.openmp_enabled() else "off (serial build)"),
        ("threads", str(kernels.get_num_threads())),
        ("OpenMP waiting", f"GOMP_SPINCOUNT={kernels.OPENMP_SPINCOUNT} (set by minicnn)"
         if kernels.OPENMP_SPINCOUNT else
         f"GOMP_SPINCOUNT={os.environ.get('GOMP_SPINCOUNT', '(default)')}, "
         f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(default)')} (yours)"),
        ("backend", kernels.get_backend()),
        ("compile flags", kernels.compile_flags() or "(none recorded)"),
    ]
    try:
        from threadpoolctl import threadpool_info
        for lib in threadpool_info():
            if lib.get("user_api") == "blas":
                owner = ("scipy" if "scipy" in lib["filepath"].split("/")[-2] else
                         "numpy" if "numpy" in lib["filepath"] else lib["filepath"])
                rows.append((f"BLAS ({owner})", f"{lib['internal_api']} {lib['version']}, "
                             f"{lib['num_threads']} threads, {lib.get('architecture', '?')}"))
    except ImportError:
        rows.append(("BLAS", "unknown (threadpoolctl not installed)"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m minicnn", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, add, _, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        try:
            getattr(importlib.import_module(module), add)(p)
        except (ImportError, AttributeError):
            p.set_defaults(unavailable=True)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if getattr(args, "unavailable", False):
        print(f"minicnn: '{args.command}' is not available in this build", file=sys.stderr)
        return 2
    module, _, run, _ = COMMANDS[args.command]
    return getattr(importlib.import_module(module), run)(args) or 0


if __name__ == "__main__":
    sys.exit(main())
