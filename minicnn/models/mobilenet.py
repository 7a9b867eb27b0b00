"""MobileNetV2 shaped like torchvision's (features/classifier, inverted residual blocks)."""
import minicnn.nn as nn
import minicnn.nn.functional as F
from minicnn.models._weights import load_weights

__all__ = ["Conv2dNormActivation", "InvertedResidual", "MobileNetV2", "mobilenet_v2"]


def _make_divisible(v, divisor, min_value=None):
    """``v`` rounded to the nearest multiple of ``divisor``, never more than 10% below ``v``."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


class Conv2dNormActivation(nn.Sequential):
    """Conv2d (padding ``(kernel_size - 1) // 2``, no bias) -> BatchNorm2d -> activation.

    torchvision's ``torchvision.ops.Conv2dNormActivation``; children ``0``, ``1``, ``2``.
    """

    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1, groups=1,
                 norm_layer=None, activation_layer=nn.ReLU6):
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        super().__init__(
            nn.Conv2d(in_channels, out_channels, kernel_size, stride, (kernel_size - 1) // 2,
                      groups=groups, bias=False),
            norm_layer(out_channels), activation_layer(inplace=True))
        self.out_channels = out_channels


class InvertedResidual(nn.Module):
    """Expand with a 1x1 conv, filter depthwise 3x3, project with a linear 1x1 conv (and BN).

    The shortcut ``x + conv(x)`` is taken when the stride is 1 and the width is unchanged.
    Shapes: (N, inp, H, W) -> (N, oup, H/stride, W/stride).
    """

    def __init__(self, inp, oup, stride, expand_ratio, norm_layer=None):
        super().__init__()
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        self.stride = stride
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(Conv2dNormActivation(inp, hidden_dim, kernel_size=1,
                                               norm_layer=norm_layer))
        layers += [Conv2dNormActivation(hidden_dim, hidden_dim, stride=stride, groups=hidden_dim,
                                        norm_layer=norm_layer),
                   nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),
                   norm_layer(oup)]
        self.conv = nn.Sequential(*layers)
        self.out_channels = oup

    def forward(self, x):
        """(N, inp, H, W) -> (N, oup, OH, OW)."""
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


class MobileNetV2(nn.Module):
    """MobileNetV2 (Sandler et al., 2018): 17 inverted residual blocks between two conv layers.

    Shapes for a 224x224 input::

        (N, 3, 224, 224) -features-> (N, 1280, 7, 7) -global average pool, flatten->
        (N, 1280) -Dropout, Linear-> (N, num_classes)

    Initialisation follows torchvision: convolutions ``kaiming_normal_(mode='fan_out')``,
    BatchNorm weight 1 and bias 0, the Linear ``normal_(0, 0.01)`` with bias 0.

    Parameters
    ----------
    num_classes : int, default 1000
    width_mult : float, default 1.0
        Scales every width (rounded to a multiple of ``round_nearest``).
    inverted_residual_setting : list of [t, c, n, s], optional
        Expansion, channels, repeats and first stride of each stage; default the paper's.
    round_nearest : int, default 8
    norm_layer : callable, optional
        Default ``nn.BatchNorm2d``.
    dropout : float, default 0.2
    """

    def __init__(self, num_classes=1000, width_mult=1.0, inverted_residual_setting=None,
                 round_nearest=8, norm_layer=None, dropout=0.2):
        super().__init__()
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        if inverted_residual_setting is None:
            inverted_residual_setting = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2],
                                         [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2],
                                         [6, 320, 1, 1]]
        if len(inverted_residual_setting) == 0 or any(
                len(row) != 4 for row in inverted_residual_setting):
            raise ValueError("inverted_residual_setting should be a non-empty list of "
                             f"[t, c, n, s] rows, got {inverted_residual_setting!r}")
        input_channel = _make_divisible(32 * width_mult, round_nearest)
        self.last_channel = _make_divisible(1280 * max(1.0, width_mult), round_nearest)
        features = [Conv2dNormActivation(3, input_channel, stride=2, norm_layer=norm_layer)]
        for t, c, n, s in inverted_residual_setting:
            output_channel = _make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                features.append(InvertedResidual(input_channel, output_channel,
                                                 s if i == 0 else 1, t, norm_layer))
                input_channel = output_channel
        features.append(Conv2dNormActivation(input_channel, self.last_channel, kernel_size=1,
                                             norm_layer=norm_layer))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout),
                                        nn.Linear(self.last_channel, num_classes))

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        """(N, 3, H, W) -> (N, num_classes) logits."""
        x = F.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(x.flatten(1))


def mobilenet_v2(*, weights=None, num_classes=1000, **kwargs):
    """MobileNetV2: 3.5M parameters.

    Parameters
    ----------
    weights : None or str or os.PathLike
        None: random (torchvision's initialisation). A path ending in ``.safetensors``: a
        state_dict loaded with ``strict=True``. Nothing is downloaded.
    num_classes : int, default 1000
    **kwargs
        ``width_mult``, ``inverted_residual_setting``, ``round_nearest``, ``norm_layer``,
        ``dropout``: see ``MobileNetV2``.

    Returns
    -------
    MobileNetV2
        Input ``(N, 3, H, W)``, output logits ``(N, num_classes)``.
    """
    return load_weights(MobileNetV2(num_classes=num_classes, **kwargs), weights)
