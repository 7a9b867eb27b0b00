"""docs/figures/make_figures.py draws every figure the docs embed, from minicnn's own kernels."""
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "docs" / "figures" / "make_figures.py"


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                    reason="matplotlib is not installed (pip install -e '.[test]' brings it)")
@pytest.mark.skipif(not SCRIPT.is_file(), reason="docs/figures/ is only in a source checkout")
def test_make_figures_writes_every_embedded_png(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "--out-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=300,
                            env=dict(os.environ, OMP_NUM_THREADS="1",
                                     OPENBLAS_NUM_THREADS="1", MPLBACKEND="Agg"))
    assert result.returncode == 0, result.stderr
    written = {p.name for p in tmp_path.glob("*.png")}
    committed = {p.name for p in SCRIPT.parent.glob("*.png")}
    assert written == committed, "the script and the committed PNGs disagree: rerun the script"
    for name in written:
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    # Every committed figure is embedded in some page, and every embedded one exists.
    embedded = set()
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        embedded |= set(re.findall(r"figures/([\w-]+\.png)", page.read_text(encoding="utf-8")))
    assert embedded <= committed, f"embedded but not drawn: {embedded - committed}"
    assert committed <= embedded, f"drawn but never shown: {committed - embedded}"
