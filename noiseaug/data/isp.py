"""Unprocessing sRGB to raw and the matching simple ISP back to sRGB (Brooks et al., CVPR 2019).

``unprocess`` inverts, in order: the smoothstep tone curve, the 2.2 gamma, a colour-correction
matrix (sRGB -> camera RGB, a random convex combination of camera XYZ->cam matrices with rows
normalized to sum to 1), white balance and digital gain (red/blue/brightness gains, with the
highlight-preserving blend for bright pixels), and finally samples the CFA (mosaic). ``process`` is
the forward ISP: white balance, clip, bilinear demosaic (kornia), CCM, clip, gamma, tone curve.

Values: sRGB in [0, 1]; raw is linear, normalized (0 = black level, 1 = white level), packed
``(B, 4, H/2, W/2)`` by CFA position. Exactness: with ``highlight_preserving=False`` and
``clip=False``, ``process_rgb(unprocess_rgb(x))`` returns ``x`` to float precision (the
unmosaicked round trip); mosaic + bilinear demosaic is lossy, so the full round trip is only close
(measured as a PSNR in the tests and docs/DATA.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from .._validation import as_batch, unbatch
from ..errors import NoiseaugInputError, NoiseaugTypeError
from .bayer import channel_colours, demosaic, mosaic_rgb, per_sample_patterns

#: Linear sRGB (D65) -> CIE XYZ (IEC 61966-2-1).
RGB_TO_XYZ = ((0.4124564, 0.3575761, 0.1804375), (0.2126729, 0.7151522, 0.0721750), (0.0193339, 0.1191920, 0.9503041))

#: XYZ -> camera matrices of four cameras, mixed at random as in Brooks et al. (2019); see docs/DATA.md.
XYZ_TO_CAM = (
    ((1.0234, -0.2969, -0.2266), (-0.5625, 1.6328, -0.0469), (-0.0703, 0.2188, 0.6406)),
    ((0.4913, -0.0541, -0.0202), (-0.6130, 1.3513, 0.2906), (-0.1564, 0.2151, 0.7183)),
    ((0.8380, -0.2630, -0.0639), (-0.2887, 1.0725, 0.2496), (-0.0627, 0.1427, 0.5438)),
    ((0.6596, -0.2079, -0.0562), (-0.4782, 1.3016, 0.1933), (-0.0970, 0.1581, 0.5181)),
)

GAMMA = 2.2
#: Linear-intensity threshold above which the inverse white balance blends towards 1 (highlights).
HIGHLIGHT_THRESHOLD = 0.9
#: Smallest linear value raised to 1/GAMMA (keeps the gradient finite at 0).
GAMMA_FLOOR = 1e-8


@dataclass(frozen=True)
class ISPParams:
    """Per-sample ISP settings.

    Attributes:
        rgb_to_cam: ``(B, 3, 3)`` linear sRGB -> camera RGB, rows summing to 1.
        gains: ``(B, 3)`` forward white-balance gains (R, G, B), digital gain included.
        patterns: the CFA pattern of each sample.
    """

    rgb_to_cam: Tensor
    gains: Tensor
    patterns: tuple[str, ...]

    def __len__(self) -> int:
        return self.gains.shape[0]

    @property
    def cam_to_rgb(self) -> Tensor:
        # inv_ex without its error check: no host sync on CUDA (the matrices are well conditioned by construction)
        return torch.linalg.inv_ex(self.rgb_to_cam.double()).inverse.to(self.rgb_to_cam.dtype)

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> ISPParams:
        return ISPParams(self.rgb_to_cam.to(device, dtype), self.gains.to(device, dtype), self.patterns)

    def index(self, rows: Sequence[int]) -> ISPParams:
        idx = torch.as_tensor(list(rows), device=self.gains.device)
        return ISPParams(self.rgb_to_cam[idx], self.gains[idx], tuple(self.patterns[i] for i in rows))


def _constant(values: object, dtype: torch.dtype, device: torch.device) -> Tensor:
    """A small constant table on ``device``, copied without blocking (no host sync on CUDA)."""
    return torch.tensor(values, dtype=dtype).to(device, non_blocking=True)


def rgb_to_cam_matrix(xyz_to_cam: Tensor) -> Tensor:
    """``(..., 3, 3)`` XYZ->cam -> sRGB->cam, rows normalized to sum to 1 (white maps to white)."""
    m = xyz_to_cam @ _constant(RGB_TO_XYZ, xyz_to_cam.dtype, xyz_to_cam.device)
    return m / m.sum(dim=-1, keepdim=True)


def random_isp_params(
    batch: int,
    patterns: str | Sequence[str] = "RGGB",
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
) -> ISPParams:
    """Draw ISP settings as Brooks et al. (2019) do.

    CCM: a random convex combination (uniform weights, normalized) of :data:`XYZ_TO_CAM`. Gains:
    red ~ U(1.9, 2.4), blue ~ U(1.5, 1.9), digital gain ``1 / N(0.8, 0.1)`` with the normal draw
    clamped to [0.5, 1.1] (a guard against non-positive or extreme gains that is ours).
    Drawn on ``generator``'s device (CPU if None), then moved to ``device``.
    """
    gen_device = generator.device if generator is not None else torch.device("cpu")
    weights = torch.rand(batch, len(XYZ_TO_CAM), generator=generator, device=gen_device, dtype=torch.float64)
    weights = weights / weights.sum(1, keepdim=True)
    xyz_to_cam = torch.einsum("bk,kij->bij", weights, _constant(XYZ_TO_CAM, torch.float64, gen_device))
    u = torch.rand(batch, 2, generator=generator, device=gen_device, dtype=torch.float64)
    red, blue = 1.9 + 0.5 * u[:, 0], 1.5 + 0.4 * u[:, 1]
    brightness = (0.8 + 0.1 * torch.randn(batch, generator=generator, device=gen_device, dtype=torch.float64)).clamp(
        0.5, 1.1
    )
    gains = torch.stack([red, torch.ones_like(red), blue], 1) / brightness[:, None]
    return ISPParams(
        rgb_to_cam_matrix(xyz_to_cam).float().to(device),
        gains.float().to(device),
        tuple(per_sample_patterns(patterns, batch)),
    )


def tone_curve(x: Tensor) -> Tensor:
    """Smoothstep ``3x^2 - 2x^3`` on [0, 1]."""
    x = x.clamp(0.0, 1.0)
    return 3 * x.square() - 2 * x.pow(3)


def inverse_tone_curve(y: Tensor) -> Tensor:
    """Inverse of :func:`tone_curve`: ``0.5 - sin(asin(1 - 2y) / 3)``."""
    y = y.clamp(0.0, 1.0)
    return 0.5 - torch.sin(torch.asin(1.0 - 2.0 * y) / 3.0)


def _apply_matrix(x: Tensor, m: Tensor) -> Tensor:
    return torch.einsum("bij,bjhw->bihw", m.to(x.dtype), x)


def _check_params(params: ISPParams, batch: int) -> None:
    if not isinstance(params, ISPParams):
        raise NoiseaugTypeError(f"params must be ISPParams (see random_isp_params), got {type(params).__name__}")
    if len(params) != batch:
        raise NoiseaugInputError(f"params hold {len(params)} samples but the batch has {batch} images")


def unprocess_rgb(srgb: Tensor, params: ISPParams, *, highlight_preserving: bool = True, clip: bool = True) -> Tensor:
    """sRGB ``(B, 3, H, W)`` in [0, 1] -> linear camera RGB before white balance (full resolution).

    ``highlight_preserving``: for pixels whose mean linear intensity ``m`` exceeds 0.9, the inverse
    gain ``1/g`` is blended towards 1 with weight ``((m - 0.9) / 0.1)^2`` (never below ``1/g``), so
    saturated sRGB highlights stay saturated in raw. ``clip`` clamps the result to [0, 1].
    """
    x, unbatched = as_batch(srgb, "srgb", channels=3)
    _check_params(params, x.shape[0])
    linear = inverse_tone_curve(x).clamp(min=GAMMA_FLOOR).pow(GAMMA)
    cam = _apply_matrix(linear, params.rgb_to_cam.to(x.device))
    inverse_gains = params.gains.to(device=x.device, dtype=x.dtype).reciprocal()[:, :, None, None]
    if highlight_preserving:
        weight = ((cam.mean(1, keepdim=True) - HIGHLIGHT_THRESHOLD).clamp(min=0) / (1 - HIGHLIGHT_THRESHOLD)).square()
        inverse_gains = torch.maximum(weight + (1 - weight) * inverse_gains, inverse_gains)
    raw = cam * inverse_gains
    return unbatch(raw.clamp(0.0, 1.0) if clip else raw, unbatched)


def process_rgb(cam_rgb: Tensor, params: ISPParams, *, clip: bool = True) -> Tensor:
    """Linear camera RGB ``(B, 3, H, W)`` (before white balance) -> sRGB in [0, 1].

    White balance, then (if ``clip``) clamp to [0, 1], CCM (camera -> sRGB), clamp, gamma, tone curve.
    """
    x, unbatched = as_batch(cam_rgb, "cam_rgb", channels=3, unit_range=False)
    _check_params(params, x.shape[0])
    balanced = x * params.gains.to(device=x.device, dtype=x.dtype)[:, :, None, None]
    if clip:
        balanced = balanced.clamp(0.0, 1.0)
    linear = _apply_matrix(balanced, params.cam_to_rgb.to(x.device))
    if clip:
        linear = linear.clamp(0.0, 1.0)
    return unbatch(tone_curve(linear.clamp(min=GAMMA_FLOOR).pow(1.0 / GAMMA)), unbatched)


def unprocess(srgb: Tensor, params: ISPParams, *, highlight_preserving: bool = True) -> Tensor:
    """sRGB ``(B, 3, H, W)`` (H, W even) -> clean packed raw ``(B, 4, H/2, W/2)`` in [0, 1] (``params.patterns``)."""
    return mosaic_rgb(unprocess_rgb(srgb, params, highlight_preserving=highlight_preserving), params.patterns)


def process(packed: Tensor, params: ISPParams) -> Tensor:
    """Packed raw ``(B, 4, h, w)`` -> sRGB ``(B, 3, 2h, 2w)``: white balance, clip, demosaic, CCM, gamma, tone.

    White balance and clipping are applied to the mosaic (as a camera does), before demosaicking.
    """
    x, unbatched = as_batch(packed, "packed", channels=4, unit_range=False)
    _check_params(params, x.shape[0])
    colours = _constant([channel_colours(p) for p in params.patterns], torch.long, x.device)
    gains = torch.gather(params.gains.to(device=x.device, dtype=x.dtype), 1, colours)
    balanced = (x * gains[:, :, None, None]).clamp(0.0, 1.0)
    identity = ISPParams(params.rgb_to_cam, torch.ones_like(params.gains), params.patterns)
    return unbatch(process_rgb(demosaic(balanced, params.patterns), identity), unbatched)
