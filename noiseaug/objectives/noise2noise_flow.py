"""Learning noise models without clean images: Noise2NoiseFlow, R2RFlow and neighbour-pair training.

All three train a noise model ``p(noisy | clean, cond)`` jointly with a denoiser ``D`` whose output
stands in for the missing clean image (Maleky et al., CVPR 2022). Units: ``L_nm`` is an NLL in
nats per dimension (mean over the batch), ``L_dn`` a mean squared error on the [0, 1] scale; the
default ``lam = 2**18`` is the paper's weight, which with these units makes ``lam * L_dn`` of order
10-1000 against ``|L_nm|`` of about 3, so ``D`` is driven mostly by ``L_dn``.

* :class:`Noise2NoiseFlow` on two noisy shots ``I1, I2`` of one scene (eq. 4-5):
  ``L_nm = -log p(I1 | D(I2)) - log p(I2 | D(I1))``, ``L_dn = ||D(I1) - I2||^2 + ||D(I2) - I1||^2``.
  ``self_sample=True`` uses eq. 6 instead (``-log p(I1 | D(I1)) - log p(I2 | D(I2))``): the paper
  reports it unstable, since ``D`` can copy its input and make the noise vanish.
  ``denoiser_only=True`` trains ``D`` with ``L_dn`` alone (Noise2Noise; the pre-training option).
  ``residual="difference"`` (ours, not the paper's) gives the flow the half pair difference
  ``(I1 - I2) / sqrt(2)`` as the noise around ``D(I2)`` (and its negative around ``D(I1)``) instead of
  ``I1 - D(I2)``: the denoiser's error ``e`` then enters only through the conditioning.
  ``residual="difference-mean"`` conditions both on the mean estimate ``(D(I1) + D(I2)) / 2``: since the
  shots' sum is independent of their difference for Gaussian noise of equal variance, ``e`` then does not
  predict the residual's size (around ``D(I2)`` it does: ``I2``'s noise is in both), which halves the
  dilution of an NLF's beta1. With the
  paper's residual the flow learns the variance ``v + var(e)``, biased up wherever ``D`` does not beat
  its input; the difference has the noise's covariance exactly (fixed-pattern noise, common to both
  shots, cancels, as it does from ``I1 - D(I2)`` when ``D`` predicts ``I2``), and its odd moments vanish:
  a skewed noise (Poisson at low counts) is learnt symmetrised.
* :class:`R2RFlow` on single shots ``I``: recorrupt with ``z`` drawn from the current noise model
  around ``D(I)`` (no gradient): ``I_in = I + alpha z``, ``I_target = I - z / alpha``;
  ``L_nm = -log p(I | D(I_in))``, ``L_dn = ||I_target - D(I_in)||^2``. The flow's ActNorms are
  initialised on a high-pass residual of the first batch, so that the first ``z`` have about the
  noise's scale (with the default initialisation they had unit variance and training diverged).
  ``denoiser_warmup`` steps train ``D`` alone first.
  **alpha > 1 is needed** (default 2; R2R's own default is 0.5, for a known noise level). Joint
  training is a feedback loop: the flow learns the variance of ``I - D(I_in)``, which depends on the
  variance ``s`` of the ``z`` it drew. For Gaussian noise of variance ``v`` and the best linear ``D`` of a
  flat image, ``D(I_in) = x + k (I_in - x)`` with ``k = (v - s) / (v + alpha^2 s)``, and the learnt variance
  is ``s' = (1 - k)^2 v + k^2 alpha^2 s``. Its fixed point ``s = v`` has slope ``2 / (1 + alpha^2)``: it
  repels at alpha 0.5 (every run with 0.5 diverged), is neutral at 1 (``s' = s``) and attracts above
  1; at alpha 2 a 100x overestimate decays about 4x per round. That assumes ``D`` keeps up: while it is
  still the identity (``k = 1``) the flow learns ``s' = alpha^2 s``, hence the warm-up.
* Neighbour pairs: :class:`Noise2NoiseFlow` fed with the two halves of Neighbor2Neighbor's
  sub-sampler of a single shot (:class:`~noiseaug.data.shots.ShotPairs`, :func:`noiseaug.data.neighbour.neighbour_subsample`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._validation import check_int
from ..conditioning import NoiseCondition
from ..data.shots import NoisyPair
from ..errors import NoiseaugInputError
from ..noise.base import NoiseModel

N2NFLOW_LAMBDA = 2.0**18
#: What the noise model of Noise2NoiseFlow sees as noise: ``"denoised"`` ``I1 - D(I2)`` (the paper's eq. 4)
#: or ``"difference"`` ``(I1 - I2) / sqrt(2)`` around ``D(I2)``, or around ``(D(I1) + D(I2)) / 2``
#: (``"difference-mean"``; see the module docs).
RESIDUALS = ("denoised", "difference", "difference-mean")


def nll_given_estimate(noise_model: NoiseModel, noisy: Tensor, estimate: Tensor, cond: NoiseCondition) -> Tensor:
    """Mean NLL per dimension of ``noisy`` given a denoised estimate (clamped to [0, 1]) as the clean image."""
    return -(noise_model._log_prob(noisy, estimate.clamp(0.0, 1.0), cond) / noisy[0].numel()).mean()


class Noise2NoiseFlow(nn.Module):
    """Objective ``L_nm + lam * L_dn`` over :class:`NoisyPair` batches (see module docs)."""

    def __init__(
        self,
        noise_model: NoiseModel,
        denoiser: nn.Module,
        lam: float = N2NFLOW_LAMBDA,
        self_sample: bool = False,
        denoiser_only: bool = False,
        residual: str = "denoised",
    ) -> None:
        super().__init__()
        if residual not in RESIDUALS:
            raise NoiseaugInputError(f"residual must be one of {RESIDUALS}, got {residual!r}")
        self.noise_model, self.denoiser = noise_model, denoiser
        self.lam, self.self_sample, self.denoiser_only, self.residual = lam, self_sample, denoiser_only, residual

    def forward(self, pair: NoisyPair) -> Tensor:
        d1, d2 = self.denoiser(pair.first), self.denoiser(pair.second)
        l_dn = F.mse_loss(d1, pair.second) + F.mse_loss(d2, pair.first)
        if self.denoiser_only:
            return l_dn
        given1, given2 = (d1, d2) if self.self_sample else (d2, d1)
        noisy1, noisy2 = pair.first, pair.second
        if self.residual != "denoised":
            if self.residual == "difference-mean":
                given1 = given2 = (d1 + d2) / 2
            half_difference = (pair.first - pair.second) / math.sqrt(2.0)
            noisy1, noisy2 = given1.clamp(0.0, 1.0) + half_difference, given2.clamp(0.0, 1.0) - half_difference
        l_nm = nll_given_estimate(self.noise_model, noisy1, given1, pair.cond) + nll_given_estimate(
            self.noise_model, noisy2, given2, pair.cond
        )
        return l_nm + self.lam * l_dn


class R2RFlow(nn.Module):
    """Objective on single noisy shots with recorrupted inputs (see module docs); batches are
    :class:`NoisyPair` whose ``second`` is ignored and whose ``generator`` draws the recorruption."""

    calls: Tensor

    def __init__(
        self,
        noise_model: NoiseModel,
        denoiser: nn.Module,
        lam: float = N2NFLOW_LAMBDA,
        alpha: float = 2.0,
        denoiser_warmup: int = 0,
    ) -> None:
        super().__init__()
        if not alpha > 0:
            raise NoiseaugInputError(f"alpha must be > 0, got {alpha}")
        self.noise_model, self.denoiser, self.lam, self.alpha = noise_model, denoiser, lam, alpha
        self.denoiser_warmup = check_int(denoiser_warmup, "denoiser_warmup", minimum=0)
        # Training forward passes so far (a buffer: checkpointed, so a resumed run keeps its phase).
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))

    def forward(self, pair: NoisyPair) -> Tensor:
        noisy = pair.first
        if self.training:
            self._initialise_noise_scale(noisy, pair.cond)
        with torch.no_grad():
            estimate = self.denoiser(noisy).clamp(0.0, 1.0)
            z = self.noise_model._sample(estimate, pair.cond, pair.generator) - estimate
        denoised = self.denoiser(noisy + self.alpha * z)
        l_dn = F.mse_loss(denoised, noisy - z / self.alpha)
        warming_up = int(self.calls) < self.denoiser_warmup
        if self.training:
            self.calls += 1
        if warming_up:  # the noise model is frozen at its initialisation while the denoiser learns
            return self.lam * l_dn
        return nll_given_estimate(self.noise_model, noisy, denoised, pair.cond) + self.lam * l_dn

    @torch.no_grad()
    def _initialise_noise_scale(self, noisy: Tensor, cond: NoiseCondition) -> None:
        """Data-dependent initialisation of the noise model's ActNorm layers on a high-pass residual
        (``noisy`` minus its 3x3 mean), before the first recorruption: an untrained flow's samples have an
        arbitrary scale (unit variance), which would drown the image. No-op once initialised."""
        pending = [m for m in self.noise_model.modules() if hasattr(m, "initialized") and not bool(m.initialized)]
        if pending:
            smooth = F.avg_pool2d(F.pad(noisy, (1, 1, 1, 1), mode="reflect"), 3, stride=1)
            self.noise_model._log_prob(noisy, smooth.clamp(0.0, 1.0), cond)
