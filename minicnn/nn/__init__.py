"""minicnn.nn: layers as Modules, ``nn.functional`` (the ops), ``nn.init`` (initialisers) and
``nn.utils`` (``summary``).

Where each name lives: ``module.py`` Module and Parameter; ``containers.py`` Sequential and
ModuleList; ``layers.py`` the layers and losses.
"""
from minicnn.nn import functional, init, utils
from minicnn.nn.containers import ModuleList, Sequential
from minicnn.nn.layers import (
    AvgPool2d, Conv1d, Conv2d, ConvTranspose2d, CrossEntropyLoss, Dropout, Flatten, LeakyReLU,
    Linear, MaxPool2d, MSELoss, ReLU, Sigmoid, Tanh,
)
from minicnn.nn.module import Module, Parameter

__all__ = [
    "functional", "init", "utils",
    "Parameter", "Module", "Sequential", "ModuleList",
    "Conv1d", "Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "Linear", "Flatten",
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Dropout", "CrossEntropyLoss", "MSELoss",
]
