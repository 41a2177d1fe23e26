"""adcompiler: exact gradients of plain Python and NumPy code.

An eager Tensor with PyTorch's autograd semantics, and a compiler that turns a
function's source into readable reverse-mode adjoint code.
"""
__version__ = "0.1.0"
