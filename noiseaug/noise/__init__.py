"""Parametric noise models: AWGN, heteroscedastic Gaussian (NLF) and Poisson-Gaussian."""

from .base import GaussianFamilyNoise, NoiseModel
from .gaussian import GaussianNoise
from .heteroscedastic import HeteroscedasticGaussianNoise, fit_linear_variance
from .poisson_gaussian import PoissonGaussianNoise

__all__ = [
    "NoiseModel",
    "GaussianFamilyNoise",
    "GaussianNoise",
    "HeteroscedasticGaussianNoise",
    "PoissonGaussianNoise",
    "fit_linear_variance",
]
