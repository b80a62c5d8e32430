"""Raw-RGB noise for sRGB images: unprocess to raw, add the raw noise, process back (the simulated ISP)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..conditioning import NoiseCondition
from ..data.bayer import check_pattern
from ..data.isp import process, random_isp_params, unprocess
from ..errors import NoiseaugInputError, NoiseaugTypeError
from .base import NoiseTransform


class RawRouteTransform(NoiseTransform):
    """Put a raw noise transform (e.g. :class:`~noiseaug.NoiseFlowTransform`) on sRGB images.

    Each sRGB image ``(B, 3, H, W)`` (H, W even) draws its own ISP settings (Brooks et al., CVPR
    2019: colour matrix, white balance, digital gain; :func:`~noiseaug.data.isp.random_isp_params`)
    and is unprocessed to clean packed raw; ``raw`` noises the raw batch; both raw images go through
    the same simple ISP (:func:`~noiseaug.data.isp.process`), and their difference, the *processed
    noise*, is added to the original sRGB image. Adding the difference rather than returning the
    processed noisy image keeps the clean image exactly what the caller gave (the mosaic/demosaic
    round trip is lossy), so ``(output, images)`` is a proper training pair. The noise is therefore
    the camera noise as the ISP shapes it: signal dependent, colour correlated and spatially
    correlated by demosaicking.

    Draw order: ``p`` mask, ISP settings, then whatever ``raw`` draws. ``cond`` is passed to ``raw``.

    Args:
        raw: a transform on packed raw ``(B, 4, H/2, W/2)`` (its own ``p`` should be 1).
        pattern: the CFA pattern of the simulated sensor (must match what ``raw`` was trained on).
        p, clip, validate: as for every :class:`NoiseTransform` (the ISP's checks follow ``validate``; ``raw``
            keeps its own).

    Example:
        >>> import torch
        >>> from noiseaug import PoissonGaussianNoiseTransform
        >>> transform = RawRouteTransform(PoissonGaussianNoiseTransform(gain=0.01, read_sigma=0.005))
        >>> clean = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> noisy = transform(clean, generator=torch.Generator().manual_seed(1))
        >>> noisy.shape, bool((noisy - clean).abs().mean() > 0)
        (torch.Size([2, 3, 32, 32]), True)
    """

    channels = (3,)

    nested_checks = True

    def __init__(self, raw: NoiseTransform, pattern: str = "RGGB", p: float = 1.0, clip: bool = True,
                 validate: str = "sync") -> None:
        super().__init__(p=p, clip=clip, validate=validate)
        if not isinstance(raw, NoiseTransform):
            raise NoiseaugTypeError(f"raw must be a NoiseTransform on packed raw images, got {type(raw).__name__}")
        self.raw = raw
        self.pattern = check_pattern(pattern)

    def forward(self, images: Tensor, cond: NoiseCondition | None = None,
                generator: torch.Generator | None = None) -> Tensor:
        """Return ``images`` with processed raw noise added (a new tensor; see the class docs)."""
        if isinstance(images, Tensor) and images.ndim in (3, 4) and (images.shape[-1] % 2 or images.shape[-2] % 2):
            raise NoiseaugInputError(f"images: the raw route needs even H and W (2x2 Bayer cells), got shape {tuple(images.shape)}")
        return super().forward(images, cond, generator)

    @torch.no_grad()
    def add_noise(self, clean: Tensor, cond: NoiseCondition | None, generator: torch.Generator | None) -> Tensor:
        isp = random_isp_params(clean.shape[0], self.pattern, generator, device=clean.device)
        clean_raw = unprocess(clean.float(), isp)
        noisy_raw = self.raw(clean_raw, cond, generator)
        noise = process(noisy_raw, isp) - process(clean_raw, isp)
        return clean + noise.to(clean.dtype)

    def extra_repr(self) -> str:
        return f"pattern={self.pattern!r}, {super().extra_repr()}"
