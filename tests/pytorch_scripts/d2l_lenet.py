# "Convolutional Neural Networks (LeNet)" (Dive into Deep Learning,
# chapter_convolutional-neural-networks/lenet.md, the PyTorch tab), d2l-ai/d2l-en at
# 23d7a5aecceee57d1292c56e90cce307f183bb0a; sample code under MIT-0 (the repository's
# LICENSE-SAMPLECODE).
#
# The chapter's PyTorch code cells, in order. Changes: `import torch` (and `from torch ...`)
# import minicnn under that name, and the d2l library comes from d2l_shim (next to this
# script), built over minicnn (see d2l_softmax_regression_scratch.py: it prints the points d2l
# would plot, and its Fashion-MNIST is small and made up); a cell's last expression, which the
# notebook displays (other than None), is wrapped in print(); the chapter's section headings
# are kept as `# ## ...` comments; where a cell branches on `tab.selected(...)` (d2lbook's
# tabs), only the PyTorch branch is kept.

from d2l_shim import minicnn as d2l
import minicnn as torch
from minicnn import nn

# ## LeNet

def init_cnn(module):  #@save
    """Initialize weights for CNNs."""
    if type(module) == nn.Linear or type(module) == nn.Conv2d:
        nn.init.xavier_uniform_(module.weight)

class LeNet(d2l.Classifier):  #@save
    """The LeNet-5 model."""
    def __init__(self, lr=0.1, num_classes=10):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(
            nn.LazyConv2d(6, kernel_size=5, padding=2), nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2),
            nn.LazyConv2d(16, kernel_size=5), nn.Sigmoid(),
            nn.AvgPool2d(kernel_size=2, stride=2),
            nn.Flatten(),
            nn.LazyLinear(120), nn.Sigmoid(),
            nn.LazyLinear(84), nn.Sigmoid(),
            nn.LazyLinear(num_classes))

@d2l.add_to_class(d2l.Classifier)  #@save
def layer_summary(self, X_shape):
    X = d2l.randn(*X_shape)
    for layer in self.net:
        X = layer(X)
        print(layer.__class__.__name__, 'output shape:\t', X.shape)
        
model = LeNet()
model.layer_summary((1, 1, 28, 28))

# ## Training

trainer = d2l.Trainer(max_epochs=10, num_gpus=1)
data = d2l.FashionMNIST(batch_size=128)
model = LeNet(lr=0.1)
model.apply_init([next(iter(data.get_dataloader(True)))[0]], init_cnn)
trainer.fit(model, data)
