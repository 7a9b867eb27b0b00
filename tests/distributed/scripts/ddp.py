"""Run under mpiexec: DistributedDataParallel against one process training on the whole batch.
Prints "ddp ok" on each rank that passed."""
import datetime

import numpy as np

import minicnn
import minicnn.distributed as dist
import minicnn.nn as nn
from minicnn.nn.parallel import DistributedDataParallel as DDP

dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=20))
rank, size = dist.get_rank(), dist.get_world_size()
B = 8  # the global batch; each rank trains on B / size of it


def net(seed, dtype=minicnn.float64):
    minicnn.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Flatten(),
                         nn.Linear(3 * 4 * 4, 5)).to(dtype)


def batches(steps, dtype):
    rng = np.random.default_rng(123)   # the same data on every rank
    return [(minicnn.tensor(rng.standard_normal((B, 2, 6, 6)), dtype=dtype),
             minicnn.tensor(rng.integers(0, 5, B))) for _ in range(steps)]


def train(model, data, shard):
    optimizer = minicnn.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    for x, y in data:
        optimizer.zero_grad()
        loss_fn(model(x[shard]), y[shard]).backward()
        optimizer.step()
    return model


def flat(model):
    return np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])


def same_on_every_rank(values):
    values = minicnn.tensor(values)
    out = [minicnn.zeros_like(values) for _ in range(size)]
    dist.all_gather(out, values)
    return all(np.array_equal(o.numpy(), values.numpy()) for o in out)


per = B // size
mine = slice(rank * per, (rank + 1) * per)
for dtype, bucket_cap_mb in ((minicnn.float64, None), (minicnn.float32, 1e-4)):
    reference = train(net(0, dtype), batches(3, dtype), slice(None))
    # every rank starts from other weights: DDP must take rank 0's
    ddp = DDP(net(rank, dtype), bucket_cap_mb=bucket_cap_mb)
    assert same_on_every_rank(flat(ddp.module))
    assert np.array_equal(flat(ddp.module), flat(net(0, dtype)))
    if bucket_cap_mb is not None:
        assert len(ddp.reducer.buckets) == 4, len(ddp.reducer.buckets)
    train(ddp, batches(3, dtype), mine)
    assert same_on_every_rank(flat(ddp))
    assert list(ddp.state_dict()) == ["module." + k for k in reference.state_dict()]
    if size == 1:   # nothing summed across ranks: the very same arithmetic
        np.testing.assert_array_equal(flat(ddp), flat(reference))
    else:           # the batch sums are split in two: equal to rounding
        tol = 1e-12 if dtype == minicnn.float64 else 1e-5
        np.testing.assert_allclose(flat(ddp), flat(reference), rtol=tol, atol=tol)

# no_sync: the first half-batch's gradients stay local, the second backward averages the sums
x, y = batches(1, minicnn.float64)[0]
reference = net(0)
loss_fn = nn.CrossEntropyLoss()
for half in (slice(0, B // 2), slice(B // 2, B)):
    loss_fn(reference(x[half]), y[half]).backward()
ddp = DDP(net(0))
quarter = B // 2 // size
with ddp.no_sync():
    first = slice(rank * quarter, (rank + 1) * quarter)
    loss_fn(ddp(x[first]), y[first]).backward()
local = [p.grad.numpy().copy() for p in ddp.parameters()]
assert size == 1 or not same_on_every_rank(np.concatenate([g.ravel() for g in local]))
second = slice(B // 2 + rank * quarter, B // 2 + (rank + 1) * quarter)
loss_fn(ddp(x[second]), y[second]).backward()
for p, q in zip(ddp.parameters(), reference.parameters()):
    np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12, atol=1e-12)


# find_unused_parameters: a branch the forward does not take
class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.used, self.unused = nn.Linear(3, 2), nn.Linear(3, 2)

    def forward(self, x):
        return self.used(x)


x = minicnn.ones(4, 3, dtype=minicnn.float32)
ddp = DDP(TwoHeads())
try:
    ddp(x).sum().backward()
except RuntimeError as exc:
    assert "find_unused_parameters=True" in str(exc) and "unused.weight" in str(exc), exc
else:
    raise AssertionError("an unused parameter went unnoticed")
ddp = DDP(TwoHeads(), find_unused_parameters=True)
ddp(x).sum().backward()
assert ddp.module.unused.weight.grad is None   # no rank used it: left alone, as PyTorch
assert ddp.module.used.bias.grad.tolist() == [4.0, 4.0]


class OneRankUses(TwoHeads):   # rank 1 alone takes the second head: its mean reaches all
    def forward(self, x):
        return self.used(x) + (self.unused(x) if rank == 1 else 0)


ddp = DDP(OneRankUses(), find_unused_parameters=True)
ddp(x).sum().backward()
if size > 1:
    assert ddp.module.unused.bias.grad.tolist() == [4.0 / size] * 2, ddp.module.unused.bias.grad

# broadcast_buffers: BatchNorm's running statistics come from rank 0 at each forward
bn = nn.BatchNorm1d(3)
ddp = DDP(bn)
bn.running_mean.fill_(float(rank))
ddp.eval()
with minicnn.no_grad():
    ddp(minicnn.ones(2, 3))
assert bn.running_mean.tolist() == [0.0, 0.0, 0.0], bn.running_mean

# SyncBatchNorm: N ranks normalise with the whole batch's statistics, as one process does
def bn_net(seed):
    minicnn.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                         nn.Linear(3 * 4 * 4, 5)).to(minicnn.float64)


reference = train(bn_net(0), batches(3, minicnn.float64), slice(None))
ddp = DDP(nn.SyncBatchNorm.convert_sync_batchnorm(bn_net(0)))
assert isinstance(ddp.module[1], nn.SyncBatchNorm)
train(ddp, batches(3, minicnn.float64), mine)
assert same_on_every_rank(flat(ddp))
for key, value in reference.state_dict().items():
    np.testing.assert_allclose(ddp.module.state_dict()[key].numpy(), value.numpy(),
                               rtol=1e-10, atol=1e-12, err_msg=key)

# a model built differently on one rank is refused, on every rank, naming the rank and parameter
if size > 1:
    try:
        DDP(nn.Linear(3, 4 if rank == 0 else 5))
    except RuntimeError as exc:
        assert "rank 1" in str(exc) and "'weight'" in str(exc), exc
    else:
        raise AssertionError("a model of another shape went unnoticed")

dist.destroy_process_group()
print("ddp ok", flush=True)
