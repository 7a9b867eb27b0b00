"""Tests of ``python -m minicnn`` itself: it imports only the chosen subcommand, prints its
version, and reports a missing module by name."""
import importlib
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import minicnn
from minicnn import __main__ as cli
from minicnn.cli import bench

ROOT = Path(__file__).resolve().parents[2]
# What a newcomer's first commands must not wait for (each costs 0.3-1 s to import).
HEAVY = ("scipy.signal", "sklearn", "matplotlib")


def imported_modules(*args):
    """The modules ``python -X importtime *args`` imports (from its import log), and its result.

    ``importlib.import_module`` logs a package's submodules but not always the package itself,
    so callers match by prefix."""
    result = subprocess.run([sys.executable, "-X", "importtime", *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    names = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()
             if line.startswith("import time:")}
    return names, result


def heavy_in(names):
    return sorted({m for m in HEAVY for name in names if name == m or name.startswith(m + ".")})


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["info"], ["check", "--help"],
                                  ["train", "--help"], ["bench", "--help"]])
def test_help_version_and_info_import_no_heavy_module(argv):
    names, result = imported_modules("-m", "minicnn", *argv)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "minicnn" in names  # the log was read: the package itself is in it
    assert heavy_in(names) == []


def test_the_import_log_does_show_a_heavy_import():
    # The check above can fail: the same log reading finds scipy.signal when it is imported.
    names, result = imported_modules(
        "-c", "import importlib; importlib.import_module('scipy.signal')")
    assert result.returncode == 0 and heavy_in(names) == ["scipy.signal"]


def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"minicnn {minicnn.__version__}\n"


def test_info_prints_the_build(capsys):
    assert cli.main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("minicnn ") and minicnn.__version__ in out.splitlines()[0]
    assert "OpenMP" in out and "threads" in out


def test_a_missing_module_is_named_when_the_subcommand_is_imported(capsys, monkeypatch):
    # bench.py imports `statistics`; make that import fail as a missing dependency would.
    monkeypatch.delitem(sys.modules, "minicnn.cli.bench")
    monkeypatch.setitem(sys.modules, "statistics", None)
    assert cli.main(["bench", "--repeats", "1"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1, err
    assert err.startswith("minicnn bench: error: ") and "statistics" in err
    assert "not available" not in err


def test_a_missing_module_is_named_when_the_subcommand_runs(capsys, monkeypatch):
    def needs_a_module(args):
        raise ModuleNotFoundError("No module named 'tqdm'", name="tqdm")

    monkeypatch.setattr(bench, "main", needs_a_module)
    assert cli.main(["bench"]) == 1
    err = capsys.readouterr().err
    assert err == "minicnn bench: error: No module named 'tqdm'\n"


def test_a_real_import_error_inside_a_subcommand_is_shown_as_itself(capsys, monkeypatch):
    # The subcommand's module exists but raises ImportError while loading: the message is that
    # error's, not a claim that the subcommand is missing from the build.
    import importlib

    real_import = importlib.import_module

    def import_module(name, *args):
        if name == "minicnn.cli.info":
            raise ImportError("boom")
        return real_import(name, *args)

    monkeypatch.setattr(importlib, "import_module", import_module)
    assert cli.main(["info"]) == 1
    err = capsys.readouterr().err
    assert err == "minicnn info: error: boom\n"


def test_an_import_error_without_the_name_in_its_message_gets_it():
    exc = ImportError("libgomp.so.1: cannot open shared object file\n(more)", name="_conv")
    assert cli._import_error_line(exc) == ("libgomp.so.1: cannot open shared object file "
                                           "(importing _conv)")


def test_a_bad_option_is_one_line_pointing_at_help(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["bench", "--backend", "gpu"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "usage:" not in err
    assert "invalid choice" in err and err.rstrip().endswith(
        "(see python -m minicnn bench --help)")


def test_the_module_runs_as_a_script_with_help():
    result = subprocess.run([sys.executable, "-m", "minicnn", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, COLUMNS="100"))
    assert result.returncode == 0
    for name in cli.COMMANDS:
        assert re.search(rf"^    {name}(  |\n)", result.stdout, re.MULTILINE)  # help beside or below
    assert "--version" in result.stdout


@pytest.mark.parametrize("command", ["check", "bench"])
def test_ctrl_c_is_one_line_and_exit_130(capsys, monkeypatch, command):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib.import_module(f"minicnn.cli.{command}"), "main", interrupted)
    assert cli.main([command]) == 130
    err = capsys.readouterr().err
    assert err.strip() == f"minicnn {command}: interrupted"


@pytest.mark.parametrize("argv", [["check"], ["bench", "--repeats", "1000", "--no-lenet"]])
def test_a_real_sigint_during_check_or_bench(argv):
    # As a user presses Ctrl-C: SIGINT once the command has printed its first line.
    process = subprocess.Popen([sys.executable, "-u", "-m", "minicnn", *argv], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, OPENBLAS_NUM_THREADS="1"))
    try:
        first = process.stdout.readline()
        assert first.startswith("minicnn "), first  # the header: the command is running
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert err.strip() == f"minicnn {argv[0]}: interrupted"
