"""Batched noise augmentations (torch) and their training-loop hooks; host-library adapters live in sibling modules."""

from .base import NoiseTransform
from .naflow import NAFlowTransform
from .noise_flow import NoiseFlowTransform
from .noise_params import NoiseParams
from .parametric import (
    GaussianNoiseTransform,
    HeteroscedasticNoiseTransform,
    ParametricNoiseTransform,
    PoissonGaussianNoiseTransform,
)
from .params import ParamRange
from .pipeline import DeviceNoise, NoisyPairs, worker_generator, worker_seed

__all__ = [
    "NoiseTransform",
    "NoiseParams",
    "ParametricNoiseTransform",
    "GaussianNoiseTransform",
    "HeteroscedasticNoiseTransform",
    "PoissonGaussianNoiseTransform",
    "NoiseFlowTransform",
    "NAFlowTransform",
    "ParamRange",
    "NoisyPairs",
    "DeviceNoise",
    "worker_seed",
    "worker_generator",
]
