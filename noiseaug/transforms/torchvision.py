"""Any noiseaug transform as a ``torchvision.transforms.v2.Transform`` (tensors, ``tv_tensors``, PIL images).

Needs the optional dependency: ``pip install noiseaug[torchvision]`` (torchvision >= 0.21, built for your torch).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from .._validation import check_probability
from ..errors import NoiseaugInputError, NoiseaugTypeError
from ._adapter import check_wrapped, missing_dependency, noise_hwc, noise_images
from .base import NoiseTransform

try:
    import PIL.Image
    from torchvision import tv_tensors
    from torchvision.transforms import v2
except Exception as error:  # noqa: BLE001 - a torchvision built for another torch fails with RuntimeError
    raise missing_dependency("torchvision", error) from error

#: PIL modes that are 8-bit images with 1 or 3 channels.
_PIL_MODES = ("L", "RGB")


def _is_plain_tensor(value: Any) -> bool:
    return isinstance(value, Tensor) and not isinstance(value, tv_tensors.TVTensor)


class TorchvisionNoise(v2.Transform):
    """Wrap a noiseaug :class:`~noiseaug.transforms.base.NoiseTransform` as a torchvision v2 transform.

    Inputs follow torchvision's rules: ``tv_tensors.Image`` / ``tv_tensors.Video``, PIL images (mode ``"L"`` or
    ``"RGB"``) and a plain tensor (the first one, when the sample holds no image) are noised; masks, boxes,
    keypoints, labels pass through. Tensors are ``(..., C, H, W)``, float in [0, 1] or uint8 (scaled to [0, 1],
    noised, rounded back); the output keeps the input's type, shape, dtype and device. Leading dimensions are
    a batch: every ``(C, H, W)`` image gets its own draws and its own ``p`` gate (torchvision's
    ``p``-transforms gate a whole call; noise is per image, as in noiseaug and kornia).

    Randomness comes from torch's global RNG, as for torchvision's own transforms: ``torch.manual_seed`` makes
    runs reproducible, and each DataLoader worker gets its own stream (PyTorch seeds every worker). With
    ``p < 1`` a flow is run on the gated images only.

    Args:
        transform: the noiseaug transform to wrap (its ``p`` must be 1).
        p: probability that each image is noised.

    Examples:
        >>> import torch
        >>> from torchvision import tv_tensors
        >>> from torchvision.transforms import v2
        >>> from noiseaug.transforms import HeteroscedasticNoiseTransform
        >>> pipeline = v2.Compose([v2.RandomHorizontalFlip(), TorchvisionNoise(HeteroscedasticNoiseTransform())])
        >>> image = tv_tensors.Image(torch.full((3, 16, 16), 0.5))
        >>> _ = torch.manual_seed(0)
        >>> noisy = pipeline(image)
        >>> type(noisy).__name__, noisy.shape, noisy.dtype, bool((noisy != image).any())
        ('Image', torch.Size([3, 16, 16]), torch.float32, True)
        >>> _ = torch.manual_seed(0)
        >>> torch.equal(pipeline(image), noisy)  # same seed, same noise
        True
    """

    _transformed_types = (_is_plain_tensor, tv_tensors.Image, tv_tensors.Video, PIL.Image.Image)

    def __init__(self, transform: NoiseTransform, p: float = 1.0) -> None:
        super().__init__()
        self.noise = check_wrapped(transform, "TorchvisionNoise")
        self.p = check_probability(p)

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if isinstance(inpt, PIL.Image.Image):
            return self._noise_pil(inpt)
        if inpt.ndim < 3:
            raise NoiseaugInputError(
                f"TorchvisionNoise: images must have shape (..., C, H, W), got {tuple(inpt.shape)}"
            )
        images = inpt.as_subclass(Tensor)
        batch = images.reshape(-1, *images.shape[-3:])
        noisy = noise_images(self.noise, batch, self._gate(batch.shape[0], batch.device), None).reshape(images.shape)
        return tv_tensors.wrap(noisy, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) else noisy

    def _gate(self, n: int, device: torch.device) -> Tensor | None:
        """Which of ``n`` images are noised (``None``: all), drawn from torch's global CPU RNG."""
        return None if self.p == 1.0 else (torch.rand(n) < self.p).to(device)

    def _noise_pil(self, image: PIL.Image.Image) -> PIL.Image.Image:
        if image.mode not in _PIL_MODES:
            raise NoiseaugTypeError(
                f"TorchvisionNoise: PIL images must have mode {' or '.join(_PIL_MODES)}, got "
                f"{image.mode!r} (convert it first, e.g. image.convert('RGB'))"
            )
        gate = self._gate(1, torch.device("cpu"))
        if gate is not None and not bool(gate[0]):
            return image
        return PIL.Image.fromarray(noise_hwc(self.noise, np.asarray(image)[None], None, None)[0])
