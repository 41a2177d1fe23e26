"""adcompiler.nn: layers, losses and the Module system, as torch.nn.

    import adcompiler as ad
    from adcompiler import nn
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    loss = nn.CrossEntropyLoss()(model(x), y)
"""
from . import functional, init, utils
from .activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .container import ModuleList, Sequential
from .linear import Identity, Linear
from .loss import CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module
from .parameter import Parameter

__all__ = ["Parameter", "Module", "Linear", "Identity", "Sequential", "ModuleList", "ReLU", "Tanh", "Sigmoid",
           "Softmax", "LogSoftmax", "MSELoss", "CrossEntropyLoss", "NLLLoss", "functional", "init", "utils"]
