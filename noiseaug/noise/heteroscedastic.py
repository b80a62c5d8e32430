"""Heteroscedastic Gaussian noise: the noise level function (NLF) ``var = beta1 * clean + beta2``."""

from __future__ import annotations

import torch
from torch import Tensor

from .._validation import as_batch, check_parameter, check_same_shape, per_sample
from .base import GaussianFamilyNoise

#: Smallest variance the fit allows (on the [0, 1] scale), so that weights stay finite.
VARIANCE_FLOOR = 1e-10


class HeteroscedasticGaussianNoise(GaussianFamilyNoise):
    """NLF model: ``noise ~ N(0, beta1 * clean + beta2)`` per pixel.

    ``beta1`` is the signal-dependent (shot-like) slope and ``beta2`` the constant (read-like)
    variance, both on the [0, 1] scale; floats or per-sample ``(B,)`` tensors, >= 0.

    Examples:
        >>> import torch
        >>> clean = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
        >>> noisy = HeteroscedasticGaussianNoise(beta1=4e-3, beta2=1e-4).sample(clean, generator=torch.Generator().manual_seed(1))
        >>> fitted = HeteroscedasticGaussianNoise.fit(noisy, clean)
        >>> round(float(fitted.beta1) * 1e3, 1), round(float(fitted.beta2) * 1e4, 1)
        (4.0, 1.0)
    """

    beta1: Tensor
    beta2: Tensor

    def __init__(self, beta1: float | Tensor, beta2: float | Tensor) -> None:
        super().__init__()
        self.register_buffer("beta1", check_parameter(beta1, "beta1", nonnegative=True))
        self.register_buffer("beta2", check_parameter(beta2, "beta2", nonnegative=True))

    def variance(self, clean: Tensor) -> Tensor:
        return (per_sample(self.beta1, "beta1", clean) * clean).add_(per_sample(self.beta2, "beta2", clean))

    def std(self, clean: Tensor) -> Tensor:
        return self.variance(clean).sqrt_()  # variance() returns a new tensor: take its root in place

    @classmethod
    def fit(
        cls, noisy: Tensor, clean: Tensor, per_sample: bool = True, iterations: int = 30
    ) -> HeteroscedasticGaussianNoise:
        """Maximum-likelihood ``(beta1, beta2)`` from residuals; see :func:`fit_linear_variance`."""
        beta1, beta2 = fit_linear_variance(noisy, clean, per_sample=per_sample, iterations=iterations)
        return cls(beta1, beta2)

    def extra_repr(self) -> str:
        return f"beta1={self.beta1.tolist()}, beta2={self.beta2.tolist()}"


def fit_linear_variance(
    noisy: Tensor, clean: Tensor, per_sample: bool = True, iterations: int = 30
) -> tuple[Tensor, Tensor]:
    """Gaussian maximum likelihood for ``var = beta1 * clean + beta2``, with ``beta1 >= 0``, ``beta2 > 0``.

    There is no closed form. Starting from the AWGN solution (``beta1 = 0``,
    ``beta2 = mean(r^2)``), each iteration solves the weighted least squares of the squared
    residuals on ``[clean, 1]`` with weights ``1 / var^2`` (a Fisher-scoring step: its fixed point
    solves the likelihood equations), projects it onto the constraints, and moves towards it with
    a backtracking line search so that the likelihood never decreases. A constant clean image
    identifies only ``beta2``. Returns float64 tensors, ``(B,)`` if ``per_sample`` else ``()``.
    """
    y, _ = as_batch(noisy, "noisy", unit_range=False)
    x, _ = as_batch(clean, "clean")
    check_same_shape(y, x, "noisy", "clean")
    r2 = (y.double() - x.double()).square().flatten(1)
    s = x.double().flatten(1).clamp(min=0.0)
    if not per_sample:
        r2, s = r2.reshape(1, -1), s.reshape(1, -1)
    beta = torch.stack([torch.zeros_like(r2[:, 0]), r2.mean(1).clamp(min=VARIANCE_FLOOR)], 1)
    cost = _mean_gaussian_nll(beta, s, r2)
    for _ in range(iterations):
        target = _projected_scoring_step(beta, s, r2)
        step = torch.ones_like(cost)
        for _ in range(40):
            candidate = beta + step[:, None] * (target - beta)
            candidate_cost = _mean_gaussian_nll(candidate, s, r2)
            improved = candidate_cost <= cost
            if bool(improved.all()):
                break
            step = torch.where(improved, step, step / 2)
        improved = candidate_cost <= cost
        beta = torch.where(improved[:, None], candidate, beta)
        converged = (cost - torch.where(improved, candidate_cost, cost)).abs() < 1e-13
        cost = torch.where(improved, candidate_cost, cost)
        if bool(converged.all()):
            break
    beta1, beta2 = beta[:, 0], beta[:, 1]
    return (beta1, beta2) if per_sample else (beta1[0], beta2[0])


def _mean_gaussian_nll(beta: Tensor, s: Tensor, r2: Tensor) -> Tensor:
    """Per-row mean of ``log var + r^2 / var`` (twice the NLL per pixel, up to a constant)."""
    var = (beta[:, :1] * s + beta[:, 1:]).clamp(min=VARIANCE_FLOOR)
    return (var.log() + r2 / var).mean(1)


def _projected_scoring_step(beta: Tensor, s: Tensor, r2: Tensor) -> Tensor:
    """Weighted least squares of ``r^2`` on ``[s, 1]`` with weights ``1 / var(beta)^2``, projected to ``beta1 >= 0``, ``beta2 >= floor``."""
    w = (beta[:, :1] * s + beta[:, 1:]).clamp(min=VARIANCE_FLOOR).reciprocal().square()
    sw, sws, swss = w.sum(1), (w * s).sum(1), (w * s * s).sum(1)
    swy, swsy = (w * r2).sum(1), (w * s * r2).sum(1)
    det = sw * swss - sws.square()
    solvable = det > 1e-9 * sw * swss
    safe_det = torch.where(solvable, det, torch.ones_like(det))
    beta1 = torch.where(solvable, (sw * swsy - sws * swy) / safe_det, torch.zeros_like(det))
    beta2 = torch.where(solvable, (swss * swy - sws * swsy) / safe_det, swy / sw)
    return torch.stack([beta1.clamp(min=0.0), beta2.clamp(min=VARIANCE_FLOOR)], 1)
