"""Turn the JSON of `python -m minicnn bench --json PATH` into the Markdown tables of docs/performance.md.

Usage::

    python benchmarks/json_to_markdown.py run.json > tables.md

Every number comes from the JSON (medians, ratios, geomeans, bars), so the published tables are
exactly what one run measured. A figure timed while other processes held its cores is marked
with an asterisk.
"""
import argparse
import json
import sys

FRAMEWORKS = ("minicnn", "numpy", "torch")


def _index(records):
    return {(r["layer"], r["threads"], r["pass"], r["framework"]): r for r in records}


def _ms(rec, limit):
    if rec is None:
        return "-"
    noisy = rec.get("disturbance") is not None and rec["disturbance"] > limit
    return f"{rec['ms']:.3f}{'*' if noisy else ''}"


def _num(v, spec):
    return "-" if v is None else format(v, spec)


def layer_table(report, threads, pass_):
    """One Markdown table: every layer's ms and GFLOP/s per framework, and the speed ratios.

    Parameters
    ----------
    report : dict
        The parsed JSON of one bench run.
    threads : int
    pass_ : {"forward", "forward_backward"}

    Returns
    -------
    str
    """
    idx = _index(report["records"])
    limit = report["settings"].get("max_disturbance", 1.0)
    ratios = {r["layer"]: r for r in report["summary"]["ratios"]
              if r["threads"] == threads and r["pass"] == pass_}
    lines = ["| layer | minicnn ms | GFLOP/s | % sgemm peak | NumPy ms | GFLOP/s | PyTorch ms "
             "| GFLOP/s | minicnn/NumPy | minicnn/PyTorch |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for layer in report["settings"]["layers"]:
        recs = [idx.get((layer, threads, pass_, fw)) for fw in FRAMEWORKS]
        row = ratios.get(layer, {})
        frac = row.get("peak_fraction")
        cells = [layer]
        for i, rec in enumerate(recs):
            cells += [_ms(rec, limit), _num(rec and rec["gflops"], ".0f")]
            if i == 0:
                cells.append("-" if frac is None else f"{100 * frac:.0f}%")
        cells += [_num(row.get("vs_numpy"), ".2f"), _num(row.get("vs_torch"), ".2f")]
        lines.append("| " + " | ".join(cells) + " |")
    for g in report["summary"]["geomeans"]:
        if g["threads"] == threads and g["pass"] == pass_:
            lines.append("| **geomean** | | | | | | | | **" + _num(g["vs_numpy"], ".2f")
                         + "** | **" + _num(g["vs_torch"], ".2f") + "** |")
    return "\n".join(lines)


def kernel_table(report, threads):
    """ms of each kernel on its own, minicnn and PyTorch (runs with --per-kernel)."""
    idx = _index(report["records"])
    limit = report["settings"].get("max_disturbance", 1.0)
    kernels = ("forward", "backward_input", "backward_weight")
    lines = ["| layer | " + " | ".join(f"{k}: minicnn ms | PyTorch ms | ratio" for k in kernels)
             + " |", "|---|" + "---:|" * (3 * len(kernels))]
    for layer in report["settings"]["layers"]:
        cells = [layer]
        for k in kernels:
            mine, theirs = idx.get((layer, threads, k, "minicnn")), idx.get(
                (layer, threads, k, "torch"))
            ratio = theirs["ms"] / mine["ms"] if mine and theirs else None
            cells += [_ms(mine, limit), _ms(theirs, limit), _num(ratio, ".2f")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def lenet_table(report):
    """The LeNet training step: ms and images/s per framework and thread count."""
    lenet = report["lenet"]
    if lenet["status"] != "ok":
        return f"(skipped: {lenet['reason']})"
    limit = report["settings"].get("max_disturbance", 1.0)
    lines = ["| threads | framework | ms per step | images/s |", "|---:|---|---:|---:|"]
    for r in lenet["records"]:
        lines.append(f"| {r['threads']} | {r['framework']} | {_ms(r, limit)} | "
                     f"{r['images_per_s']:.0f} |")
    return "\n".join(lines)


def bars_table(report):
    """The targets and whether this run met them."""
    lines = ["| bar | measured | target | met |", "|---|---:|---:|---|"]
    for b in report["summary"]["bars"]:
        pct = b["unit"] == "%"
        value = ("-" if b["value"] is None else
                 f"{100 * b['value']:.0f}%" if pct else f"{b['value']:.2f}x")
        target = f"{b['op']} {100 * b['target']:.0f}%" if pct else f"{b['op']} {b['target']:g}x"
        met = {True: "yes", False: "**no**", None: "not measured"}[b["met"]]
        lines.append(f"| {b['name']} | {value} | {target} | {met} |")
    return "\n".join(lines)


def scaling_table(report):
    """Time at 1 thread over time at N threads, geomean over the layers."""
    lines = ["| framework | pass | threads | speed-up over 1 thread |", "|---|---|---:|---:|"]
    for sc in report["summary"]["scaling"]:
        lines.append(f"| {sc['framework']} | {sc['pass']} | {sc['threads']} | "
                     f"{sc['speedup']:.2f}x |")
    return "\n".join(lines)


def peaks_line(report):
    return ", ".join(f"{p['gflops']:.0f} GFLOP/s on {p['threads']} thread(s)"
                     for p in report["sgemm_peak"])


def to_markdown(report):
    """All tables of one run, with headings, as one Markdown string."""
    m, s = report["machine"], report["settings"]
    out = [f"Measured {report['date']} with `{report['command']}`: {m['cpu_model']}, "
           f"{m['available_cores']} cores; numpy {m['numpy']}, scipy {m['scipy']}, "
           f"torch {m['torch'] or 'not installed'}; float32, median of >= {s['repeats']} calls "
           f"and >= {s['min_time']} s after {s['warmup']} warm-up calls. "
           f"sgemm 2048² peak: {peaks_line(report)}."]
    for threads in s["threads"]:
        for pass_, title in (("forward", "forward"),
                             ("forward_backward", "forward + backward (grad_x and grad_w)")):
            out += [f"\n#### {threads} thread{'s' if threads > 1 else ''}: {title}\n",
                    layer_table(report, threads, pass_)]
        if s.get("per_kernel"):
            out += [f"\n#### {threads} thread{'s' if threads > 1 else ''}: each kernel alone\n",
                    kernel_table(report, threads)]
    out += ["\n#### LeNet training step\n", lenet_table(report),
            "\n#### Thread scaling\n", scaling_table(report),
            "\n#### Bars\n", bars_table(report)]
    return "\n".join(out) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", help="a file written by `python -m minicnn bench --json`")
    args = parser.parse_args(argv)
    with open(args.json) as f:
        report = json.load(f)
    sys.stdout.write(to_markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
