"""Glow (Kingma & Dhariwal, NeurIPS 2018): an unconditional multi-scale flow over clean images.

The image prior of the flow-prior denoiser (:mod:`noiseaug.recipes.flow_prior`). Read in the
data -> latent direction:

* **centring**: ``x - 0.5`` (a translation: log-det 0);
* **L levels**, each: :class:`~noiseaug.flows.layers.Squeeze` (space-to-depth by 2), K
  :class:`~noiseaug.flows.layers.FlowStep` (ActNorm, LU 1x1 conv, affine coupling with Glow's
  ``sigmoid(raw + 2)`` scale), then
* on every level but the last a **split** (:class:`GaussianSplit`): the second half of the channels
  is factored out with a *learned conditional Gaussian* ``N(mu(h), sigma(h)^2)`` whose mean and
  log-std come from a zero-initialised 3x3 conv of the kept half ``h`` (Glow's ``split2d`` prior; it
  starts as ``N(0, 1)``); the kept half goes on to the next level;
* on the last level a **learned per-channel Gaussian** (mean and std per latent channel, shared
  over positions), written as an :class:`~noiseaug.flows.layers.ActNorm` (data-initialised).

Both priors are written as *standardising* invertible layers ``eps = (z - mu) / sigma`` with log-det
``-sum log sigma``, so the whole model is one bijection ``x -> eps`` onto a standard normal ``eps``.
``forward`` re-assembles the latents in the image's own layout (the inverse squeezes: a permutation,
log-det 0), so ``eps`` has ``x``'s shape and the model keeps the flow-layer contract:
``forward(x) -> (eps, logdet)``, ``inverse(eps) -> x``.

Units and conventions:

* :meth:`Glow.log_prob` is the exact log-density (nats, summed over ``C*H*W``) of a *continuous*
  image on the [0, 1] scale: ``log N(eps; 0, I) + logdet``. The flow is defined on all of
  ``R^D``; it was trained on [0, 1].
* 8-bit data (values ``k / 255``, ``k = 0..255``) is **uniformly dequantised** for training:
  ``y = (k + u) / 256`` with ``u ~ U(0, 1)`` per dimension (:func:`dequantize`), so ``y`` fills
  [0, 1). Then ``-log P(k) <= E_u[-log p(y)] + D log 256`` (Theis et al., 2016), and
  :meth:`Glow.bits_per_dim` reports ``(-log p(y) + D log 256) / (D log 2)``, the number Glow's
  paper reports (3.35 on CIFAR-10 with its far larger model).
* :meth:`Glow.sample` draws ``eps ~ N(0, T^2 I)`` and inverts: the temperature ``T`` scales every
  latent's standard deviation around its (conditional) mean, as in Glow; ``T = 0`` is deterministic.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, cast

import torch
from torch import Tensor, nn

from .._validation import as_batch, check_generator, check_int, check_temperature, unbatch
from ..errors import NoiseaugInputError, NoiseaugTypeError
from ..hub import PretrainedMixin, register_model
from ..noise.base import LOG_2PI, standard_normal_like
from .layers import (
    ActNorm,
    FlowCondition,
    FlowLayer,
    FlowStep,
    Squeeze,
    depth_to_space,
    run_forward,
    run_inverse,
    space_to_depth,
)

#: Levels of 8-bit data and the dequantisation bin width on the [0, 1] scale.
BINS = 256


def dequantize(images: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Uniform dequantisation of 8-bit images on the [0, 1] scale: ``(round(255 x) + u) / 256``, ``u ~ U(0, 1)``.

    Examples:
        >>> import torch
        >>> y = dequantize(torch.tensor([0.0, 1.0]).view(1, 1, 1, 2), torch.Generator().manual_seed(0))
        >>> bool((y >= 0).all() and (y < 1).all()), bool(y[..., 1] >= 255 / 256)
        (True, True)
    """
    levels = (images * (BINS - 1)).round()
    return (levels + torch.rand(images.shape, generator=generator, device=images.device, dtype=images.dtype)) / BINS


