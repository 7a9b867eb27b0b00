"""Concurrency: Python threads training separate models at the same time get exactly the weights
they get one after the other (kernels release the GIL; backend and grad mode are per thread;
minicnn holding BLAS at one thread in each, kernels/blas.py's SingleThreadedBlas, does not
disturb the other)."""
import threading
import time

import numpy as np
import minicnn
import minicnn.kernels as K
import minicnn.nn.functional as F
import minicnn.optim as optim
from minicnn.utils.data import DataLoader, TensorDataset
from minicnn.models import digits_net, lenet
from minicnn.cli.train import evaluate, train_one_epoch
from test_harden_determinism import synthetic_mnist


def synthetic_digits(n=256, seed=3):
    rng = np.random.default_rng(seed)
    patterns = rng.standard_normal((10, 1, 8, 8)).astype(np.float32)
    labels = rng.integers(0, 10, n)
    images = 0.5 * rng.standard_normal((n, 1, 8, 8)).astype(np.float32) + patterns[labels]
    return TensorDataset(images, labels.astype(np.int64))


class Job:
    """One training run: its own model, optimizer, data order and kernel backend.

    The model is built when the job is (from minicnn's one global generator, so build jobs one
    after the other); the loader owns a seeded generator, so the batch order does not depend on
    what other threads draw meanwhile.
    """

    def __init__(self, make_model, dataset, seed, backend_name, epochs=1, batch_size=32):
        minicnn.manual_seed(seed)
        self.model = make_model()
        self.opt = optim.SGD(self.model.parameters(), lr=0.05, momentum=0.9)
        self.loader = DataLoader(dataset, batch_size=batch_size, shuffle=True, seed=seed)
        self.backend_name, self.epochs = backend_name, epochs
        self.start = self.end = None
        self.backends_seen = set()
        self.error = None

    def run(self, barrier=None):
        try:
            if barrier is not None:
                barrier.wait()
            self.start = time.perf_counter()
            # No threadpool_limits of its own here: the jobs run on the real mechanism, the
            # reference-counted BLAS holding in kernels/blas.py, entered from both threads.
            with K.backend(self.backend_name):
                for _ in range(self.epochs):
                    self.backends_seen.add(K.get_backend())
                    train_one_epoch(self.model, self.loader, self.opt)
                    self.backends_seen.add(K.get_backend())
            self.end = time.perf_counter()
        except BaseException as exc:  # re-raised in the main thread
            self.error = exc

    def weights(self):
        return {k: np.array(v) for k, v in self.model.state_dict().items()}


def make_jobs():
    return [Job(lenet, synthetic_mnist(256), seed=1, backend_name="fast"),
            Job(digits_net, synthetic_digits(256), seed=2, backend_name="reference", epochs=3)]


def run_concurrently(jobs, extra=()):
    barrier = threading.Barrier(len(jobs) + len(extra))
    workers = [threading.Thread(target=job.run, args=(barrier,)) for job in jobs]
    workers += [threading.Thread(target=fn, args=(barrier,)) for fn in extra]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=300)
        assert not w.is_alive(), "a training thread hung"
    for job in jobs:
        if job.error is not None:
            raise job.error


def assert_same_weights(a, b, what):
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=f"{what}: {name}")


def test_two_threads_training_two_models_match_sequential_training(threads):
    threads(2)
    sequential = make_jobs()
    for job in sequential:
        job.run()
    concurrent = make_jobs()
    run_concurrently(concurrent)

    for one, other in zip(sequential, concurrent):
        assert_same_weights(one.weights(), other.weights(), one.backend_name)
    # The runs really overlapped in time, and each thread kept its own kernel backend while
    # the other thread had switched to a different one.
    fast, ref = concurrent
    assert max(fast.start, ref.start) < min(fast.end, ref.end)
    assert fast.backends_seen == {"fast"} and ref.backends_seen == {"reference"}
    # Training changed the weights (the comparison could fail).
    untrained = make_jobs()
    assert not np.array_equal(untrained[0].weights()["0.weight"],
                              concurrent[0].weights()["0.weight"])


def test_no_grad_in_one_thread_does_not_stop_another_from_recording(threads):
    threads(2)
    sequential = make_jobs()[:1]
    sequential[0].run()
    job = make_jobs()[0]
    stop = threading.Event()
    evaluated = []

    def evaluate_in_a_loop(barrier):
        # Sits inside no_grad (entered and left over and over) while the other thread trains.
        barrier.wait()
        model = digits_net()
        loader = DataLoader(synthetic_digits(128), batch_size=64)
        while not stop.is_set():
            evaluated.append(evaluate(model, loader))
            with minicnn.no_grad():
                assert not F.relu(minicnn.tensor(np.ones(3), requires_grad=True)).requires_grad

    def train_then_stop(barrier):
        job.run(barrier)
        stop.set()

    barrier = threading.Barrier(2)
    workers = [threading.Thread(target=evaluate_in_a_loop, args=(barrier,)),
               threading.Thread(target=train_then_stop, args=(barrier,))]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=300)
    if job.error is not None:
        raise job.error
    assert evaluated, "the evaluation thread never ran"
    assert_same_weights(sequential[0].weights(), job.weights(), "lenet next to no_grad")


def test_blas_thread_count_is_restored_after_concurrent_kernels(threads):
    # The kernels hold scipy's BLAS at 1 thread while they run; concurrent kernel calls from
    # several Python threads must leave it as they found it when the last one is done.
    from threadpoolctl import threadpool_info

    def blas_threads():
        return sorted((i["filepath"], i["num_threads"]) for i in threadpool_info()
                      if i["user_api"] == "blas")

    before = blas_threads()
    threads(2)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 16, 14, 14)).astype(np.float32)
    w = rng.standard_normal((32, 16, 5, 5)).astype(np.float32)
    expected = K.conv2d_forward(x, w, padding=2)
    results = []

    def hammer(barrier):
        barrier.wait()
        for _ in range(20):
            results.append(np.array_equal(K.conv2d_forward(x, w, padding=2), expected))

    barrier = threading.Barrier(4)
    workers = [threading.Thread(target=hammer, args=(barrier,)) for _ in range(4)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=300)
    assert results == [True] * 80
    assert blas_threads() == before


def test_kernels_release_the_gil(threads):
    # While one thread is inside a long kernel call, another thread keeps running Python code.
    # Were the GIL held, the other thread could not run a single bytecode until the call
    # returned: its ticks would fall in at most the first bin of the call's duration.
    threads(1)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((256, 16, 28, 28)).astype(np.float32)
    w = rng.standard_normal((32, 16, 5, 5)).astype(np.float32)
    window = {}
    ticks = []
    done = threading.Event()

    def count():
        while not done.is_set():
            ticks.append(time.perf_counter())

    counter = threading.Thread(target=count)
    counter.start()
    try:
        for _ in range(5):  # long enough to span several bins, even on a fast machine
            window.setdefault("start", time.perf_counter())
            K.conv2d_forward(x, w, padding=2)
            window["end"] = time.perf_counter()
            if window["end"] - window["start"] > 0.15:
                break
    finally:
        done.set()
        counter.join()
    start, end = window["start"], window["end"]
    bins = {int((t - start) / 0.02) for t in ticks if start <= t <= end}
    assert len(bins) >= 3, (f"the other thread ran in only {len(bins)} of "
                            f"{int((end - start) / 0.02) + 1} 20-ms bins of the kernel calls")
