"""Write notebooks/*.ipynb from the teaching pages, so the Markdown stays the one source of truth.

    python tools/make_notebooks.py           # rewrite the notebooks
    python tools/make_notebooks.py --check   # exit 1 if a committed notebook is out of date

Each page's fenced ```python blocks become code cells, in order, and the prose between them
markdown cells; a block marked ``<!-- no-test: why -->`` (one tests/test_docs.py does not run)
stays in the prose as a code listing, so the notebook runs exactly the blocks the doc test runs.
Relative links and figures are rewritten to point from notebooks/ back into docs/. The notebooks
carry no outputs and fixed cell ids, so generating them twice gives the same bytes.

The JSON is nbformat 4.5 written by hand (as ``nbformat.write`` lays it out), so this tool and
the staleness check need no extra package; tests/test_notebooks.py validates it with nbformat
and executes it with nbclient when the ``notebooks`` extra is installed.
"""
import argparse
import json
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["tutorial.md", "convolution.md", "backprop.md"]   # from docs/
OUT_DIR = ROOT / "notebooks"

# As tests/test_docs.py: an opening python fence (up to 3 spaces, 3+ backticks or tildes), the
# closing fence of the same character and at least the same length, and a no-test comment.
_OPEN = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})[ \t]*python(?:[ \t].*)?$")
_NO_TEST = re.compile(r"^\s*<!--\s*no-test:.*?-->\s*$")
# An inline link or image whose target is relative: ](target) or ](target#anchor)
_LINK = re.compile(r"\]\((?!https?:|mailto:|#)(?P<target>[^)\s#]+)(?P<anchor>#[^)\s]*)?\)")


def split_page(text):
    """Split Markdown ``text`` into cells: a list of ``("markdown" | "code", source)``.

    A python block becomes a code cell (its body, the fence's indentation removed) unless the
    non-blank line above its fence is a no-test comment; everything else is markdown.
    """
    lines = text.splitlines()
    cells, prose, i = [], [], 0
    while i < len(lines):
        match = _OPEN.match(lines[i])
        if not match:
            prose.append(lines[i])
            i += 1
            continue
        fence, indent = match["fence"], len(match["indent"])
        close = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        end = next((j for j in range(i + 1, len(lines)) if close.match(lines[j])), None)
        if end is None:
            raise ValueError(f"line {i + 1}: python block is never closed")
        above = next((line for line in reversed(prose) if line.strip()), "")
        if _NO_TEST.match(above):           # shown, not run: it stays a listing in the prose
            prose.extend(lines[i:end + 1])
        else:
            body = [line[min(indent, len(line) - len(line.lstrip(" "))):]
                    for line in lines[i + 1:end]]
            _add(cells, "markdown", prose)
            _add(cells, "code", body)
            prose = []
        i = end + 1
    _add(cells, "markdown", prose)
    return cells


def _add(cells, kind, lines):
    source = "\n".join(lines).strip("\n")
    if source.strip():
        cells.append((kind, source))


def relink(markdown, page_dir, notebook_dir):
    """Rewrite relative link targets written from ``page_dir`` to work from ``notebook_dir``."""
    def fix(match):
        target = os.path.relpath(page_dir / match["target"], notebook_dir)
        return f"]({Path(target).as_posix()}{match['anchor'] or ''})"
    return _LINK.sub(fix, markdown)


def notebook(page):
    """The notebook (a JSON-ready dict, nbformat 4.5) for docs/``page``."""
    path = ROOT / "docs" / page
    stem = path.stem
    intro = (f"*This notebook is made from [docs/{page}](../docs/{page}) by "
             f"`tools/make_notebooks.py`: run the cells in order (they share one namespace, as "
             f"the page's examples do). To change it, edit the page and run the tool again.*")
    cells = [("markdown", intro)] + split_page(path.read_text(encoding="utf-8"))
    out = []
    for n, (kind, source) in enumerate(cells):
        if kind == "markdown":
            source = relink(source, path.parent, OUT_DIR)
        cell = {"cell_type": kind, "id": f"{stem}-{n:03d}", "metadata": {},
                "source": source.splitlines(keepends=True)}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        out.append(cell)
    return {"cells": out, "nbformat": 4, "nbformat_minor": 5, "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}}}


def render(page):
    """The notebook for docs/``page`` as the text nbformat.write would produce."""
    return json.dumps(notebook(page), indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def target(page):
    return OUT_DIR / (Path(page).stem + ".ipynb")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if a notebook differs from its page")
    args = parser.parse_args(argv)
    stale = []
    for page in PAGES:
        text, path = render(page), target(page)
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if args.check:
            if current != text:
                stale.append(path.relative_to(ROOT).as_posix())
        elif current != text:
            OUT_DIR.mkdir(exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(ROOT).as_posix()}")
    if stale:
        sys.exit(f"out of date (run python tools/make_notebooks.py): {', '.join(stale)}")


if __name__ == "__main__":
    main()
