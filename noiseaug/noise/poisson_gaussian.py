"""Poisson-Gaussian noise: photon shot noise with a gain plus Gaussian read noise."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .._validation import check_parameter, per_sample
from ..conditioning import NoiseCondition
from ..errors import NoiseaugInputError
from .base import LOG_2PI, GaussianFamilyNoise, standard_normal_like
from .heteroscedastic import fit_linear_variance
from .poisson_sampling import sample_poisson


class PoissonGaussianNoise(GaussianFamilyNoise):
    """``noisy = gain * Poisson(clean / gain) + N(0, read_sigma^2)`` on the [0, 1] scale.

    ``gain`` is the signal per photo-electron (so ``clean / gain`` is the expected photon count and
    the shot-noise variance is ``gain * clean``); ``read_sigma`` is the read-noise standard deviation.
    Floats or per-sample ``(B,)`` tensors; ``gain > 0``, ``read_sigma >= 0``.

    Sampling is exact (Poisson counts, drawn in float32 by :func:`~noiseaug.noise.poisson_sampling.sample_poisson`,
    which spreads large CPU batches over the torch threads); a ``temperature`` other than 1 scales the
    deviation ``noisy - clean``. The likelihood has two forms:

    * ``exact_likelihood=False`` (default): the **Gaussian approximation**
      ``N(clean, gain * clean + read_sigma^2)``, i.e. the NLF model with ``beta1 = gain`` and
      ``beta2 = read_sigma^2``. Fast, differentiable, accurate when photon counts are large.
    * ``exact_likelihood=True``: the true density ``sum_k Pois(k; clean/gain) N(noisy - gain*k; 0,
      read_sigma^2)``, summed over every ``k`` within 8 standard deviations of both the prior and the
      observation (the neglected tail is below ``exp(-30)``); float64, chunked; needs ``read_sigma > 0``.

    Examples:
        >>> import torch
        >>> model = PoissonGaussianNoise(gain=0.01, read_sigma=0.02)
        >>> clean = torch.full((1, 1, 32, 32), 0.5)
        >>> noisy = model.sample(clean, generator=torch.Generator().manual_seed(0))
        >>> exact = PoissonGaussianNoise(0.01, 0.02, exact_likelihood=True).nll(noisy, clean)
        >>> bool((model.nll(noisy, clean) - exact).abs() < 0.01)
        True
    """

    gain: Tensor
    read_sigma: Tensor
    exact_likelihood: bool = False
    #: Pixels per chunk of the exact likelihood (memory is about chunk * terms * 8 bytes * 6).
    exact_chunk: int = 8192

    def __init__(self, gain: float | Tensor, read_sigma: float | Tensor, exact_likelihood: bool = False) -> None:
        super().__init__()
        self.register_buffer("gain", check_parameter(gain, "gain", positive=True))
        self.register_buffer("read_sigma", check_parameter(read_sigma, "read_sigma", nonnegative=True))
        self.exact_likelihood = exact_likelihood

    def variance(self, clean: Tensor) -> Tensor:
        """The Gaussian approximation's variance ``gain * clean + read_sigma^2``."""
        return (
            per_sample(self.gain, "gain", clean) * clean.clamp(min=0)
            + per_sample(self.read_sigma, "read_sigma", clean).square()
        )

    def _sample(
        self, clean: Tensor, cond: NoiseCondition | None, generator: torch.Generator | None, temperature: float = 1.0
    ) -> Tensor:
        work = torch.promote_types(clean.dtype, torch.float32)
        x = clean.to(work).clamp(min=0)
        gain = per_sample(self.gain, "gain", x)
        photons = sample_poisson(x / gain, generator)
        read = per_sample(self.read_sigma, "read_sigma", x) * standard_normal_like(x, generator)
        noisy = gain * photons + read
        return (noisy if temperature == 1.0 else x + temperature * (noisy - x)).to(clean.dtype)

    def _log_prob(self, noisy: Tensor, clean: Tensor, cond: NoiseCondition | None) -> Tensor:
        if not self.exact_likelihood:
            return super()._log_prob(noisy, clean, cond)
        if not bool((self.read_sigma > 0).all()):
            raise NoiseaugInputError("read_sigma must be > 0 for the exact Poisson-Gaussian likelihood")
        x = clean.double().clamp(min=0)
        gain = per_sample(self.gain, "gain", x).expand_as(x).flatten(1)
        read = per_sample(self.read_sigma, "read_sigma", x).expand_as(x).flatten(1)
        pixel_lp = poisson_gaussian_pixel_log_prob(
            noisy.double().flatten(1), x.flatten(1), gain, read, self.exact_chunk
        )
        return pixel_lp.sum(1)

    @classmethod
    def fit(cls, noisy: Tensor, clean: Tensor, per_sample: bool = True, iterations: int = 30) -> PoissonGaussianNoise:
        """Maximum-likelihood ``(gain, read_sigma)`` under the Gaussian approximation.

        The NLF fit of :func:`~noiseaug.noise.heteroscedastic.fit_linear_variance` mapped to
        ``gain = beta1`` (at least 1e-8) and ``read_sigma = sqrt(beta2)``. Consistent for true
        Poisson-Gaussian data, since the Gaussian approximation matches its mean and variance.
        """
        beta1, beta2 = fit_linear_variance(noisy, clean, per_sample=per_sample, iterations=iterations)
        return cls(beta1.clamp(min=1e-8), beta2.sqrt())

    def extra_repr(self) -> str:
        return f"gain={self.gain.tolist()}, read_sigma={self.read_sigma.tolist()}, exact_likelihood={self.exact_likelihood}"


def poisson_gaussian_pixel_log_prob(
    noisy: Tensor, clean: Tensor, gain: Tensor, read_sigma: Tensor, chunk: int = 8192, width: float = 8.0
) -> Tensor:
    """Exact per-pixel ``log sum_k Pois(k; clean/gain) N(noisy; gain*k, read_sigma^2)`` (same shape, float64).

    For each pixel the sum runs over the integers within ``width`` standard deviations of the
    Poisson mean and of the observation ``noisy / gain``.
    """
    flat = [t.reshape(-1) for t in (noisy, clean, gain, read_sigma)]
    out = torch.empty_like(flat[0])
    for start in range(0, out.numel(), chunk):
        y, x, a, s = (t[start : start + chunk] for t in flat)
        lam, obs, obs_sd = x / a, y / a, s / a
        low = torch.minimum(lam - width * lam.sqrt(), obs - width * obs_sd).floor().clamp(min=0)
        high = torch.maximum(lam + width * lam.sqrt(), obs + width * obs_sd).ceil().clamp(min=0) + 1
        terms = int((high - low).max().item()) + 1
        k = low[:, None] + torch.arange(terms, dtype=y.dtype, device=y.device)
        log_terms = (
            torch.xlogy(k, lam[:, None])
            - lam[:, None]
            - torch.lgamma(k + 1)
            - 0.5 * (LOG_2PI + 2 * s[:, None].log() + ((y[:, None] - a[:, None] * k) / s[:, None]).square())
        )
        log_terms = log_terms.masked_fill(k > high[:, None], -math.inf)
        out[start : start + chunk] = torch.logsumexp(log_terms, dim=1)
    return out.view_as(noisy)
