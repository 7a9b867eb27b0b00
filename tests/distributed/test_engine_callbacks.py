"""What DistributedDataParallel is built on, in the autograd engine (no MPI needed):
``Tensor.register_post_accumulate_grad_hook`` and the callbacks run at the end of backward."""
import pytest

import minicnn
from minicnn import autograd


def test_post_accumulate_grad_hook_sees_the_accumulated_grad():
    w = minicnn.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
    (w * 3).sum().backward()
    (w * w).sum().backward()   # accumulates: 3 + 2w
    assert seen == [[3.0, 3.0], [5.0, 7.0]]
    handle.remove()
    (w * 3).sum().backward()
    assert len(seen) == 2


def test_post_accumulate_grad_hook_on_a_leaf_only():
    w = minicnn.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (w * 2).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(RuntimeError, match="doesn't require grad"):
        minicnn.ones(2).register_post_accumulate_grad_hook(lambda t: None)


def test_post_accumulate_grad_hook_not_run_by_autograd_grad():
    w = minicnn.ones(2, requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(seen.append)
    autograd.grad((w * 2).sum(), w)   # .grad untouched, so nothing was accumulated
    assert seen == [] and w.grad is None


def test_queued_callback_runs_once_backward_is_over():
    a = minicnn.ones(2, requires_grad=True)
    b = minicnn.ones(2, requires_grad=True)
    events = []

    def hook(t):
        events.append("hook")
        if len(events) == 1:
            autograd._queue_callback(lambda: events.append(("end", a.grad is not None
                                                            and b.grad is not None)))
    a.register_post_accumulate_grad_hook(hook)
    b.register_post_accumulate_grad_hook(hook)
    (a * b).sum().backward()
    assert events == ["hook", "hook", ("end", True)]
    with pytest.raises(RuntimeError, match="during a backward pass"):
        autograd._queue_callback(lambda: None)
