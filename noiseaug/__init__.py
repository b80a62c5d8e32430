"""noiseaug: realistic camera noise as batched augmentations."""

from .conditioning import NoiseCondition
from .noise import GaussianNoise, HeteroscedasticGaussianNoise, NoiseModel, PoissonGaussianNoise
from .transforms import (
    GaussianNoiseTransform,
    HeteroscedasticNoiseTransform,
    NoiseTransform,
    ParamRange,
    PoissonGaussianNoiseTransform,
)

__version__ = "0.1.0"

__all__ = [
    "NoiseCondition",
    "NoiseModel",
    "GaussianNoise",
    "HeteroscedasticGaussianNoise",
    "PoissonGaussianNoise",
    "NoiseTransform",
    "GaussianNoiseTransform",
    "HeteroscedasticNoiseTransform",
    "PoissonGaussianNoiseTransform",
    "ParamRange",
]
