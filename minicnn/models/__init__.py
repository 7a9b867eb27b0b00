"""Ready-made CNNs: small ones for the CLI and the examples, a registry, and torchvision's shapes.

``digits_net``, ``lenet``, ``cifar_net`` and ``cifar_bn_net`` live here, with the registry the
CLI reads (``MODELS``). ImageNet models shaped like torchvision's, so that their state_dicts
match torchvision's name for name, live one family per file and are re-exported here:
``resnet.py`` (``resnet18``, ``resnet34``, ``resnet50``, ``resnet101``, ``resnet152``), ``vgg.py`` (``vgg11``, ``vgg11_bn``, ``vgg16``,
``vgg16_bn``), ``alexnet.py`` (``alexnet``), ``mobilenet.py`` (``mobilenet_v2``) and
``squeezenet.py`` (``squeezenet1_1``); each takes ``weights=None`` or the path of a
``.safetensors`` file, and downloads nothing.

Each constructor returns a plain ``nn.Sequential`` built from public modules, so printing the
model shows every layer and ``model[0]`` is the first convolution. Weights are drawn from
minicnn's one generator: call ``minicnn.manual_seed(s)`` first for reproducible weights.

>>> import minicnn
>>> from minicnn.models import MODELS, INPUT_SHAPES
>>> sorted(MODELS)
['cifar_bn_net', 'cifar_net', 'digits_net', 'lenet']
>>> INPUT_SHAPES["lenet"]
(1, 28, 28)
"""
import minicnn.nn as nn
from minicnn.models.alexnet import alexnet
from minicnn.models.mobilenet import mobilenet_v2
from minicnn.models.resnet import resnet18, resnet34, resnet50, resnet101, resnet152
from minicnn.models.squeezenet import squeezenet1_1
from minicnn.models.vgg import vgg11, vgg11_bn, vgg16, vgg16_bn

__all__ = ["digits_net", "lenet", "cifar_net", "cifar_bn_net", "MODELS", "INPUT_SHAPES",
           "create_model", "resnet18", "resnet34", "resnet50",
           "resnet101", "resnet152", "vgg11", "vgg11_bn",
           "vgg16", "vgg16_bn", "alexnet", "mobilenet_v2", "squeezenet1_1"]


def digits_net(num_classes=10):
    """A small CNN for the 8x8 digits: two 3x3 convolutions, one 2x2 max-pool, one linear layer.

    Shapes (N is the batch)::

        (N, 1, 8, 8) -conv 32, 3x3, pad 1-> (N, 32, 8, 8) -conv 32, 3x3, pad 1-> (N, 32, 8, 8)
                     -pool-> (N, 32, 4, 4) -flatten-> (N, 512) -linear-> (N, num_classes)

    Both convolutions keep the full 8x8 resolution (pooling an 8x8 image early throws away
    too much); ReLU follows each.

    Parameters
    ----------
    num_classes : int, default 10

    Returns
    -------
    nn.Sequential
        Input ``(N, 1, 8, 8)``, output logits ``(N, num_classes)``; 14,698 parameters for 10
        classes. With SGD (lr 0.05, momentum 0.9, batch 32) it reaches about 98% test
        accuracy on ``load_digits()`` within 10 epochs (a few seconds).
    """
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, num_classes),
    )


def lenet(num_classes=10):
    """A LeNet-style CNN for 28x28 images (MNIST, Fashion-MNIST).

    Shapes::

        (N, 1, 28, 28) -conv 16, 5x5, pad 2-> (N, 16, 28, 28) -pool-> (N, 16, 14, 14)
                       -conv 32, 5x5, pad 2-> (N, 32, 14, 14) -pool-> (N, 32, 7, 7)
                       -flatten-> (N, 1568) -linear-> (N, num_classes)

    Parameters
    ----------
    num_classes : int, default 10

    Returns
    -------
    nn.Sequential
        Input ``(N, 1, 28, 28)``, output logits ``(N, num_classes)``.
    """
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, num_classes),
    )


def cifar_net(num_classes=10):
    """The classic CIFAR-10 tutorial CNN: three conv blocks (64, 128, 256) and three FC layers.

    Each block is a 3x3 convolution with padding 1, ReLU, and a 2x2 max-pool, halving the
    image: 32 -> 16 -> 8 -> 4. Shapes::

        (N, 3, 32, 32) -block 64-> (N, 64, 16, 16) -block 128-> (N, 128, 8, 8)
                       -block 256-> (N, 256, 4, 4) -flatten-> (N, 4096)
                       -linear-> (N, 256) -linear-> (N, 128) -linear-> (N, num_classes)

    Parameters
    ----------
    num_classes : int, default 10

    Returns
    -------
    nn.Sequential
        Input ``(N, 3, 32, 32)``, output logits ``(N, num_classes)``.
    """
    return nn.Sequential(
        nn.Conv2d(3, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(128, 256, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(256 * 4 * 4, 256), nn.ReLU(),
        nn.Linear(256, 128), nn.ReLU(),
        nn.Linear(128, num_classes),
    )


def cifar_bn_net(num_classes=10, dropout=0.5):
    """``cifar_net`` with BatchNorm after every convolution and dropout between the FC layers.

    The regularised CNN of the tutorials this project grew from: conv -> BatchNorm -> ReLU ->
    max-pool, three times (64, 128, 256 channels; the convolutions drop their bias, which
    BatchNorm's shift replaces), then three fully-connected layers with dropout ``dropout``
    before the second and third. Train it with SGD and momentum and cross-entropy; call
    ``model.eval()`` before testing, so BatchNorm uses its running statistics and dropout
    is off.

    Parameters
    ----------
    num_classes : int, default 10
    dropout : float, default 0.5

    Returns
    -------
    nn.Sequential
        Input ``(N, 3, 32, 32)``, output logits ``(N, num_classes)``.
    """
    def block(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                nn.ReLU(), nn.MaxPool2d(2)]

    return nn.Sequential(
        *block(3, 64), *block(64, 128), *block(128, 256),
        nn.Flatten(),
        nn.Linear(256 * 4 * 4, 256), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(256, 128), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(128, num_classes),
    )


#: Model name -> constructor (each takes ``num_classes``), as the CLI's ``--model`` names them.
MODELS = {"digits_net": digits_net, "lenet": lenet, "cifar_net": cifar_net,
          "cifar_bn_net": cifar_bn_net}

#: Model name -> the (C, H, W) of one input image.
INPUT_SHAPES = {"digits_net": (1, 8, 8), "lenet": (1, 28, 28), "cifar_net": (3, 32, 32),
                "cifar_bn_net": (3, 32, 32)}

def create_model(name, num_classes=10):
    """Build a registered model by name.

    Parameters
    ----------
    name : str
        A key of ``MODELS``.
    num_classes : int, default 10

    Returns
    -------
    nn.Module
        Input ``(N, *INPUT_SHAPES[name])``, output logits ``(N, num_classes)``.

    Raises
    ------
    ValueError
        If ``name`` is not registered (the message lists the names that are).
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(sorted(MODELS))}")
    return MODELS[name](num_classes)
