"""The sdist carries what its tests read: MANIFEST.in, read as setuptools reads it, ships every
file of each folder a test under tests/ opens, or that test skips without it, saying why.

Which paths a test opens is read from its source: expressions built from ``Path(__file__)``
(``.resolve()``, ``.parent``, ``.parents[k]``), module-level names bound to them, and ``/``
with a string literal. A path built from a variable (``REPO / name``) is not seen.
"""
import ast
import fnmatch
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "MANIFEST.in"


def _git_files():
    """The checkout's tracked files, relative to ROOT (None outside a git checkout)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return None
    run = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, text=True)
    if run.returncode != 0:
        return None
    return sorted(name for name in run.stdout.split("\0") if name)


TRACKED = _git_files()
needs_checkout = pytest.mark.skipif(
    TRACKED is None or not MANIFEST.is_file(),
    reason="needs the git checkout with MANIFEST.in (an sdist ships what it ships)")


# ---------------------------------------------------------------------------------------------
# MANIFEST.in, as setuptools reads it
# ---------------------------------------------------------------------------------------------

def _glob(pattern, path):
    """fnmatch where ``*`` does not cross ``/`` (setuptools' globs)."""
    parts, pattern_parts = path.split("/"), pattern.split("/")
    return len(parts) == len(pattern_parts) and all(
        fnmatch.fnmatchcase(p, q) for p, q in zip(parts, pattern_parts))


def _under(directory, path):
    return directory in (".", "") or path.startswith(directory.rstrip("/") + "/")


def shipped(files, manifest_text):
    """The subset of ``files`` (paths relative to the root) that ``manifest_text`` includes."""
    chosen = set()
    for line in manifest_text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        command, args = words[0], words[1:]
        if command in ("include", "exclude"):
            hits = {f for f in files if any(_glob(p, f) for p in args)}
        elif command in ("recursive-include", "recursive-exclude"):
            directory, patterns = args[0], args[1:]
            hits = {f for f in files if _under(directory, f)
                    and any(fnmatch.fnmatchcase(f.rsplit("/", 1)[-1], p) for p in patterns)}
        elif command in ("global-include", "global-exclude"):
            hits = {f for f in files
                    if any(fnmatch.fnmatchcase(f.rsplit("/", 1)[-1], p) for p in args)}
        elif command in ("graft", "prune"):
            hits = {f for f in files if any(_under(d, f) for d in args)}
        else:
            raise ValueError(f"MANIFEST.in: unknown command {command!r} in {line!r}")
        if command in ("include", "recursive-include", "global-include", "graft"):
            chosen |= hits
        else:
            chosen -= hits
    return chosen


def test_shipped_reads_manifest_commands():
    files = ["README.md", "a/x.py", "a/b/y.py", "a/b/y.c", "a/z.md", "c/w.py", "top.py"]
    text = ("include README.md *.py\nrecursive-include a *.py *.c\n"
            "global-exclude *.c  # generated\nrecursive-include c *.py\nprune c\n")
    assert shipped(files, text) == {"README.md", "top.py", "a/x.py", "a/b/y.py"}
    with pytest.raises(ValueError, match="unknown command"):
        shipped(files, "includ README.md\n")


# ---------------------------------------------------------------------------------------------
# What the tests read
# ---------------------------------------------------------------------------------------------

def _path_of(node, here, names):
    """The path ``node`` builds in the test file ``here``, or None."""
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
            node.func.id == "Path" and len(node.args) == 1 and \
            isinstance(node.args[0], ast.Name) and node.args[0].id == "__file__":
        return here
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
            node.func.attr in ("resolve", "absolute") and not node.args:
        return _path_of(node.func.value, here, names)
    if isinstance(node, ast.Attribute) and node.attr == "parent":
        base = _path_of(node.value, here, names)
        return None if base is None else base.parent
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Attribute) and \
            node.value.attr == "parents" and isinstance(node.slice, ast.Constant):
        base = _path_of(node.value.value, here, names)
        return None if base is None else base.parents[node.slice.value]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and \
            isinstance(node.right, ast.Constant) and isinstance(node.right.value, str):
        base = _path_of(node.left, here, names)
        return None if base is None else base / node.right.value
    return None


