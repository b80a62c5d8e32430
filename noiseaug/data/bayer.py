"""Bayer mosaics: packing a ``(B, 1, H, W)`` mosaic into ``(B, 4, H/2, W/2)`` planes and back.

Convention (docs/ARCHITECTURE.md): the four packed channels are the CFA positions (0,0), (0,1),
(1,0), (1,1) of each 2x2 cell, in that order, whatever the colours are; the pattern string
(``"RGGB"``, ``"BGGR"``, ``"GRBG"``, ``"GBRG"``) names the colour at each of those positions and
travels in metadata. Raw values are normalized: ``(DN - black_level) / (white_level - black_level)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from kornia.color import CFA, raw_to_rgb
from torch import Tensor

from .._validation import as_batch, unbatch
from ..errors import NoiseaugInputError, NoiseaugTypeError

BAYER_PATTERNS: tuple[str, ...] = ("RGGB", "BGGR", "GRBG", "GBRG")

# kornia names a CFA after OpenCV, by the colours at pixels (1,1) and (1,2) of the sensor.
_KORNIA_CFA = {"RGGB": CFA.BG, "GRBG": CFA.GB, "BGGR": CFA.RG, "GBRG": CFA.GR}
_COLOUR_INDEX = {"R": 0, "G": 1, "B": 2}
_POSITIONS = ((0, 0), (0, 1), (1, 0), (1, 1))


def check_pattern(pattern: object, name: str = "pattern") -> str:
    """Return ``pattern`` upper-cased if it is one of :data:`BAYER_PATTERNS`, else raise."""
    if not isinstance(pattern, str):
        raise NoiseaugTypeError(
            f"{name} must be a Bayer pattern string, one of {', '.join(BAYER_PATTERNS)}; got {type(pattern).__name__}"
        )
    if pattern.upper() not in BAYER_PATTERNS:
        raise NoiseaugInputError(f"{name} must be one of {', '.join(BAYER_PATTERNS)}, got {pattern!r}")
    return pattern.upper()


def channel_colours(pattern: str) -> list[int]:
    """Colour index (0 R, 1 G, 2 B) of each packed channel, e.g. ``"RGGB" -> [0, 1, 1, 2]``."""
    return [_COLOUR_INDEX[c] for c in check_pattern(pattern)]


def _even_hw(x: Tensor, name: str) -> None:
    if x.shape[-1] % 2 or x.shape[-2] % 2:
        raise NoiseaugInputError(
            f"{name} must have even height and width for a 2x2 Bayer cell, got shape {tuple(x.shape)}"
        )


def pack_bayer(mosaic: Tensor, pattern: str = "RGGB") -> Tensor:
    """``(B, 1, H, W)`` mosaic -> ``(B, 4, H/2, W/2)`` packed planes (``(1, H, W)`` -> ``(4, H/2, W/2)``).

    ``pattern`` is validated and kept by the caller as metadata; the channel order is by CFA
    position, so packing itself does not depend on it.

    Examples:
        >>> m = torch.arange(16.0).view(1, 1, 4, 4)
        >>> pack_bayer(m, "RGGB")[0, :, 0, 0].tolist()
        [0.0, 1.0, 4.0, 5.0]
    """
    check_pattern(pattern)
    x, unbatched = as_batch(mosaic, "mosaic", channels=1, unit_range=False)
    _even_hw(x, "mosaic")
    b, _, h, w = x.shape
    packed = x.view(b, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3).reshape(b, 4, h // 2, w // 2)
    return unbatch(packed, unbatched)


def unpack_bayer(packed: Tensor, pattern: str = "RGGB") -> Tensor:
    """Inverse of :func:`pack_bayer`: ``(B, 4, H/2, W/2)`` -> ``(B, 1, H, W)`` mosaic."""
    check_pattern(pattern)
    x, unbatched = as_batch(packed, "packed", channels=4, unit_range=False)
    b, _, h, w = x.shape
    mosaic = x.view(b, 2, 2, h, w).permute(0, 3, 1, 4, 2).reshape(b, 1, 2 * h, 2 * w)
    return unbatch(mosaic, unbatched)


def per_sample_patterns(pattern: str | Sequence[str], batch: int, name: str = "pattern") -> list[str]:
    """One validated pattern per sample: a single string is repeated, a sequence must have ``batch`` entries."""
    if isinstance(pattern, str):
        return [check_pattern(pattern, name)] * batch
    patterns = [check_pattern(p, name) for p in pattern]
    if len(patterns) != batch:
        raise NoiseaugInputError(f"{name} must be one pattern or one per sample ({batch}), got {len(patterns)}")
    return patterns


def _by_pattern(x: Tensor, pattern: str | Sequence[str], out_channels: int, scale: float, fn) -> Tensor:
    """Apply ``fn(rows, pattern)`` to the rows of ``x`` sharing each pattern; output spatial size scaled by ``scale``."""
    patterns = per_sample_patterns(pattern, x.shape[0])
    if len(set(patterns)) == 1:
        return fn(x, patterns[0])
    h, w = int(x.shape[-2] * scale), int(x.shape[-1] * scale)
    out = x.new_empty(x.shape[0], out_channels, h, w)
    for p in sorted(set(patterns)):
        rows = torch.tensor([k for k, q in enumerate(patterns) if q == p], device=x.device)
        out[rows] = fn(x[rows], p)
    return out


def _mosaic_one(x: Tensor, pattern: str) -> Tensor:
    return torch.stack(
        [x[:, c, i::2, j::2] for c, (i, j) in zip(channel_colours(pattern), _POSITIONS, strict=True)], dim=1
    )


def mosaic_rgb(rgb: Tensor, pattern: str | Sequence[str] = "RGGB") -> Tensor:
    """Sample a full-resolution ``(B, 3, H, W)`` camera-RGB image through the CFA -> packed ``(B, 4, H/2, W/2)``.

    ``pattern``: one string, or one per sample.
    """
    x, unbatched = as_batch(rgb, "rgb", channels=3, unit_range=False)
    _even_hw(x, "rgb")
    return unbatch(_by_pattern(x, pattern, 4, 0.5, _mosaic_one), unbatched)


def packed_to_rgb_planes(packed: Tensor, pattern: str = "RGGB") -> Tensor:
    """``(B, 4, h, w)`` packed -> ``(B, 3, h, w)`` half-resolution RGB (the two greens averaged); no interpolation."""
    x, unbatched = as_batch(packed, "packed", channels=4, unit_range=False)
    colours = channel_colours(pattern)
    greens = [k for k, c in enumerate(colours) if c == 1]
    out = torch.stack(
        [x[:, colours.index(0)], 0.5 * (x[:, greens[0]] + x[:, greens[1]]), x[:, colours.index(2)]], dim=1
    )
    return unbatch(out, unbatched)


def demosaic(packed: Tensor, pattern: str | Sequence[str] = "RGGB") -> Tensor:
    """Bilinear demosaic (kornia ``raw_to_rgb``): packed ``(B, 4, h, w)`` -> ``(B, 3, 2h, 2w)`` camera RGB.

    ``pattern``: one string, or one per sample. Known samples are kept; missing ones interpolated.
    """
    x, unbatched = as_batch(packed, "packed", channels=4, unit_range=False)
    out = _by_pattern(x, pattern, 3, 2, lambda rows, p: raw_to_rgb(unpack_bayer(rows, p), _KORNIA_CFA[p]))
    return unbatch(out, unbatched)
