"""Random patches of image pairs: one crop position and one flip/rot90 applied to every image."""

from __future__ import annotations

from collections.abc import Sequence, Sized
from typing import Any, cast

import torch
from torch import Tensor
from torch.utils.data import Dataset

from .._validation import check_int
from ..errors import NoiseaugInputError

#: The 8 symmetries of the square: (number of rot90, horizontal flip).
_SYMMETRIES = [(k, f) for k in range(4) for f in (False, True)]


def random_patch(
    images: Sequence[Tensor],
    size: int,
    generator: torch.Generator | None = None,
    *,
    flips: bool = True,
    rot90: bool = True,
) -> list[Tensor]:
    """Crop the same ``size x size`` window from each ``(C, H, W)`` image and apply the same symmetry.

    The images must share ``H, W``. The draws (row, column, symmetry) come from ``generator``.
    Packed raw ``(4, h, w)`` is transformed plane by plane (the CFA position order is kept).
    """
    if not images:
        raise NoiseaugInputError("images must hold at least one tensor")
    h, w = images[0].shape[-2:]
    if any(img.shape[-2:] != (h, w) for img in images):
        raise NoiseaugInputError(f"images must share their spatial size, got {[tuple(i.shape) for i in images]}")
    if not 0 < size <= min(h, w):
        raise NoiseaugInputError(f"size must be in 1..{min(h, w)} for images of size {h}x{w}, got {size}")
    top = int(torch.randint(h - size + 1, (1,), generator=generator))
    left = int(torch.randint(w - size + 1, (1,), generator=generator))
    options = [(k, f) for k, f in _SYMMETRIES if (rot90 or k == 0) and (flips or not f)]
    turns, flip = options[int(torch.randint(len(options), (1,), generator=generator))]
    out = []
    for img in images:
        patch = img[..., top : top + size, left : left + size]
        if flip:
            patch = patch.flip(-1)
        out.append(torch.rot90(patch, turns, dims=(-2, -1)).contiguous() if turns else patch.contiguous())
    return out


class RandomPatches(Dataset):
    """``per_image`` random patches of every item of ``dataset`` (dicts of tensors and metadata).

    Item ``i`` is patch ``i % per_image`` of base item ``i // per_image``; its crop and symmetry come
    from a generator seeded with ``(seed, epoch, i)``, so the patch is reproducible and independent of
    worker order. Call :meth:`set_epoch` for new patches each epoch. All tensor entries named in
    ``keys`` (default ``("noisy", "clean")``) get the same crop; other entries pass through.
    """

    def __init__(
        self,
        dataset: Dataset,
        size: int,
        per_image: int = 1,
        seed: int = 0,
        *,
        flips: bool = True,
        rot90: bool = True,
        keys: Sequence[str] = ("noisy", "clean"),
    ) -> None:
        check_int(per_image, "per_image")
        self.dataset, self.size, self.per_image, self.seed = dataset, size, per_image, seed
        self.flips, self.rot90, self.keys, self.epoch = flips, rot90, tuple(keys), 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(cast(Sized, self.dataset)) * self.per_image

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = dict(self.dataset[index // self.per_image])
        missing = [k for k in self.keys if k not in item]
        if missing:
            raise KeyError(f"dataset items lack {missing}; they have {sorted(item)}")
        g = torch.Generator().manual_seed(self.seed * 1_000_003**2 + self.epoch * 1_000_003 + index)
        patches = random_patch([item[k] for k in self.keys], self.size, g, flips=self.flips, rot90=self.rot90)
        item.update(zip(self.keys, patches, strict=True))
        return item
