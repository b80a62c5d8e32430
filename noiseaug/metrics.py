"""Metrics for noise models and denoisers, with the exact conventions of docs/ARCHITECTURE.md.

* :func:`nll_per_dim`: ``-log p(noisy | clean, cond) / (C*H*W)`` in nats, data on the [0, 1] scale.
* :func:`marginal_kl`: forward ``KL(real || model)`` between histograms of noise values
  (``noisy - clean``), over the bins where both histograms are non-zero. Two conventions:
  ``"noiseflow"`` (raw-RGB; Abdelhamed et al. 2019): range [-0.1, 0.1], 64 equal bins plus one
  underflow and one overflow bin; ``"naflow"`` (sRGB "KLD"; Kim et al. 2024, after DANet): range
  [-1, 1], 256 equal bins, values outside ignored.
* :func:`akld`: average KL divergence of DANet (Yue et al., ECCV 2020): local noise variances from a
  7x7 Gaussian window (OpenCV's default sigma for that size, 1.4; reflect padding; variances
  floored at 1e-10), ratio ``r = var_model / var_real`` clamped to [0.1, 10], and
  ``0.5 * mean(r - 1 - log r)`` over pixels and channels per image.
* :func:`psnr`, :func:`ssim`: kornia's implementations, data range 1.0, one value per image.
"""

from __future__ import annotations

from typing import Literal, Protocol

import kornia
import torch
import torch.nn.functional as F
from torch import Tensor

from ._validation import as_batch, check_same_shape
from .conditioning import NoiseCondition
from .errors import NoiseaugInputError, NoiseaugTypeError

Reduction = Literal["mean", "none", "pooled"]

#: Histogram conventions for :func:`marginal_kl`: (value range, equal-width bins, under/overflow bins).
KL_CONVENTIONS: dict[str, tuple[tuple[float, float], int, bool]] = {
    "noiseflow": ((-0.1, 0.1), 64, True),
    "naflow": ((-1.0, 1.0), 256, False),
}

AKLD_WINDOW = 7
AKLD_RATIO_CLAMP = (0.1, 10.0)
AKLD_VARIANCE_FLOOR = 1e-10


class LogProbModel(Protocol):
    """Anything with ``log_prob(noisy, clean, cond) -> (B,)`` nats (every NoiseModel, the flows)."""

    def log_prob(self, noisy: Tensor, clean: Tensor, cond: NoiseCondition | None = None) -> Tensor: ...


def nll_per_dim(model: LogProbModel, noisy: Tensor, clean: Tensor, cond: NoiseCondition | None = None) -> Tensor:
    """Negative log-likelihood per dimension, ``(B,)`` nats: ``-model.log_prob(...) / (C*H*W)``.

    Works with any model that has ``log_prob(noisy, clean, cond) -> (B,)`` (parametric or flow).
    Lower is better; a density on the [0, 1] scale, so values are usually negative.
    """
    y, _ = as_batch(noisy, "noisy", unit_range=False)
    x, _ = as_batch(clean, "clean")
    check_same_shape(y, x, "noisy", "clean")
    return -model.log_prob(y, x, cond) / x[0].numel()


def noise_histogram(noise: Tensor, value_range: tuple[float, float], bins: int, overflow_bins: bool) -> Tensor:
    """Per-sample counts ``(B, bins [+2])`` of noise values; equal-width bins, last bin closed.

    With ``overflow_bins`` the first column counts values below the range and the last above it;
    without, those values are dropped.
    """
    lo, hi = value_range
    if not hi > lo or bins < 1:
        raise NoiseaugInputError(
            f"value_range must be (low, high) with low < high and bins >= 1, got {value_range}, {bins}"
        )
    flat = noise.detach().flatten(1).to(torch.float64)
    index = torch.floor((flat - lo) / (hi - lo) * bins).long()
    index = torch.where(flat == hi, torch.full_like(index, bins - 1), index)
    index = index.clamp(-1, bins) + 1  # 0: underflow, 1..bins: in range, bins+1: overflow
    offsets = torch.arange(flat.shape[0], device=flat.device)[:, None] * (bins + 2)
    counts = torch.bincount((index + offsets).flatten(), minlength=flat.shape[0] * (bins + 2))
    counts = counts.view(flat.shape[0], bins + 2).to(torch.float64)
    return counts if overflow_bins else counts[:, 1:-1]


