"""Fault injection on DataLoader workers: killed at random moments, killed half-way through a
message, outliving a killed main process, two iterators over persistent workers, threads asked
for after fork. Whatever could hang runs in a child Python with a time limit (or under the
loader's own timeout), so a regression fails instead of hanging the suite."""
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import minicnn
from minicnn.utils.data import DataLoader, Dataset, TensorDataset

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="fault injection uses fork, /proc and Linux signals")

BIG = """
import json, os, random, signal, sys, threading, time
import numpy as np
from minicnn.utils.data import DataLoader, Dataset, TensorDataset
from minicnn.utils.data import _worker

class Big(Dataset):
    # 1 MB samples: a batch of 2 fills the (1 MiB) pipe twice, so a worker is mostly mid-message
    def __len__(self):
        return 48
    def __getitem__(self, i):
        return np.full(131072, float(i))
"""


def run_script(code, timeout=60, **env):
    """Run ``code`` in a child Python; its JSON output, or a failure if it hangs."""
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=timeout,
                            env=dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS="1",
                                     **env))
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_workers_killed_at_random_moments_are_reported_never_waited_for():
    trials = run_script(BIG + """
rng = random.Random(22)
out = []
for trial in range(12):
    it = iter(DataLoader(Big(), batch_size=2, num_workers=2, timeout=5 if trial % 2 else 0))
    next(it)
    victim = rng.choice(it._pool.workers).pid
    def kill(delay=rng.uniform(0, 0.04)):
        time.sleep(delay)
        os.kill(victim, signal.SIGKILL)
    killer = threading.Thread(target=kill)
    killer.start()
    try:
        n = sum(1 for _ in it)
        outcome = f"finished {n}"
    except RuntimeError as exc:
        outcome = str(exc)
    killer.join()
    out.append([victim, outcome])
print(json.dumps(out))
""")
    assert len(trials) == 12
    for victim, outcome in trials:
        if not outcome.startswith("finished"):  # the kill came after the last batch: no error
            assert outcome == (f"DataLoader worker (pid {victim}) exited unexpectedly "
                               f"(killed by signal SIGKILL)")
    assert sum(not o.startswith("finished") for _, o in trials) >= 6  # most kills hit mid-epoch


@pytest.mark.parametrize("timeout", [0, 5])
def test_a_worker_killed_half_way_through_a_batch_is_reported(timeout):
    got = run_script(BIG + f"""
def half_then_die(fd, parts, parent):
    frame = _worker._frame(b"".join(parts))
    os.set_blocking(fd, True)
    os.write(fd, frame[:len(frame) // 2])  # the main process has half a message ...
    os.kill(os.getpid(), signal.SIGKILL)   # ... and will never have the rest
_worker._send = half_then_die
it = iter(DataLoader(Big(), batch_size=2, num_workers=2, timeout={timeout}))
pids = [w.pid for w in it._pool.workers]
try:
    next(it)
    print(json.dumps(["no error", pids]))
except RuntimeError as exc:
    print(json.dumps([str(exc), pids]))
""")
    message, pids = got
    assert "exited unexpectedly (killed by signal SIGKILL)" in message
    assert any(f"DataLoader worker (pid {pid})" in message for pid in pids)


def _alive(pid):
    """Running (a zombie whose parent is gone counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("how", ["main thread", "other thread", "pipes held open"])
def test_workers_end_when_the_main_process_is_killed(tmp_path, how):
    # Idle persistent workers (waiting for a task), and workers busy in a slow __getitem__.
    # Started by the main thread, the kernel's parent-death signal ends them; by another
    # thread, their pipes closing does; with the pipes held open by a third process, their
    # watch on the parent's pid does.
    from_thread = how != "main thread"
    script = BIG + f"""
class Slow(Big):
    def __getitem__(self, i):
        time.sleep({0.5 if from_thread else 30})
idle = DataLoader(Big(), batch_size=2, num_workers=2, persistent_workers=True)
busy = DataLoader(Slow(), batch_size=2, num_workers=2)
iters = []
def start():
    next(iter(idle))
    iters.append(iter(busy))
