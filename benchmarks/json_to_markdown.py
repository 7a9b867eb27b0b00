"""The report renderer: Markdown tables of one benchmark run, printed by bench.py and this script.

Usage::

    python benchmarks/json_to_markdown.py run.json > tables.md

where ``run.json`` was written by ``python benchmarks/bench.py --json run.json``. Every number comes
from the JSON (medians, ratios, geomeans), so the published tables are exactly what one run
measured. Columns are padded, so the same text reads well in a terminal. A figure timed while
other processes held its cores is marked with an asterisk.
"""
import argparse
import json
import sys

FRAMEWORKS = ("minicnn", "numpy", "torch")
KERNELS = ("forward", "backward_input", "backward_weight")


def table(header, rows, right=()):
    """A Markdown table whose columns are padded to a common width.

    Parameters
    ----------
    header : list of str
    rows : list of list of str
    right : collection of int
        Indices of the columns to right-align (numbers).

    Returns
    -------
    str
    """
    widths = [max(3, len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header))]

    def line(cells):
        return "| " + " | ".join(c.rjust(w) if i in right else c.ljust(w)
                                 for i, (c, w) in enumerate(zip(cells, widths))) + " |"

    rule = "|" + "|".join("-" * (w + 1) + ":" if i in right else "-" * (w + 2)
                          for i, w in enumerate(widths)) + "|"
    return "\n".join([line(header), rule] + [line(r) for r in rows])


def index(records):
    """``{(layer, threads, pass, framework): record}`` of the conv records."""
    return {(r["layer"], r["threads"], r["pass"], r["framework"]): r for r in records}


def _ms(rec, limit):
    if rec is None:
        return "-"
    noisy = rec.get("disturbance") is not None and rec["disturbance"] > limit
    return f"{rec['ms']:.3f}{'*' if noisy else ''}"


def _num(v, spec):
    return "-" if v is None else format(v, spec)


def _limit(report):
    return report["settings"].get("max_disturbance", 1.0)


def layer_table(report, threads, pass_):
    """Every layer's ms and GFLOP/s per framework at ``threads`` for ``pass_`` ("forward" or
    "forward_backward"), with minicnn's share of sgemm peak, the speed ratios and their geomean."""
    idx, limit = index(report["records"]), _limit(report)
    ratios = {r["layer"]: r for r in report["summary"]["ratios"]
              if r["threads"] == threads and r["pass"] == pass_}
    header = ["layer", "minicnn ms", "GFLOP/s", "% sgemm peak", "NumPy ms", "GFLOP/s",
              "PyTorch ms", "GFLOP/s", "minicnn/NumPy", "minicnn/PyTorch"]
    rows = []
    for layer in report["settings"]["layers"]:
        row = ratios.get(layer, {})
        frac = row.get("peak_fraction")
        cells = [layer]
        for i, fw in enumerate(FRAMEWORKS):
            rec = idx.get((layer, threads, pass_, fw))
            cells += [_ms(rec, limit), _num(rec and rec["gflops"], ".0f")]
            if i == 0:
                cells.append("-" if frac is None else f"{100 * frac:.0f}%")
        rows.append(cells + [_num(row.get("vs_numpy"), ".2f"), _num(row.get("vs_torch"), ".2f")])
    for g in report["summary"]["geomeans"]:
        if g["threads"] == threads and g["pass"] == pass_:
            rows.append(["**geomean**"] + [""] * 7 + [f"**{_num(g['vs_numpy'], '.2f')}**",
                                                      f"**{_num(g['vs_torch'], '.2f')}**"])
    return table(header, rows, right=range(1, len(header)))


def kernel_table(report, threads):
    """ms of each kernel on its own, minicnn and PyTorch (runs with --per-kernel)."""
    idx, limit = index(report["records"]), _limit(report)
    rows = []
    for layer in report["settings"]["layers"]:
        for k in KERNELS:
            mine = idx.get((layer, threads, k, "minicnn"))
            theirs = idx.get((layer, threads, k, "torch"))
            ratio = theirs["ms"] / mine["ms"] if mine and theirs else None
            rows.append([layer, k, _ms(mine, limit), _ms(theirs, limit), _num(ratio, ".2f")])
    return table(["layer", "kernel", "minicnn ms", "PyTorch ms", "minicnn/PyTorch"], rows,
                 right=(2, 3, 4))


def lenet_table(report):
    """The LeNet training step: ms and images/s per framework and thread count."""
    lenet = report["lenet"]
    if lenet["status"] != "ok":
        return f"(skipped: {lenet['reason']})"
    rows = [[str(r["threads"]), r["framework"], _ms(r, _limit(report)),
             f"{r['images_per_s']:.0f}"] for r in lenet["records"]]
    return table(["threads", "framework", "ms per step", "images/s"], rows, right=(0, 2, 3)) + (
        "\n\nminicnn: every BLAS held at 1 thread around the whole step; minicnn_default_blas: "
        "NumPy's BLAS left at its default, as `python -m minicnn train` and your own script run "
        "it. minicnn's Linear and @ hold it at 1 thread themselves, so the two should match.")


