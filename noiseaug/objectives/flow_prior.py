"""The flow-prior objectives: a Glow prior's NLL over clean patches, then a denoiser's loss against that prior.

**Stage (a)** (``noiseaug train flow-prior``'s prior stage, :mod:`noiseaug.recipes.flow_prior`): :class:`~noiseaug.flows.glow.Glow` on random 32x32 crops
(one of the 8 flips/rotations) of clean images, minimising the mean bits per dimension of the uniformly dequantised 8-bit crops
(:class:`GlowNLL`; conventions in :mod:`noiseaug.flows.glow`). Validation: bits/dim on fixed
held-out crops with fixed dequantisation noise (``val_bpd``, which selects ``best.pt``).

**Stage (b)** (the denoiser stage): a denoiser ``D`` sees only noisy crops ``Y`` (the
clean crops they were made from never reach the loss) and minimises (:class:`FlowPriorDenoising`)

    L = mean((B(Y) - B(X))^2) - lam * log P(X) / (C*H*W),    X = D(Y)

* ``B`` is a 3x3 mean filter (reflect padding); the first term is a mean over every element, on the
  [0, 1] scale: it keeps the low frequencies of ``X`` at those of ``Y`` (noise averages out there).
* ``log P(X) / (C*H*W)`` is the frozen prior's continuous log-density **in nats per dimension**
  ([0, 1] scale), averaged over the batch, computed on non-overlapping prior-sized tiles
  (``image_size``, 32x32) so that the prior scores patches like those it learned from
  (:func:`tiled_log_prob_per_dim`). The prior gets no gradient (``requires_grad=False``, always in
  eval mode) but the gradient flows *through* it into ``X`` and ``D``.
* Noise: AWGN with ``sigma ~ U[0, max_sigma] / 255`` per sample (``max_sigma = 50``), unclipped (the
  data term assumes ``E[B(Y)] = B(X)``, which clipping breaks near 0 and 1).
* ``lam`` (default :data:`FLOW_PRIOR_LAMBDA` = 2e-3) is the knob between fidelity and prior. The
  default is the MAP weight in these units: ``B(Y) - B(X) ~ B(n)`` has per-pixel variance about
  ``sigma^2 / 9``, so ``-log p(Y | X) / D ~ mean((B(Y) - B(X))^2) / (2 sigma^2 / 9)`` and the MAP
  objective is the loss above with ``lam = 2 sigma^2 / 9``: 2.1e-3 at sigma = 25/255 (8.5e-3 at
  50/255). One ``lam`` serves every noise level (a blind denoiser); raise it for smoother outputs,
  lower it to keep more of the input.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from ..data.batches import CropBatch
from ..errors import NoiseaugInputError, NoiseaugTypeError
from ..flows.glow import Glow

#: Default prior weight (MAP weight for sigma ~ 24/255 seen through the 3x3 mean filter; see module docs).
FLOW_PRIOR_LAMBDA = 2e-3


def mean_filter(images: Tensor) -> Tensor:
    """``B``: the 3x3 mean of every pixel (reflect padding), same shape."""
    return F.avg_pool2d(F.pad(images, (1, 1, 1, 1), mode="reflect"), 3, stride=1)


def tiled_log_prob_per_dim(prior: Glow, images: Tensor) -> Tensor:
    """``(B,)`` ``log P(images) / (C*H*W)`` in nats: the prior's log-densities of the non-overlapping
    ``image_size`` tiles summed per image (the whole image when H or W is not a multiple of it;
    it must then be a multiple of ``2 ** levels``)."""
    b, c, h, w = images.shape
    s = prior.image_size
    if h % s == 0 and w % s == 0:
        tiles = images.reshape(b, c, h // s, s, w // s, s).permute(0, 2, 4, 1, 3, 5).reshape(-1, c, s, s)
        log_p = prior._log_prob(tiles).view(b, -1).sum(1)
    else:
        log_p = prior._log_prob(images)
    return log_p / images[0].numel()


class GlowNLL(nn.Module):
    """Stage (a)'s loss: mean bits per dimension of a batch's dequantised ``clean`` crops (dequantisation
    noise from the batch's seed)."""

    def __init__(self, glow: Glow) -> None:
        super().__init__()
        self.glow = glow

    def forward(self, batch: CropBatch) -> Tensor:
        clean = batch.need_clean()
        return self.glow.bits_per_dim(clean, batch.generator(clean.device)).mean()


class FlowPriorDenoising(nn.Module):
    """Stage (b)'s loss ``mean((B(Y) - B(X))^2) - lam * log P(X) / D`` with ``X = denoiser(Y)`` (module docs).

    The prior is frozen: its parameters never require gradients and it stays in eval mode even when
    this module is put in training mode.

    Examples:
        >>> import torch
        >>> from noiseaug import DnCNN
        >>> from noiseaug.flows.glow import Glow
        >>> from noiseaug.data.batches import CropBatch
        >>> objective = FlowPriorDenoising(DnCNN(depth=3, width=8), Glow(levels=2, depth=1, hidden=8, image_size=8))
        >>> loss = objective(CropBatch(noisy=torch.rand(2, 3, 16, 16), clean=None, step=0, seed=0))
        >>> loss.backward()
        >>> any(p.grad is not None for p in objective.prior.parameters())
        False
    """

    def __init__(self, denoiser: nn.Module, prior: Glow, lam: float = FLOW_PRIOR_LAMBDA) -> None:
        super().__init__()
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not lam >= 0:
            raise NoiseaugInputError(f"lam must be a number >= 0, got {lam!r}")
        if not isinstance(prior, Glow):
            raise NoiseaugTypeError(f"prior must be a Glow, got {type(prior).__name__}")
        self.denoiser, self.prior, self.lam = denoiser, prior.requires_grad_(False).eval(), float(lam)

    def train(self, mode: bool = True) -> FlowPriorDenoising:
        super().train(mode)
        self.prior.eval()
        return self

    def forward(self, batch: CropBatch) -> Tensor:
        noisy = batch.need_noisy()
        denoised = self.denoiser(noisy)
        fidelity = (mean_filter(noisy) - mean_filter(denoised)).square().mean()
        return fidelity - self.lam * tiled_log_prob_per_dim(self.prior, denoised).mean()
