# "Lazy Initialization" (Dive into Deep Learning, chapter_builders-guide/lazy-init.md, the PyTorch tab),
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

net = nn.Sequential(nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10))

print(net[0].weight)

X = torch.rand(2, 20)
net(X)

print(net[0].weight.shape)

@d2l.add_to_class(d2l.Module)  #@save
def apply_init(self, inputs, init=None):
    self.forward(*inputs)
    if init is not None:
        self.net.apply(init)
