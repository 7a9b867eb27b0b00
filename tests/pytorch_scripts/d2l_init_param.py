# "Parameter Initialization" (Dive into Deep Learning, chapter_builders-guide/init-param.md, the PyTorch tab),
# d2l-ai/d2l-en at 23d7a5aecceee57d1292c56e90cce307f183bb0a; sample code under MIT-0 (the
# repository's LICENSE-SAMPLECODE).
#
# The chapter's PyTorch code cells, in order. Changes: `import torch` (and `from torch ...`)
# import minicnn under that name, and the d2l library, where used, comes from d2l_shim (next to
# this script), built over minicnn; a cell's last expression, which the notebook displays, is
# wrapped in print(); the chapter's section headings are kept as `# ## ...` comments; where a
# cell branches on `tab.selected(...)` (d2lbook's tabs), only the PyTorch branch is kept.

import minicnn as torch
from minicnn import nn

net = nn.Sequential(nn.LazyLinear(8), nn.ReLU(), nn.LazyLinear(1))
X = torch.rand(size=(2, 4))
print(net(X).shape)

# ## [**Built-in Initialization**]

def init_normal(module):
    if type(module) == nn.Linear:
        nn.init.normal_(module.weight, mean=0, std=0.01)
        nn.init.zeros_(module.bias)

net.apply(init_normal)
print(net[0].weight.data[0], net[0].bias.data[0])

def init_constant(module):
    if type(module) == nn.Linear:
        nn.init.constant_(module.weight, 1)
        nn.init.zeros_(module.bias)

net.apply(init_constant)
print(net[0].weight.data[0], net[0].bias.data[0])

def init_xavier(module):
    if type(module) == nn.Linear:
        nn.init.xavier_uniform_(module.weight)

def init_42(module):
    if type(module) == nn.Linear:
        nn.init.constant_(module.weight, 42)

net[0].apply(init_xavier)
net[2].apply(init_42)
print(net[0].weight.data[0])
print(net[2].weight.data)

# ### [**Custom Initialization**]

def my_init(module):
    if type(module) == nn.Linear:
        print("Init", *[(name, param.shape)
                        for name, param in module.named_parameters()][0])
        nn.init.uniform_(module.weight, -10, 10)
        module.weight.data *= module.weight.data.abs() >= 5

net.apply(my_init)
print(net[0].weight[:2])

net[0].weight.data[:] += 1
net[0].weight.data[0, 0] = 42
print(net[0].weight.data[0])
