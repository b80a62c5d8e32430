"""Decoding a flow's latent in tiles, so that sampling a large image fits in memory.

The latent is drawn for the *whole* image first; each tile then decodes its slice of it with
``overlap`` pixels of context on every side (fewer at the image border) and keeps only its core. So
the tiles share one latent and meet without seams wherever the decoder is pixel-independent
(1x1 convolutions, ActNorm, squeezes aligned to the tile grid, signal-dependent and gain layers):
there tiled and whole-image decoding agree to rounding. Layers with spatial context (coupling
networks, NAFlow's condition encoder) see the image only up to ``overlap`` pixels beyond the core,
so values near a core's border can differ from whole-image decoding by as much as the context
missed contributes; each model states the overlap it uses (the differences measured with them are in
docs/results.md, "Design measurements").

Memory is bounded by ``max_pixels``: the number of pixels (batch included) one decoding call may
hold. A batch that exceeds it is first decoded a few whole images at a time (exact: images are
independent); an image that alone exceeds it is decoded in the largest square cores (a multiple of
the latent's stride) whose context-padded tiles fit.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from .._validation import check_int
from ..errors import NoiseaugInputError

#: Pixels (batch x height x width) one flow decoding call may hold before it is tiled: 4 Mpx,
#: e.g. 16 images of 512 x 512, or one 2048 x 2048 image.
DEFAULT_MAX_PIXELS = 2**22

#: ``(z, clean, rows) -> noise``: the latent-to-noise map on an aligned crop of images ``rows`` of the batch.
Decode = Callable[[Tensor, Tensor, slice], Tensor]


def tile_side(height: int, width: int, *, max_pixels: int, overlap: int, stride: int) -> int | None:
    """The square core side (a multiple of ``stride``) for decoding one ``height x width`` image in
    tiles, or None when it fits in ``max_pixels``. At least ``stride``, even where that overshoots."""
    if height * width <= max_pixels:
        return None
    return max(stride, (math.isqrt(max_pixels) - 2 * overlap) // stride * stride)


def decode_in_tiles(
    decode: Decode, z: Tensor, clean: Tensor, *, tile: int, overlap: int, rows: slice = slice(None)
) -> Tensor:
    """``decode(z, clean) -> noise`` computed tile by tile (module docs).

    Args:
        decode: see :data:`Decode`; called with ``rows``, the batch rows ``z`` and ``clean`` are.
        z: ``(B, Cz, H / s, W / s)`` latent for the whole image, ``s`` the latent's stride.
        clean: ``(B, C, H, W)`` clean image (the condition).
        tile: core side in pixels; overlap: context on each side in pixels; both multiples of ``s``.
    """
    height, width = clean.shape[-2:]
    stride = height // z.shape[-2]
    if stride * z.shape[-2] != height or stride * z.shape[-1] != width:
        raise NoiseaugInputError(
            f"the latent {tuple(z.shape)} is not the image {tuple(clean.shape)} at one integer stride"
        )
    if tile % stride or overlap % stride:
        raise NoiseaugInputError(f"tile {tile} and overlap {overlap} must be multiples of the latent's stride {stride}")
    out: Tensor | None = None
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            ys = slice(max(top - overlap, 0), min(top + tile + overlap, height))
            xs = slice(max(left - overlap, 0), min(left + tile + overlap, width))
            latent = z[..., ys.start // stride : ys.stop // stride, xs.start // stride : xs.stop // stride]
            noise = decode(latent, clean[..., ys, xs], rows)
            if out is None:
                out = noise.new_empty(noise.shape[:2] + (height, width))
            core_ys, core_xs = slice(top, min(top + tile, height)), slice(left, min(left + tile, width))
            out[..., core_ys, core_xs] = noise[
                ...,
                core_ys.start - ys.start : core_ys.stop - ys.start,
                core_xs.start - xs.start : core_xs.stop - xs.start,
            ]
    assert out is not None
    return out


def decode_within_budget(decode: Decode, z: Tensor, clean: Tensor, *, max_pixels: int, overlap: int) -> Tensor:
    """``decode(z, clean)`` within ``max_pixels`` per call: the whole batch at once if it fits, else a
    few whole images at a time, else image by image in tiles (module docs)."""
    check_int(max_pixels, "max_pixels")
    batch, _, height, width = clean.shape
    if batch * height * width <= max_pixels:
        return decode(z, clean, slice(None))
    side = tile_side(height, width, max_pixels=max_pixels, overlap=overlap, stride=height // z.shape[-2])
    chunk = 1 if side is not None else max_pixels // (height * width)
    parts = []
    for start in range(0, batch, chunk):
        rows = slice(start, min(start + chunk, batch))
        parts.append(
            decode(z[rows], clean[rows], rows)
            if side is None
            else decode_in_tiles(decode, z[rows], clean[rows], tile=side, overlap=overlap, rows=rows)
        )
    return torch.cat(parts)


__all__ = ["DEFAULT_MAX_PIXELS", "decode_in_tiles", "decode_within_budget", "tile_side"]
