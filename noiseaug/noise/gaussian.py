"""Additive white Gaussian noise (AWGN)."""

from __future__ import annotations

from torch import Tensor

from .._validation import as_batch, check_parameter, check_same_shape, per_sample
from .base import GaussianFamilyNoise


class GaussianNoise(GaussianFamilyNoise):
    """AWGN: ``noise ~ N(0, sigma^2)``, independent of the signal.

    Args:
        sigma: standard deviation on the [0, 1] scale (``25 / 255`` is the usual "sigma 25"); a float
            or a per-sample ``(B,)`` tensor. Must be >= 0 (``log_prob`` needs > 0).

    Examples:
        >>> import torch
        >>> clean = torch.full((2, 3, 64, 64), 0.5)
        >>> model = GaussianNoise(sigma=torch.tensor([10 / 255, 30 / 255]))
        >>> noisy = model.sample(clean, generator=torch.Generator().manual_seed(0))
        >>> [round(float(s) * 255) for s in (noisy - clean).flatten(1).std(1)]
        [10, 30]
    """

    sigma: Tensor

    def __init__(self, sigma: float | Tensor) -> None:
        super().__init__()
        self.register_buffer("sigma", check_parameter(sigma, "sigma", nonnegative=True))

    def variance(self, clean: Tensor) -> Tensor:
        return per_sample(self.sigma, "sigma", clean).square()

    @classmethod
    def fit(cls, noisy: Tensor, clean: Tensor, per_sample: bool = True) -> GaussianNoise:
        """Maximum-likelihood sigma from residuals (closed form: ``sigma^2 = mean((noisy - clean)^2)``).

        ``per_sample=True`` fits one sigma per image (``(B,)``); ``False`` one for the whole batch.
        """
        y, _ = as_batch(noisy, "noisy", unit_range=False)
        x, _ = as_batch(clean, "clean")
        check_same_shape(y, x, "noisy", "clean")
        r2 = (y.double() - x.double()).square().flatten(1)
        var = r2.mean(1) if per_sample else r2.mean()
        return cls(var.sqrt())

    def extra_repr(self) -> str:
        return f"sigma={self.sigma.tolist()}"