def histogram_kl(p_counts: Tensor, q_counts: Tensor) -> Tensor:
    """Forward ``KL(p || q)`` of histograms ``(..., bins)``, each normalised, over bins where both are > 0."""
    p = p_counts / p_counts.sum(-1, keepdim=True).clamp(min=1)
    q = q_counts / q_counts.sum(-1, keepdim=True).clamp(min=1)
    both = (p > 0) & (q > 0)
    ratio = torch.where(both, p / torch.where(both, q, torch.ones_like(q)), torch.ones_like(p))
    return (torch.where(both, p, torch.zeros_like(p)) * ratio.log()).sum(-1)


def marginal_kl(
    real_noise: Tensor,
    model_noise: Tensor,
    convention: str = "noiseflow",
    *,
    value_range: tuple[float, float] | None = None,
    bins: int | None = None,
    overflow_bins: bool | None = None,
    reduction: Reduction = "mean",
) -> Tensor:
    """Forward KL divergence ``KL(real || model)`` between marginal histograms of noise values.

    Args:
        real_noise: ``noisy - clean`` residuals of the real images, ``(B, ...)``; [0, 1] image scale.
        model_noise: the model's residuals, ``(B, ...)`` with the same batch size (the spatial sizes may differ).
        convention: ``"noiseflow"`` (raw: [-0.1, 0.1], 64 bins + under/overflow) or ``"naflow"``
            (sRGB KLD: [-1, 1], 256 bins). ``value_range``, ``bins``, ``overflow_bins`` override it.
        reduction: ``"mean"`` of per-image KLs (scalar), ``"none"`` (``(B,)``), or ``"pooled"``
            (one histogram over the whole batch).

    Returns nats. Example (two histograms that differ in one bin):
        >>> import torch
        >>> real = torch.tensor([[0.01, 0.01, 0.03, 0.05]])
        >>> model = torch.tensor([[0.01, 0.03, 0.03, 0.05]])
        >>> round(float(marginal_kl(real, model)), 4)  # 0.5*log(0.5/0.25) + 0.25*log(0.25/0.5)
        0.1733
    """
    if convention not in KL_CONVENTIONS:
        raise NoiseaugInputError(f"convention must be one of {sorted(KL_CONVENTIONS)}, got {convention!r}")
    default_range, default_bins, default_overflow = KL_CONVENTIONS[convention]
    value_range = default_range if value_range is None else value_range
    bins = default_bins if bins is None else bins
    overflow_bins = default_overflow if overflow_bins is None else overflow_bins
    real, model = _check_noise_pair(real_noise, model_noise)
    if reduction == "pooled":
        real, model = real.reshape(1, -1), model.reshape(1, -1)
    kl = histogram_kl(
        noise_histogram(real, value_range, bins, overflow_bins),
        noise_histogram(model, value_range, bins, overflow_bins),
    )
    return _reduce(kl, reduction)


