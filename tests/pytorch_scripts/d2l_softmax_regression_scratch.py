# "Softmax Regression Implementation from Scratch" (Dive into Deep Learning,
# chapter_linear-classification/softmax-regression-scratch.md, the PyTorch tab), d2l-ai/d2l-en
# at 23d7a5aecceee57d1292c56e90cce307f183bb0a; sample code under MIT-0 (the repository's
# LICENSE-SAMPLECODE).
#
# The chapter's PyTorch code cells, in order. Changes:
# - `import torch` imports minicnn under that name, and the d2l library comes from d2l_shim
#   (next to this script), built over minicnn: `from d2l_shim import minicnn as d2l` stands for
#   `from d2l import torch as d2l`. The shim is d2l/torch.py's code, except that it prints the
#   points d2l would plot (training loss twice an epoch, validation loss and accuracy once) and
#   the titles of the images d2l would show, and that its d2l.FashionMNIST downloads nothing:
#   it is 2,048 training and 512 validation made-up 28x28 images of 10 classes (see d2l_shim),
#   so that the chapter's 10 epochs at batch size 256 take about a second.
# - A cell's last expression, which the notebook displays, is wrapped in print().
# - The chapter's section headings are kept as `# ## ...` comments.
# - Where a cell branches on `tab.selected(...)` (d2lbook's tabs), only the PyTorch branch is
#   kept.
from d2l_shim import minicnn as d2l
import minicnn as torch

# ## The Softmax
X = d2l.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
print((d2l.reduce_sum(X, 0, keepdims=True), d2l.reduce_sum(X, 1, keepdims=True)))


def softmax(X):
    X_exp = d2l.exp(X)
    partition = d2l.reduce_sum(X_exp, 1, keepdims=True)
    return X_exp / partition  # The broadcasting mechanism is applied here


X = d2l.rand((2, 5))
X_prob = softmax(X)
print((X_prob, d2l.reduce_sum(X_prob, 1)))


# ## The Model
class SoftmaxRegressionScratch(d2l.Classifier):
    def __init__(self, num_inputs, num_outputs, lr, sigma=0.01):
        super().__init__()
        self.save_hyperparameters()
        self.W = torch.normal(0, sigma, size=(num_inputs, num_outputs),
                              requires_grad=True)
        self.b = torch.zeros(num_outputs, requires_grad=True)

    def parameters(self):
        return [self.W, self.b]


@d2l.add_to_class(SoftmaxRegressionScratch)
def forward(self, X):
    X = d2l.reshape(X, (-1, self.W.shape[0]))
    return softmax(d2l.matmul(X, self.W) + self.b)


# ## The Cross-Entropy Loss
y = d2l.tensor([0, 2])
y_hat = d2l.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
print(y_hat[[0, 1], y])


def cross_entropy(y_hat, y):
    return -d2l.reduce_mean(d2l.log(y_hat[list(range(len(y_hat))), y]))


print(cross_entropy(y_hat, y))


@d2l.add_to_class(SoftmaxRegressionScratch)
def loss(self, y_hat, y):
    return cross_entropy(y_hat, y)


# ## Training
data = d2l.FashionMNIST(batch_size=256)
model = SoftmaxRegressionScratch(num_inputs=784, num_outputs=10, lr=0.1)
trainer = d2l.Trainer(max_epochs=10)
trainer.fit(model, data)

# ## Prediction
X, y = next(iter(data.val_dataloader()))
preds = d2l.argmax(model(X), axis=1)
print(preds.shape)

wrong = d2l.astype(preds, y.dtype) != y
X, y, preds = X[wrong], y[wrong], preds[wrong]
labels = [a+'\n'+b for a, b in zip(
    data.text_labels(y), data.text_labels(preds))]
data.visualize([X, y], labels=labels)