def scaling_table(report):
    """Time at 1 thread over time at N threads, geomean over the layers."""
    rows = [[sc["framework"], sc["pass"], str(sc["threads"]), f"{sc['speedup']:.2f}x"]
            for sc in report["summary"]["scaling"]]
    if not rows:
        return "(needs 1 thread and more among --threads)"
    return table(["framework", "pass", "threads", "speed-up over 1 thread"], rows, right=(2, 3))


def headline_table(report):
    """The run in four figures per thread count: geomean speed ratios, worst share of sgemm
    peak on the large layers, LeNet step time relative to PyTorch's."""
    rows = []
    for h in report["summary"]["headline"]:
        v = h["value"]
        rows.append([h["name"], "not measured" if v is None else
                     f"{100 * v:.0f}%" if h["unit"] == "%" else f"{v:.2f}x"])
    return table(["figure", "measured"], rows, right=(1,))


def intro(report):
    """Where, when, how, and how to read the tables: one paragraph."""
    m, s, alloc = report["machine"], report["settings"], report["allocator"]
    peaks = ", ".join(f"{p['gflops']:.0f} GFLOP/s on {p['threads']} thread(s)"
                      for p in report["sgemm_peak"])
    load = (m.get("loadavg_start"), m.get("loadavg_end"))
    return (f"Measured {report['date']} with `{report['command']}`: {m['cpu_model']}, "
            f"{m['available_cores']} cores; numpy {m['numpy']}, scipy {m['scipy']}, "
            f"torch {m['torch'] or 'not installed'}; minicnn backend {s['backend']}, OpenMP "
            f"{'on' if m['minicnn_openmp'] else 'off'}; float32, median of >= {s['repeats']} "
            f"calls and >= {s['min_time']} s after {s['warmup']} warm-up calls; allocator: "
            + (f"mmap threshold {alloc['mmap_threshold']}" if alloc["applied"]
               else f"unchanged ({alloc['detail']})")
            + (f"; load average (1, 5, 15 min) {load[0]} at start, {load[1]} at end"
               if all(load) else "")
            + f". sgemm 2048² peak: {peaks}. A ratio minicnn/X is X's time over minicnn's "
            f"(above 1: minicnn is faster). * = timed while other processes used more than "
            f"{_limit(report):.0%} of its cores, even after {s['retries']} retries.")


def disturbance_line(report):
    """How many figures were re-measured or stayed disturbed, and the worst one; "" if unknown."""
    blocks = report["records"] + report["lenet"].get("records", []) + report["sgemm_peak"]
    measured = [r for r in blocks if r.get("disturbance") is not None]
    if not measured:
        return ""
    limit = _limit(report)
    noisy = [r for r in measured if r["disturbance"] > limit]
    retried = [r for r in blocks if r.get("attempts", 1) > 1]
    worst = max(measured, key=lambda r: r["disturbance"])
    what = ", ".join(str(worst[k]) for k in ("layer", "framework", "pass") if k in worst)
    return (f"Other processes on the timed cores: {len(retried)} figure(s) re-measured; "
            f"{len(noisy)} of {len(measured)} still disturbed (> {limit:.0%} of their cores "
            f"taken; worst {worst['disturbance']:.0%}: {what or 'sgemm'}, "
            f"{worst['threads']} thr).")


def to_markdown(report):
    """All tables of one run, with headings, as one Markdown string."""
    out = [intro(report)]
    for threads in report["settings"]["threads"]:
        name = f"{threads} thread{'s' if threads > 1 else ''}"
        out += [f"\n#### {name}: forward\n", layer_table(report, threads, "forward"),
                f"\n#### {name}: forward + backward (grad_x and grad_w)\n",
                layer_table(report, threads, "forward_backward")]
        if report["settings"].get("per_kernel"):
            out += [f"\n#### {name}: each kernel alone\n", kernel_table(report, threads)]
    out += ["\n#### LeNet training step\n", lenet_table(report),
            "\n#### Thread scaling\n", scaling_table(report),
            "\n#### Headline figures\n", headline_table(report)]
    extra = [disturbance_line(report)] + [f"Note: {n}" for n in report.get("notes", [])]
    out += ["\n" + "\n\n".join(e for e in extra if e)] if any(extra) else []
    return "\n".join(out) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", help="a file written by `python benchmarks/bench.py --json`")
    args = parser.parse_args(argv)
    with open(args.json) as f:
        report = json.load(f)
    sys.stdout.write(to_markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
