"""Model-vs-real comparisons on real sRGB pairs: every model synthesises a noisy image from the clean one.

Synthetic images are clipped and rounded to 8 bits like the real files (``quantize_8bit``); their noise
``synthetic - clean`` is then compared with the real noise ``noisy - clean`` (:mod:`noiseaug.eval.stats`). The
models are the per-image fitted baselines (:mod:`noiseaug.eval.baselines`) and NAFlow: a random configuration
(one-hot, uniform over the trained ones), Rank-1 (the most likely configuration for the pair), noise-aware
sampling (NAS: the tempered posterior's mixture, the pair itself as the reference) and the latent Gaussian fitted
to the pair. Likelihoods are NLL per dimension (nats, [0, 1] scale) of the real noisy image dequantised with
uniform noise of one 8-bit level.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..demo import quantize_8bit
from ..flows.naflow import NAFlow
from ..noise import NoiseModel
from ..objectives.naflow import configuration_free_nll
from .baselines import AWGN_FIT, NLF_FIT

NAFLOW_RANDOM = "NAFlow (random configuration)"
NAFLOW_RANK1 = "NAFlow (Rank-1)"
NAFLOW_NAS = "NAFlow (NAS)"
NAFLOW_FITTED = "NAFlow (fitted latent)"
#: The rows of :func:`synthesize`, in its order (the fitted baselines first).
MODELS = (AWGN_FIT, NLF_FIT, NAFLOW_RANDOM, NAFLOW_RANK1, NAFLOW_NAS, NAFLOW_FITTED)


def random_configuration(model: NAFlow, generator: torch.Generator) -> Tensor:
    """``(1, N)`` one-hot weights of one of the model's ``N`` configurations, drawn uniformly."""
    n = len(model.configurations)
    return torch.nn.functional.one_hot(torch.randint(n, (1,), generator=generator), n).float()


@torch.no_grad()
def synthesize(
    model: NAFlow,
    baselines: dict[str, NoiseModel],
    noisy: Tensor,
    clean: Tensor,
    generator: torch.Generator,
    posterior_temperature: float = 1.0,
) -> dict[str, Tensor]:
    """8-bit synthetic noisy images for ``clean`` ``(1, 3, H, W)`` (H, W multiples of ``model.multiple``): each
    of ``baselines``, then NAFlow random / Rank-1 / NAS (``posterior_temperature``) / fitted latent with
    ``(noisy, clean)`` as the reference, drawn from ``generator`` in that order."""
    random_config = random_configuration(model, generator)
    samples = {name: fitted.sample(clean, generator=generator) for name, fitted in baselines.items()}
    samples[NAFLOW_RANDOM] = model.sample_mixture(clean, random_config, generator)
    samples[NAFLOW_RANK1] = model.sample_noise_aware(clean, noisy, clean, generator, posterior_temperature=0.0)
    samples[NAFLOW_NAS] = model.sample_noise_aware(
        clean, noisy, clean, generator, posterior_temperature=posterior_temperature
    )
    samples[NAFLOW_FITTED] = model.sample_fitted(clean, noisy, clean, generator)
    return {k: quantize_8bit(v) for k, v in samples.items()}


@torch.no_grad()
def likelihoods(
    model: NAFlow, baselines: dict[str, NoiseModel], noisy: Tensor, clean: Tensor, generator: torch.Generator
) -> dict[str, float]:
    """NLL per dimension (nats) of ``noisy`` dequantised (uniform noise of one 8-bit level from ``generator``):
    each baseline's, and NAFlow's configuration-free mixture likelihood under :data:`NAFLOW_NAS`."""
    dequantised = noisy + (torch.rand(noisy.shape, generator=generator) - 0.5) / 255
    values = {name: float(fitted.nll(dequantised, clean)) for name, fitted in baselines.items()}
    values[NAFLOW_NAS] = float(configuration_free_nll(model, dequantised, clean))
    return values
