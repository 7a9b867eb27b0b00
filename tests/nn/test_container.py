"""Tests for minicnn.nn.Sequential and ModuleList: indexing, iteration, registration."""
import collections

import numpy as np
import pytest

import minicnn.nn as nn
from minicnn import Tensor


def tensor(rng, *shape, dtype=np.float32):
    return Tensor(rng.standard_normal(shape).astype(dtype), dtype=dtype)


def test_sequential_indexing_len_iteration_append(rng):
    layers = [nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)]
    seq = nn.Sequential(*layers)
    assert len(seq) == 3 and list(seq) == layers
    assert seq[0] is layers[0] and seq[-1] is layers[2]
    head = seq[1:]
    assert isinstance(head, nn.Sequential) and list(head) == layers[1:]
    assert list(head.state_dict()) == ["2.weight", "2.bias"]  # names kept, as PyTorch
    with pytest.raises(IndexError):
        seq[3]
    x = tensor(rng, 5, 3)
    np.testing.assert_array_equal(seq(x).data, layers[2](layers[1](layers[0](x))).data)
    assert seq.append(nn.Sigmoid()) is seq and len(seq) == 4 and isinstance(seq[3], nn.Sigmoid)
    seq[1] = nn.Tanh()
    assert isinstance(seq[1], nn.Tanh)
    named = nn.Sequential(collections.OrderedDict([("conv", nn.Conv2d(1, 2, 3)),
                                                   ("act", nn.ReLU())]))
    assert list(named.state_dict()) == ["conv.weight", "conv.bias"]
    assert named.conv is named[0]
    with pytest.raises(TypeError, match="Module"):
        nn.Sequential(nn.ReLU(), lambda x: x)


def test_module_list_registers_its_entries():
    class Tower(nn.Module):
        def __init__(self):
            super().__init__()
            self.blocks = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])

        def forward(self, x):
            for block in self.blocks:
                x = block(x)
            return x

    tower = Tower()
    assert len(list(tower.parameters())) == 6
    assert list(tower.state_dict())[:2] == ["blocks.0.weight", "blocks.0.bias"]
    tower.blocks.append(nn.Linear(2, 2))
    assert len(tower.blocks) == 4 and isinstance(tower.blocks[1:], nn.ModuleList)
