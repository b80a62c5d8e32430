"""Per-sample parameter draws for augmentations: a fixed value, or a uniform / log-uniform range."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import torch
from torch import Tensor

from ..errors import NoiseaugInputError, NoiseaugTypeError


@dataclass(frozen=True)
class ParamRange:
    """A range ``[low, high]`` that each sample draws a value from; ``log=True`` draws log-uniformly.

    A plain float is a fixed value and a ``(low, high)`` tuple a uniform range (see :func:`as_range`).
    """

    low: float
    high: float
    log: bool = False

    def draw(self, n: int, generator: torch.Generator | None, device: torch.device) -> Tensor:
        """``n`` float32 values on ``device``; always consumes ``n`` uniforms from ``generator``."""
        u = torch.rand(n, generator=generator, device=device)
        if self.log:
            lo, hi = math.log(self.low), math.log(self.high)
            return torch.exp(lo + u * (hi - lo))
        return self.low + u * (self.high - self.low)

    def __str__(self) -> str:
        if self.low == self.high:
            return f"{self.low:.4g}"
        return f"{'log-' if self.log else ''}U({self.low:.4g}, {self.high:.4g})"


def as_range(
    value: float | tuple[float, float] | ParamRange, name: str, *, minimum: float = 0.0, strictly_positive: bool = False
) -> ParamRange:
    """Validate a parameter spec (float, ``(low, high)`` or :class:`ParamRange`) into a :class:`ParamRange`."""

    def real(v: object) -> bool:
        return isinstance(v, numbers.Real) and not isinstance(v, bool)

    if isinstance(value, ParamRange) and real(value.low) and real(value.high):
        spec = value
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        spec = ParamRange(float(value), float(value))
    elif isinstance(value, tuple) and len(value) == 2 and all(real(v) for v in value):
        spec = ParamRange(float(value[0]), float(value[1]))
    else:
        raise NoiseaugTypeError(f"{name} must be a float, a (low, high) tuple or a ParamRange, got {value!r}")
    if not (math.isfinite(spec.low) and math.isfinite(spec.high)) or spec.low > spec.high:
        raise NoiseaugInputError(f"{name} must be finite with low <= high, got {spec}")
    if spec.low < minimum or (strictly_positive and spec.low <= 0) or (spec.log and spec.low <= 0):
        bound = "> 0" if strictly_positive or spec.log else f">= {minimum}"
        raise NoiseaugInputError(f"{name} values must be {bound}, got {spec.low} .. {spec.high}")
    return spec