def local_noise_variance(noise: Tensor, window: int = AKLD_WINDOW) -> Tensor:
    """Gaussian-weighted local mean of ``noise^2`` (``(B, C, H, W)``), floored at 1e-10 (DANet's estimator).

    The window's sigma follows OpenCV's default for a size-``window`` kernel:
    ``0.3 * ((window - 1) / 2 - 1) + 0.8`` (1.4 for 7x7). Reflect padding.
    """
    sigma = 0.3 * ((window - 1) * 0.5 - 1) + 0.8
    kernel = kornia.filters.get_gaussian_kernel2d((window, window), (sigma, sigma)).to(noise)
    channels = noise.shape[1]
    padded = F.pad(noise.square(), [window // 2] * 4, mode="reflect")
    weight = kernel.reshape(1, 1, window, window).expand(channels, 1, window, window)
    return F.conv2d(padded, weight, groups=channels).clamp(min=AKLD_VARIANCE_FLOOR)


def akld(real_noise: Tensor, model_noise: Tensor, reduction: Literal["mean", "none"] = "mean") -> Tensor:
    """DANet's average KL divergence between local zero-mean Gaussians of model and real noise.

    Per pixel, ``r = var_model / var_real`` (7x7 Gaussian local variances), clamped to [0.1, 10];
    ``KL(N(0, var_model) || N(0, var_real)) = 0.5 * (r - 1 - log r)``, averaged over C, H, W per
    image; ``"mean"`` then averages over the batch. 0 for identical noise; lower is better.
    Inputs: ``(B, C, H, W)`` residuals ``noisy - clean`` of the same shape, [0, 1] scale.
    """
    real, _ = as_batch(real_noise, "real_noise", unit_range=False)
    model, _ = as_batch(model_noise, "model_noise", unit_range=False)
    check_same_shape(real, model, "real_noise", "model_noise")
    if min(real.shape[-2:]) <= AKLD_WINDOW // 2:
        raise NoiseaugInputError(
            f"akld needs images larger than {AKLD_WINDOW // 2} pixels per side, got shape {tuple(real.shape)}"
        )
    work = torch.promote_types(real.dtype, torch.float32)
    ratio = (local_noise_variance(model.to(work)) / local_noise_variance(real.to(work))).clamp(*AKLD_RATIO_CLAMP)
    kl = 0.5 * (ratio - 1 - ratio.log()).flatten(1).mean(1)
    return _reduce(kl, reduction)


def psnr(prediction: Tensor, target: Tensor, data_range: float = 1.0) -> Tensor:
    """Peak signal-to-noise ratio per image, ``(B,)`` dB: ``10 log10(data_range^2 / MSE)`` (kornia)."""
    x, y = _check_image_pair(prediction, target)
    if not len(x):
        return x.new_zeros(0)
    return torch.stack([kornia.metrics.psnr(a, b, data_range) for a, b in zip(x, y, strict=True)])


def ssim(prediction: Tensor, target: Tensor, data_range: float = 1.0, window_size: int = 11) -> Tensor:
    """Mean structural similarity per image, ``(B,)`` (kornia: Gaussian window 11, sigma 1.5, 'same' padding)."""
    x, y = _check_image_pair(prediction, target)
    return kornia.metrics.ssim(x, y, window_size, max_val=data_range).flatten(1).mean(1)


def _check_image_pair(prediction: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    x, _ = as_batch(prediction, "prediction", unit_range=False)
    y, _ = as_batch(target, "target", unit_range=False)
    check_same_shape(x, y, "prediction", "target")
    work = torch.promote_types(x.dtype, torch.float32)
    return x.to(work), y.to(work)


def _check_noise_pair(real_noise: Tensor, model_noise: Tensor) -> tuple[Tensor, Tensor]:
    for name, t in (("real_noise", real_noise), ("model_noise", model_noise)):
        if not isinstance(t, Tensor) or not t.is_floating_point():
            raise NoiseaugTypeError(
                f"{name} must be a floating-point tensor of noise values (noisy - clean), got "
                f"{type(t).__name__ if not isinstance(t, Tensor) else t.dtype}"
            )
        if t.ndim < 1 or t.numel() == 0:
            raise NoiseaugInputError(
                f"{name} must be a non-empty tensor with a leading batch dimension, got shape {tuple(t.shape)}"
            )
    if real_noise.shape[0] != model_noise.shape[0]:
        raise NoiseaugInputError(
            f"real_noise and model_noise must have the same batch size, got {real_noise.shape[0]} and {model_noise.shape[0]}"
        )
    return real_noise.reshape(real_noise.shape[0], -1), model_noise.reshape(model_noise.shape[0], -1)


def _reduce(values: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return values
    if reduction in ("mean", "pooled"):
        return values.mean()
    raise NoiseaugInputError(f"reduction must be 'mean', 'none' or 'pooled', got {reduction!r}")
