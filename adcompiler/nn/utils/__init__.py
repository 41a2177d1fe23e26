"""torch.nn.utils's gradient tools: clip_grad_norm_, clip_grad_value_, and
parameters_to_vector / vector_to_parameters."""
from .clip_grad import clip_grad_norm_, clip_grad_value_, get_total_norm
from .convert import parameters_to_vector, vector_to_parameters

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "parameters_to_vector", "vector_to_parameters"]
