"""Invertible layers for the flows. Every layer keeps one contract:

* ``forward(x, cond=None) -> (y, logdet)``: data -> latent direction; ``logdet`` is the per-sample
  ``(B,)`` log |det dy/dx|;
* ``inverse(y, cond=None) -> x``: latent -> data.

``cond`` is a :class:`FlowCondition`: the clean image, feature maps from a condition encoder and
per-sample metadata indices, whichever a layer needs.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import NoiseaugInputError


@dataclass
class FlowCondition:
    """What conditional layers may read; each field ``None`` when the model does not use it.

    Attributes:
        clean: ``(B, C, H, W)`` clean image at the layer's resolution (signal-dependent layer).
        features: ``(B, F, H, W)`` condition features at the layer's resolution (couplings, injectors).
        iso: ``(B,)`` float ISO values; ``iso_index``: ``(B,)`` long index into the model's ISO levels.
        camera: ``(B,)`` long camera index.
    """

    clean: Tensor | None = None
    features: Tensor | None = None
    iso: Tensor | None = None
    iso_index: Tensor | None = None
    camera: Tensor | None = None

    def crop(self, rows: slice, clean: Tensor | None) -> FlowCondition:
        """This condition for batch ``rows`` only, with ``clean`` (a crop of ``self.clean[rows]``) in its place;
        ``features`` are dropped (they are recomputed from the crop's clean image)."""

        def pick(t: Tensor | None) -> Tensor | None:
            return None if t is None else t[rows]

        return FlowCondition(clean=clean, iso=pick(self.iso), iso_index=pick(self.iso_index), camera=pick(self.camera))


def needed(cond: FlowCondition | None, name: str) -> Tensor:
    """``cond.<name>``, which the calling layer needs; a :class:`NoiseaugInputError` names it when it is missing."""
    value = None if cond is None else getattr(cond, name)
    if value is None:
        raise NoiseaugInputError(f"this flow layer needs FlowCondition.{name}, got none")
    return value


class FlowLayer(nn.Module):
    """Base of the invertible layers (documents the contract; no behaviour)."""

    def forward(self, x: Tensor, cond: FlowCondition | None = None) -> tuple[Tensor, Tensor]:  # pragma: no cover
        raise NotImplementedError

    def inverse(self, y: Tensor, cond: FlowCondition | None = None) -> Tensor:  # pragma: no cover
        raise NotImplementedError


def _pixels(x: Tensor) -> int:
    return x.shape[-2] * x.shape[-1]


class ActNorm(FlowLayer):
    """Per-channel affine ``y = (x + bias) * exp(log_scale)`` with data-dependent initialisation.

    The first forward pass in training mode sets ``bias`` and ``log_scale`` so that that batch has
    zero mean and unit variance per channel (Kingma & Dhariwal 2018). ``initialized`` is a buffer,
    so loaded weights are not re-initialised.
    """

    initialized: Tensor

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.log_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("initialized", torch.tensor(False))

    @torch.no_grad()
    def _initialize(self, x: Tensor) -> None:
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        std = x.std(dim=(0, 2, 3), keepdim=True, unbiased=False).clamp(min=1e-6)
        self.bias.copy_(-mean)
        self.log_scale.copy_(-std.log())
        self.initialized.fill_(True)

    def forward(self, x: Tensor, cond: FlowCondition | None = None) -> tuple[Tensor, Tensor]:
        if self.training and not bool(self.initialized) and x.shape[0]:  # an empty batch has no statistics
            self._initialize(x)
        y = (x + self.bias) * self.log_scale.exp()
        logdet = self.log_scale.sum() * _pixels(x)
        return y, logdet.expand(x.shape[0])

    def inverse(self, y: Tensor, cond: FlowCondition | None = None) -> Tensor:
        return y * (-self.log_scale).exp() - self.bias


class InvConv1x1(FlowLayer):
    """Invertible 1x1 convolution, LU-parameterised: ``W = P L (U + diag(sign * exp(log_s)))``.

    ``P`` is a fixed permutation, ``L`` unit lower-triangular, ``U`` strictly upper-triangular;
    ``log |det W| = sum(log_s)``. Initialised from a random rotation (seeded by ``seed``).
    """

    permutation: Tensor
    sign_s: Tensor
    lower_mask: Tensor

    def __init__(self, channels: int, seed: int = 0) -> None:
        super().__init__()
        rotation = torch.linalg.qr(torch.randn(channels, channels, generator=torch.Generator().manual_seed(seed)))[0]
        permutation, lower, upper = torch.linalg.lu(rotation)
        diag = torch.diagonal(upper)
        self.register_buffer("permutation", permutation)
        self.register_buffer("sign_s", diag.sign())
        self.register_buffer("lower_mask", torch.tril(torch.ones(channels, channels), -1))
        self.lower = nn.Parameter(lower)
        self.upper = nn.Parameter(torch.triu(upper, 1))
        self.log_s = nn.Parameter(diag.abs().log())
        self._inverse_cache: dict[tuple[torch.dtype, torch.device], Tensor] | None = None

    def weight(self) -> Tensor:
        eye = torch.eye(self.lower.shape[0], device=self.lower.device, dtype=self.lower.dtype)
        lower = self.lower * self.lower_mask + eye
        upper = self.upper * self.lower_mask.T + torch.diag(self.sign_s * self.log_s.exp())
        return self.permutation @ lower @ upper

    def forward(self, x: Tensor, cond: FlowCondition | None = None) -> tuple[Tensor, Tensor]:
        w = self.weight().to(x.dtype)
        y = F.conv2d(x, w[:, :, None, None])
        return y, (self.log_s.sum() * _pixels(x)).to(x.dtype).expand(x.shape[0])

    def inverse_weight(self, dtype: torch.dtype) -> Tensor:
        """``W^-1`` as a ``(C, C, 1, 1)`` kernel in ``dtype`` (inverted in float64, without a host sync on CUDA).

        Inside :func:`cached_inverses` and without grad it is computed once per dtype and device.
        """
        cache = getattr(self, "_inverse_cache", None)
        key = (dtype, self.lower.device)
        if cache is not None and key in cache and not torch.is_grad_enabled():
            return cache[key]
        # inv_ex is the kernel linalg.inv runs, minus its error check (a host sync on CUDA): same values
        w_inv = torch.linalg.inv_ex(self.weight().double()).inverse.to(dtype)[:, :, None, None]
        if cache is not None and not torch.is_grad_enabled():
            cache[key] = w_inv
        return w_inv

    def inverse(self, y: Tensor, cond: FlowCondition | None = None) -> Tensor:
        return F.conv2d(y, self.inverse_weight(y.dtype))


@contextlib.contextmanager
def cached_inverses(module: nn.Module) -> Iterator[None]:
    """Within the block, every :class:`InvConv1x1` in ``module`` inverts its weight once (per dtype and device)
    instead of at each application, while grad is disabled: sampling decodes the same layers once per chunk
    of images or tile. The parameters must not change inside the block. Nested blocks keep the outer cache.
    """
    opened = [m for m in module.modules() if isinstance(m, InvConv1x1) and getattr(m, "_inverse_cache", None) is None]
    for conv in opened:
        conv._inverse_cache = {}
    try:
        yield
    finally:
        for conv in opened:
            conv._inverse_cache = None


def _scale(raw: Tensor, floor: float = 0.0) -> Tensor:
    """Glow's bounded scale ``sigmoid(raw + 2)`` in (0, 1), near 0.88 at initialisation, lifted onto
    ``(floor, 1)`` as ``floor + (1 - floor) * sigmoid(raw + 2)``.

    ``floor = 0`` is Glow's. A positive floor caps what the inverse (sampling) direction can amplify
    at ``1 / floor`` per layer: with Glow's scale a coupling whose input is already large can output
    a scale near 0, and dividing by it feeds back through the next coupling until samples overflow
    (seen with NAFlow on clean content outside its training range, e.g. saturated regions).
    """
    scale = torch.sigmoid(raw + 2.0)
    return scale if floor == 0.0 else floor + (1.0 - floor) * scale


def _check_floor(scale_floor: float) -> float:
    if isinstance(scale_floor, bool) or not isinstance(scale_floor, (int, float)) or not 0.0 <= scale_floor < 1.0:
        raise NoiseaugInputError(f"scale_floor must be a number in [0, 1), got {scale_floor!r}")
    return float(scale_floor)


def small_cnn(in_channels: int, out_channels: int, hidden: int) -> nn.Sequential:
    """3x3 conv -> ReLU -> 1x1 conv -> ReLU -> zero-initialised 3x3 conv (the coupling network)."""
    last = nn.Conv2d(hidden, out_channels, 3, padding=1)
    nn.init.zeros_(last.weight)
    nn.init.zeros_(last.bias)  # type: ignore[arg-type]  # Conv2d's bias is a Parameter here (bias=True)
    return nn.Sequential(
        nn.Conv2d(in_channels, hidden, 3, padding=1), nn.ReLU(), nn.Conv2d(hidden, hidden, 1), nn.ReLU(), last
    )


class AffineCoupling(FlowLayer):
    """Affine coupling: the first ``channels // 2`` channels (and optional condition features)
    give a scale and shift for the rest: ``y_b = (x_b + shift) * scale`` with ``scale = sigmoid(raw + 2)``
    (Glow), or lifted onto ``(scale_floor, 1)`` (see :func:`_scale`).
    """

    def __init__(self, channels: int, hidden: int, cond_channels: int = 0, scale_floor: float = 0.0) -> None:
        super().__init__()
        self.scale_floor = _check_floor(scale_floor)
        if channels < 2:
            raise NoiseaugInputError(f"AffineCoupling needs at least 2 channels, got {channels}")
        self.split = channels // 2
        self.cond_channels = cond_channels
        self.net = small_cnn(self.split + cond_channels, 2 * (channels - self.split), hidden)

    def _scale_shift(self, xa: Tensor, cond: FlowCondition | None) -> tuple[Tensor, Tensor]:
        h = xa if not self.cond_channels else torch.cat([xa, needed(cond, "features")], 1)
        raw, shift = self.net(h).chunk(2, dim=1)
        return _scale(raw, self.scale_floor), shift

    def forward(self, x: Tensor, cond: FlowCondition | None = None) -> tuple[Tensor, Tensor]:
        xa, xb = x[:, : self.split], x[:, self.split :]
        scale, shift = self._scale_shift(xa, cond)
        return torch.cat([xa, (xb + shift) * scale], 1), scale.log().flatten(1).sum(1)

    def inverse(self, y: Tensor, cond: FlowCondition | None = None) -> Tensor:
        ya, yb = y[:, : self.split], y[:, self.split :]
        scale, shift = self._scale_shift(ya, cond)
        return torch.cat([ya, yb / scale - shift], 1)


class AffineInjector(FlowLayer):
    """Scale and shift of every channel from the condition features alone (SRFlow's affine injector):
    ``y = (x + shift(c)) * scale(c)``, the scale as in :class:`AffineCoupling` (``scale_floor`` likewise).
    """

    def __init__(self, channels: int, cond_channels: int, hidden: int, scale_floor: float = 0.0) -> None:
        super().__init__()
        self.scale_floor = _check_floor(scale_floor)
        self.net = small_cnn(cond_channels, 2 * channels, hidden)

    def _scale_shift(self, cond: FlowCondition | None) -> tuple[Tensor, Tensor]:
        raw, shift = self.net(needed(cond, "features")).chunk(2, dim=1)
        return _scale(raw, self.scale_floor), shift

    def forward(self, x: Tensor, cond: FlowCondition | None = None) -> tuple[Tensor, Tensor]:
        scale, shift = self._scale_shift(cond)
        return (x + shift) * scale, scale.log().flatten(1).sum(1)

    def inverse(self, y: Tensor, cond: FlowCondition | None = None) -> Tensor:
        scale, shift = self._scale_shift(cond)
        return y / scale - shift


def space_to_depth(x: Tensor) -> Tensor:
    """``F.pixel_unshuffle(x, 2)``: ``(B, C, H, W) -> (B, 4C, H/2, W/2)``, also for an empty batch (where
    torch 2.x returns the input's shape unchanged)."""
    b, c, h, w = x.shape
    return F.pixel_unshuffle(x, 2) if b else x.new_empty(0, 4 * c, h // 2, w // 2)


def depth_to_space(y: Tensor) -> Tensor:
    """``F.pixel_shuffle(y, 2)``, the inverse of :func:`space_to_depth`, also for an empty batch."""
    b, c, h, w = y.shape
    return F.pixel_shuffle(y, 2) if b else y.new_empty(0, c // 4, 2 * h, 2 * w)


class Squeeze(FlowLayer):
    """Space-to-depth by 2: ``(B, C, H, W) -> (B, 4C, H/2, W/2)``; volume preserving (logdet 0)."""

    def forward(self, x: Tensor, cond: FlowCondition | None = None) -> tuple[Tensor, Tensor]:
        if x.shape[-1] % 2 or x.shape[-2] % 2:
            raise NoiseaugInputError(f"Squeeze needs even height and width, got {tuple(x.shape[-2:])}")
        return space_to_depth(x), x.new_zeros(x.shape[0])

    def inverse(self, y: Tensor, cond: FlowCondition | None = None) -> Tensor:
        return depth_to_space(y)


class SignalDependent(FlowLayer):
    """Noise Flow's signal-dependent layer: ``y = x / sqrt(beta1 * clean + beta2)`` per pixel.

    ``beta1``, ``beta2`` are positive through ``exp`` and specific to the camera and the ISO level
    (one pair per combination, as a noise level function is calibrated per gain: read and shot
    noise do not scale alike with ISO). Initialised near identity: ``beta2 = 1`` and a small
    ``beta1 = 1e-4``, so the scale starts at about 1. Needs ``cond.clean`` (same shape as ``x``),
    ``cond.camera`` and ``cond.iso_index`` (each may be None when there is a single one).
    """

    def __init__(self, num_cameras: int = 1, num_isos: int = 1) -> None:
        super().__init__()
        self.log_beta1 = nn.Parameter(torch.full((num_cameras, num_isos), math.log(1e-4)))
        self.log_beta2 = nn.Parameter(torch.zeros(num_cameras, num_isos))

    def betas(self, cond: FlowCondition | None) -> tuple[Tensor, Tensor]:
        """Per-sample ``(beta1, beta2)``, ``(B,)`` each."""
        clean = needed(cond, "clean")
        batch, device = clean.shape[0], clean.device
        zeros = torch.zeros(batch, dtype=torch.long, device=device)
        camera = cond.camera if cond is not None and cond.camera is not None else zeros
        iso = cond.iso_index if cond is not None and cond.iso_index is not None else zeros
        return self.log_beta1[camera, iso].exp(), self.log_beta2[camera, iso].exp()

    def scale(self, cond: FlowCondition | None) -> Tensor:
        beta1, beta2 = self.betas(cond)
        return (beta1.view(-1, 1, 1, 1) * needed(cond, "clean").clamp(min=0) + beta2.view(-1, 1, 1, 1)).sqrt()

    def forward(self, x: Tensor, cond: FlowCondition | None = None) -> tuple[Tensor, Tensor]:
        s = self.scale(cond).to(x.dtype)
        return x / s, -s.log().expand_as(x).flatten(1).sum(1)

    def inverse(self, y: Tensor, cond: FlowCondition | None = None) -> Tensor:
        return y * self.scale(cond).to(y.dtype)


class Gain(FlowLayer):
    """Noise Flow's gain layer: ``y = x / gamma`` with ``gamma = psi[camera] * u[iso_index] * iso``.

    ``psi`` (one per camera) and ``u`` (one per ISO level) are positive through ``exp``; ``u`` is
    initialised to ``1 / iso_level`` so that ``gamma`` starts at 1. Needs ``cond.iso``,
    ``cond.iso_index`` and ``cond.camera``.
    """

    def __init__(self, iso_levels: list[float], num_cameras: int = 1) -> None:
        super().__init__()
        self.log_psi = nn.Parameter(torch.zeros(num_cameras))
        self.log_u = nn.Parameter(-torch.tensor(iso_levels, dtype=torch.float32).log())

    def gamma(self, cond: FlowCondition | None) -> Tensor:
        iso_index = needed(cond, "iso_index")
        camera = cond.camera if cond is not None and cond.camera is not None else torch.zeros_like(iso_index)
        log_gamma = self.log_psi[camera] + self.log_u[iso_index] + needed(cond, "iso").to(self.log_u.dtype).log()
        return log_gamma.exp().view(-1, 1, 1, 1)

    def forward(self, x: Tensor, cond: FlowCondition | None = None) -> tuple[Tensor, Tensor]:
        gamma = self.gamma(cond).to(x.dtype)
        return x / gamma, -gamma.log().view(-1) * math.prod(x.shape[1:])

    def inverse(self, y: Tensor, cond: FlowCondition | None = None) -> Tensor:
        return y * self.gamma(cond).to(y.dtype)


class FlowStep(FlowLayer):
    """Glow's unconditional step: ActNorm -> invertible 1x1 conv -> affine coupling."""

    def __init__(self, channels: int, hidden: int, cond_channels: int = 0, seed: int = 0) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            [ActNorm(channels), InvConv1x1(channels, seed=seed), AffineCoupling(channels, hidden, cond_channels)]
        )

    def forward(self, x: Tensor, cond: FlowCondition | None = None) -> tuple[Tensor, Tensor]:
        return run_forward(self.layers, x, cond)

    def inverse(self, y: Tensor, cond: FlowCondition | None = None) -> Tensor:
        return run_inverse(self.layers, y, cond)


def run_forward(layers: nn.ModuleList, x: Tensor, cond: FlowCondition | None) -> tuple[Tensor, Tensor]:
    """Apply layers in order (data -> latent), summing their log-determinants."""
    logdet = x.new_zeros(x.shape[0])
    for layer in layers:
        x, ld = layer(x, cond)
        logdet = logdet + ld
    return x, logdet


def run_inverse(layers: nn.ModuleList, y: Tensor, cond: FlowCondition | None) -> Tensor:
    """Apply layers' inverses in reverse order (latent -> data)."""
    for layer in reversed(layers):
        y = cast(FlowLayer, layer).inverse(y, cond)
    return y
