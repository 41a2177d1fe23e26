"""The eager autograd engine: graph nodes, backward, grad modes, custom
Functions, gradient checking, hooks and anomaly detection (torch.autograd's
surface; `autograd.graph` holds saved_tensors_hooks and save_on_cpu; `autograd.forward_ad`
dual tensors for forward mode)."""
from . import functional, graph
from .anomaly_mode import detect_anomaly, is_anomaly_check_nan_enabled, is_anomaly_enabled, set_detect_anomaly
from .engine import backward, grad
from .function import Function, FunctionCtx, once_differentiable
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = ["backward", "grad", "Function", "FunctionCtx", "once_differentiable", "no_grad", "enable_grad",
           "set_grad_enabled", "inference_mode", "is_grad_enabled", "gradcheck", "gradgradcheck", "GradcheckError",
           "graph", "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled", "is_anomaly_check_nan_enabled",
           "forward_ad"]


def __getattr__(name):
    # forward_ad needs the Tensor, whose module imports this package: it is loaded on first use
    if name == "forward_ad":
        import importlib
        return importlib.import_module(f"{__name__}.forward_ad")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
