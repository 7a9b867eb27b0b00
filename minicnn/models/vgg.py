"""VGG-11 and VGG-16, with and without BatchNorm, shaped like torchvision's."""
import minicnn.nn as nn
from minicnn.models._weights import load_weights

__all__ = ["VGG", "make_layers", "cfgs", "vgg11", "vgg11_bn", "vgg16", "vgg16_bn"]

#: Configuration name -> output channels of each 3x3 convolution, "M" for a 2x2 max-pool.
cfgs = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
}


def make_layers(cfg, batch_norm=False):
    """``features``: conv 3x3 pad 1 (-> BatchNorm) -> ReLU per number, a 2x2 max-pool per "M"."""
    layers = []
    in_channels = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        layers.append(nn.Conv2d(in_channels, v, kernel_size=3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU(inplace=True))
        in_channels = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """A VGG network: ``features`` (convolutions), ``avgpool`` to 7x7, ``classifier`` (3 Linear).

    Shapes::

        (N, 3, H, W) -features-> (N, 512, H/32, W/32) -avgpool-> (N, 512, 7, 7)
        -flatten-> (N, 25088)
        -Linear, ReLU, Dropout, Linear, ReLU, Dropout, Linear-> (N, num_classes)

    The first Linear alone holds 102.8M weights (411 MB in float32).

    Parameters
    ----------
    features : nn.Sequential
        From ``make_layers``.
    num_classes : int, default 1000
    init_weights : bool, default True
        torchvision's initialisation: convolutions ``kaiming_normal_(mode='fan_out',
        nonlinearity='relu')``, BatchNorm weight 1, Linear weights ``normal_(0, 0.01)``, all
        biases 0. False keeps each layer's default.
    dropout : float, default 0.5
    """

    def __init__(self, features, num_classes=1000, init_weights=True, dropout=0.5):
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x):
        """(N, 3, H, W) -> (N, num_classes) logits; H and W at least 32."""
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def _vgg(cfg, batch_norm, weights, num_classes, kwargs):
    model = VGG(make_layers(cfgs[cfg], batch_norm=batch_norm), num_classes=num_classes, **kwargs)
    return load_weights(model, weights)


def vgg11(*, weights=None, num_classes=1000, **kwargs):
    """VGG-11 (configuration "A", Simonyan and Zisserman, 2014): 8 convolutions, 132.9M parameters.

    Parameters
    ----------
    weights : None or str or os.PathLike
        None: random (torchvision's initialisation). A path ending in ``.safetensors``: a
        state_dict loaded with ``strict=True``. Nothing is downloaded.
    num_classes : int, default 1000
    **kwargs
        ``init_weights``, ``dropout``: see ``VGG``.

    Returns
    -------
    VGG
        Input ``(N, 3, H, W)``, output logits ``(N, num_classes)``.
    """
    return _vgg("A", False, weights, num_classes, kwargs)


def vgg11_bn(*, weights=None, num_classes=1000, **kwargs):
    """VGG-11 with BatchNorm after each convolution. Arguments as ``vgg11``."""
    return _vgg("A", True, weights, num_classes, kwargs)


def vgg16(*, weights=None, num_classes=1000, **kwargs):
    """VGG-16 (configuration "D"): 13 convolutions, 138.4M parameters. Arguments as ``vgg11``."""
    return _vgg("D", False, weights, num_classes, kwargs)


def vgg16_bn(*, weights=None, num_classes=1000, **kwargs):
    """VGG-16 with BatchNorm after each convolution. Arguments as ``vgg11``."""
    return _vgg("D", True, weights, num_classes, kwargs)