if {from_thread}:
    t = threading.Thread(target=start); t.start(); t.join()
else:
    start()
pids = [w.pid for w in idle._pool.workers] + [w.pid for w in iters[0]._pool.workers]
if {how == "pipes held open"}:
    holder = os.fork()
    if holder == 0:  # keeps copies of the main process's ends of every pipe
        time.sleep(20)
        os._exit(0)
    pids.append(holder)
print(json.dumps(pids), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""
    out = tmp_path / "pids.json"
    with open(out, "w") as f:  # a file, not a pipe: surviving workers would hold a pipe open
        subprocess.run([sys.executable, "-c", script], cwd=ROOT, stdout=f, timeout=60,
                       env=dict(os.environ, PYTHONPATH=ROOT))
    pids = json.loads(out.read_text().splitlines()[0])
    workers, holder = pids[:4], pids[4:]
    try:
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [p for p in workers if _alive(p)]
        assert not left, f"workers {left} outlived their parent"
        assert all(_alive(p) for p in holder)  # the pipes were held open all along
    finally:
        for p in workers + holder:  # leave nothing behind, whatever happened
            if _alive(p):
                os.kill(p, 9)


class Numbers(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        return np.int64(i)


def firsts(pairs):
    return [tuple(int(b[0]) for b in pair) for pair in pairs]


def test_persistent_workers_with_two_iterators_take_turns_as_in_pytorch():
    # What PyTorch 2.x gives for the same loops: one iterator per loader, iter() restarts it.
    loader = DataLoader(Numbers(), batch_size=2, num_workers=2, persistent_workers=True,
                        timeout=10)
    assert firsts(zip(loader, loader)) == [(0, 2), (4, 6)]
    assert firsts((a, b) for a in loader for b in loader) == [(0, 0), (0, 2), (0, 4), (0, 6)]
    first = iter(loader)
    next(first)
    assert iter(loader) is first and int(next(first)[0]) == 0  # started over
    assert [int(b[0]) for b in loader] == [0, 2, 4, 6]
    pids = [w.pid for w in loader._pool.workers]
    assert [int(b[0]) for b in loader] == [0, 2, 4, 6]
    assert [w.pid for w in loader._pool.workers] == pids  # the same workers throughout
    loader._pool.shutdown()


def test_two_loaders_without_persistent_workers_zip_epoch_by_epoch():
    loader = DataLoader(Numbers(), batch_size=2, num_workers=2, timeout=10)
    assert firsts(zip(loader, loader)) == [(0, 0), (2, 2), (4, 4), (6, 6)]


def test_more_threads_in_a_forked_worker_are_refused_not_deadlocked():
    minicnn.set_num_threads(2)

    def init(worker_id):
        minicnn.set_num_threads(1)  # one thread stays allowed
        minicnn.set_num_threads(2)

    with pytest.raises(RuntimeError, match="(?s)set_num_threads.2.*does not survive fork"):
        list(DataLoader(Numbers(), batch_size=2, num_workers=1, worker_init_fn=init,
                        timeout=10))

    class Threads(Numbers):
        def __getitem__(self, i):
            return np.int64(minicnn.get_num_threads())

    got = list(DataLoader(Threads(), batch_size=4, num_workers=1, timeout=10))
    assert [b.tolist() for b in got] == [[1] * 4, [1] * 4]
    assert minicnn.get_num_threads() == 2  # the main process keeps its own


def test_without_pollable_pipes_workers_fall_back_to_the_main_process(monkeypatch):
    # Windows has no select.poll: a loader asked for workers warns and loads in the main
    # process, giving the batches num_workers=0 gives.
    from minicnn.utils.data import _worker
    monkeypatch.setattr(_worker, "SUPPORTED", False)
    data = TensorDataset(minicnn.arange(10.0))
    loader = DataLoader(data, batch_size=4, num_workers=2)
    with pytest.warns(RuntimeWarning, match="main process"):
        batches = [b[0].tolist() for b in loader]
    assert batches == [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0], [8.0, 9.0]]
