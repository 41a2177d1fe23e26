"""adcompiler.utils: training utilities over the eager engine (activation checkpointing, hook handles)."""
from . import checkpoint, hooks

__all__ = ["checkpoint", "hooks"]
