"""The interface every noise model keeps: ``noisy = clean + noise``.

Conventions (see docs/ARCHITECTURE.md):

* images are float ``(B, C, H, W)`` (or ``(C, H, W)``) with clean values in [0, 1];
* ``log_prob(noisy, clean, cond)`` is the per-sample log-likelihood ``(B,)`` in nats, summed over
  ``C*H*W`` dimensions, of data on the [0, 1] scale (a density, not a probability);
* ``nll(noisy, clean, cond)`` is ``-log_prob / (C*H*W)``: nats per dimension, ``(B,)``;
* ``sample(clean, cond, generator, temperature=1.0, clip=False)`` returns the noisy image;
  ``temperature`` scales the noise (flows: the latent's standard deviation; parametric models: the
  deviation from ``clean``, so 0 gives the mean; a flow at 0 decodes the zero latent). Clipping to
  [0, 1] is off by default because likelihood work needs the unclipped values (the transforms clip
  by default).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch
from torch import Tensor, nn

from .._validation import as_batch, check_condition, check_generator, check_same_shape, check_temperature, unbatch
from ..conditioning import NoiseCondition
from ..errors import NoiseaugInputError

LOG_2PI = math.log(2 * math.pi)


class NoiseModel(nn.Module, ABC):
    """Base class: validates at the boundary, then calls ``_sample`` / ``_log_prob`` on batches.

    Parameters are buffers of shape ``()`` (shared by the batch) or ``(B,)`` (one per sample), so a
    model moves with ``.to(device)`` and saves with its ``state_dict``.
    """

    @classmethod
    def from_trusted(cls, **params: Tensor) -> NoiseModel:
        """Build a model from parameters already known to be valid (no checks, no host sync).

        Used by the transforms on their freshly drawn per-sample parameters.
        """
        model = cls.__new__(cls)
        NoiseModel.__init__(model)
        for name, value in params.items():
            model.register_buffer(name, value)
        return model

    @classmethod
    def _trusted_view(cls, **params: Tensor) -> NoiseModel:
        """A bare instance holding ``params`` as plain attributes, for one ``_sample`` call (no checks, no sync).

        Not a working module (no ``nn.Module.__init__``: no buffers, ``.to`` or repr): what the transforms use
        on their per-call draws, because ``torch.compile`` cannot trace building a module inside ``forward``.
        The noise formulas stay in the model classes.
        """
        view = cls.__new__(cls)
        for name, value in params.items():  # setattr, not __dict__.update: torch 2.11's compiler traces only this
            setattr(view, name, value)
        return view

    #: Accepted channel counts (``None``: any).
    channels: tuple[int, ...] | None = None

    def sample(
        self,
        clean: Tensor,
        cond: NoiseCondition | None = None,
        generator: torch.Generator | None = None,
        *,
        temperature: float = 1.0,
        clip: bool = False,
    ) -> Tensor:
        """Draw ``noisy ~ p(noisy | clean, cond)``; same shape and dtype as ``clean``."""
        x, unbatched = as_batch(clean, "clean", channels=self.channels)
        check_generator(generator, x.device)
        check_condition(cond, x.shape[0])
        y = self._sample(x, cond, generator, check_temperature(temperature))
        if clip:
            y = y.clamp(0.0, 1.0)
        return unbatch(y, unbatched)

    def log_prob(self, noisy: Tensor, clean: Tensor, cond: NoiseCondition | None = None) -> Tensor:
        """Per-sample log-density ``(B,)`` (``()`` for unbatched input), nats, summed over C*H*W."""
        y, x, unbatched = self._check_pair(noisy, clean, cond)
        return unbatch(self._log_prob(y, x, cond), unbatched)

    def nll(self, noisy: Tensor, clean: Tensor, cond: NoiseCondition | None = None) -> Tensor:
        """Per-sample negative log-likelihood per dimension ``(B,)``, nats: ``-log_prob / (C*H*W)``."""
        y, x, unbatched = self._check_pair(noisy, clean, cond)
        return unbatch(-self._log_prob(y, x, cond) / math.prod(x.shape[1:]), unbatched)

    def _check_pair(
        self, noisy: Tensor, clean: Tensor, cond: NoiseCondition | None = None
    ) -> tuple[Tensor, Tensor, bool]:
        x, unbatched = as_batch(clean, "clean", channels=self.channels)
        y, _ = as_batch(noisy, "noisy", unit_range=False)
        check_same_shape(y, x, "noisy", "clean")
        check_condition(cond, x.shape[0])
        return y, x, unbatched

    @abstractmethod
    def _sample(
        self, clean: Tensor, cond: NoiseCondition | None, generator: torch.Generator | None, temperature: float = 1.0
    ) -> Tensor:
        """``(B, C, H, W)`` clean -> noisy; inputs already validated."""

    @abstractmethod
    def _log_prob(self, noisy: Tensor, clean: Tensor, cond: NoiseCondition | None) -> Tensor:
        """``(B, C, H, W)`` pair -> ``(B,)`` log-density in nats; inputs already validated."""


def standard_normal_like(x: Tensor, generator: torch.Generator | None) -> Tensor:
    """``N(0, 1)`` samples shaped like ``x``, drawn in ``x``'s dtype (float32 for half types on CPU)."""
    dtype = x.dtype if x.device.type != "cpu" or x.dtype in (torch.float32, torch.float64) else torch.float32
    return torch.randn(x.shape, generator=generator, device=x.device, dtype=dtype).to(x.dtype)


