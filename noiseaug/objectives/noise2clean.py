"""Noise2Clean: the supervised denoiser objective on noisy/clean crop pairs."""

from __future__ import annotations

from torch import Tensor, nn

from ..data.batches import CropBatch
from ..errors import NoiseaugInputError


class Noise2Clean(nn.Module):
    """The supervised objective: ``mean((f(noisy) - clean)^2)`` (the [0, 1] scale) over :class:`~noiseaug.data.batches.CropBatch`."""

    def __init__(self, denoiser: nn.Module) -> None:
        super().__init__()
        self.denoiser = denoiser

    def forward(self, batch: CropBatch) -> Tensor:
        if batch.clean is None:
            raise NoiseaugInputError("Noise2Clean needs batches with clean images (batch.clean is None)")
        return (self.denoiser(batch.noisy) - batch.clean).square().mean()
