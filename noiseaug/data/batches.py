"""In-memory crop batches for the denoiser recipes (DnCNN, Neighbor2Neighbor, flow prior).

:class:`CropBatches` is a :class:`~noiseaug.training.loop.BatchSource`: batch ``k`` is a pure
function of ``(seed, k)``. Each batch holds ``batch_size`` random ``patch x patch`` crops (image
uniformly, position uniformly, one of the 8 flips/rotations, shared by an image and its partner;
:func:`~noiseaug.data.patches.random_patch`) in one of three modes:

* **synthetic**: ``clean`` images and a ``noise`` transform: ``noisy = noise(clean crops)``, drawn
  with the batch's generator (so noise is fresh every step and identical on a resumed run);
* **real**: ``noisy`` images, optionally with their ``clean`` partners (cropped identically);
* **clean only**: ``clean`` images without ``noise`` (``noisy`` is None): prior training.

Images are ``(C, H, W)`` uint8 (0..255, stored 4x smaller) or float in [0, 1]; batches are float32
``(B, C, patch, patch)`` in [0, 1] (synthetic noisy crops may leave it when the transform does not
clip). ``CropBatch.seed`` seeds whatever randomness the objective itself needs for that step.

Also here: :class:`SynthesizedPairs` (synthetic crops rounded to 8 bits like a camera's file) and
:func:`clean_split` (a clean folder split by image).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import Tensor

from .._validation import check_int
from ..errors import NoiseaugInputError, NoiseaugTypeError
from ..imageio import quantize_8bit
from ..transforms import NoiseTransform
from .patches import random_patch
from .simulated_pairs import batch_generator, read_image_folder
from .splits import split_scenes

#: Seeds of the generators an objective may create from ``CropBatch.seed`` are drawn below this.
_SEED_RANGE = 2**62


@dataclass
class CropBatch:
    """One training batch: ``noisy`` and/or ``clean`` ``(B, C, H, W)``, the step, and a seed for the
    objective's own randomness at that step (e.g. the neighbour sub-sampler, dequantisation)."""

    noisy: Tensor | None
    clean: Tensor | None
    step: int
    seed: int

    def need_noisy(self) -> Tensor:
        """:attr:`noisy`; :class:`~noiseaug.errors.NoiseaugInputError` for a batch without noisy images."""
        if self.noisy is None:
            raise NoiseaugInputError("this objective needs batches with noisy images (batch.noisy is None)")
        return self.noisy

    def need_clean(self) -> Tensor:
        """:attr:`clean`; :class:`~noiseaug.errors.NoiseaugInputError` for a batch without clean images."""
        if self.clean is None:
            raise NoiseaugInputError("this objective needs batches with clean images (batch.clean is None)")
        return self.clean

    def generator(self, device: torch.device) -> torch.Generator:
        """A generator on ``device`` seeded with :attr:`seed` (the same draws on every call)."""
        return torch.Generator(device=device).manual_seed(self.seed)


def _as_float(batch: Tensor) -> Tensor:
    return batch.float() / 255.0 if batch.dtype == torch.uint8 else batch.float()


