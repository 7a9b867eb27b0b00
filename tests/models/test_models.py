"""Tests for minicnn.models: shapes, layer structure, registry, seeding, digits_net learning."""
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

import minicnn
import minicnn.nn as nn
import minicnn.nn.functional as F
import minicnn.optim as optim
from minicnn.datasets import load_digits
from minicnn.utils.data import DataLoader
from minicnn.models import (INPUT_SHAPES, MODELS, cifar_net, create_model,
                            digits_net, lenet)


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny layers: one thread (kernels and BLAS) is fastest and immune to a busy machine, where
    # spinning worker threads can make a step 10-100x slower; results do not depend on it.
    previous = minicnn.get_num_threads()
    minicnn.set_num_threads(1)
    with threadpool_limits(limits=1, user_api="blas"):
        yield
    minicnn.set_num_threads(previous)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def layer_params(*layers):
    """Parameter count from layer sizes: conv (O, C, K) or linear (out, in)."""
    total = 0
    for layer in layers:
        if len(layer) == 3:
            o, c, k = layer
            total += o * c * k * k + o
        else:
            o, i = layer
            total += o * i + o
    return total


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("num_classes", [10, 3])
def test_forward_shape(name, num_classes):
    minicnn.manual_seed(0)
    model = create_model(name, num_classes)
    x = minicnn.tensor(np.random.default_rng(0).standard_normal((2,) + INPUT_SHAPES[name]),
                       dtype=minicnn.float32)
    with minicnn.no_grad():
        y = model(x)
    assert y.shape == (2, num_classes)
    assert y.dtype == np.float32
    assert np.all(np.isfinite(y.numpy()))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_wrong_input_size_is_rejected(name):
    c, h, w = INPUT_SHAPES[name]
    model = create_model(name)
    with pytest.raises((ValueError, TypeError)):
        model(minicnn.tensor(np.zeros((1, c, h + 8, w + 8), np.float32)))


def test_parameter_counts_follow_the_documented_layers():
    assert n_params(digits_net()) == layer_params((32, 1, 3), (32, 32, 3), (10, 32 * 4 * 4))
    assert n_params(lenet()) == layer_params((16, 1, 5), (32, 16, 5), (10, 32 * 7 * 7))
    assert n_params(cifar_net()) == layer_params((64, 3, 3), (128, 64, 3), (256, 128, 3),
                                                 (256, 256 * 4 * 4), (128, 256), (10, 128))


def test_lenet_structure():
    model = lenet()
    convs = [m for m in model if isinstance(m, nn.Conv2d)]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.padding) for c in convs] == \
        [(1, 16, (5, 5), (2, 2)), (16, 32, (5, 5), (2, 2))]
    assert sum(isinstance(m, nn.MaxPool2d) for m in model) == 2
    assert sum(isinstance(m, nn.ReLU) for m in model) == 2
    linear = [m for m in model if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(1568, 10)]


def test_cifar_net_structure():
    model = cifar_net()
    convs = [m for m in model if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.padding) for c in convs] == \
        [(64, (3, 3), (1, 1)), (128, (3, 3), (1, 1)), (256, (3, 3), (1, 1))]
    assert sum(isinstance(m, nn.MaxPool2d) for m in model) == 3
    assert sum(isinstance(m, nn.Linear) for m in model) == 3
    assert sum(isinstance(m, nn.ReLU) for m in model) == 5


def test_cifar_bn_net_structure_and_modes():
    minicnn.manual_seed(0)
    model = create_model("cifar_bn_net")
    convs = [m for m in model if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256]
    assert all(c.bias is None for c in convs)       # BatchNorm's shift replaces the bias
    assert sum(isinstance(m, nn.BatchNorm2d) for m in model) == 3
    assert sum(isinstance(m, nn.Dropout) for m in model) == 2
    assert sum(isinstance(m, nn.Linear) for m in model) == 3
    x = minicnn.randn(4, 3, 32, 32)
    model(x)                                         # training: updates running statistics
    bn = next(m for m in model if isinstance(m, nn.BatchNorm2d))
    assert bn.num_batches_tracked.item() == 1 and "1.running_var" in model.state_dict()
    model.eval()
    with minicnn.no_grad():
        a, b = model(x), model(x)
    np.testing.assert_array_equal(a.data, b.data)   # eval: no dropout, running statistics


def test_registry():
    assert set(MODELS) == set(INPUT_SHAPES)
    for name, constructor in MODELS.items():
        assert type(create_model(name)) is type(constructor())
    with pytest.raises(ValueError, match="unknown model 'resnet'.*digits_net"):
        create_model("resnet")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_seeded_initialisation(name):
    minicnn.manual_seed(3)
    a = create_model(name).state_dict()
    minicnn.manual_seed(3)
    b = create_model(name).state_dict()
    minicnn.manual_seed(4)
    c = create_model(name).state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not all(np.array_equal(a[k], c[k]) for k in a)


def test_digits_net_learns_digits():
    minicnn.manual_seed(0)
    train, test = load_digits()
    model = digits_net()
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for _ in range(3):
        model.train()
        for images, labels in DataLoader(train, batch_size=32, shuffle=True):
            optimizer.zero_grad()
            F.cross_entropy(model(images), labels).backward()
            optimizer.step()
    model.eval()
    images, labels = next(iter(DataLoader(test, batch_size=len(test))))
    with minicnn.no_grad():
        accuracy = (model(images).argmax(dim=1) == labels).float().mean().item()
    assert accuracy >= 0.93
