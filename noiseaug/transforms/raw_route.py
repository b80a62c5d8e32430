"""Raw-RGB noise for sRGB images: unprocess to raw, add the raw noise, process back (the simulated ISP)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..conditioning import NoiseCondition
from ..data.bayer import check_pattern, per_sample_patterns
from ..data.isp import ISPParams, process, random_isp_params, unprocess
from ..errors import NoiseaugInputError, NoiseaugTypeError
from .base import NoiseTransform, Shape
from .noise_params import NoiseParams, ParameterSpec


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

    Parameters (``params.draws``): ``rgb_to_cam``, ``(B, 3, 3)`` float32, linear sRGB -> camera RGB, and
    ``gains``, ``(B, 3)`` float32, the white-balance gains (R, G, B) with the digital gain
    (:class:`~noiseaug.data.isp.ISPParams`); ``params.inner`` holds ``raw``'s parameters for the packed raw
    batch ``(B, 4, H/2, W/2)``.

    Args:
        raw: a transform on packed raw ``(B, 4, H/2, W/2)`` (its own ``p`` should be 1).
        pattern: the CFA pattern of the simulated sensor (must match what ``raw`` was trained on).
        p: as for every :class:`NoiseTransform`.
        clip: as for every :class:`NoiseTransform`.
        validate: as for every :class:`NoiseTransform` (the ISP's checks follow it; ``raw`` keeps its own).

    Examples:
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

    def __init__(
        self, raw: NoiseTransform, pattern: str = "RGGB", p: float = 1.0, clip: bool = True, validate: str = "sync"
    ) -> None:
        super().__init__(p=p, clip=clip, validate=validate)
        if not isinstance(raw, NoiseTransform):
            raise NoiseaugTypeError(f"raw must be a NoiseTransform on packed raw images, got {type(raw).__name__}")
        self.raw = raw
        self.pattern = check_pattern(pattern)

    def forward(
        self,
        images: Tensor,
        cond: NoiseCondition | None = None,
        generator: torch.Generator | None = None,
        *,
        params: NoiseParams | None = None,
    ) -> Tensor:
        """Return ``images`` with processed raw noise added (a new tensor; see the class docs)."""
        if isinstance(images, Tensor) and images.ndim in (3, 4):
            self._check_call(images.shape, None, "images")
        return super().forward(images, cond, generator, params=params)

    def _check_call(self, shape: tuple[int, ...], cond: NoiseCondition | None, name: str) -> None:
        if shape[-1] % 2 or shape[-2] % 2:
            raise NoiseaugInputError(
                f"{name}: the raw route needs even H and W (2x2 Bayer cells), got shape {tuple(shape)}"
            )

    def parameter_spec(self) -> ParameterSpec:
        return {"rgb_to_cam": (torch.float32, (3, 3)), "gains": (torch.float32, (3,))}

    def draw_parameters(
        self, shape: Shape, cond: NoiseCondition | None, generator: torch.Generator | None, device: torch.device
    ) -> dict[str, Tensor]:
        isp = random_isp_params(shape[0], self.pattern, generator, device=device)
        return {"rgb_to_cam": isp.rgb_to_cam, "gains": isp.gains}

    def _draw_inner(
        self, shape: Shape, cond: NoiseCondition | None, generator: torch.Generator | None, device: torch.device
    ) -> NoiseParams:
        return self.raw.generate_parameters(_raw_shape(shape), cond, generator, device=device)

    def _inner_without_draws(self, shape: Shape, device: torch.device) -> NoiseParams:
        return self.raw._without_draws(_raw_shape(shape), device)

    def _describe_inner(self, inner: NoiseParams, row: int) -> dict[str, Any]:
        return self.raw.describe_parameters(inner, row)

    def _check_params(self, params: object, x: Tensor) -> NoiseParams:
        checked = super()._check_params(params, x)
        if not isinstance(checked.inner, NoiseParams):
            raise NoiseaugInputError(
                f"params.inner must hold the raw transform's NoiseParams (from "
                f"{type(self).__name__}.generate_parameters), got {type(checked.inner).__name__}"
            )
        return checked

    @torch.no_grad()
    def add_noise(self, clean: Tensor, params: NoiseParams, generator: torch.Generator | None) -> Tensor:
        isp = ISPParams(
            params.draws["rgb_to_cam"], params.draws["gains"], tuple(per_sample_patterns(self.pattern, clean.shape[0]))
        )
        clean_raw = unprocess(clean.float(), isp)
        noisy_raw = self.raw(clean_raw, generator=generator, params=params.inner)
        noise = process(noisy_raw, isp) - process(clean_raw, isp)
        return clean + noise.to(clean.dtype)

    def extra_repr(self) -> str:
        return f"pattern={self.pattern!r}, {super().extra_repr()}"


def _raw_shape(shape: Shape) -> Shape:
    """The packed raw batch ``(B, 4, H/2, W/2)`` of an sRGB batch ``(B, 3, H, W)``."""
    return shape[0], 4, shape[2] // 2, shape[3] // 2
