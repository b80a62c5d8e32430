"""Any noiseaug transform as an albumentations ``ImageOnlyTransform`` (HWC numpy images, uint8 or float32).

Needs the optional dependency: ``pip install noiseaug[albumentations]`` (albumentations >= 2.0, < 2.1).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import NoiseaugInputError
from ._adapter import check_wrapped, missing_dependency, noise_hwc, seed_from_numpy, seeded_generator, transform_device
from .base import NoiseTransform

try:
    from albumentations.core.transforms_interface import BaseTransformInitSchema, ImageOnlyTransform
    from pydantic import field_validator
except Exception as error:  # noqa: BLE001 - any failure to import it means the adapter cannot work
    raise missing_dependency("albumentations", error) from error


class AlbumentationsNoise(ImageOnlyTransform):
    """Wrap a noiseaug :class:`~noiseaug.transforms.base.NoiseTransform` as an albumentations image transform.

    Images are numpy arrays ``(H, W, C)`` or ``(H, W)``, ``uint8`` (scaled to [0, 1], noised, rounded back to
    0..255) or ``float32`` in [0, 1] (returned as float32); the output has the input's shape and dtype.
    ``images`` / ``volume`` targets ``(N, H, W[, C])`` are noised as one torch batch, each image with its own draws.
    The wrapped transform runs on its own device (CPU unless it was moved) and keeps its options (ranges,
    ``clip``, ISO / camera sets); the channel count must be one it accepts (3 for sRGB, 4 for packed raw, ...).

    Randomness comes from the transform's albumentations random state: each call draws a seed from
    ``self.random_generator`` (so ``A.Compose(..., seed=...)`` makes runs reproducible and ``ReplayCompose``
    replays the exact noise) and runs the wrapped transform with a ``torch.Generator`` seeded from it. Inside a
    DataLoader worker the seed is mixed with the worker's seed, so workers (and epochs) get different noise,
    reproducible when the DataLoader is seeded (``generator=torch.Generator().manual_seed(...)``).

    Parameters are validated by ``InitSchema`` (pydantic), as albumentations does for its own transforms.

    Args:
        transform: the noiseaug transform to wrap (its ``p`` must be 1).
        p: probability that the image is noised (drawn by albumentations).

    Examples:
        >>> import numpy as np
        >>> import albumentations as A
        >>> from noiseaug.transforms import PoissonGaussianNoiseTransform
        >>> pipeline = A.Compose([A.HorizontalFlip(p=0.5), AlbumentationsNoise(PoissonGaussianNoiseTransform())],
        ...                      seed=137)
        >>> image = np.full((32, 32, 3), 128, dtype=np.uint8)
        >>> noisy = pipeline(image=image)["image"]
        >>> noisy.shape, noisy.dtype, bool((noisy != image).any())
        ((32, 32, 3), dtype('uint8'), True)
        >>> again = A.Compose([A.HorizontalFlip(p=0.5), AlbumentationsNoise(PoissonGaussianNoiseTransform())],
        ...                   seed=137)
        >>> bool((again(image=image)["image"] == noisy).all())  # same seed, same noise
        True
    """

    class InitSchema(BaseTransformInitSchema):
        transform: NoiseTransform

        @field_validator("transform")
        @classmethod
        def _p_is_one(cls, value: NoiseTransform) -> NoiseTransform:
            return check_wrapped(value, "AlbumentationsNoise")

    def __init__(self, transform: NoiseTransform, p: float = 1.0) -> None:
        super().__init__(p=p)
        self.noise = transform

    def get_params(self) -> dict[str, Any]:
        return {"seed": seed_from_numpy(self.random_generator)}

    def apply(self, img: np.ndarray, seed: int, **params: Any) -> np.ndarray:
        if not isinstance(img, np.ndarray) or img.ndim not in (2, 3):
            raise NoiseaugInputError(
                f"AlbumentationsNoise: image must be a numpy array (H, W, C) or (H, W), got {_describe(img)}"
            )
        return self._noise(img[None], seed)[0]

    def apply_to_images(self, images: np.ndarray, seed: int, **params: Any) -> np.ndarray:
        if not isinstance(images, np.ndarray) or images.ndim not in (3, 4):
            raise NoiseaugInputError(
                f"AlbumentationsNoise: images must be a numpy array (N, H, W, C) or (N, H, W), got {_describe(images)}"
            )
        return self._noise(images, seed)

    def _noise(self, images: np.ndarray, seed: int) -> np.ndarray:
        return noise_hwc(self.noise, images, None, seeded_generator(seed, transform_device(self.noise)))

    def get_transform_init_args(self) -> dict[str, Any]:
        return {"transform": self.noise}


def _describe(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"shape {value.shape}"
    return type(value).__name__
