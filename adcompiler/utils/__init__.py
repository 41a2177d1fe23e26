"""adcompiler.utils: training utilities over the eager engine (activation checkpointing)."""
from . import checkpoint

__all__ = ["checkpoint"]
