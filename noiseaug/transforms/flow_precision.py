"""How the flow transforms run their model: full precision, autocast off, no autograd graph.

A flow's log-determinants and inverses are not safe in float16 / bfloat16, so the flow runs in its
parameters' dtype (float32 or float64) whatever the images' dtype or an enclosing autocast region.
Half-precision images are upcast for it and the result cast back; float64 images get the flow's
noise added to their exact values.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..errors import NoiseaugTypeError

#: Dtypes the flows run in.
FLOW_DTYPES = (torch.float32, torch.float64)


def autocast_off(device: torch.device) -> contextlib.AbstractContextManager:
    """A context that disables autocast on ``device`` (no-op where autocast does not exist)."""
    available = getattr(torch.amp, "is_autocast_available", None)
    if available is not None and not available(device.type):
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, enabled=False)


def flow_dtype(model: nn.Module, transform_name: str) -> torch.dtype:
    """The model's parameter dtype; ``TypeError`` unless it is float32 or float64."""
    dtype = next(model.parameters()).dtype
    if dtype not in FLOW_DTYPES:
        raise NoiseaugTypeError(
            f"{transform_name} runs its flow in float32 or float64, but the model's parameters are "
            f"{dtype}; keep the module in full precision (half-precision images are handled by "
            f"upcasting them)"
        )
    return dtype


def sample_in_flow_precision(clean: Tensor, dtype: torch.dtype, sample: Callable[[Tensor], Tensor]) -> Tensor:
    """``sample(clean in the flow's dtype) -> noisy``, run without grad or autocast; returned in ``clean``'s dtype."""
    with torch.no_grad(), autocast_off(clean.device):
        x_flow = clean.detach().to(dtype)
        noisy = sample(x_flow)
        if torch.finfo(clean.dtype).bits > torch.finfo(dtype).bits:
            return clean + (noisy - x_flow).to(clean.dtype)
        return noisy.to(clean.dtype)
