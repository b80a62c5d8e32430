"""Augmentations from the parametric noise models, with per-sample parameters drawn from ranges."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ..conditioning import NoiseCondition
from ..noise import GaussianNoise, HeteroscedasticGaussianNoise, NoiseModel, PoissonGaussianNoise
from .base import NoiseTransform, Shape
from .noise_params import NoiseParams, ParameterSpec
from .params import ParamRange, as_range

Spec = float | tuple[float, float] | ParamRange
#: The default ranges (module constants: a ParamRange is immutable).
BETA1_DEFAULT = ParamRange(1e-4, 2e-2, log=True)
BETA2_DEFAULT = ParamRange(1e-6, 5e-3, log=True)
GAIN_DEFAULT = ParamRange(1e-4, 1.2e-2, log=True)
READ_SIGMA_DEFAULT = ParamRange(1e-4, 1.5e-2, log=True)


class ParametricNoiseTransform(NoiseTransform):
    """Draw each sample's parameters from its ranges, then sample ``model_class`` with them.

    Parameters (``params.draws``): one ``(B,)`` float32 tensor per range, in the order the ranges are given
    (e.g. ``sigma``; ``beta1``, ``beta2``; ``gain``, ``read_sigma``), on the [0, 1] intensity scale; drawn for
    every row, also with ``p < 1``.
    """

    model_class: type[NoiseModel]

    def __init__(self, p: float, clip: bool, validate: str = "sync", **ranges: ParamRange) -> None:
        super().__init__(p=p, clip=clip, validate=validate)
        self.ranges = ranges

    def draw_params(self, n: int, generator: torch.Generator | None, device: torch.device) -> dict[str, Tensor]:
        """One value per sample for every parameter: ``{name: (n,) float32 tensor}``."""
        return {name: spec.draw(n, generator, device) for name, spec in self.ranges.items()}

    def parameter_spec(self) -> ParameterSpec:
        return {name: (torch.float32, ()) for name in self.ranges}

    def describe_parameters(self, params: NoiseParams, row: int = 0) -> dict[str, Any]:
        return {"params": {name: float(value[row]) for name, value in params.draws.items()}}

    def draw_parameters(
        self, shape: Shape, cond: NoiseCondition | None, generator: torch.Generator | None, device: torch.device
    ) -> dict[str, Tensor]:
        return self.draw_params(shape[0], generator, device)

    def add_noise(self, clean: Tensor, params: NoiseParams, generator: torch.Generator | None) -> Tensor:
        return self.model_class._trusted_view(**params.draws)._sample(clean, None, generator)

    def extra_repr(self) -> str:
        return ", ".join([f"{k}={v}" for k, v in self.ranges.items()] + [super().extra_repr()])


class GaussianNoiseTransform(ParametricNoiseTransform):
    """AWGN with a per-sample ``sigma`` ([0, 1] scale), uniform in ``[0, 50/255]`` by default.

    Examples:
        >>> import torch
        >>> transform = GaussianNoiseTransform(sigma=(5 / 255, 50 / 255), p=0.5)
        >>> clean = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> noisy = transform(clean, generator=torch.Generator().manual_seed(1))
        >>> noisy.shape, bool(noisy.min() >= 0)
        (torch.Size([8, 3, 32, 32]), True)
    """

    model_class = GaussianNoise

    def __init__(
        self, sigma: Spec = (0.0, 50 / 255), p: float = 1.0, clip: bool = True, validate: str = "sync"
    ) -> None:
        super().__init__(p, clip, validate, sigma=as_range(sigma, "sigma"))


class HeteroscedasticNoiseTransform(ParametricNoiseTransform):
    """NLF noise ``var = beta1 * clean + beta2`` with per-sample ``beta1``, ``beta2`` ([0, 1] scale).

    Defaults are log-uniform ranges spanning clean DSLR to noisy smartphone sRGB noise: a standard
    deviation of roughly 1/255 to 35/255 at mid-grey.
    """

    model_class = HeteroscedasticGaussianNoise

    def __init__(
        self,
        beta1: Spec = BETA1_DEFAULT,
        beta2: Spec = BETA2_DEFAULT,
        p: float = 1.0,
        clip: bool = True,
        validate: str = "sync",
    ) -> None:
        super().__init__(p, clip, validate, beta1=as_range(beta1, "beta1"), beta2=as_range(beta2, "beta2"))


class PoissonGaussianNoiseTransform(ParametricNoiseTransform):
    """Poisson shot noise (``gain``) plus Gaussian read noise (``read_sigma``), per sample.

    Defaults are log-uniform: ``gain`` in [1e-4, 1.2e-2], the shot-noise range of Brooks et al.
    (CVPR 2019), and ``read_sigma`` in [1e-4, 1.5e-2], the read-noise standard deviations their
    shot/read relation gives at the ends of that range.
    """

    model_class = PoissonGaussianNoise

    def __init__(
        self,
        gain: Spec = GAIN_DEFAULT,
        read_sigma: Spec = READ_SIGMA_DEFAULT,
        p: float = 1.0,
        clip: bool = True,
        validate: str = "sync",
    ) -> None:
        super().__init__(
            p,
            clip,
            validate,
            gain=as_range(gain, "gain", strictly_positive=True),
            read_sigma=as_range(read_sigma, "read_sigma"),
        )
