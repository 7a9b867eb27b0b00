"""SqueezeNet 1.1 shaped like torchvision's (features/classifier, Fire modules)."""
import minicnn
import minicnn.nn as nn
from minicnn.models._weights import load_weights

__all__ = ["Fire", "SqueezeNet", "squeezenet1_1"]


class Fire(nn.Module):
    """Squeeze with 1x1 convolutions, then expand with 1x1 and 3x3 ones side by side.

    Shapes: (N, inplanes, H, W) -> (N, expand1x1_planes + expand3x3_planes, H, W).
    """

    def __init__(self, inplanes, squeeze_planes, expand1x1_planes, expand3x3_planes):
        super().__init__()
        self.inplanes = inplanes
        self.squeeze = nn.Conv2d(inplanes, squeeze_planes, kernel_size=1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze_planes, expand1x1_planes, kernel_size=1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze_planes, expand3x3_planes, kernel_size=3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x):
        """(N, inplanes, H, W) -> (N, expand1x1_planes + expand3x3_planes, H, W)."""
        x = self.squeeze_activation(self.squeeze(x))
        return minicnn.cat([self.expand1x1_activation(self.expand1x1(x)),
                            self.expand3x3_activation(self.expand3x3(x))], 1)


class SqueezeNet(nn.Module):
    """SqueezeNet 1.1 (Iandola et al., 2016): eight Fire modules, no Linear layer.

    Shapes for a 224x224 input::

        (N, 3, 224, 224) -features-> (N, 512, 13, 13)
        -Dropout, conv 1x1 to num_classes, ReLU, global average pool-> (N, num_classes)

    The max-pools round up (``ceil_mode=True``). Initialisation follows torchvision:
    ``final_conv`` ``normal_(0, 0.01)``, the other convolutions ``kaiming_uniform_``, biases 0.

    Parameters
    ----------
    num_classes : int, default 1000
    dropout : float, default 0.5
    """

    def __init__(self, num_classes=1000, dropout=0.5):
        super().__init__()
        self.num_classes = num_classes
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=3, stride=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(64, 16, 64, 64), Fire(128, 16, 64, 64),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(128, 32, 128, 128), Fire(256, 32, 128, 128),
            nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True),
            Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
            Fire(384, 64, 256, 256), Fire(512, 64, 256, 256),
        )
        final_conv = nn.Conv2d(512, num_classes, kernel_size=1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout), final_conv, nn.ReLU(inplace=True),
                                        nn.AdaptiveAvgPool2d((1, 1)))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    nn.init.normal_(m.weight, mean=0.0, std=0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)

    def forward(self, x):
        """(N, 3, H, W) -> (N, num_classes)."""
        return self.classifier(self.features(x)).flatten(1)


def squeezenet1_1(*, weights=None, num_classes=1000, **kwargs):
    """SqueezeNet 1.1: 1.2M parameters, 2.4x less computation than 1.0.

    Parameters
    ----------
    weights : None or str or os.PathLike
        None: random (torchvision's initialisation). A path ending in ``.safetensors``: a
        state_dict loaded with ``strict=True``. Nothing is downloaded.
    num_classes : int, default 1000
    **kwargs
        ``dropout``: see ``SqueezeNet``.

    Returns
    -------
    SqueezeNet
        Input ``(N, 3, H, W)``, output ``(N, num_classes)`` (non-negative: a ReLU comes last).
    """
    return load_weights(SqueezeNet(num_classes=num_classes, **kwargs), weights)
