"""Supervised training of a conditional noise model on clean/noisy pairs: minimise the NLL.

Works for any :class:`~noiseaug.noise.base.NoiseModel` with parameters (NoiseFlow, later NAFlow):
batches are :class:`~noiseaug.data.camera.CameraDraw` objects (clean raw, noisy raw, condition).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from ..data.camera import CameraDraw
from ..metrics import marginal_kl
from ..noise.base import NoiseModel


class SupervisedNLL(nn.Module):
    """Objective: mean NLL per dimension (nats) of capture 0 given the clean image and condition."""

    def __init__(self, noise_model: NoiseModel) -> None:
        super().__init__()
        self.noise_model = noise_model

    def forward(self, draw: CameraDraw) -> Tensor:
        return self.noise_model.nll(draw.noisy_raw[0], draw.clean_raw, draw.cond).mean()


def evaluate_noise_model(model: NoiseModel, draws: Sequence[CameraDraw], seed: int = 0) -> dict[str, float]:
    """NLL per dimension and marginal KL (Noise Flow convention) on fixed draws.

    ``val_nll``: mean over patches of ``model.nll``. ``val_kl``: mean over patches of
    ``KL(real noise || noise sampled from the model)`` for the same clean patch and condition,
    histograms over [-0.1, 0.1] with 64 bins plus under/overflow. Sampling is seeded.
    """
    generator = torch.Generator().manual_seed(seed)
    nll, kl, count = 0.0, 0.0, 0
    with torch.no_grad():
        for draw in draws:
            noisy, clean = draw.noisy_raw[0], draw.clean_raw
            nll += float(model.nll(noisy, clean, draw.cond).sum())
            sampled = model.sample(clean, draw.cond, generator=generator)
            kl += float(marginal_kl(noisy - clean, sampled - clean, "noiseflow", reduction="none").sum())
            count += clean.shape[0]
    return {"val_nll": nll / count, "val_kl": kl / count}


def validation(model: NoiseModel, draws: Sequence[CameraDraw], seed: int = 0) -> Callable[[], dict[str, float]]:
    """A ``validate`` callback for :class:`~noiseaug.training.loop.Trainer`."""
    return lambda: evaluate_noise_model(model, draws, seed)
