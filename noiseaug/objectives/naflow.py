"""Supervised NAFlow: the NLL of real noisy crops under their camera configuration, and the configuration-free NLL
used for validation (``-log (1/N) sum_c p(noisy | clean, c)``: held-out configurations may be unseen)."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ..conditioning import NoiseCondition
from ..flows.naflow import NAFlow


class NAFlowNLL(nn.Module):
    """Mean NLL per dimension (nats, [0, 1] scale) of a batch ``{"noisy", "clean", "config"}`` under its configuration."""

    def __init__(self, model: NAFlow) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, Tensor]) -> Tensor:
        return self.model.nll(batch["noisy"], batch["clean"], NoiseCondition(config=batch["config"])).mean()


@torch.no_grad()
def configuration_free_nll(model: NAFlow, noisy: Tensor, clean: Tensor) -> Tensor:
    """``(B,)`` nats per dimension: ``-log (1/N) sum_c p(noisy | clean, c)``, no metadata needed."""
    z, logdet = model.encode(noisy - clean, clean)
    log_p = torch.logsumexp(model.latent_log_prob(z), dim=1) - math.log(len(model.configurations)) + logdet.double()
    return (-log_p / clean[0].numel()).float()
