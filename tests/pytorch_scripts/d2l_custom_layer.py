# "Custom Layers" (Dive into Deep Learning, chapter_builders-guide/custom-layer.md, the PyTorch tab),
# d2l-ai/d2l-en at 23d7a5aecceee57d1292c56e90cce307f183bb0a; sample code under MIT-0 (the
# repository's LICENSE-SAMPLECODE).
#
# The chapter's PyTorch code cells, in order. Changes: `import torch` (and `from torch ...`)
# import minicnn under that name, and the d2l library, where used, comes from d2l_shim (next to
# this script), built over minicnn; a cell's last expression, which the notebook displays, is
# wrapped in print(); the chapter's section headings are kept as `# ## ...` comments; where a
# cell branches on `tab.selected(...)` (d2lbook's tabs), only the PyTorch branch is kept.

from d2l_shim import minicnn as d2l
import minicnn as torch
from minicnn import nn
from minicnn.nn import functional as F

# ## (**Layers without Parameters**)

class CenteredLayer(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, X):
        return X - X.mean()

layer = CenteredLayer()
print(layer(d2l.tensor([1.0, 2, 3, 4, 5])))

net = nn.Sequential(nn.LazyLinear(128), CenteredLayer())

Y = net(d2l.rand(4, 8))
print(Y.mean())

# ## [**Layers with Parameters**]

class MyLinear(nn.Module):
    def __init__(self, in_units, units):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_units, units))
        self.bias = nn.Parameter(torch.randn(units,))
        
    def forward(self, X):
        linear = torch.matmul(X, self.weight.data) + self.bias.data
        return F.relu(linear)

linear = MyLinear(5, 3)
print(linear.weight)

print(linear(torch.rand(2, 5)))

net = nn.Sequential(MyLinear(64, 8), MyLinear(8, 1))
print(net(torch.rand(2, 64)))
