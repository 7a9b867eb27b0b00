# "Implementation of Multilayer Perceptrons" (Dive into Deep Learning,
# chapter_multilayer-perceptrons/mlp-implementation.md, the PyTorch tab), d2l-ai/d2l-en at
# 23d7a5aecceee57d1292c56e90cce307f183bb0a; sample code under MIT-0 (the repository's
# LICENSE-SAMPLECODE).
#
# The chapter's PyTorch code cells, in order. Changes: `import torch` (and `from torch ...`)
# import minicnn under that name, and the d2l library comes from d2l_shim (next to this
# script), built over minicnn (see d2l_softmax_regression_scratch.py: it prints the points d2l
# would plot, and its Fashion-MNIST is small and made up); a cell's last expression, which the
# notebook displays (other than None), is wrapped in print(); the chapter's section headings
# are kept as `# ## ...` comments.

from d2l_shim import minicnn as d2l
import minicnn as torch
from minicnn import nn

# ## Implementation from Scratch

# ### Initializing Model Parameters

class MLPScratch(d2l.Classifier):
    def __init__(self, num_inputs, num_outputs, num_hiddens, lr, sigma=0.01):
        super().__init__()
        self.save_hyperparameters()
        self.W1 = nn.Parameter(torch.randn(num_inputs, num_hiddens) * sigma)
        self.b1 = nn.Parameter(torch.zeros(num_hiddens))
        self.W2 = nn.Parameter(torch.randn(num_hiddens, num_outputs) * sigma)
        self.b2 = nn.Parameter(torch.zeros(num_outputs))

# ### Model

def relu(X):
    a = torch.zeros_like(X)
    return torch.max(X, a)

@d2l.add_to_class(MLPScratch)
def forward(self, X):
    X = d2l.reshape(X, (-1, self.num_inputs))
    H = relu(d2l.matmul(X, self.W1) + self.b1)
    return d2l.matmul(H, self.W2) + self.b2

# ### Training

model = MLPScratch(num_inputs=784, num_outputs=10, num_hiddens=256, lr=0.1)
data = d2l.FashionMNIST(batch_size=256)
trainer = d2l.Trainer(max_epochs=10)
trainer.fit(model, data)

# ## Concise Implementation

# ### Model

class MLP(d2l.Classifier):
    def __init__(self, num_outputs, num_hiddens, lr):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Flatten(), nn.LazyLinear(num_hiddens),
                                 nn.ReLU(), nn.LazyLinear(num_outputs))

# ### Training

model = MLP(num_outputs=10, num_hiddens=256, lr=0.1)
trainer.fit(model, data)
