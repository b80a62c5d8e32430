"""Deterministic batches of simulated raw captures cut from clean sRGB images (for flow training).

Batch ``k`` depends only on ``(seed, k)``: random crops (with a random flip/rot90), a camera and ISO
per sample, the ISP draw and the noise all come from one generator seeded by ``(seed, k)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from ..conditioning import NoiseCondition
from ..errors import NoiseaugInputError
from ..imageio import image_files, read_image_uint8
from .camera import CameraDraw, SimulatedCamera


def read_image_folder(folder: str | Path) -> dict[str, Tensor]:
    """Every PNG/JPEG in ``folder`` (sorted by name) as uint8 ``(3, H, W)`` tensors (4x less memory than float)."""
    return {p.stem: read_image_uint8(p) for p in image_files(folder)}


def batch_generator(seed: int, step: int) -> torch.Generator:
    """The generator of batch ``step`` of a run seeded with ``seed`` (independent streams per step)."""
    return torch.Generator().manual_seed((seed * 1_000_003 + step) % (2**63))


class SimulatedRawPairs:
    """Batches of ``(clean_raw, noisy_raw..., cond)`` from a :class:`SimulatedCamera`.

    Args:
        images: clean sRGB images, uint8 or float ``(3, H, W)``.
        camera: the simulated camera (its configuration decides row noise, clipping, ...).
        patch_size: side of the packed raw patch (the sRGB crop is twice that).
        batch_size: patches per batch.
        seed: the run's seed.
        captures: independent noisy captures per clean patch (2 for Noise2NoiseFlow pairs).
        balanced: cycle through every (camera, ISO) combination in order instead of drawing them
            (use for evaluation sets, so that each combination is equally represented).

    Examples:
        >>> import torch
        >>> images = [torch.randint(0, 256, (3, 80, 96), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))]
        >>> source = SimulatedRawPairs(images, SimulatedCamera(), patch_size=8, batch_size=4, seed=1)
        >>> draw = source.batch(0)
        >>> tuple(draw.clean_raw.shape), torch.equal(draw.noisy_raw[0], source.batch(0).noisy_raw[0])
        ((4, 4, 8, 8), True)
    """

    def __init__(
        self,
        images: Sequence[Tensor],
        camera: SimulatedCamera,
        patch_size: int = 32,
        batch_size: int = 16,
        seed: int = 0,
        captures: int = 1,
        balanced: bool = False,
    ) -> None:
        if not images:
            raise NoiseaugInputError("images must be a non-empty sequence of (3, H, W) tensors")
        crop = 2 * patch_size
        small = [tuple(im.shape) for im in images if im.ndim != 3 or im.shape[0] != 3 or min(im.shape[1:]) < crop]
        if small:
            raise NoiseaugInputError(
                f"every image must be (3, H, W) with H, W >= {crop} (2 x patch_size); got shapes {small[:3]}"
            )
        self.images, self.camera = list(images), camera
        self.patch_size, self.batch_size, self.seed = patch_size, batch_size, seed
        self.captures, self.balanced = captures, balanced

    def _crops(self, generator: torch.Generator) -> Tensor:
        crop = 2 * self.patch_size
        out = []
        picks = torch.randint(len(self.images), (self.batch_size,), generator=generator).tolist()
        for index in picks:
            image = self.images[index]
            top = int(torch.randint(image.shape[1] - crop + 1, (1,), generator=generator))
            left = int(torch.randint(image.shape[2] - crop + 1, (1,), generator=generator))
            patch = image[:, top : top + crop, left : left + crop]
            k, flip = (int(v) for v in torch.randint(4, (2,), generator=generator))
            patch = torch.rot90(patch, k, dims=(1, 2))
            out.append(patch.flip(2) if flip % 2 else patch)
        batch = torch.stack(out)
        return batch.float() / 255.0 if batch.dtype == torch.uint8 else batch.float()

    def _condition(self, step: int) -> NoiseCondition | None:
        if not self.balanced:
            return None
        cams, isos = len(self.camera.cameras), len(self.camera.isos)
        combo = (step * self.batch_size + torch.arange(self.batch_size)) % (cams * isos)
        return NoiseCondition(
            iso=torch.tensor(self.camera.isos, dtype=torch.float32)[combo % isos], camera=combo // isos
        )

    def batch(self, step: int) -> CameraDraw:
        """Batch ``step`` (the same for the same seed, on every call)."""
        generator = batch_generator(self.seed, step)
        srgb = self._crops(generator)
        with torch.no_grad():
            return self.camera.capture(srgb, self._condition(step), generator, captures=self.captures)
