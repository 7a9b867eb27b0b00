"""notebooks/*.ipynb are what tools/make_notebooks.py makes of the pages now, and they run.

The staleness and structure checks need nothing extra. Executing the notebooks needs the
``notebooks`` extra (nbformat, nbclient, ipykernel); without it those tests skip, saying so,
unless MINICNN_REQUIRE_NOTEBOOKS=1 is set (as CI does after installing the extra): then a
missing package fails them.
"""
import importlib.util
import json
import os
from pathlib import Path

import pytest

from test_docs import extract_blocks

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"          # committed, so that the docs can link to them


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("make_notebooks",
                                                  ROOT / "tools" / "make_notebooks.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_committed_notebooks_are_up_to_date(tool):
    for page in tool.PAGES:
        path = NOTEBOOKS / (Path(page).stem + ".ipynb")
        assert tool.target(page) == path
        assert path.is_file() and path.read_text(encoding="utf-8") == tool.render(page), (
            f"{path.relative_to(ROOT)} is out of date with docs/{page}: regenerate it with  "
            f"python tools/make_notebooks.py  and commit the result")
    assert tool.render("tutorial.md") == tool.render("tutorial.md")  # deterministic


@pytest.mark.parametrize("page", ["tutorial.md", "convolution.md", "backprop.md"])
def test_code_cells_are_the_blocks_the_doc_test_runs(tool, page):
    nb = json.loads(tool.render(page))
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    blocks = extract_blocks((ROOT / "docs" / page).read_text(encoding="utf-8"), page)
    assert code == [body.strip("\n") for _, body, reason in blocks if reason is None]
    assert len(code) > 5 and len(nb["cells"]) > len(code)   # prose between the code


def test_split_keeps_opted_out_blocks_as_prose_and_relinks(tool):
    text = ("# T\n\nSee [conv](convolution.md#pooling) and ![f](figures/a.png), "
            "[web](https://x.org/a.md).\n\n```python\na = 1\n```\n\n"
            "<!-- no-test: needs a GPU -->\n```python\nraise RuntimeError\n```\n\n"
            "- item\n  ```python\n  b = a\n  ```\n")
    cells = tool.split_page(text)
    assert [kind for kind, _ in cells] == ["markdown", "code", "markdown", "code"]
    assert cells[1][1] == "a = 1" and cells[3][1] == "b = a"
    assert "raise RuntimeError" in cells[2][1]          # shown, not run
    linked = tool.relink(cells[0][1], ROOT / "docs", ROOT / "notebooks")
    assert "](../docs/convolution.md#pooling)" in linked
    assert "](../docs/figures/a.png)" in linked and "](https://x.org/a.md)" in linked


def _missing():
    names = [m for m in ("nbformat", "nbclient", "ipykernel") if importlib.util.find_spec(m) is None]
    return (f"{', '.join(names)} not installed (pip install -e \".[notebooks]\")" if names else None)


@pytest.mark.parametrize("page", ["tutorial.md", "convolution.md", "backprop.md"])
def test_notebook_executes(tool, page, tmp_path, monkeypatch):
    reason = _missing()
    if reason is not None:
        if os.environ.get("MINICNN_REQUIRE_NOTEBOOKS") == "1":
            pytest.fail(f"MINICNN_REQUIRE_NOTEBOOKS=1 but {reason}")
        pytest.skip(reason)
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.reads(tool.render(page), as_version=4)
    nbformat.validate(nb)
    # As tests/test_docs.py runs the page: in order, one namespace (the kernel's), in a temporary
    # directory (files the cells write land there), matplotlib without a display. The kernel is
    # this Python (ipykernel's own spec) and finds the checkout's minicnn first.
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])))
    # A last cell, for this test only: which Python and which minicnn ran the notebook.
    nb.cells.append(nbformat.v4.new_code_cell(
        "import sys, minicnn; print(sys.executable); print(minicnn.__file__)"))
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()          # raises CellExecutionError, with the cell and traceback, on failure
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    executable, module = code[-1].outputs[0]["text"].split()
    assert module.startswith(str(ROOT)), f"the kernel ({executable}) imported {module}"
