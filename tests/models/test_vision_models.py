"""Tests for the torchvision-shaped models: resnet18/34/50/101/152, vgg11/16 (+ _bn), alexnet,
mobilenet_v2, squeezenet1_1."""
import hashlib

import numpy as np
import pytest

import minicnn
import minicnn.nn as nn
from minicnn import models

# torchvision 0.28's state_dict of each model built with num_classes=10: (number of entries,
# the first 16 hex digits of the SHA-256 of "\n".join(f"{name} {tuple(shape)}"), in order).
TORCHVISION_STATE = {
    "resnet18": (122, "65d17c067d0b1ce3"),
    "resnet34": (218, "3464dcfbe682c458"),
    "resnet50": (320, "9a3ff6723a21ce33"),
    "resnet101": (626, "90c76563d5c3a9b7"),
    "resnet152": (932, "ce803e53b1d371b9"),
    "vgg11": (22, "06e822cdb354065e"),
    "vgg11_bn": (62, "77ac41a2fde01076"),
    "vgg16": (32, "85a17f2184a8561d"),
    "vgg16_bn": (97, "1d24661906224728"),
    "alexnet": (16, "04c3dc5f927a65e2"),
    "mobilenet_v2": (314, "bb13d57260743abb"),
    "squeezenet1_1": (52, "27ac36bf67dc7286"),
}
# A small square input each model runs on (AlexNet's stride-4 11x11 stem needs more than 32).
INPUT_SIZE = dict.fromkeys(TORCHVISION_STATE, 32) | {"alexnet": 64}
VGG_IS_SLOW = pytest.mark.slow  # the first Linear alone is 25088 x 4096 (411 MB)
ALL_MODELS = ["resnet18", "resnet34", "alexnet", "mobilenet_v2", "squeezenet1_1", "vgg11", pytest.param("vgg11_bn", marks=VGG_IS_SLOW),
              pytest.param("vgg16", marks=VGG_IS_SLOW), pytest.param("vgg16_bn", marks=VGG_IS_SLOW),
              # resnet50 below; 44.5M and 60.2M parameters take a while to draw
              pytest.param("resnet101", marks=pytest.mark.slow),
              pytest.param("resnet152", marks=pytest.mark.slow)]


def _input(name, n=1, seed=0):
    size = INPUT_SIZE[name]
    return np.random.default_rng(seed).standard_normal((n, 3, size, size)).astype(np.float32)


def _state_digest(state):
    text = "\n".join(f"{k} {tuple(v.shape)}" for k, v in state.items())
    return len(state), hashlib.sha256(text.encode()).hexdigest()[:16]


@pytest.mark.parametrize("name", ALL_MODELS)
def test_vision_model_state_dict_and_output_shape(name):
    minicnn.manual_seed(0)
    model = getattr(models, name)(num_classes=10).eval()
    state = model.state_dict()
    assert _state_digest(state) == TORCHVISION_STATE[name], list(
        f"{k} {tuple(v.shape)}" for k, v in state.items())
    with minicnn.no_grad():
        out = model(minicnn.tensor(_input(name, n=2)))
    assert out.shape == (2, 10)
    assert np.isfinite(out.numpy()).all()


def test_resnet18_state_dict_names_as_torchvision():
    state = models.resnet18().state_dict()
    assert list(state)[:6] == ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean",
                               "bn1.running_var", "bn1.num_batches_tracked"]
    assert tuple(state["conv1.weight"].shape) == (64, 3, 7, 7)
    assert tuple(state["layer2.0.downsample.0.weight"].shape) == (128, 64, 1, 1)
    assert tuple(state["layer2.0.downsample.1.running_var"].shape) == (128,)
    assert "layer1.0.downsample.0.weight" not in state  # same stride and width: no projection
    assert tuple(state["fc.weight"].shape) == (1000, 512)
    assert sum(p.numel() for p in models.resnet18().parameters()) == 11_689_512


def test_resnet50_bottlenecks_as_torchvision():
    minicnn.manual_seed(0)
    model = models.resnet50(num_classes=10).eval()
    state = model.state_dict()
    assert _state_digest(state) == TORCHVISION_STATE["resnet50"]
    # torchvision's figure for resnet50 (1000 classes: 25,557,032); resnet101 44,549,160 and
    # resnet152 60,192,808 (their state dicts are checked name by name, with -m slow, above)
    assert sum(p.numel() for p in model.parameters()) == 25_557_032 - 2049 * 990
    with minicnn.no_grad():
        assert model(minicnn.tensor(_input("resnet50"))).shape == (1, 10)
    block = model.layer2[0]
    assert isinstance(block, models.resnet.Bottleneck) and block.conv2.stride == (2, 2)
    assert [n for n, _ in block.named_children()] == ["conv1", "bn1", "conv2", "bn2", "conv3",
                                                      "bn3", "relu", "downsample"]
    assert tuple(state["layer1.0.downsample.0.weight"].shape) == (256, 64, 1, 1)  # widened x4
    assert tuple(state["layer4.2.conv3.weight"].shape) == (2048, 512, 1, 1)
    assert tuple(state["fc.weight"].shape) == (10, 2048)
    zero = models.resnet.ResNet(models.resnet.Bottleneck, [1, 1, 2, 1], num_classes=10,
                                zero_init_residual=True)
    assert np.all(zero.layer3[1].bn3.weight.detach().numpy() == 0)
    with pytest.raises(ValueError, match="BasicBlock only supports groups=1"):
        models.resnet18(groups=2)


