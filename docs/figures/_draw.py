"""Drawing helpers shared by make_figures.py and its figure modules (matplotlib, Agg)."""
from pathlib import Path

import numpy as np

DPI = 100


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    plt.rcParams.update({"font.size": 9, "axes.titlesize": 9, "figure.dpi": DPI})
    return plt


def _save(fig, out_dir, name, dpi=DPI):
    path = Path(out_dir) / f"{name}.png"
    # No "Software"/date metadata: the same inputs give the same bytes.
    fig.savefig(path, dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    _plt().close(fig)
    return path


def _grid(ax, a, title="", cmap="Greys", vmin=None, vmax=None, fmt="{:g}", numbers=True,
          colorbar=False):
    """Show a 2-D array as cells, optionally with its values written in."""
    plt = _plt()
    im = ax.imshow(a, cmap=cmap, vmin=vmin, vmax=vmax)
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_title(title)
    if numbers:
        lo, hi = (vmin if vmin is not None else a.min()), (vmax if vmax is not None else a.max())
        for (i, j), v in np.ndenumerate(a):
            light = (v - lo) > 0.6 * (hi - lo) if cmap == "Greys" else abs(v) > 0.6 * max(abs(lo), abs(hi))
            ax.text(j, i, fmt.format(v + 0.0), ha="center", va="center", fontsize=7,
                    color="white" if light else "black")
    if colorbar:
        plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return im


def _signed(ax, a, title="", numbers=False, colorbar=True, fmt="{:.2g}"):
    """A signed array on a zero-centred diverging scale."""
    m = float(np.abs(a).max()) or 1.0
    return _grid(ax, a, title, cmap="RdBu_r", vmin=-m, vmax=m, numbers=numbers, fmt=fmt,
                 colorbar=colorbar)


def _box(ax, top, left, h, w, color, lw=2.0, ls="-"):
    from matplotlib.patches import Rectangle
    ax.add_patch(Rectangle((left - 0.5, top - 0.5), w, h, fill=False, ec=color, lw=lw, ls=ls))
