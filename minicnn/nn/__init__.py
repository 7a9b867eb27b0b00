"""minicnn.nn: layers as Modules, ``nn.functional`` (the ops) and ``nn.init`` (initialisers)."""
from minicnn.nn import functional, init
from minicnn.nn.modules import (
    AvgPool2d, Conv1d, Conv2d, ConvTranspose2d, CrossEntropyLoss, Dropout, Flatten, LeakyReLU,
    Linear, MaxPool2d, Module, ModuleList, MSELoss, Parameter, ReLU, Sequential, Sigmoid, Tanh,
)

__all__ = [
    "functional", "init",
    "Parameter", "Module", "Sequential", "ModuleList",
    "Conv1d", "Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "Linear", "Flatten",
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Dropout", "CrossEntropyLoss", "MSELoss",
]
