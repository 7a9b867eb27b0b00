"""``python -m minicnn exercises``: where you are in the exercises, one task a line.

The exercises live in a source checkout (``exercises/``, next to ``minicnn/``), not in the
installed package; this command runs each task's checks on your code there and prints "not
started", "failing" with what disagreed and its likely cause, or "passing".
"""
import importlib
import sys
from pathlib import Path

__all__ = ["add_arguments", "main"]


def add_arguments(parser):
    parser.add_argument("tasks", nargs="*", metavar="TASK",
                        help="only these tasks (default: all, in the track's order)")
    parser.add_argument("--dir", default=".", metavar="PATH",
                        help="the source checkout holding exercises/ (default: the current "
                             "directory)")


def _load_tasks(root):
    """exercises/_tasks.py of the checkout at ``root``."""
    if str(root) in sys.path:
        sys.path.remove(str(root))
    sys.path.insert(0, str(root))
    loaded = sys.modules.get("exercises")
    if loaded is not None and Path(loaded.__file__).resolve().parent != root / "exercises":
        for name in [n for n in sys.modules if n == "exercises" or n.startswith("exercises.")]:
            del sys.modules[name]
    return importlib.import_module("exercises._tasks")


def main(args):
    """Print each task's status; returns 0, or 2 when there are no exercises to check."""
    root = Path(args.dir).resolve()
    if not (root / "exercises" / "_tasks.py").is_file():
        print(f"minicnn exercises: error: no exercises/ in {root}: run it from the root of a "
              "source checkout (git clone), or pass --dir", file=sys.stderr)
        return 2
    tasks = _load_tasks(root)
    unknown = [t for t in args.tasks if t not in tasks.TASKS]
    if unknown:
        print(f"minicnn exercises: error: no task {unknown[0]!r} (tasks: "
              f"{', '.join(tasks.TASKS)})", file=sys.stderr)
        return 2
    chosen = args.tasks or list(tasks.TASKS)
    width = max(len(t) for t in chosen)
    passing = 0
    for number, task in enumerate(tasks.TASKS, 1):
        if task not in chosen:
            continue
        state, detail = tasks.status(task)
        passing += state == "passing"
        line = f"{number:2d}  {task:<{width}}  {state}"
        print(f"{line}: {detail}" if state == "failing" else line)
    print(f"{passing} of {len(chosen)} passing; a task's checks in full: "
          "python -m pytest tests/test_exercises.py -m task_NAME")
    return 0
