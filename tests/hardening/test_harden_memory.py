"""Memory: training does not leak (resident memory and the number of Python objects stay flat
over 2,000 steps with the cyclic garbage collector off), and no reference cycle keeps an
autograd graph alive once backward has run or its output is dropped."""
import gc
import json
import os
import subprocess
import sys
import textwrap
import weakref

import numpy as np
import pytest

import minicnn
import minicnn.nn.functional as F
from minicnn.autograd import AccumulateGrad
from minicnn.kernels import buffers
from minicnn.models import digits_net, lenet

# The training loop of `python -m minicnn train`, LeNet-shaped, in a fresh interpreter. The
# cyclic collector is off, so anything freed must be freed by reference counting: a graph
# kept alive by a cycle would pile up, step after step.
TRAIN_SCRIPT = textwrap.dedent("""
    import gc, json, os, sys
    gc.disable()
    import numpy as np
    from threadpoolctl import threadpool_limits
    import minicnn, minicnn.optim as optim, minicnn.nn.functional as F
    from minicnn.models import lenet

    steps, batch, leak = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "leak"

    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    minicnn.set_num_threads(1)  # time, not memory, depends on it; 1 is steadiest on busy cores
    minicnn.manual_seed(0)
    model = lenet()
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch * 10, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, batch * 10)
    kept, samples = [], []
    with threadpool_limits(limits=1, user_api="blas"):
        for step in range(steps):
            i = (step % 10) * batch
            opt.zero_grad()
            xb = minicnn.tensor(x[i:i + batch], dtype=minicnn.float32)
            loss = F.cross_entropy(model(xb),
                                   minicnn.tensor(y[i:i + batch]))
            loss.backward()
            opt.step()
            if leak:
                kept.append(loss)  # the negative control: a leak the test must see
            if step % 50 == 0:
                samples.append((step, rss(), len(gc.get_objects())))
    print(json.dumps({"samples": samples, "garbage": len(gc.garbage),
                      "loss": float(loss.item())}))
""")

WARM_UP = 100  # steps: allocator pools, BLAS buffers and caches settle


def run_training(steps, batch, leak=False):
    out = subprocess.run([sys.executable, "-c", TRAIN_SCRIPT, str(steps), str(batch),
                          "leak" if leak else "no-leak"], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    warm = [s for s in result["samples"] if s[0] >= WARM_UP]
    rss_growth = max(s[1] for s in warm) - warm[0][1]
    object_growth = max(s[2] for s in warm) - warm[0][2]
    return result, rss_growth, object_growth


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads RSS from /proc")
def test_rss_and_objects_flat_over_2000_training_steps():
    result, rss_growth, object_growth = run_training(2000, 4)  # about 5 s on one core
    assert np.isfinite(result["loss"]) and result["garbage"] == 0
    assert rss_growth < 20 * 2 ** 20, f"RSS grew by {rss_growth / 2 ** 20:.1f} MiB"
    assert object_growth <= 50, f"{object_growth} more Python objects after warm-up"


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads RSS from /proc")
def test_the_leak_measurement_sees_a_leak():
    # Keeping every step's loss tensor (a few objects each) must show up in the count.
    _, _, object_growth = run_training(WARM_UP + 200, 4, leak=True)
    assert object_growth >= 200


# ---------------------------------------------------------------------------------------------
# Reference cycles, in process, with the cyclic collector paused
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def no_cyclic_gc():
    gc.collect()
    gc.disable()
    yield
    gc.enable()


def graph_refs(root):
    """Weak references to every recorded op behind ``root`` (the graph's nodes, reached through
    ``next_functions`` as in PyTorch) and to every array or non-leaf tensor those nodes keep for
    backward (the activations). Leaves (their ``AccumulateGrad`` nodes, and the parameters'
    memory a node saves) are left out: they live on after the graph."""
    nodes, stack, seen, leaves = [], [root.grad_fn], set(), []
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, AccumulateGrad):
            leaves.append(node.variable.detach().numpy())
            continue
        nodes.append(node)
        stack.extend(next_node for next_node, _ in node.next_functions)
    refs = [weakref.ref(node) for node in nodes]
    for node in nodes:
        for value in vars(node).values():
            for item in value if isinstance(value, (tuple, list)) else (value,):
                if isinstance(item, minicnn.Tensor) and not item.is_leaf:
                    refs.append(weakref.ref(item))
                elif (isinstance(item, np.ndarray) and item.size > 1
                      and not any(np.shares_memory(item, leaf) for leaf in leaves)):
                    refs.append(weakref.ref(item))
    return refs


def alive(refs):
    """What ``refs`` still reach. The kernels keep their big output arrays for reuse (a pool
    that drops an array only once nobody else holds it): drop those first, so that an array
    still reachable here is one that something else keeps alive."""
    buffers.empty_cache()
    return [r() for r in refs if r() is not None]


def _step(model, shape, seed=0):
    rng = np.random.default_rng(seed)
    x = minicnn.tensor(rng.standard_normal(shape), dtype=minicnn.float32, requires_grad=True)
    labels = minicnn.tensor(rng.integers(0, 10, shape[0]))
    return F.cross_entropy(model(x), labels)


@pytest.mark.parametrize("make, shape", [(lenet, (3, 1, 28, 28)), (digits_net, (5, 1, 8, 8))])
def test_backward_frees_the_graph_by_reference_counting(no_cyclic_gc, make, shape):
    minicnn.manual_seed(0)
    model = make()
    loss = _step(model, shape)
    refs = graph_refs(loss)
    assert len(refs) > 10
    loss.backward()
    # Still holding `loss`, but its recorded op has let go of everything it saved.
    kept = alive(refs)
    assert all(getattr(a, "_freed", False) for a in kept
               if not isinstance(a, (minicnn.Tensor, np.ndarray)))
    assert not [a for a in kept if isinstance(a, minicnn.Tensor)], "tensors kept alive"
    assert not [a for a in kept if isinstance(a, np.ndarray)], "saved arrays kept alive"
    del loss, kept
    assert alive(refs) == []


def test_dropping_an_output_without_backward_frees_its_graph(no_cyclic_gc):
    minicnn.manual_seed(0)
    model = lenet()
    loss = _step(model, (2, 1, 28, 28))
    refs = graph_refs(loss)
    del loss
    assert alive(refs) == []


def test_retain_graph_keeps_the_graph_until_the_output_goes(no_cyclic_gc):
    minicnn.manual_seed(0)
    model = digits_net()
    loss = _step(model, (4, 1, 8, 8))
    refs = graph_refs(loss)
    loss.backward(retain_graph=True)
    assert all(r() is not None for r in refs)  # kept for a second backward, as asked
    loss.backward()
    del loss
    assert alive(refs) == []


def test_no_grad_records_nothing(no_cyclic_gc):
    minicnn.manual_seed(0)
    model = lenet()
    with minicnn.no_grad():
        out = model(minicnn.tensor(np.ones((2, 1, 28, 28), np.float32)))
    assert out.grad_fn is None and graph_refs(out) == []
