"""Shared test helper: small Noise Flows with non-trivial weights."""

import torch

from noiseaug.flows.noise_flow import NoiseFlow


def trained_looking_flow(cameras, isos, seed=0, **architecture):
    """A NoiseFlow with every parameter perturbed off its initial value and ActNorms marked initialised;
    the same seed gives the same flow."""
    with torch.random.fork_rng():  # conv layers initialise from the global RNG
        torch.manual_seed(seed)
        flow = NoiseFlow(cameras, isos, **architecture)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=gen))
    for module in flow.modules():
        if hasattr(module, "initialized"):
            module.initialized.fill_(True)
    return flow.eval()