class GaussianFamilyNoise(NoiseModel):
    """Zero-mean Gaussian noise with a (possibly signal-dependent) variance: ``noise ~ N(0, variance(clean))``.

    Subclasses give ``variance``; sampling and the exact Gaussian log-density are shared.
    """

    @abstractmethod
    def variance(self, clean: Tensor) -> Tensor:
        """Per-pixel noise variance for a ``(B, C, H, W)`` clean batch, broadcastable to it ([0, 1] scale)."""

    def std(self, clean: Tensor) -> Tensor:
        """Per-pixel noise standard deviation, ``sqrt(variance(clean))``; subclasses may compute it in place."""
        return self.variance(clean).sqrt()

    def _sample(
        self, clean: Tensor, cond: NoiseCondition | None, generator: torch.Generator | None, temperature: float = 1.0
    ) -> Tensor:
        scale = self.std(clean)
        if temperature != 1.0:
            scale = temperature * scale
        # clean + scale * z, computed in the freshly drawn noise's own memory (one full-size tensor)
        return standard_normal_like(clean, generator).mul_(scale).add_(clean)

    def _log_prob(self, noisy: Tensor, clean: Tensor, cond: NoiseCondition | None) -> Tensor:
        clean = clean.to(torch.promote_types(clean.dtype, torch.float32))
        variance = self.variance(clean)
        if not bool((variance > 0).all()):  # a zero variance is a point mass: log N is 0/0 = NaN there
            raise NoiseaugInputError(
                f"{type(self).__name__}({self.extra_repr()}): the noise variance is 0 at some pixels of "
                f"clean (a zero sigma / read_sigma, or beta2 = 0 where clean is 0), so the likelihood is "
                f"degenerate there; log_prob and nll need a positive variance"
            )
        return gaussian_log_prob(noisy - clean, variance)


def gaussian_log_prob(residual: Tensor, variance: Tensor) -> Tensor:
    """Sum over C, H, W of ``log N(residual; 0, variance)`` in nats, computed in at least float32."""
    dtype = torch.promote_types(residual.dtype, torch.float32)
    r = residual.to(dtype)
    var = variance.to(dtype).expand_as(r)
    return -0.5 * (LOG_2PI + var.log() + r.square() / var).flatten(1).sum(1)
