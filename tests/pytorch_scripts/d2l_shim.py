"""A stand-in for the `d2l` package's PyTorch library (``from d2l import torch as d2l``), for
the Dive into Deep Learning scripts here (d2l_*.py).

``from d2l_shim import torch as d2l`` gives the library built over ``import torch``, and
``from d2l_shim import minicnn as d2l`` the same library built over ``import minicnn``: the
code below only ever uses the ``torch``-like module it is given, so that one shim runs over
both. Each import builds a fresh copy (``d2l.add_to_class`` changes the classes of that copy
only).

What is here is the part of d2l/torch.py (d2l-ai/d2l-en at
23d7a5aecceee57d1292c56e90cce307f183bb0a, MIT-0: the repository's LICENSE-SAMPLECODE) that the
chapters "Automatic Differentiation", "Linear Regression Implementation from Scratch" and
"Softmax Regression Implementation from Scratch" use, copied as it is there, except:

- plotting: ``ProgressBoard.draw`` averages its points exactly as d2l's does, but prints each
  averaged point (``<label> at epoch <x>: <y>``) instead of drawing it with matplotlib, and
  ``show_images`` prints the titles of the images it would show;
- ``FashionMNIST`` downloads nothing: its train and validation sets are made-up 28x28 grey
  images of 10 classes (a fixed pattern per class plus noise, drawn with NumPy from fixed
  seeds; see ``_fashion_mnist_arrays``), 2,048 and 512 of them instead of 60,000 and 10,000, so that the chapter's 10 epochs
  take a second or so; they are ``torch.utils.data.TensorDataset`` s of float32 images of shape
  (1, 28, 28) in [0, 1] and int64 labels, what torchvision's FashionMNIST with ``ToTensor``
  yields batched, and are loaded with ``num_workers=0`` (the data are in memory already).
"""
import collections
import importlib
import inspect
import types

import numpy as np

__all__ = ["build"]

FASHION_MNIST_SIZES = (2048, 512)


def __getattr__(name):
    # ``from d2l_shim import torch`` / ``from d2l_shim import minicnn``
    if name.startswith("__"):
        raise AttributeError(name)
    return build(importlib.import_module(name))


