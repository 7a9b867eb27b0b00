# "File I/O" (Dive into Deep Learning, chapter_builders-guide/read-write.md, the PyTorch tab),
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

# ## (**Loading and Saving Tensors**)

x = torch.arange(4)
torch.save(x, 'x-file')

x2 = torch.load('x-file')
print(x2)

y = torch.zeros(4)
torch.save([x, y],'x-files')
x2, y2 = torch.load('x-files')
print((x2, y2))

mydict = {'x': x, 'y': y}
torch.save(mydict, 'mydict')
mydict2 = torch.load('mydict')
print(mydict2)

# ## [**Loading and Saving Model Parameters**]

class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.LazyLinear(256)
        self.output = nn.LazyLinear(10)

    def forward(self, x):
        return self.output(F.relu(self.hidden(x)))

net = MLP()
X = torch.randn(size=(2, 20))
Y = net(X)

torch.save(net.state_dict(), 'mlp.params')

clone = MLP()
clone.load_state_dict(torch.load('mlp.params'))
print(clone.eval())

Y_clone = clone(X)
print(Y_clone == Y)
