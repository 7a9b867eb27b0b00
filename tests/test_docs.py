"""Run every fenced ```python block in README.md and docs/*.md, so the documentation cannot rot.

The blocks of one file run in order, in one namespace, in a temporary working directory (files a
block writes land there), on the default "fast" kernel backend. A block opts out only through an
HTML comment on the line(s) just before its fence::

    <!-- no-test: why this block cannot run here -->

A failing block is reported as ``path:line`` of its opening fence, and its traceback points at
lines of the Markdown file itself.
"""
import linecache
import re
import sys
import traceback
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

# An opening fence: up to 3 spaces, 3+ backticks or tildes, an info string whose first word is
# "python" (CommonMark). The closing fence uses the same character, at least as many of them.
_OPEN = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})[ \t]*python(?:[ \t].*)?$")
_NO_TEST = re.compile(r"^\s*<!--\s*no-test:(?P<reason>.*?)-->\s*$")


def doc_files():
    """The Markdown files whose python blocks are executed: README.md, then docs/*.md."""
    files = [ROOT / "README.md"] if (ROOT / "README.md").is_file() else []
    return files + sorted((ROOT / "docs").glob("*.md"))


def extract_blocks(text, name="<doc>"):
    """Split Markdown ``text`` into its fenced python blocks.

    Parameters
    ----------
    text : str
        The Markdown source.
    name : str
        Used in error messages.

    Returns
    -------
    blocks : list of (int, str, str or None)
        ``(line, code, skip_reason)`` per block, in file order: ``line`` is the 1-based line of
        the opening fence, ``code`` the block's body (fence indentation removed), and
        ``skip_reason`` the text of a ``<!-- no-test: reason -->`` comment right above the fence
        (blank lines allowed between), else None.

    Raises
    ------
    ValueError
        If a python fence is never closed, or a no-test comment gives no reason.
    """
    lines = text.splitlines()
    blocks, i = [], 0
    while i < len(lines):
        match = _OPEN.match(lines[i])
        if not match:
            i += 1
            continue
        start, indent, fence = i, len(match["indent"]), match["fence"]
        close = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body, i = [], i + 1
        while i < len(lines) and not close.match(lines[i]):
            # CommonMark: remove up to the fence's own indentation from each content line.
            line = lines[i]
            strip = len(line) - len(line.lstrip(" "))
            body.append(line[min(indent, strip):])
            i += 1
        if i == len(lines):
            raise ValueError(f"{name}:{start + 1}: python block is never closed")
        i += 1
        blocks.append((start + 1, "\n".join(body) + "\n", _skip_reason(lines, start, name)))
    return blocks


def _skip_reason(lines, fence_index, name):
    j = fence_index - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    match = _NO_TEST.match(lines[j]) if j >= 0 else None
    if match is None:
        return None
    reason = match["reason"].strip()
    if not reason:
        raise ValueError(f"{name}:{fence_index + 1}: a no-test comment must say why")
    return reason


def run_blocks(path, blocks, namespace):
    """Execute ``blocks`` (from :func:`extract_blocks`) of ``path`` in order in ``namespace``.

    Returns the opted-out blocks as ``[(line, reason)]``. A failing block raises
    ``AssertionError`` naming ``path:line`` of its fence, with the block's traceback.
    """
    skipped = []
    for line, code, reason in blocks:
        if reason is not None:
            skipped.append((line, reason))
            continue
        # Pad with blank lines so line numbers in tracebacks are the Markdown file's own.
        source = "\n" * line + code
        filename = str(path)
        try:
            exec(compile(source, filename, "exec"), namespace)
        except Exception as exc:  # noqa: BLE001 - any failure of a doc block is the finding
            tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__.tb_next))
            first = code.lstrip("\n").splitlines()[0] if code.strip() else ""
            raise AssertionError(
                f"{_rel(path)}:{line}: python block starting `{first}` failed:\n{tb}") from None
    return skipped