def paths_a_test_reads(test_file):
    """``(read, checked)``: the root-relative paths ``test_file`` builds (the outermost of each
    ``a / "b" / "c"``), and those it checks the existence of (``.is_dir()``, ``.is_file()``,
    ``.exists()``) in a module that skips."""
    here = test_file.resolve()
    tree = ast.parse(test_file.read_text(encoding="utf-8"))
    names = {}
    for statement in tree.body:  # module-level names, in order: ROOT = Path(__file__)...
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and \
                isinstance(statement.targets[0], ast.Name):
            path = _path_of(statement.value, here, names)
            if path is not None:
                names[statement.targets[0].id] = path
    inner = {id(n.left) for n in ast.walk(tree) if isinstance(n, ast.BinOp)
             and isinstance(n.op, ast.Div)}
    read, checked = set(), set()
    skips = "skip" in test_file.read_text(encoding="utf-8")
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and id(node) not in inner:
            path = _path_of(node, here, names)
            if path is not None:
                read.add(path)
        if skips and isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr in ("is_dir", "is_file", "exists"):
            path = _path_of(node.func.value, here, names)
            if path is not None:
                checked.add(path)

    def relative(paths):
        return {p.relative_to(ROOT).as_posix() for p in paths if p.is_relative_to(ROOT)
                and p != ROOT}
    return relative(read), relative(checked)


TEST_FILES = sorted(p for p in (ROOT / "tests").rglob("*.py") if "__pycache__" not in p.parts)


def test_the_scan_finds_what_the_tests_read():
    # A check of the scanner on paths known to be read, so that it cannot silently see nothing.
    found = {}
    for test_file in TEST_FILES:
        read, checked = paths_a_test_reads(test_file)
        found[test_file.relative_to(ROOT).as_posix()] = read, checked
    assert "exercises" in found["tests/test_exercises.py"][0]
    assert "exercises" in found["tests/test_exercises.py"][1]  # its skipif
    assert "docs/figures/make_figures.py" in found["tests/test_figures.py"][0]
    assert "examples" in found["tests/test_examples.py"][0]
    assert "tests/pytorch_scripts" in found["tests/test_pytorch_scripts.py"][0]
    assert {".git", "docs/building.md"} <= found["tests/test_docs.py"][0]
    assert "shared" not in str(found["tests/datasets/test_readers.py"])  # outside the checkout: not ours


@needs_checkout
@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_sdist_ships_what_each_test_reads_or_the_test_skips(test_file):
    tracked = set(TRACKED)
    in_sdist = shipped(TRACKED, MANIFEST.read_text(encoding="utf-8"))
    assert test_file.relative_to(ROOT).as_posix() in in_sdist  # the test itself ships
    read, checked = paths_a_test_reads(test_file)
    for path in sorted(read):
        files = {f for f in tracked if f == path or f.startswith(path + "/")}
        missing = sorted(files - in_sdist)
        if not missing:
            continue
        guarded = any(path == c or path.startswith(c + "/") for c in checked)
        assert guarded, (f"{test_file.name} reads {path}, but MANIFEST.in leaves out "
                         f"{missing[:5]}: ship them, or make the test skip (with a reason) "
                         f"when {path} is absent")


@needs_checkout
def test_sdist_ships_the_folders_the_docs_point_at():
    # docs/*.md embed docs/figures/*.png and send learners to exercises/: shipped with them.
    in_sdist = shipped(TRACKED, MANIFEST.read_text(encoding="utf-8"))
    for folder in ("exercises", "docs/figures", "examples", "tests/pytorch_scripts"):
        files = {f for f in TRACKED if f.startswith(folder + "/")}
        assert files and files <= in_sdist, sorted(files - in_sdist)
    assert not {f for f in in_sdist if f.endswith((".c", ".so", ".pyd"))}  # build products


@pytest.mark.slow
@needs_checkout
def test_real_sdist_matches_the_manifest_reading(tmp_path):
    # setuptools itself (seconds, nothing compiled), on a copy of the tracked files; it also
    # adds PKG-INFO, setup.cfg and the egg-info.
    tree = tmp_path / "tree"
    for name in TRACKED:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tree / name)
    run = subprocess.run([sys.executable, "setup.py", "-q", "sdist", "-d", str(tmp_path / "dist")],
                         cwd=tree, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    (archive,) = (tmp_path / "dist").glob("*.tar.gz")
    with tarfile.open(archive) as tar:
        members = {m.name.split("/", 1)[1] for m in tar.getmembers() if m.isfile()}
    members = {m for m in members if m not in ("PKG-INFO", "setup.cfg")
               and not m.split("/", 1)[0].endswith(".egg-info")}
    assert members == shipped(TRACKED, MANIFEST.read_text(encoding="utf-8"))