def _fashion_mnist_arrays(n, seed):
    """``n`` made-up Fashion-MNIST-shaped examples: float32 (n, 1, 28, 28) images in [0, 1]
    and int64 labels in 0..9 (as many of each class). Each class has a fixed set of lit
    pixels, nearly all of them shared with one other class (as shirts look like t-shirts);
    an image lights its class's pixels at random strengths, and 40% of the others at random.
    Softmax regression learns them about as it learns the real Fashion-MNIST (the validation
    accuracy reaches about 80% in 10 epochs)."""
    rng = np.random.default_rng(2024)
    shared, own = rng.random((5, 28, 28)) < 0.3, rng.random((10, 28, 28)) < 0.005
    patterns = (shared[np.arange(10) // 2] | own).astype(np.float64)
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % 10).astype(np.int64)
    images = patterns[labels] * rng.random((n, 28, 28))
    noise = (rng.random((n, 28, 28)) < 0.4) * rng.random((n, 28, 28))
    return np.maximum(images, noise)[:, None].astype(np.float32), labels


def _alias(torch, name):
    try:
        return getattr(torch, name)
    except AttributeError as error:
        message = str(error)

    def missing(*args, **kwargs):
        raise AttributeError(message)
    return missing


def build(torch):
    """The d2l library over the torch-like module ``torch``, as a module object."""
    nn = torch.nn
    F = torch.nn.functional
    d2l = types.ModuleType(f"d2l_shim.{torch.__name__}", "d2l's library over "
                           f"{torch.__name__}")

    nn_Module = nn.Module

    def add_to_class(Class):
        """Register functions as methods in created class.

        Defined in :numref:`sec_oo-design`"""
        def wrapper(obj):
            setattr(Class, obj.__name__, obj)
        return wrapper

    class HyperParameters:
        """The base class of hyperparameters."""
        def save_hyperparameters(self, ignore=[]):
            """Save function arguments into class attributes.

            Defined in :numref:`sec_utils`"""
            frame = inspect.currentframe().f_back
            _, _, _, local_vars = inspect.getargvalues(frame)
            self.hparams = {k: v for k, v in local_vars.items()
                            if k not in set(ignore + ['self']) and not k.startswith('_')}
            for k, v in self.hparams.items():
                setattr(self, k, v)

    class ProgressBoard(HyperParameters):
        """The board that plots data points in animation (here: prints them).

        Defined in :numref:`sec_oo-design`"""
        def __init__(self, xlabel=None, ylabel=None, xlim=None,
                     ylim=None, xscale='linear', yscale='linear',
                     ls=['-', '--', '-.', ':'], colors=['C0', 'C1', 'C2', 'C3'],
                     fig=None, axes=None, figsize=(3.5, 2.5), display=True):
            self.save_hyperparameters()

        def draw(self, x, y, label, every_n=1):
            """Defined in :numref:`sec_utils`"""
            Point = collections.namedtuple('Point', ['x', 'y'])
            if not hasattr(self, 'raw_points'):
                self.raw_points = collections.OrderedDict()
                self.data = collections.OrderedDict()
            if label not in self.raw_points:
                self.raw_points[label] = []
                self.data[label] = []
            points = self.raw_points[label]
            line = self.data[label]
            points.append(Point(x, y))
            if len(points) != every_n:
                return
            mean = lambda x: sum(x) / len(x)
            line.append(Point(mean([p.x for p in points]),
                              mean([p.y for p in points])))
            points.clear()
            if not self.display:
                return
            # d2l plots self.data with matplotlib here; print the new point instead.
            print(f'{label} at {self.xlabel or "x"} {line[-1].x:.2f}: {float(line[-1].y):.4f}')

    class Module(nn_Module, HyperParameters):
        """The base class of models.

        Defined in :numref:`sec_oo-design`"""
        def __init__(self, plot_train_per_epoch=2, plot_valid_per_epoch=1):
            super().__init__()
            self.save_hyperparameters()
            self.board = ProgressBoard()

        def loss(self, y_hat, y):
            raise NotImplementedError

        def forward(self, X):
            assert hasattr(self, 'net'), 'Neural network is defined'
            return self.net(X)

        def plot(self, key, value, train):
            """Plot a point in animation."""
            assert hasattr(self, 'trainer'), 'Trainer is not inited'
            self.board.xlabel = 'epoch'
            if train:
                x = self.trainer.train_batch_idx / \
                    self.trainer.num_train_batches
                n = self.trainer.num_train_batches / \
                    self.plot_train_per_epoch
            else:
                x = self.trainer.epoch + 1
                n = self.trainer.num_val_batches / \
                    self.plot_valid_per_epoch
            self.board.draw(x, d2l.numpy(d2l.to(value, d2l.cpu())),
                            ('train_' if train else 'val_') + key,
                            every_n=int(n))

        def training_step(self, batch):
            l = self.loss(self(*batch[:-1]), batch[-1])
            self.plot('loss', l, train=True)
            return l

        def validation_step(self, batch):
            l = self.loss(self(*batch[:-1]), batch[-1])
            self.plot('loss', l, train=False)

        def configure_optimizers(self):
            """Defined in :numref:`sec_classification`"""
            return torch.optim.SGD(self.parameters(), lr=self.lr)

        def apply_init(self, inputs, init=None):
            """Defined in :numref:`sec_lazy_init`"""
            self.forward(*inputs)
            if init is not None:
                self.net.apply(init)

    class DataModule(HyperParameters):
        """The base class of data.

        Defined in :numref:`subsec_oo-design-models`"""
        def __init__(self, root='../data', num_workers=4):
            self.save_hyperparameters()

        def get_dataloader(self, train):
            raise NotImplementedError

        def train_dataloader(self):
            return self.get_dataloader(train=True)

        def val_dataloader(self):
            return self.get_dataloader(train=False)

        def get_tensorloader(self, tensors, train, indices=slice(0, None)):
            """Defined in :numref:`sec_synthetic-regression-data`"""
            tensors = tuple(a[indices] for a in tensors)
            dataset = torch.utils.data.TensorDataset(*tensors)
            return torch.utils.data.DataLoader(dataset, self.batch_size,
                                               shuffle=train)

    class Trainer(HyperParameters):
        """The base class for training models with data.

        Defined in :numref:`subsec_oo-design-models`"""
        def __init__(self, max_epochs, num_gpus=0, gradient_clip_val=0):
            """Defined in :numref:`sec_use_gpu`"""
            self.save_hyperparameters()
            self.gpus = [d2l.gpu(i) for i in range(min(num_gpus, d2l.num_gpus()))]

        def prepare_data(self, data):
            self.train_dataloader = data.train_dataloader()
            self.val_dataloader = data.val_dataloader()
            self.num_train_batches = len(self.train_dataloader)
            self.num_val_batches = (len(self.val_dataloader)
                                    if self.val_dataloader is not None else 0)

        def prepare_model(self, model):
            """Defined in :numref:`sec_use_gpu`"""
            model.trainer = self
            model.board.xlim = [0, self.max_epochs]
            if self.gpus:
                model.to(self.gpus[0])
            self.model = model

        def fit(self, model, data):
            self.prepare_data(data)
            self.prepare_model(model)
            self.optim = model.configure_optimizers()
            self.epoch = 0
            self.train_batch_idx = 0
            self.val_batch_idx = 0
            for self.epoch in range(self.max_epochs):
                self.fit_epoch()

        def prepare_batch(self, batch):
            """Defined in :numref:`sec_use_gpu`"""
            if self.gpus:
                batch = [d2l.to(a, self.gpus[0]) for a in batch]
            return batch

        def fit_epoch(self):
            """Defined in :numref:`sec_linear_scratch`"""
            self.model.train()
            for batch in self.train_dataloader:
                loss = self.model.training_step(self.prepare_batch(batch))
                self.optim.zero_grad()
                with torch.no_grad():
                    loss.backward()
                    if self.gradient_clip_val > 0:  # To be discussed later
                        self.clip_gradients(self.gradient_clip_val, self.model)
                    self.optim.step()
                self.train_batch_idx += 1
            if self.val_dataloader is None:
                return
            self.model.eval()
            for batch in self.val_dataloader:
                with torch.no_grad():
                    self.model.validation_step(self.prepare_batch(batch))
                self.val_batch_idx += 1

        def clip_gradients(self, grad_clip_val, model):
            """Defined in :numref:`sec_rnn-scratch`"""
            params = [p for p in model.parameters() if p.requires_grad]
            norm = torch.sqrt(sum(torch.sum((p.grad ** 2)) for p in params))
            if norm > grad_clip_val:
                for param in params:
                    param.grad[:] *= grad_clip_val / norm

    class SyntheticRegressionData(DataModule):
        """Synthetic data for linear regression.

        Defined in :numref:`sec_synthetic-regression-data`"""
        def __init__(self, w, b, noise=0.01, num_train=1000, num_val=1000,
                     batch_size=32):
            super().__init__()
            self.save_hyperparameters()
            n = num_train + num_val
            self.X = d2l.randn(n, len(w))
            noise = d2l.randn(n, 1) * noise
            self.y = d2l.matmul(self.X, d2l.reshape(w, (-1, 1))) + b + noise

        def get_dataloader(self, train):
            """Defined in :numref:`sec_synthetic-regression-data`"""
            i = slice(0, self.num_train) if train else slice(self.num_train, None)
            return self.get_tensorloader((self.X, self.y), train, i)

    class SGD(HyperParameters):
        """Minibatch stochastic gradient descent.

        Defined in :numref:`sec_linear_scratch`"""
        def __init__(self, params, lr):
            self.save_hyperparameters()

        def step(self):
            for param in self.params:
                param -= self.lr * param.grad

        def zero_grad(self):
            for param in self.params:
                if param.grad is not None:
                    param.grad.zero_()

    class FashionMNIST(DataModule):
        """The Fashion-MNIST dataset (here: made-up images of its shapes, see the docstring
        of d2l_shim).

        Defined in :numref:`sec_fashion_mnist`"""
        def __init__(self, batch_size=64, resize=(28, 28)):
            super().__init__()
            self.save_hyperparameters()
            # d2l: torchvision.datasets.FashionMNIST(root=self.root, train=..., download=True,
            # transform=Compose([Resize(resize), ToTensor()]))
            assert tuple(resize) == (28, 28), 'the made-up images are 28x28'
            self.train, self.val = (
                torch.utils.data.TensorDataset(*(torch.from_numpy(a) for a in
                                                 _fashion_mnist_arrays(n, seed)))
                for n, seed in zip(FASHION_MNIST_SIZES, (0, 1)))
            self.num_workers = 0

        def text_labels(self, indices):
            """Return text labels.

            Defined in :numref:`sec_fashion_mnist`"""
            labels = ['t-shirt', 'trouser', 'pullover', 'dress', 'coat',
                      'sandal', 'shirt', 'sneaker', 'bag', 'ankle boot']
            return [labels[int(i)] for i in indices]

        def get_dataloader(self, train):
            """Defined in :numref:`sec_fashion_mnist`"""
            data = self.train if train else self.val
            return torch.utils.data.DataLoader(data, self.batch_size, shuffle=train,
                                               num_workers=self.num_workers)

        def visualize(self, batch, nrows=1, ncols=8, labels=[]):
            """Defined in :numref:`sec_fashion_mnist`"""
            X, y = batch
            if not labels:
                labels = self.text_labels(y)
            d2l.show_images(X.squeeze(1), nrows, ncols, titles=labels)

    def show_images(imgs, num_rows, num_cols, titles=None, scale=1.5):
        """Plot a list of images (here: print their shapes and titles).

        Defined in :numref:`sec_utils`"""
        for i, img in zip(range(num_rows * num_cols), imgs):
            try:
                img = d2l.numpy(img)
            except:
                pass
            title = titles[i].replace('\n', ' / ') if titles else ''
            print(f'image {i} {tuple(img.shape)}: {title}')

    class Classifier(Module):
        """The base class of classification models.

        Defined in :numref:`sec_classification`"""
        def validation_step(self, batch):
            Y_hat = self(*batch[:-1])
            self.plot('loss', self.loss(Y_hat, batch[-1]), train=False)
            self.plot('acc', self.accuracy(Y_hat, batch[-1]), train=False)

        def accuracy(self, Y_hat, Y, averaged=True):
            """Compute the number of correct predictions.

            Defined in :numref:`sec_classification`"""
            Y_hat = d2l.reshape(Y_hat, (-1, Y_hat.shape[-1]))
            preds = d2l.astype(d2l.argmax(Y_hat, axis=1), Y.dtype)
            compare = d2l.astype(preds == d2l.reshape(Y, -1), d2l.float32)
            return d2l.reduce_mean(compare) if averaged else compare

        def loss(self, Y_hat, Y, averaged=True):
            """Defined in :numref:`sec_softmax_concise`"""
            Y_hat = d2l.reshape(Y_hat, (-1, Y_hat.shape[-1]))
            Y = d2l.reshape(Y, (-1,))
            return F.cross_entropy(
                Y_hat, Y, reduction='mean' if averaged else 'none')

    def cpu():
        """Get the CPU device.

        Defined in :numref:`sec_use_gpu`"""
        return torch.device('cpu')

    def gpu(i=0):
        """Get a GPU device.

        Defined in :numref:`sec_use_gpu`"""
        return torch.device(f'cuda:{i}')

    def num_gpus():
        """Get the number of available GPUs.

        Defined in :numref:`sec_use_gpu`"""
        return torch.cuda.device_count()

    library = dict(locals())
    for name in ("d2l", "library"):
        library.pop(name, None)
    vars(d2l).update(library)

    # Alias defined in config.ini. (A name the backend lacks becomes a function that raises
    # the AttributeError that using it directly would, when it is called.)
    for name, attr in (('ones_like', 'ones_like'), ('ones', 'ones'),
                       ('zeros_like', 'zeros_like'), ('zeros', 'zeros'),
                       ('tensor', 'tensor'), ('arange', 'arange'), ('meshgrid', 'meshgrid'),
                       ('sin', 'sin'), ('sinh', 'sinh'), ('cos', 'cos'), ('cosh', 'cosh'),
                       ('tanh', 'tanh'), ('linspace', 'linspace'), ('exp', 'exp'),
                       ('log', 'log'), ('normal', 'normal'), ('rand', 'rand'),
                       ('randn', 'randn'), ('matmul', 'matmul'), ('int32', 'int32'),
                       ('int64', 'int64'), ('float32', 'float32'), ('concat', 'cat'),
                       ('stack', 'stack'), ('abs', 'abs'), ('eye', 'eye'),
                       ('sigmoid', 'sigmoid'), ('batch_matmul', 'bmm')):
        setattr(d2l, name, _alias(torch, attr))
    vars(d2l).update(
        numpy=lambda x, *args, **kwargs: x.detach().numpy(*args, **kwargs),
        size=lambda x, *args, **kwargs: x.numel(*args, **kwargs),
        reshape=lambda x, *args, **kwargs: x.reshape(*args, **kwargs),
        to=lambda x, *args, **kwargs: x.to(*args, **kwargs),
        reduce_sum=lambda x, *args, **kwargs: x.sum(*args, **kwargs),
        argmax=lambda x, *args, **kwargs: x.argmax(*args, **kwargs),
        astype=lambda x, *args, **kwargs: x.type(*args, **kwargs),
        transpose=lambda x, *args, **kwargs: x.t(*args, **kwargs),
        reduce_mean=lambda x, *args, **kwargs: x.mean(*args, **kwargs),
        expand_dims=lambda x, *args, **kwargs: x.unsqueeze(*args, **kwargs),
        swapaxes=lambda x, *args, **kwargs: x.swapaxes(*args, **kwargs),
        repeat=lambda x, *args, **kwargs: x.repeat(*args, **kwargs),
    )
    return d2l
