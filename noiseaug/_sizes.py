"""Padding and cropping images to a multiple of a size (for multi-scale networks: flows, U-Nets)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def pad_to_multiple(x: Tensor, multiple: int) -> Tensor:
    """Pad ``(..., H, W)`` at the bottom and right to multiples of ``multiple``: by reflection, or by
    replication where the padding is not smaller than the image (reflection needs that). Crop back with
    ``[..., :H, :W]``."""
    h, w = x.shape[-2:]
    pad_h, pad_w = (-h) % multiple, (-w) % multiple
    if not (pad_h or pad_w):
        return x
    mode = "reflect" if pad_h < h and pad_w < w else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


def crop_to_multiple(x: Tensor, multiple: int) -> Tensor:
    """The top-left ``(..., H - H % multiple, W - W % multiple)`` part of ``x``."""
    h, w = x.shape[-2:]
    return x[..., : h - h % multiple, : w - w % multiple]
