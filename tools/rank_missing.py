"""Rank the PyTorch names minicnn lacks by how many real scripts use them.

    python tools/rank_missing.py DIR [DIR ...] [--top N] [--json]

Reads every ``*.py`` file under the given directories (a corpus of PyTorch scripts the user
has: a checkout of pytorch/examples, d2l's PyTorch code blocks, ...), and for each name that
docs/coverage.md lists as missing, plus torchvision's datasets, transforms, models and utils
names that minicnn lacks, counts the files that use it. A use is the name written as scripts
write it: ``torch.NAME``, ``nn.NAME``, ``F.NAME``, ``optim.NAME``, ``lr_scheduler.NAME``,
``init.NAME``, ``linalg.NAME``, ``transforms.NAME``, ``datasets.NAME``, ``models.NAME``,
``utils.NAME`` and, for tensor methods, ``.NAME(``. That is a textual count, so a method name
another library shares (``.to_dense(``) can be overcounted; the ranking is a guide to what to
build next, not a measurement of minicnn. Needs no PyTorch: the names come from
docs/coverage/torch_names.json.
"""
import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import make_coverage  # noqa: E402

import minicnn  # noqa: E402

# PyTorch namespace -> the prefixes scripts write it with (before ".NAME").
PREFIXES = {
    "torch": [r"\btorch"],
    "torch.nn": [r"\b(?:torch\.)?nn"],
    "torch.nn.functional": [r"\bF", r"\bfunctional"],
    "torch.nn.init": [r"\binit"],
    "torch.optim": [r"\boptim"],
    "torch.optim.lr_scheduler": [r"\blr_scheduler"],
    "torch.autograd": [r"\bautograd"],
    "torch.utils.data": [r"\butils\.data", r"\bdata"],
    "torch.linalg": [r"\blinalg"],
}
# torchvision's names, looked for in minicnn's module of the same kind: the prefix scripts write
# (``from torchvision import datasets, transforms``; utils only in full, since scripts keep
# modules of their own called utils) -> minicnn's module.
TORCHVISION = {
    r"\btransforms": "transforms", r"\bdatasets": "datasets", r"\bmodels": "models",
    r"\b(?:torchvision\.utils|vutils)": "utils",
}


def _pattern(namespace, name):
    if namespace == "torch.Tensor":
        return re.compile(r"\." + re.escape(name) + r"\(")
    prefixes = "|".join(PREFIXES[namespace])
    return re.compile(rf"(?:{prefixes})\.{re.escape(name)}\b")


def _torchvision_uses(texts):
    """{"torchvision.transforms.X": files} for names scripts take from torchvision that
    minicnn's module of that kind lacks."""
    counts = Counter()
    for text in texts:
        if "torchvision" not in text:
            continue
        seen = set()
        for prefix, kind in TORCHVISION.items():
            for name in re.findall(prefix + r"\.([A-Z_a-z][A-Za-z0-9_]*)", text):
                seen.add((kind, name))
        counts.update(seen)
    missing = Counter()
    for (kind, name), n in counts.items():
        module = make_coverage._resolve(kind)
        if not hasattr(module, name) and not name.startswith("_"):
            missing[f"torchvision.{kind}.{name}"] = n
    return missing


def rank(directories):
    files = [p for d in directories for p in sorted(Path(d).rglob("*.py"))]
    texts = [p.read_text(errors="replace") for p in files]
    _, spaces = make_coverage.load_names()
    counts = Counter()
    for namespace, groups in make_coverage.coverage(spaces).items():
        for _, _, missing in groups:
            for name in missing:
                pattern = _pattern(namespace, name)
                n = sum(1 for t in texts if pattern.search(t))
                if n:
                    counts[f"{namespace}.{name}"] = n
    counts.update(_torchvision_uses(texts))
    return len(files), counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directories", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    for d in args.directories:
        if not d.is_dir():
            parser.error(f"{d} is not a directory")
    n_files, counts = rank(args.directories)
    top = counts.most_common(args.top)
    if args.json:
        print(json.dumps({"files": n_files, "minicnn": minicnn.__version__,
                          "missing": dict(top)}, indent=1))
        return 0
    print(f"Missing names by the number of the {n_files} scripts that use them:\n")
    print("| name | scripts |\n|---|---:|")
    for name, n in top:
        print(f"| `{name}` | {n} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