def test_resnet_init_as_torchvision():
    minicnn.manual_seed(0)
    model = models.resnet34(num_classes=10)
    w = model.layer3[0].conv2.weight.detach().numpy()  # fan_out = 256 * 3 * 3
    assert abs(w.std() - np.sqrt(2 / (256 * 9))) < 0.02 * np.sqrt(2 / (256 * 9))
    assert (model.bn1.weight.detach().numpy() == 1).all()
    assert (model.bn1.bias.detach().numpy() == 0).all()
    zero = models.resnet18(num_classes=10, zero_init_residual=True)
    assert (zero.layer4[1].bn2.weight.detach().numpy() == 0).all()
    assert (zero.layer4[1].bn1.weight.detach().numpy() == 1).all()


def test_resnet18_backward_reaches_every_parameter():
    minicnn.manual_seed(0)
    model = models.resnet18(num_classes=3)
    model(minicnn.tensor(_input("resnet18", n=2))).sum().backward()
    assert all(p.grad is not None and np.isfinite(p.grad.detach().numpy()).all()
               for p in model.parameters())


@VGG_IS_SLOW
def test_vgg_init_as_torchvision():
    minicnn.manual_seed(0)
    model = models.vgg11(num_classes=10)
    assert abs(model.classifier[0].weight.detach().numpy()[:64].std() - 0.01) < 1e-4
    assert (model.classifier[0].bias.detach().numpy() == 0).all()
    assert (model.features[0].bias.detach().numpy() == 0).all()


@pytest.mark.parametrize("name", ["resnet18", "alexnet", "squeezenet1_1"])
def test_vision_model_weights_path_round_trip(tmp_path, name):
    minicnn.manual_seed(0)
    model = getattr(models, name)(num_classes=10).eval()
    path = tmp_path / f"{name}.safetensors"
    minicnn.save(model.state_dict(), path)
    minicnn.manual_seed(1)
    loaded = getattr(models, name)(weights=path, num_classes=10).eval()
    for (k, a), (k2, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert k == k2
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())
    x = minicnn.tensor(_input(name))
    with minicnn.no_grad():
        np.testing.assert_array_equal(model(x).numpy(), loaded(x).numpy())
    with pytest.raises(Exception, match="fc.weight|classifier.6.weight|classifier.1.weight"):
        getattr(models, name)(weights=str(path), num_classes=5)  # strict: shapes must match


@pytest.mark.parametrize("weights", ["DEFAULT", "IMAGENET1K_V1", "resnet18.pth", object()])
def test_vision_model_weights_other_than_a_path_raise(weights):
    with pytest.raises(ValueError, match="minicnn downloads nothing") as info:
        models.resnet18(weights=weights)
    assert "safetensors.torch.save_file" in str(info.value)


def test_vision_model_arguments_are_keyword_only():
    with pytest.raises(TypeError):
        models.resnet18(None)
    with pytest.raises(TypeError):
        models.alexnet(unknown_argument=1)


def _torchvision():
    """torchvision's model builders, or a skip that says why they are missing."""
    torch = pytest.importorskip("torch")
    # A torchvision wheel built for another torch build (CUDA vs CPU) fails to register its C
    # operators at import; the models are plain Python, so skip those registrations here.
    original = torch.library.register_fake

    def register_fake_or_skip(*args, **kwargs):
        def decorate(fn):
            try:
                return original(*args, **kwargs)(fn)
            except RuntimeError:
                return fn
        return decorate

    torch.library.register_fake = register_fake_or_skip
    try:
        tv_models = pytest.importorskip("torchvision.models")
    finally:
        torch.library.register_fake = original
    return torch, tv_models


@pytest.mark.parametrize("name", ["resnet18", "resnet34", "resnet50", "alexnet", "mobilenet_v2",
                                  "squeezenet1_1", pytest.param("vgg11_bn", marks=VGG_IS_SLOW)])
def test_vision_model_matches_torchvision(name):
    torch, tv_models = _torchvision()
    torch.manual_seed(0)
    reference = getattr(tv_models, name)(num_classes=10).eval()
    for m in reference.modules():  # running statistics away from 0 and 1, so eval uses them
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    state = {k: v.numpy() for k, v in reference.state_dict().items()}
    model = getattr(models, name)(num_classes=10)
    model.load_state_dict(state, strict=True)
    model.eval()
    x = _input(name, n=2)
    with torch.no_grad():
        expected = reference(torch.from_numpy(x)).numpy()
    with minicnn.no_grad():
        out = model(minicnn.tensor(x)).numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_mobilenet_v2_and_squeezenet1_1_init_as_torchvision():
    minicnn.manual_seed(0)
    mobile = models.mobilenet_v2()
    assert abs(mobile.classifier[1].weight.detach().numpy().std() - 0.01) < 2e-4
    w = mobile.features[18][0].weight.detach().numpy()  # 320 -> 1280, 1x1: fan_out = 1280
    assert abs(w.std() - np.sqrt(2 / 1280)) < 0.02 * np.sqrt(2 / 1280)
    assert mobile.features[2].use_res_connect is False and mobile.features[3].use_res_connect
    squeeze = models.squeezenet1_1()
    assert abs(squeeze.classifier[1].weight.detach().numpy().std() - 0.01) < 2e-4
    bound = np.sqrt(6 / 512)  # kaiming_uniform_, fan_in = 512 * 1 * 1 (Fire 8's squeeze)
    w = squeeze.features[12].squeeze.weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert (squeeze.features[12].squeeze.bias.detach().numpy() == 0).all()
