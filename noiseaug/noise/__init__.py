"""Parametric noise models: AWGN, heteroscedastic Gaussian (NLF) and Poisson-Gaussian; the tone curve's shift."""

from .base import GaussianFamilyNoise, NoiseModel
from .gaussian import GaussianNoise
from .heteroscedastic import HeteroscedasticGaussianNoise, fit_linear_variance
from .poisson_gaussian import PoissonGaussianNoise
from .tone_curve import tone_curve_shift

__all__ = [
    "NoiseModel",
    "GaussianFamilyNoise",
    "GaussianNoise",
    "HeteroscedasticGaussianNoise",
    "PoissonGaussianNoise",
    "fit_linear_variance",
    "tone_curve_shift",
]