class CropBatches:
    """Deterministic batches of random crops (see the module docs for the three modes).

    Args:
        clean: clean images (synthetic and clean-only modes; the partners of ``noisy`` in real mode).
        noisy: real noisy images (real mode); ``clean``, when given, must pair with them one to one.
        noise: the transform that noises clean crops (synthetic mode).
        patch: crop side in pixels (even, so that 2x2 sub-sampling and squeezes fit).
        batch_size: crops per batch.
        seed: the run's seed.
        device: where batches are put. Crops are drawn on the CPU; a synthetic batch is noised on ``device``
            (``noise`` must live there), with the CPU generator's draws on the CPU and, elsewhere, with a
            ``device`` generator seeded from it: batch ``k`` is the same on every call on one device, and a CPU
            run and a CUDA run of one seed share their crops but not their noise.

    Examples:
        >>> import torch
        >>> from noiseaug import GaussianNoiseTransform
        >>> images = [torch.randint(0, 256, (3, 40, 50), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))]
        >>> source = CropBatches(clean=images, noise=GaussianNoiseTransform(sigma=0.1, clip=False), patch=16,
        ...                      batch_size=4, seed=0)
        >>> batch = source.batch(3)
        >>> batch.noisy.shape, torch.equal(batch.noisy, source.batch(3).noisy), batch.step
        (torch.Size([4, 3, 16, 16]), True, 3)
    """

    def __init__(
        self,
        *,
        clean: Sequence[Tensor] | None = None,
        noisy: Sequence[Tensor] | None = None,
        noise: NoiseTransform | None = None,
        patch: int,
        batch_size: int,
        seed: int = 0,
        device: str | torch.device = "cpu",
    ) -> None:
        if noisy is None and not clean:
            raise NoiseaugInputError("clean must hold at least one image when no noisy images are given")
        if noisy is not None and (not noisy or noise is not None):
            raise NoiseaugInputError(
                "noisy must be a non-empty sequence of images, and noise must be None with real noisy images"
            )
        if noisy is not None and clean is not None and len(clean) != len(noisy):
            raise NoiseaugInputError(f"clean must pair with noisy one to one, got {len(clean)} and {len(noisy)} images")
        if noise is not None and not isinstance(noise, NoiseTransform):
            raise NoiseaugTypeError(f"noise must be a NoiseTransform or None, got {type(noise).__name__}")
        if check_int(patch, "patch", minimum=2) % 2:
            raise NoiseaugInputError(f"patch must be an even int >= 2, got {patch!r}")
        check_int(batch_size, "batch_size")
        self.first = list(noisy if noisy is not None else (clean or []))
        self.partner = list(clean) if noisy is not None and clean is not None else None
        small = [tuple(img.shape) for img in self.first if img.ndim != 3 or min(img.shape[-2:]) < patch]
        if small:
            raise NoiseaugInputError(
                f"every image must be (C, H, W) with H, W >= patch={patch}, got shapes {small[:3]}"
            )
        self.real, self.noise = noisy is not None, noise
        self.patch, self.batch_size, self.seed, self.device = patch, batch_size, seed, torch.device(device)

    @torch.no_grad()
    def batch(self, step: int) -> CropBatch:
        """Batch ``step`` (the same for the same seed, on every call)."""
        g = batch_generator(self.seed, step)
        picks = torch.randint(len(self.first), (self.batch_size,), generator=g).tolist()
        crops = [
            random_patch([self.first[k]] + ([self.partner[k]] if self.partner else []), self.patch, g) for k in picks
        ]
        first = _as_float(torch.stack([c[0] for c in crops])).to(self.device)
        second = _as_float(torch.stack([c[1] for c in crops])).to(self.device) if self.partner else None
        noisy: Tensor | None
        clean: Tensor | None
        if self.real:
            noisy, clean = first, second
        else:
            clean = first
            noisy = None if self.noise is None else self.noise(clean, generator=self._noise_generator(g))
        seed = int(torch.randint(_SEED_RANGE, (1,), generator=g))
        return CropBatch(noisy, clean, step, seed)

    def _noise_generator(self, g: torch.Generator) -> torch.Generator:
        """``g`` itself on the CPU; elsewhere a generator on :attr:`device` seeded with one draw of ``g``."""
        if self.device.type == "cpu":
            return g
        return torch.Generator(device=self.device).manual_seed(int(torch.randint(_SEED_RANGE, (1,), generator=g)))


def clean_split(folder: str | Path, test_fraction: float = 0.2) -> tuple[list[Tensor], list[Tensor]]:
    """Train and held-out uint8 images of a clean folder, split by image name (scene) with
    :func:`~noiseaug.data.splits.split_scenes` (deterministic)."""
    images = read_image_folder(folder)
    names = list(images)
    train, test = split_scenes(names, test_fraction)
    return [images[names[i]] for i in train], [images[names[i]] for i in test]


class SynthesizedPairs:
    """Batches (:class:`CropBatch`) of random clean crops noised by ``noise``, the noisy crop clipped and
    rounded to 8 bits: :class:`CropBatches` (synthetic mode) plus the rounding.

    Args:
        images: clean sRGB images, uint8 or float ``(3, H, W)``; each at least ``patch`` on both sides.
        noise: the noise transform (called with the batch's generator).
        patch: crop side (even, so the raw route can take it). batch_size: crops per batch.
        seed: batch ``k`` depends only on ``(seed, k)`` (and the device: see :class:`CropBatches`).
        device: where crops are noised and batches put; ``noise`` must live there.

    Examples:
        >>> import torch
        >>> from noiseaug import GaussianNoiseTransform
        >>> images = [torch.rand(3, 40, 50, generator=torch.Generator().manual_seed(0))]
        >>> pairs = SynthesizedPairs(images, GaussianNoiseTransform(sigma=0.1), patch=16, batch_size=4, seed=0)
        >>> batch = pairs.batch(0)
        >>> batch.noisy.shape, bool(torch.equal(batch.noisy, pairs.batch(0).noisy))
        (torch.Size([4, 3, 16, 16]), True)
    """

    def __init__(
        self,
        images: Sequence[Tensor],
        noise: NoiseTransform,
        patch: int,
        batch_size: int,
        seed: int,
        device: str | torch.device = "cpu",
    ) -> None:
        self.crops = CropBatches(
            clean=list(images), noise=noise, patch=patch, batch_size=batch_size, seed=seed, device=device
        )

    def batch(self, step: int) -> CropBatch:
        crops = self.crops.batch(step)
        return replace(crops, noisy=quantize_8bit(crops.need_noisy()))
