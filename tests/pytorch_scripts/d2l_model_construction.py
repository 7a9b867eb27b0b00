# "Layers and Modules" (Dive into Deep Learning, chapter_builders-guide/model-construction.md, the PyTorch tab),
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
from minicnn.nn import functional as F

net = nn.Sequential(nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10))

X = torch.rand(2, 20)
print(net(X).shape)

# ## [**A Custom Module**]

class MLP(nn.Module):
    def __init__(self):
        # Call the constructor of the parent class nn.Module to perform
        # the necessary initialization
        super().__init__()
        self.hidden = nn.LazyLinear(256)
        self.out = nn.LazyLinear(10)

    # Define the forward propagation of the model, that is, how to return the
    # required model output based on the input X
    def forward(self, X):
        return self.out(F.relu(self.hidden(X)))

net = MLP()
print(net(X).shape)

# ## [**The Sequential Module**]

class MySequential(nn.Module):
    def __init__(self, *args):
        super().__init__()
        for idx, module in enumerate(args):
            self.add_module(str(idx), module)

    def forward(self, X):
        for module in self.children():            
            X = module(X)
        return X

net = MySequential(nn.LazyLinear(256), nn.ReLU(), nn.LazyLinear(10))
print(net(X).shape)

# ## [**Executing Code in the Forward Propagation Method**]

class FixedHiddenMLP(nn.Module):
    def __init__(self):
        super().__init__()
        # Random weight parameters that will not compute gradients and
        # therefore keep constant during training
        self.rand_weight = torch.rand((20, 20))
        self.linear = nn.LazyLinear(20)

    def forward(self, X):
        X = self.linear(X)        
        X = F.relu(X @ self.rand_weight + 1)
        # Reuse the fully connected layer. This is equivalent to sharing
        # parameters with two fully connected layers
        X = self.linear(X)
        # Control flow
        while X.abs().sum() > 1:
            X /= 2
        return X.sum()

net = FixedHiddenMLP()
print(net(X))

class NestMLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.LazyLinear(64), nn.ReLU(),
                                 nn.LazyLinear(32), nn.ReLU())
        self.linear = nn.LazyLinear(16)

    def forward(self, X):
        return self.linear(self.net(X))

chimera = nn.Sequential(NestMLP(), nn.LazyLinear(20), FixedHiddenMLP())
print(chimera(X))
