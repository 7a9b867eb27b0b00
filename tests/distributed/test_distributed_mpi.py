"""minicnn.distributed, DistributedDataParallel and `train --distributed` under mpiexec.

Each test launches `mpiexec -n N python <script>` with a timeout, so a hang fails the test
instead of stalling the suite. They skip (saying why) where mpi4py or mpiexec is missing; with
MINICNN_REQUIRE_MPI=1 in the environment (as CI sets after installing the distributed extra)
a missing MPI fails them instead.
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).resolve().parent / "scripts"


def _mpiexec():
    """mpiexec beside this Python (where the mpich wheel puts it), else the one on PATH."""
    beside = Path(sys.executable).parent / "mpiexec"
    return str(beside) if beside.is_file() else shutil.which("mpiexec")


def _missing():
    if importlib.util.find_spec("mpi4py") is None:
        return 'mpi4py is not installed (pip install -e ".[distributed]")'
    if _mpiexec() is None:
        return "no mpiexec beside this Python or on PATH"
    return None


@pytest.fixture(scope="module")
def mpiexec():
    reason = _missing()
    if reason is not None:
        if os.environ.get("MINICNN_REQUIRE_MPI") == "1":
            pytest.fail(f"MINICNN_REQUIRE_MPI=1 but {reason}")
        pytest.skip(reason)
    return _mpiexec()


def launch(mpiexec, n, *args, timeout=60):
    """Run ``mpiexec -n n python *args`` from the checkout; its CompletedProcess (stdout and
    stderr together in .stdout)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    return subprocess.run([mpiexec, "-n", str(n), sys.executable, *map(str, args)], cwd=ROOT,
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout)


def test_distributed_collectives_on_two_ranks(mpiexec):
    done = launch(mpiexec, 2, SCRIPTS / "collectives.py")
    assert done.returncode == 0, done.stdout
    assert done.stdout.count("collectives ok") == 2, done.stdout


@pytest.mark.parametrize("ranks", [1, 2, 4])
def test_distributed_data_parallel_matches_one_process(mpiexec, ranks):
    # DDP on N ranks with B/N images each == one process on B images (bit for bit on 1 rank)
    done = launch(mpiexec, ranks, SCRIPTS / "ddp.py")
    assert done.returncode == 0, done.stdout
    assert done.stdout.count("ddp ok") == ranks, done.stdout


@pytest.mark.parametrize("fault, expected", [
    ("raise", "rank 1 of 2 stopped with ValueError: a failure on purpose; aborting all ranks"),
    ("timeout", "all_reduce timed out after 1 s on rank 0 of 2"),
])
def test_distributed_failure_on_one_rank_stops_all(mpiexec, fault, expected):
    done = launch(mpiexec, 2, SCRIPTS / "faults.py", fault)
    assert done.returncode != 0
    assert expected in done.stdout, done.stdout
    assert "got through" not in done.stdout, done.stdout


def test_distributed_killed_rank_stops_all(mpiexec):
    done = launch(mpiexec, 2, SCRIPTS / "faults.py", "kill")
    assert done.returncode != 0
    assert "got through" not in done.stdout, done.stdout


def test_train_distributed_stops_every_rank_when_rank_0_fails(mpiexec, tmp_path):
    done = launch(mpiexec, 2, SCRIPTS / "train_fails_on_rank0.py", tmp_path / "run.ckpt")
    assert done.returncode != 0
    assert "minicnn train: error: cannot write the checkpoint (on purpose)" in done.stdout
    assert "epoch 2/3" not in done.stdout, done.stdout


def test_train_distributed_resumes_on_another_number_of_ranks(mpiexec, tmp_path):
    common = ["-m", "minicnn", "train", "--limit", "128", "--test-limit", "100",
              "--batch-size", "32", "--threads", "1"]
    checkpoint = tmp_path / "run.ckpt"
    first = launch(mpiexec, 2, *common, "--distributed", "--epochs", "1",
                   "--checkpoint", checkpoint, "--metrics-json", tmp_path / "first.json")
    assert first.returncode == 0, first.stdout
    assert first.stdout.count("test accuracy") == 1, first.stdout   # rank 0 alone prints
    resumed = launch(mpiexec, 1, *common, "--distributed", "--epochs", "2", "--checkpoint",
                     checkpoint, "--resume", "--metrics-json", tmp_path / "resumed.json")
    assert resumed.returncode == 0, resumed.stdout
    plain = subprocess.run([sys.executable, *common, "--epochs", "2", "--metrics-json",
                            tmp_path / "plain.json"], cwd=ROOT, env=dict(
                                os.environ, PYTHONPATH=str(ROOT)), capture_output=True,
                           text=True, timeout=60)
    assert plain.returncode == 0, plain.stderr
    runs = [json.loads((tmp_path / f"{name}.json").read_text())["history"]
            for name in ("first", "resumed", "plain")]
    assert [h["epoch"] for h in runs[1]] == [1, 2]
    # the same batches as one process: the same losses, to rounding
    for ours, theirs in ((runs[0][0], runs[2][0]), (runs[1][1], runs[2][1])):
        assert ours["test_loss"] == pytest.approx(theirs["test_loss"], rel=1e-4)
        assert ours["train_loss"] == pytest.approx(theirs["train_loss"], rel=1e-4)


def test_distributed_without_mpi4py_says_what_to_install(monkeypatch):
    import minicnn
    import minicnn.distributed as dist
    from minicnn.nn.parallel import DistributedDataParallel
    monkeypatch.setitem(sys.modules, "mpi4py", None)   # as if it were not installed
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", None)
    with pytest.raises(RuntimeError, match=r'pip install -e "\.\[distributed\]"'):
        dist.init_process_group("mpi")
    assert not dist.is_initialized()
    with pytest.raises(ValueError, match="init_process_group"):
        dist.all_reduce(minicnn.ones(2))
    with pytest.raises(ValueError, match="init_process_group"):
        DistributedDataParallel(minicnn.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="backend must be 'mpi'"):
        dist.init_process_group("nccl")