def _rel(path):
    try:
        return str(Path(path).resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _doc_params():
    files = doc_files()
    if not files:
        return [pytest.param(None, id="no-docs", marks=pytest.mark.skip(
            reason=f"README.md and docs/ not found next to the tests ({ROOT}); "
                   f"the docs are only checked from a source checkout"))]
    return [pytest.param(p, id=_rel(p)) for p in files]


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """A temporary cwd, a non-interactive matplotlib, and global state put back afterwards."""
    import minicnn.kernels as K
    import minicnn.rng as mrandom

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    np_state, rng_state = np.random.get_state(), mrandom.get_rng_state()
    threads, err = K.get_num_threads(), np.geterr()
    try:
        with K.backend("fast"):
            yield tmp_path
    finally:
        np.random.set_state(np_state)
        mrandom.set_rng_state(rng_state)
        K.set_num_threads(threads)
        np.seterr(**err)
        plt = sys.modules.get("matplotlib.pyplot")  # only if a block used it: importing is slow
        if plt is not None:
            plt.close("all")


@pytest.mark.parametrize("path", _doc_params())
def test_doc_python_blocks_run(path, isolated):
    text = path.read_text(encoding="utf-8")
    blocks = extract_blocks(text, _rel(path))
    # Tracebacks read source lines through linecache; give it the Markdown file.
    linecache.checkcache(str(path))
    failure = None
    try:
        skipped = run_blocks(path, blocks, {"__name__": "__main__", "__file__": str(path)})
    except AssertionError as exc:
        failure = str(exc)
    if failure is not None:
        pytest.fail(failure, pytrace=False)  # the block's own traceback says it all
    if skipped:  # shown with -rA / -s, so opt-outs stay visible
        print(f"{_rel(path)}: {len(blocks) - len(skipped)} block(s) ran; opted out: "
              + "; ".join(f"line {line} ({reason})" for line, reason in skipped))


# --- The runner itself: it must find blocks, honour opt-outs and name failures precisely. -----

SAMPLE = """\
# Title

```python
a = 1
```

Text with `inline` code and a shell block:

```bash
exit 1
```

<!-- no-test: needs a GPU -->
```python
raise RuntimeError("must not run")
```

- list item
  ```python
  b = a + 1
  ```

````python
c = "```"
````
"""


def test_extract_blocks_finds_python_fences_only():
    blocks = extract_blocks(SAMPLE)
    assert [line for line, _, _ in blocks] == [3, 14, 19, 23]
    assert [code for _, code, _ in blocks] == [
        "a = 1\n", 'raise RuntimeError("must not run")\n', "b = a + 1\n", 'c = "```"\n']
    assert [reason for _, _, reason in blocks] == [None, "needs a GPU", None, None]


def test_run_blocks_shares_namespace_and_skips_opt_outs(tmp_path):
    path = tmp_path / "sample.md"
    path.write_text(SAMPLE)
    namespace = {}
    skipped = run_blocks(path, extract_blocks(SAMPLE), namespace)
    assert skipped == [(14, "needs a GPU")]
    assert (namespace["a"], namespace["b"], namespace["c"]) == (1, 2, "```")


def test_failure_names_file_and_line(tmp_path):
    text = "intro\n\n```python\nx = 1\n```\n\n```python\ny = 2\nassert x == y, 'mismatch'\n```\n"
    path = tmp_path / "broken.md"
    path.write_text(text)
    with pytest.raises(AssertionError) as info:
        run_blocks(path, extract_blocks(text), {})
    message = str(info.value)
    assert f"{path}:7: python block starting `y = 2` failed" in message
    # The traceback points at the failing line of the Markdown file (line 9).
    assert f'File "{path}", line 9' in message and "mismatch" in message


def test_unclosed_fence_and_reasonless_opt_out_are_errors():
    with pytest.raises(ValueError, match=r"doc.md:2: python block is never closed"):
        extract_blocks("x\n```python\nprint(1)\n", "doc.md")
    with pytest.raises(ValueError, match=r"doc.md:2: a no-test comment must say why"):
        extract_blocks("<!-- no-test: -->\n```python\npass\n```\n", "doc.md")


# --- building.md's kernel loop, on a fresh clone (slow: a new venv, pip, a full build) ---------

def _bash_block_after(text, heading):
    """The first ```bash block after the line ``heading``."""
    rest = text.split(heading + "\n", 1)[1]
    return rest.split("```bash\n", 1)[1].split("\n```", 1)[0]


@pytest.mark.slow
def test_building_md_kernel_loop_works_on_a_fresh_clone(tmp_path):
    """Run "Working on the kernels" as written: clone, new venv, install, rebuild, check."""
    import shutil
    import subprocess

    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout to clone from")
    recipe = _bash_block_after((ROOT / "docs" / "building.md").read_text(encoding="utf-8"),
                               "## Working on the kernels")
    assert 'pip install -e ".[dev]"' in recipe and "python -m minicnn check" in recipe
    recipe = recipe.replace("-o /tmp/_conv.c", f"-o {tmp_path}/_conv.c")
    script = f"set -ex\ngit clone -q {ROOT} {tmp_path}/clone\ncd {tmp_path}/clone\n{recipe}\n"
    result = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                            timeout=1800, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "0 failed" in result.stdout