class GaussianSplit(FlowLayer):
    """Glow's split prior as an invertible layer: the second half ``z`` of the channels is standardised
    by a Gaussian conditioned on the first half ``h``: ``y = cat(h, (z - mu(h)) * exp(-log_sigma(h)))``.

    ``mu`` and ``log_sigma`` come from a zero-initialised 3x3 conv of ``h`` (so the layer starts as the
    identity, i.e. ``z ~ N(0, 1)``); log-det ``-sum log_sigma``. Shape is unchanged: the caller routes
    the first ``keep`` channels on and sets the rest aside as standard-normal latents.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        if channels < 2:
            raise NoiseaugInputError(f"GaussianSplit needs at least 2 channels, got {channels}")
        self.keep = channels // 2
        self.net = nn.Conv2d(self.keep, 2 * (channels - self.keep), 3, padding=1)
        nn.init.zeros_(self.net.weight)
        nn.init.zeros_(self.net.bias)  # type: ignore[arg-type]  # Conv2d's bias is a Parameter here (bias=True)

    def _mean_log_std(self, h: Tensor) -> tuple[Tensor, Tensor]:
        mean, log_std = self.net(h).chunk(2, dim=1)
        return mean, log_std

    def forward(self, x: Tensor, cond: FlowCondition | None = None) -> tuple[Tensor, Tensor]:
        h, z = x[:, : self.keep], x[:, self.keep :]
        mean, log_std = self._mean_log_std(h)
        return torch.cat([h, (z - mean) * (-log_std).exp()], 1), -log_std.flatten(1).sum(1)

    def inverse(self, y: Tensor, cond: FlowCondition | None = None) -> Tensor:
        h, eps = y[:, : self.keep], y[:, self.keep :]
        mean, log_std = self._mean_log_std(h)
        return torch.cat([h, mean + eps * log_std.exp()], 1)


@register_model
class Glow(nn.Module, PretrainedMixin):
    """Unconditional multi-scale Glow over ``(B, channels, H, W)`` images in [0, 1] (see the module docs).

    Args:
        channels: image channels (3 for sRGB).
        levels: scale levels L; H and W must be multiples of ``2 ** levels``.
        depth: flow steps K per level (ActNorm, LU 1x1 conv, affine coupling).
        hidden: width of the coupling networks.
        image_size: the side :meth:`sample` draws by default (the training crop size); any multiple
            of ``2 ** levels`` works for :meth:`log_prob`.

    Glow's CIFAR-10 model is ``levels=3, depth=32, hidden=512``; the defaults are a CPU-sized prior.

    Examples:
        >>> import torch
        >>> glow = Glow(levels=2, depth=2, hidden=16, image_size=8)
        >>> x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
        >>> eps, logdet = glow(x)
        >>> eps.shape, logdet.shape, bool(torch.allclose(glow.inverse(eps), x, atol=1e-5))
        (torch.Size([2, 3, 8, 8]), torch.Size([2]), True)
        >>> glow.log_prob(x).shape, glow.sample(4, temperature=0.7, generator=torch.Generator().manual_seed(1)).shape
        (torch.Size([2]), torch.Size([4, 3, 8, 8]))
    """

    model_type = "glow"

    def __init__(
        self, channels: int = 3, levels: int = 3, depth: int = 8, hidden: int = 128, image_size: int = 32
    ) -> None:
        super().__init__()
        self.channels = check_int(channels, "channels")
        self.levels = check_int(levels, "levels")
        self.depth = check_int(depth, "depth")
        self.hidden = check_int(hidden, "hidden")
        self.image_size = check_int(image_size, "image_size")
        if image_size % 2**levels:
            raise NoiseaugInputError(f"image_size must be a multiple of 2 ** levels = {2**levels}, got {image_size}")
        self.scales = nn.ModuleList()
        width, seed = channels, 0
        for level in range(levels):
            width *= 4
            layers: list[nn.Module] = [Squeeze()]
            for _ in range(depth):
                layers.append(FlowStep(width, hidden, seed=seed))
                seed += 1
            last = level == levels - 1
            layers.append(ActNorm(width) if last else GaussianSplit(width))
            self.scales.append(nn.ModuleList(layers))
            if not last:
                width = cast(GaussianSplit, layers[-1]).keep

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments plus ``model_type`` (saved as config.json)."""
        return {
            "model_type": self.model_type,
            "channels": self.channels,
            "levels": self.levels,
            "depth": self.depth,
            "hidden": self.hidden,
            "image_size": self.image_size,
        }

    @property
    def multiple(self) -> int:
        """H and W must be multiples of this (``2 ** levels``)."""
        return 2**self.levels

    def _check_size(self, x: Tensor, name: str) -> None:
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise NoiseaugInputError(f"{name} must have shape (B, {self.channels}, H, W), got {tuple(x.shape)}")
        if x.shape[-1] % self.multiple or x.shape[-2] % self.multiple or x.shape[-1] == 0 or x.shape[-2] == 0:
            raise NoiseaugInputError(
                f"{name}: Glow with {self.levels} levels needs H and W that are positive multiples of "
                f"{self.multiple}, got {tuple(x.shape[-2:])}"
            )

    def forward(self, x: Tensor, cond: FlowCondition | None = None) -> tuple[Tensor, Tensor]:
        """Image ``(B, C, H, W)`` -> standard-normal latent ``eps`` of the same shape and per-sample log |det|."""
        self._check_size(x, "x")
        h, logdet = x - 0.5, x.new_zeros(x.shape[0])
        factored = []
        for level, module in enumerate(self.scales):
            layers = cast(nn.ModuleList, module)
            h, ld = run_forward(layers, h, None)
            logdet = logdet + ld
            if level < self.levels - 1:
                keep = cast(GaussianSplit, layers[-1]).keep
                factored.append(h[:, keep:])
                h = h[:, :keep]
        for eps in reversed(factored):
            h = torch.cat([depth_to_space(h), eps], 1)
        return depth_to_space(h), logdet

    def inverse(self, y: Tensor, cond: FlowCondition | None = None) -> Tensor:
        """Latent ``eps`` in image layout -> image (the exact inverse of :meth:`forward`)."""
        self._check_size(y, "y")
        h, factored = space_to_depth(y), []
        for layers in self.scales[:-1]:
            keep = cast(GaussianSplit, cast(nn.ModuleList, layers)[-1]).keep
            factored.append(h[:, keep:])
            h = space_to_depth(h[:, :keep])
        for level in reversed(range(self.levels)):
            if level < self.levels - 1:
                h = torch.cat([h, factored[level]], 1)
            h = run_inverse(cast(nn.ModuleList, self.scales[level]), h, None)
        return h + 0.5

    def _log_prob(self, x: Tensor) -> Tensor:
        """Trusted :meth:`log_prob` (no input checks beyond the size): ``(B,)`` nats."""
        eps, logdet = self(x)
        return -0.5 * (eps.square() + LOG_2PI).flatten(1).sum(1) + logdet

    def log_prob(self, x: Tensor) -> Tensor:
        """``(B,)`` log-density in nats of continuous images ``x`` on the [0, 1] scale, summed over ``C*H*W``
        (``()`` for one ``(C, H, W)`` image)."""
        xb, unbatched = as_batch(x, "x", channels=self.channels, unit_range=False)
        return unbatch(self._log_prob(xb), unbatched)

    def nll_per_dim(self, x: Tensor) -> Tensor:
        """``(B,)`` ``-log p(x) / (C*H*W)``: nats per dimension of continuous ``x`` ([0, 1] scale)."""
        xb, unbatched = as_batch(x, "x", channels=self.channels, unit_range=False)
        return unbatch(-self._log_prob(xb) / math.prod(xb.shape[1:]), unbatched)

    def bits_per_dim(
        self, images: Tensor, generator: torch.Generator | None = None, dequantize_images: bool = True
    ) -> Tensor:
        """``(B,)`` bits per dimension of 8-bit ``images`` in [0, 1]: ``(-log p(y) + D log 256) / (D log 2)``.

        ``y`` is the uniformly dequantised image (:func:`dequantize`, drawn from ``generator``); with
        ``dequantize_images=False`` the images are taken as already dequantised.
        """
        xb, unbatched = as_batch(images, "images", channels=self.channels)
        check_generator(generator, xb.device)
        y = dequantize(xb, generator) if dequantize_images else xb
        dims = math.prod(y.shape[1:])
        return unbatch((-self._log_prob(y) + dims * math.log(BINS)) / (dims * math.log(2)), unbatched)

    @torch.no_grad()
    def sample(
        self,
        n: int,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
        size: int | tuple[int, int] | None = None,
    ) -> Tensor:
        """``(n, C, H, W)`` samples (``H = W = image_size`` unless ``size``); not clamped to [0, 1].

        ``temperature`` scales the latents' standard deviation (0: deterministic).
        """
        n = check_int(n, "n")
        temperature = check_temperature(temperature)
        size = self.image_size if size is None else size
        pair = (size, size) if isinstance(size, numbers.Integral) else size
        accepted = f"an int or an (H, W) pair, positive multiples of {self.multiple}"
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise NoiseaugTypeError(f"size must be {accepted}, got {size!r}")
        h, w = (check_int(v, "size", minimum=self.multiple) for v in pair)
        if h % self.multiple or w % self.multiple:
            raise NoiseaugInputError(f"size must be {accepted}, got {size!r}")
        reference = next(self.parameters())
        check_generator(generator, reference.device)
        eps = standard_normal_like(reference.new_empty(n, self.channels, h, w), generator)
        return self.inverse(temperature * eps)

    def extra_repr(self) -> str:
        return (
            f"channels={self.channels}, levels={self.levels}, depth={self.depth}, hidden={self.hidden}, "
            f"image_size={self.image_size}"
        )
