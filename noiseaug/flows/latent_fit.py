"""A latent Gaussian fitted to one reference's NAFlow latent, with a std that follows the clean image's brightness.

NAFlow's latent ``z`` (``(B, C, h, w)``, one position per ``2^L x 2^L`` pixel block) has, for a trained camera
configuration, one Gaussian per channel shared over positions. A reference from another camera leaves
signal dependence in its latent that the flow did not remove (sRGB phone noise is strongest in the shadows).
:func:`fit_latent_gaussian` therefore models each channel as

    ``z[c] ~ N(mean[c], (std[c] * exp(slope[c] * (I - 0.5)))^2)``

with ``I`` the clean image's brightness (channel mean) averaged over the position's pixel block
(:func:`latent_brightness`): ``std`` is the std at mid-grey and ``slope`` the change of ``log std`` per unit of
brightness ([0, 1] scale). ``slope = 0`` is the constant std of the trained configurations.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

#: weight of the Gaussian prior ``N(0, 1)`` on each slope, so a reference of uniform brightness gets slope 0
SLOPE_PRIOR = 1.0
#: slopes are kept in ``[-SLOPE_LIMIT, SLOPE_LIMIT]``: at most ``exp(8)`` between black and white
SLOPE_LIMIT = 8.0
NEWTON_STEPS = 30


class LatentGaussian(NamedTuple):
    """Per-channel latent Gaussian(s): ``mean``, ``std`` (at mid-grey) and ``slope`` (``d log std / d I``; ``None``:
    a constant std, as for the trained configurations), each ``(C,)`` for one reference or ``(B, C)`` for one per
    image."""

    mean: Tensor
    std: Tensor
    slope: Tensor | None = None

    def scaled(self, factor: float) -> LatentGaussian:
        """The same Gaussian with ``std`` multiplied by ``factor``."""
        return LatentGaussian(self.mean, self.std * factor, self.slope)

    def draw(self, eps: Tensor, brightness: Tensor | None, temperature: float | Tensor = 1.0) -> Tensor:
        """Latents ``mean + temperature * std * exp(slope * (brightness - 0.5)) * eps`` for standard normal ``eps``
        ``(B, C, h, w)`` and ``brightness`` ``(B, 1, h, w)`` (:func:`latent_brightness`); fields ``(C,)`` or
        ``(B, C)``; ``temperature`` one number or ``(B,)``, one per image; ``brightness`` may be ``None`` when
        ``slope`` is."""

        def per_image(t: Tensor) -> Tensor:
            return t.to(eps).expand(eps.shape[0], -1)[:, :, None, None]

        std = per_image(self.std)
        if self.slope is not None:
            if brightness is None:
                raise ValueError("a signal-dependent LatentGaussian needs the brightness map")
            std = std * torch.exp(per_image(self.slope) * (brightness.to(eps) - 0.5))
        if isinstance(temperature, Tensor):
            temperature = temperature.to(eps)[:, None, None, None]
        return per_image(self.mean) + temperature * std * eps


def latent_brightness(clean: Tensor, block: int) -> Tensor:
    """``(B, 1, H / block, W / block)``: the channel-mean brightness of ``clean`` ``(B, 3, H, W)`` averaged over
    each ``block x block`` pixel block (H, W multiples of ``block``)."""
    return F.avg_pool2d(clean.mean(1, keepdim=True), block)


def fit_latent_gaussian(z: Tensor, brightness: Tensor | None) -> LatentGaussian:
    """Maximum-likelihood :class:`LatentGaussian` ``(C,)`` of latents ``z`` ``(B, C, h, w)`` pooled over the batch
    and positions, in float64, returned in ``z``'s dtype.

    ``mean`` is the per-channel mean. Given ``brightness`` (``(B, 1, h, w)``, :func:`latent_brightness`) the log
    std is linear in ``brightness - 0.5``, fitted per channel by Newton's method on the Gaussian likelihood (convex
    in the log std's intercept and slope; steps capped at 1 in each), with the prior :data:`SLOPE_PRIOR` on the
    slope; with ``None``, ``slope`` is ``None`` and ``std`` the per-channel RMS deviation.
    """
    z64 = z.double().transpose(0, 1).flatten(1)  # (C, n)
    mean = z64.mean(1)
    squares = (z64 - mean[:, None]).square().clamp(min=1e-12)
    intercept = 0.5 * squares.mean(1).log()
    if brightness is None:
        return LatentGaussian(mean.to(z.dtype), intercept.exp().clamp(min=1e-6).to(z.dtype))
    slope = torch.zeros_like(intercept)
    x = (brightness.double() - 0.5).expand(z.shape[0], 1, *z.shape[2:]).transpose(0, 1).flatten(1)  # (1, n)
    for _ in range(NEWTON_STEPS):
        scaled = squares * torch.exp(-2 * (intercept[:, None] + slope[:, None] * x))  # residual^2 / variance
        grad_a = (1 - scaled).sum(1)
        grad_b = ((1 - scaled) * x).sum(1) + SLOPE_PRIOR * slope
        h_aa, h_ab = 2 * scaled.sum(1), 2 * (scaled * x).sum(1)
        h_bb = 2 * (scaled * x.square()).sum(1) + SLOPE_PRIOR
        det = h_aa * h_bb - h_ab.square()
        intercept = intercept - ((h_bb * grad_a - h_ab * grad_b) / det).clamp(-1, 1)
        slope = (slope - ((h_aa * grad_b - h_ab * grad_a) / det).clamp(-1, 1)).clamp(-SLOPE_LIMIT, SLOPE_LIMIT)
    std = intercept.exp().clamp(min=1e-6)
    return LatentGaussian(mean.to(z.dtype), std.to(z.dtype), slope.to(z.dtype))
