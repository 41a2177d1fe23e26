"""adcompiler: exact gradients of plain Python and NumPy code.

An eager Tensor with PyTorch's autograd semantics (`adcompiler.tensor`,
`.backward()`, `adcompiler.autograd`), built on one table of primitives
(`adcompiler.ops`) that the source-transforming compiler shares.
"""
__version__ = "0.1.0"

from . import autograd, ops
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .dtypes import (bool_, float16, float32, float64, get_default_dtype, int8, int16, int32, int64,
                     set_default_dtype, uint8)
from .factories import (arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like, linspace,
                        manual_seed, ones, ones_like, rand, rand_like, randint, randn, randn_like, seed, tensor, zeros,
                        zeros_like)
from .functions import *  # noqa: F401,F403  (torch-style module functions: exp, matmul, cat, ...)
from .functions import __all__ as _functions_all
from .tensor import Size, Tensor
from .api import FallbackWarning, GradFunction, dump, export, grad, value_and_grad
from .jitted import JitFunction, jit
from .transforms import hessian, hvp, jacfwd, jacobian, jacrev, jvp, stop_gradient, vjp

double = float64
float = float32  # noqa: A001  (torch's alias)
half = float16
long = int64
int = int32  # noqa: A001
bool = bool_  # noqa: A001
is_inference_mode_enabled = autograd.grad_mode.is_inference_mode_enabled

__all__ = [
    "Tensor", "Size", "autograd", "ops", "tensor", "as_tensor", "from_numpy", "zeros", "ones", "zeros_like",
    "ones_like", "full", "full_like", "empty", "empty_like", "eye", "arange", "linspace", "rand", "rand_like", "randn",
    "randn_like", "randint", "manual_seed", "seed", "no_grad", "enable_grad", "set_grad_enabled", "inference_mode",
    "is_grad_enabled", "is_inference_mode_enabled", "float32", "float64", "float16", "int64", "int32", "int16",
    "int8", "uint8", "bool_", "double", "float", "half", "long", "int", "bool", "get_default_dtype",
    "set_default_dtype", "grad", "value_and_grad", "dump", "export", "GradFunction", "FallbackWarning", "jit", "JitFunction",
    "jvp", "vjp", "jacfwd", "jacrev", "jacobian", "hessian", "hvp", "stop_gradient",
    *_functions_all,
]


_SUBMODULES = ("nn", "optim", "utils", "viz")


def __getattr__(name):
    # `import adcompiler as ad; ad.nn.Linear(...)` works as torch.nn does, without importing
    # the toolkit on every `import adcompiler`
    if name in _SUBMODULES:
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
