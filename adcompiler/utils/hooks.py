"""torch.utils.hooks's public name: the handle every `register_*hook` returns."""
from ..autograd.hooks import RemovableHandle

__all__ = ["RemovableHandle"]
