"""Neighbor2Neighbor (Huang, Li, Jia, Wang, Yuan; CVPR 2021): the loss of a denoiser trained on single noisy images.

A random neighbour sub-sampler ``G = (g1, g2)`` (:func:`~noiseaug.data.neighbour.neighbour_subsample`)
picks, in every 2x2 cell of the noisy image ``y``, two *different, adjacent* positions (fresh per
sample, cell and step, from the step's seeded generator; shared by all channels). The half-size
images ``g1(y)``, ``g2(y)`` have independent noise (for pixel-independent noise) and nearly equal
clean content, so ``g2(y)`` is a Noise2Noise target for ``f(g1(y))``. The loss (eq. 8-9 of the paper):

    L = ||f(g1 y) - g2 y||^2 + gamma_t * ||f(g1 y) - g2 y - (g1 f(y) - g2 f(y))||^2

where ``f(y)`` (the denoised full-size image) is computed **without gradient**; the regulariser
corrects for the clean sub-images not being exactly equal. Both norms are means over every element
(as in the authors' code), on the [0, 1] scale. ``gamma_t`` ramps linearly from 0 at step 0 to
``gamma`` at the last step (:func:`gamma_ramp`; paper: ``gamma = 2`` for synthetic noise, 1 for
real noise). The same sub-sampling mask is applied to ``y`` and ``f(y)``: they are sub-sampled
together as one tensor (the mask is shared by all channels). At test time ``f`` runs on the
full-size noisy image.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .._validation import check_int, check_nonnegative
from ..data.batches import CropBatch
from ..data.neighbour import neighbour_subsample

#: The paper's final regulariser weights.
GAMMA_SYNTHETIC, GAMMA_REAL = 2.0, 1.0


def gamma_ramp(step: int, total_steps: int, gamma: float) -> float:
    """``gamma * step / (total_steps - 1)``, clipped to ``gamma``: 0 at step 0, ``gamma`` at the last step.

    Examples:
        >>> [gamma_ramp(s, 5, 2.0) for s in range(6)]
        [0.0, 0.5, 1.0, 1.5, 2.0, 2.0]
    """
    return gamma * min(step / max(total_steps - 1, 1), 1.0)


def neighbor2neighbor_loss(
    denoised_first: Tensor, second: Tensor, full_first: Tensor, full_second: Tensor, gamma: float
) -> Tensor:
    """The loss from its four half-size images: ``f(g1 y)``, ``g2 y``, ``g1 f(y)``, ``g2 f(y)``.

    ``mean((f(g1 y) - g2 y)^2) + gamma * mean((f(g1 y) - g2 y - (g1 f(y) - g2 f(y)))^2)``.

    Examples:
        >>> import torch
        >>> one, zero = torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)
        >>> float(neighbor2neighbor_loss(one, zero, one, zero, gamma=2.0))  # f(g1 y) - g2 y equals g1 f(y) - g2 f(y)
        1.0
    """
    diff = denoised_first - second
    return diff.square().mean() + gamma * (diff - (full_first - full_second)).square().mean()


class Neighbor2Neighbor(nn.Module):
    """The Neighbor2Neighbor objective over :class:`~noiseaug.data.batches.CropBatch` (uses ``noisy`` only).

    Args:
        denoiser: any ``(B, C, H, W) -> (B, C, H, W)`` network (UNet, DnCNN, ...).
        gamma: the regulariser's final weight (paper: 2 synthetic, 1 real).
        total_steps: the run's length, over which ``gamma`` ramps up from 0 (:func:`gamma_ramp`).

    Examples:
        >>> import torch
        >>> from noiseaug import UNet
        >>> from noiseaug.data.batches import CropBatch
        >>> objective = Neighbor2Neighbor(UNet(width=8, levels=2), gamma=2.0, total_steps=100)
        >>> batch = CropBatch(noisy=torch.rand(2, 3, 16, 16), clean=None, step=50, seed=0)
        >>> objective(batch).ndim, round(objective.gamma_at(50), 4)
        (0, 1.0101)
    """

    def __init__(self, denoiser: nn.Module, gamma: float = GAMMA_SYNTHETIC, total_steps: int = 1) -> None:
        super().__init__()
        self.gamma = check_nonnegative(gamma, "gamma")
        self.denoiser, self.total_steps = denoiser, check_int(total_steps, "total_steps")

    def gamma_at(self, step: int) -> float:
        """The regulariser weight at ``step``."""
        return gamma_ramp(step, self.total_steps, self.gamma)

    def forward(self, batch: CropBatch) -> Tensor:
        y = batch.need_noisy()
        with torch.no_grad():
            full = self.denoiser(y)
        first, second = neighbour_subsample(torch.cat([y, full], 1), batch.generator(y.device))
        c = y.shape[1]
        return neighbor2neighbor_loss(
            self.denoiser(first[:, :c]), second[:, :c], first[:, c:], second[:, c:], self.gamma_at(batch.step)
        )
