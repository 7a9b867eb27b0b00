"""DistributedSampler: the ranks' shares of each epoch, padding and drop_last as PyTorch's (pure
Python: runs without MPI)."""
import pytest

from minicnn.utils.data import DataLoader, DistributedSampler
from minicnn.utils.data.distributed import DistributedSampler as FromModule


def shares(n, replicas, **kwargs):
    return [list(DistributedSampler(range(n), replicas, r, **kwargs)) for r in range(replicas)]


@pytest.mark.parametrize("n, replicas, drop_last, expected", [
    # what torch.utils.data.distributed.DistributedSampler(shuffle=False) gives
    (10, 3, False, [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]),
    (10, 3, True, [[0, 3, 6], [1, 4, 7], [2, 5, 8]]),
    (2, 5, False, [[0], [1], [0], [1], [0]]),
    (7, 2, True, [[0, 2, 4], [1, 3, 5]]),
])
def test_distributed_sampler_shares_as_pytorch(n, replicas, drop_last, expected):
    assert shares(n, replicas, shuffle=False, drop_last=drop_last) == expected
    assert [len(DistributedSampler(range(n), replicas, r, shuffle=False, drop_last=drop_last))
            for r in range(replicas)] == [len(e) for e in expected]


def test_distributed_sampler_shuffles_each_epoch_alike_on_every_rank():
    samplers = [DistributedSampler(range(11), 3, r, seed=5) for r in range(3)]
    epochs = []
    for epoch in range(2):
        for s in samplers:
            s.set_epoch(epoch)
        parts = [list(s) for s in samplers]
        merged = [i for row in zip(*parts) for i in row]
        assert sorted(merged[:11]) == list(range(11))   # every index once, then padding
        assert merged[11:] == merged[:1]
        epochs.append(merged)
    assert epochs[0] != epochs[1]
    again = DistributedSampler(range(11), 3, 1, seed=5)
    again.set_epoch(1)
    assert list(again) == list(samplers[1])   # the order is a function of seed + epoch


def test_distributed_sampler_in_a_dataloader():
    loader = DataLoader(list(range(10)), batch_size=2,
                        sampler=FromModule(range(10), 2, 1, shuffle=False))
    assert [b.tolist() for b in loader] == [[1, 3], [5, 7], [9]]


def test_distributed_sampler_refuses_bad_arguments():
    with pytest.raises(ValueError, match="Invalid rank 2"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas"):
        DistributedSampler(range(4), num_replicas=0, rank=0)
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(range(4))   # no process group to take the rank from
