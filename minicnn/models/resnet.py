"""ResNets shaped like torchvision's (ResNet-18/34 of BasicBlocks, ResNet-50/101/152 of
Bottlenecks): the same layer names, so state_dicts match."""
import minicnn.nn as nn
from minicnn.models._weights import load_weights

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "resnet18", "resnet34", "resnet50", "resnet101",
           "resnet152"]


def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
    """3x3 convolution with padding ``dilation`` (the size is kept at stride 1) and no bias
    (BatchNorm follows it)."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation,
                     groups=groups, bias=False, dilation=dilation)


def conv1x1(in_planes, out_planes, stride=1):
    """1x1 convolution without bias: the shortcut's projection."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers and a shortcut: ``relu(bn2(conv2(relu(bn1(conv1(x))))) + x)``.

    ``downsample`` (a 1x1 conv and BatchNorm) projects ``x`` when the block changes the
    stride or the channel count. Shapes: (N, inplanes, H, W) -> (N, planes, H/stride, W/stride).
    """

    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64,
                 dilation=1, norm_layer=None):
        super().__init__()
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        if dilation > 1:
            raise NotImplementedError("Dilation > 1 not supported in BasicBlock")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        """(N, inplanes, H, W) -> (N, planes, OH, OW)."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 (narrow), 3x3 (carrying the stride), 1x1 (widen by 4) conv-BN layers and a shortcut:
    ``relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + x)``, as torchvision's (the
    "ResNet V1.5" placement of the stride).

    The inner width is ``planes * base_width / 64 * groups`` (wider or grouped for
    Wide ResNets and ResNeXts). Shapes: (N, inplanes, H, W) -> (N, 4*planes, H/stride,
    W/stride).
    """

    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None, groups=1, base_width=64,
                 dilation=1, norm_layer=None):
        super().__init__()
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        """(N, inplanes, H, W) -> (N, 4*planes, OH, OW)."""
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


class ResNet(nn.Module):
    """A residual network: a 7x7 stem, four stages of blocks, global average pooling, ``fc``.

    Shapes for a 224x224 input (N is the batch)::

        (N, 3, 224, 224) -conv1 7x7/2, bn1, relu-> (N, 64, 112, 112) -maxpool 3x3/2-> 56x56
        -layer1-> (N, 64, 56, 56) -layer2-> (N, 128, 28, 28) -layer3-> (N, 256, 14, 14)
        -layer4-> (N, 512, 7, 7) -avgpool-> (N, 512, 1, 1) -flatten, fc-> (N, num_classes)

    With Bottleneck blocks every stage's output is 4 times as wide (256, 512, 1024, 2048).
    Any input of at least 32x32 works (the average pool is adaptive).

    Parameters
    ----------
    block : type
        ``BasicBlock`` or ``Bottleneck``.
    layers : sequence of 4 ints
        Blocks per stage: ``[2, 2, 2, 2]`` for ResNet-18, ``[3, 4, 6, 3]`` for ResNet-34 and
        (with Bottlenecks) ResNet-50, ``[3, 4, 23, 3]`` for ResNet-101, ``[3, 8, 36, 3]`` for
        ResNet-152.
    num_classes : int, default 1000
    zero_init_residual : bool, default False
        Start each block's last BatchNorm at weight 0, so each block begins as the identity.
    groups, width_per_group : int, default 1 and 64
        Bottleneck's grouped, wider 3x3 convolution (torchvision's ResNeXt and Wide ResNet).
    replace_stride_with_dilation : sequence of 3 bools, optional
        For stages 2-4: dilate instead of striding (the output stays larger).
    norm_layer : callable, optional
        Builds the normalisation from a channel count; default ``nn.BatchNorm2d``.

    Initialisation follows torchvision: convolutions ``kaiming_normal_(mode='fan_out',
    nonlinearity='relu')``, BatchNorm weight 1 and bias 0, ``fc`` PyTorch's default.
    """

    def __init__(self, block, layers, num_classes=1000, zero_init_residual=False, groups=1,
                 width_per_group=64, replace_stride_with_dilation=None, norm_layer=None):
        super().__init__()
        self._norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        self.inplanes, self.dilation = 64, 1
        if replace_stride_with_dilation is None:
            replace_stride_with_dilation = [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError(f"replace_stride_with_dilation should be None or a 3-element "
                             f"tuple, got {replace_stride_with_dilation}")
        self.groups, self.base_width = groups, width_per_group
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = self._norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], 2, replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, 256, layers[2], 2, replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, 512, layers[3], 2, replace_stride_with_dilation[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck):
                    nn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, BasicBlock):
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block, planes, blocks, stride=1, dilate=False):
        """One stage: ``blocks`` blocks, the first one changing the stride and width."""
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       self._norm_layer(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width,
                        previous_dilation, self._norm_layer)]
        self.inplanes = planes * block.expansion
        layers += [block(self.inplanes, planes, groups=self.groups, base_width=self.base_width,
                         dilation=self.dilation, norm_layer=self._norm_layer)
                   for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        """(N, 3, H, W) -> (N, num_classes) logits."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def resnet18(*, weights=None, num_classes=1000, **kwargs):
    """ResNet-18 (He et al., 2015): BasicBlocks ``[2, 2, 2, 2]``, 11.7M parameters.

    Parameters
    ----------
    weights : None or str or os.PathLike
        None: random (torchvision's initialisation; seed with ``minicnn.manual_seed``). A path
        ending in ``.safetensors``: a state_dict loaded with ``strict=True`` (torchvision's
        converted weights fit; see ``minicnn.models._weights``). Nothing is downloaded.
    num_classes : int, default 1000
    **kwargs
        ``zero_init_residual``, ``norm_layer``: see ``ResNet``.

    Returns
    -------
    ResNet
        Input ``(N, 3, H, W)``, output logits ``(N, num_classes)``.
    """
    return load_weights(ResNet(BasicBlock, [2, 2, 2, 2], num_classes=num_classes, **kwargs),
                        weights)


def resnet34(*, weights=None, num_classes=1000, **kwargs):
    """ResNet-34: BasicBlocks ``[3, 4, 6, 3]``, 21.8M parameters. Arguments as ``resnet18``."""
    return load_weights(ResNet(BasicBlock, [3, 4, 6, 3], num_classes=num_classes, **kwargs),
                        weights)


def resnet50(*, weights=None, num_classes=1000, **kwargs):
    """ResNet-50: Bottlenecks ``[3, 4, 6, 3]``, 25.6M parameters. Arguments as ``resnet18``."""
    return load_weights(ResNet(Bottleneck, [3, 4, 6, 3], num_classes=num_classes, **kwargs),
                        weights)


def resnet101(*, weights=None, num_classes=1000, **kwargs):
    """ResNet-101: Bottlenecks ``[3, 4, 23, 3]``, 44.5M parameters. Arguments as
    ``resnet18``."""
    return load_weights(ResNet(Bottleneck, [3, 4, 23, 3], num_classes=num_classes, **kwargs),
                        weights)


def resnet152(*, weights=None, num_classes=1000, **kwargs):
    """ResNet-152: Bottlenecks ``[3, 8, 36, 3]``, 60.2M parameters. Arguments as
    ``resnet18``."""
    return load_weights(ResNet(Bottleneck, [3, 8, 36, 3], num_classes=num_classes, **kwargs),
                        weights)
