"""noiseaug: realistic camera noise as batched augmentations."""

from importlib import metadata as _metadata

from .conditioning import NoiseCondition
from .denoisers import DnCNN, UNet
from .errors import NoiseaugInputError
from .flows.glow import Glow
from .flows.naflow import NAFlow
from .flows.noise_flow import NoiseFlow
from .hub import load_pretrained
from .noise import GaussianNoise, HeteroscedasticGaussianNoise, NoiseModel, PoissonGaussianNoise
from .transforms import (
    GaussianNoiseTransform,
    HeteroscedasticNoiseTransform,
    NAFlowTransform,
    NoiseFlowTransform,
    NoiseTransform,
    ParamRange,
    PoissonGaussianNoiseTransform,
)

try:  # the one version string is pyproject.toml's, read from the installed package's metadata
    __version__ = _metadata.version("noiseaug")
except _metadata.PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

__all__ = [
    "NoiseCondition",
    "NoiseModel",
    "GaussianNoise",
    "HeteroscedasticGaussianNoise",
    "PoissonGaussianNoise",
    "NoiseFlow",
    "NAFlow",
    "Glow",
    "DnCNN",
    "UNet",
    "load_pretrained",
    "NoiseTransform",
    "NoiseFlowTransform",
    "NAFlowTransform",
    "GaussianNoiseTransform",
    "HeteroscedasticNoiseTransform",
    "PoissonGaussianNoiseTransform",
    "ParamRange",
    "NoiseaugInputError",
]
