"""AlexNet shaped like torchvision's (features/avgpool/classifier)."""
import minicnn.nn as nn
from minicnn.models._weights import load_weights

__all__ = ["AlexNet", "alexnet"]


class AlexNet(nn.Module):
    """AlexNet as torchvision builds it (the one-GPU variant of Krizhevsky's "one weird trick").

    Shapes for a 224x224 input::

        (N, 3, 224, 224) -features (5 convolutions, 3 max-pools)-> (N, 256, 6, 6)
        -avgpool-> (N, 256, 6, 6) -flatten-> (N, 9216)
        -Dropout, Linear, ReLU, Dropout, Linear, ReLU, Linear-> (N, num_classes)

    Layers keep PyTorch's default initialisation, as torchvision's do. Inputs need H, W >= 63.

    Parameters
    ----------
    num_classes : int, default 1000
    dropout : float, default 0.5
    """

    def __init__(self, num_classes=1000, dropout=0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        """(N, 3, H, W) -> (N, num_classes) logits."""
        return self.classifier(self.avgpool(self.features(x)).flatten(1))


def alexnet(*, weights=None, num_classes=1000, **kwargs):
    """AlexNet: 61.1M parameters.

    Parameters
    ----------
    weights : None or str or os.PathLike
        None: random (PyTorch's default initialisation). A path ending in ``.safetensors``: a
        state_dict loaded with ``strict=True``. Nothing is downloaded.
    num_classes : int, default 1000
    **kwargs
        ``dropout``: see ``AlexNet``.

    Returns
    -------
    AlexNet
        Input ``(N, 3, H, W)``, output logits ``(N, num_classes)``.
    """
    return load_weights(AlexNet(num_classes=num_classes, **kwargs), weights)
