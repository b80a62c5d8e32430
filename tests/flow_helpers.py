"""Shared test helper: small flows with non-trivial weights."""

import torch

from noiseaug.flows.noise_flow import NoiseFlow


def trained_looking(cls, *args, seed=0, scale=0.05, **kwargs):
    """``cls(*args, **kwargs)`` with every parameter perturbed off its initial value and ActNorms marked
    initialised; the same seed gives the same model."""
    with torch.random.fork_rng():  # conv layers initialise from the global RNG
        torch.manual_seed(seed)
        model = cls(*args, **kwargs)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(scale * torch.randn(p.shape, generator=gen))
    for module in model.modules():
        if hasattr(module, "initialized"):
            module.initialized.fill_(True)
    return model.eval()


def trained_looking_flow(cameras, isos, seed=0, **architecture):
    """A small NoiseFlow with non-trivial weights (see :func:`trained_looking`)."""
    return trained_looking(NoiseFlow, cameras, isos, seed=seed, **architecture)
