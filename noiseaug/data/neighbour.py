"""Neighbor2Neighbor's random neighbour sub-sampler (Huang et al., CVPR 2021).

The image is cut into 2x2 cells. In every cell, one position is drawn for the first sub-image and
one of its two *adjacent* positions (same row or same column, never the diagonal) for the second;
the choice is per sample and per cell, shared by all channels. Both sub-images have half the
height and width. Applied to packed raw, the cells hold same-colour neighbours.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._validation import as_batch, check_generator
from ..errors import NoiseaugInputError

#: Cell positions 0=(0,0), 1=(0,1), 2=(1,0), 3=(1,1); the two positions adjacent to each.
_ADJACENT = torch.tensor([[1, 2], [0, 3], [0, 3], [1, 2]])


def neighbour_subsample(images: Tensor, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """``(g1(y), g2(y))`` of a ``(B, C, H, W)`` batch with even H and W, each ``(B, C, H/2, W/2)``.

    Examples:
        >>> import torch
        >>> y = torch.arange(16.0).view(1, 1, 4, 4)
        >>> a, b = neighbour_subsample(y, torch.Generator().manual_seed(0))
        >>> a.shape, bool(((a - b).abs() == 1).logical_or((a - b).abs() == 4).all())
        (torch.Size([1, 1, 2, 2]), True)
    """
    x, _ = as_batch(images, "images", unit_range=False)
    check_generator(generator, x.device)
    b, c, h, w = x.shape
    if h % 2 or w % 2:
        raise NoiseaugInputError(f"images must have even height and width for 2x2 cells, got {tuple(x.shape)}")
    cells = x.view(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(b, c, h // 2, w // 2, 4)
    first = torch.randint(4, (b, 1, h // 2, w // 2, 1), generator=generator, device=x.device)
    which = torch.randint(2, (b, 1, h // 2, w // 2, 1), generator=generator, device=x.device)
    second = _ADJACENT.to(x.device)[first, which]
    gather = lambda index: cells.gather(-1, index.expand(b, c, h // 2, w // 2, 1)).squeeze(-1)  # noqa: E731
    return gather(first), gather(second)
