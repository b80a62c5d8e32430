"""Batched noise augmentations (torch); host-library adapters live in sibling modules."""

from .base import NoiseTransform
from .naflow import NAFlowTransform
from .noise_flow import NoiseFlowTransform
from .parametric import (
    GaussianNoiseTransform,
    HeteroscedasticNoiseTransform,
    ParametricNoiseTransform,
    PoissonGaussianNoiseTransform,
)
from .params import ParamRange

__all__ = [
    "NoiseTransform",
    "ParametricNoiseTransform",
    "GaussianNoiseTransform",
    "HeteroscedasticNoiseTransform",
    "PoissonGaussianNoiseTransform",
    "NoiseFlowTransform",
    "NAFlowTransform",
    "ParamRange",
]
