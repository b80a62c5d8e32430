"""The Neighbor2Neighbor recipe (``noiseaug train neighbor2neighbor``): a denoiser from single noisy images.

The objective is :class:`~noiseaug.objectives.neighbor2neighbor.Neighbor2Neighbor` (or its supervised
baseline :class:`~noiseaug.objectives.noise2clean.Noise2Clean`: ``||f(y) - x||^2`` with the clean ``x``,
the same network, batches and budget).

Data: ``real=False`` noises random crops of clean images
(``clean/bsd300-test`` by default, split 80/20 by image) per batch with a noise transform (default
AWGN sigma 25/255, *unclipped*: the paper adds unclipped noise, and clipping would bias the
zero-mean noise that the self-supervised target relies on near 0 and 1); ``real=True`` crops the
noisy images of the real-sRGB PolyU + CC15 training split (the clean means are used only by the
Noise2Clean baseline and for validation on the validation scenes of
:func:`~noiseaug.data.real_srgb.validation_split`, carved out of the training split; the test scenes are never seen).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from torch import nn

from ..data.batches import CropBatches, clean_split
from ..data.real_srgb import RealPairs, real_srgb_split, validation_split
from ..data.root import data_folder
from ..errors import NoiseaugInputError
from ..objectives.neighbor2neighbor import GAMMA_REAL, GAMMA_SYNTHETIC, Neighbor2Neighbor
from ..objectives.noise2clean import Noise2Clean
from ..transforms import GaussianNoiseTransform, NoiseTransform, ParamRange, PoissonGaussianNoiseTransform
from .common import build_denoiser, mean_psnr, resolve_device
from .driver import RecipeConfig, RunContext, Stage

OBJECTIVES = ("neighbor2neighbor", "noise2clean")


_SPEC = re.compile(r"^(gauss|poisson)(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?$")


def noise_transform(spec: str) -> NoiseTransform:
    """An unclipped synthetic noise from the paper's names.

    ``"gauss25"``: AWGN sigma 25/255; ``"gauss5-50"``: sigma uniform in [5, 50]/255 per image;
    ``"poisson30"``: ``Poisson(lambda x) / lambda`` with ``lambda = 30`` (gain ``1 / lambda``);
    ``"poisson5-50"``: gain log-uniform in [1/50, 1/5] per image (the paper draws lambda uniformly).

    Examples:
        >>> noise_transform("gauss5-50")
        GaussianNoiseTransform(sigma=U(0.01961, 0.1961), p=1.0, clip=False)
    """
    match = _SPEC.match(spec) if isinstance(spec, str) else None
    if match is None:
        raise NoiseaugInputError(
            f"noise must look like 'gauss25', 'gauss5-50', 'poisson30' or 'poisson5-50', got {spec!r}"
        )
    kind, low, high = match.group(1), float(match.group(2)), float(match.group(3) or match.group(2))
    valid = 0 < low <= high if kind == "poisson" else 0 <= low <= high
    if not valid:
        raise NoiseaugInputError(f"noise {spec!r}: the range must be increasing (and positive for poisson)")
    if kind == "gauss":
        return GaussianNoiseTransform(sigma=(low / 255, high / 255), clip=False)
    return PoissonGaussianNoiseTransform(gain=ParamRange(1 / high, 1 / low, log=True), read_sigma=0.0, clip=False)


@dataclass(kw_only=True)
class Neighbor2NeighborConfig(RecipeConfig):
    """``noiseaug train neighbor2neighbor``: a Neighbor2Neighbor denoiser from single noisy images (or its
    Noise2Clean baseline), synthetic or real sRGB noise."""

    recipe: ClassVar[str] = "neighbor2neighbor"
    outputs: ClassVar[str] = "denoiser/"

    images: str | None = field(
        default=None,
        metadata={"help": "clean images to noise (default: $NOISEAUG_DATA/clean/bsd300-test, split 80/20)"},
    )
    real: bool = field(default=False, metadata={"help": "train on the real noisy PolyU + CC15 train split instead"})
    data: str | None = field(default=None, metadata={"help": "data root for --real (default: $NOISEAUG_DATA)"})
    objective: Literal["neighbor2neighbor", "noise2clean"] = field(
        default="neighbor2neighbor",
        metadata={
            "help": "the loss: Neighbor2Neighbor, or the supervised baseline on the same network, data and budget"
        },
    )
    noise: str = field(
        default="gauss25",
        metadata={"help": "synthetic noise (noise_transform): gauss25, gauss5-50, poisson30, poisson5-50 (unclipped)"},
    )
    denoiser: Literal["unet", "dncnn"] = field(default="unet", metadata={"help": "the network (build_denoiser)"})
    width: int | None = field(default=None, metadata={"help": "channels (default: UNet 48, DnCNN 64)"})
    depth: int | None = field(default=None, metadata={"help": "UNet levels (default 4) or DnCNN depth (default 17)"})
    gamma: float | None = field(
        default=None,
        metadata={"help": "final regulariser weight, ramped from 0 (default: 2 synthetic, 1 real; the paper's)"},
    )
    steps: int = field(default=20_000, metadata={"help": "training steps"})
    batch: int = field(default=16, metadata={"help": "crops per step"})
    patch: int = field(default=64, metadata={"help": "crop side (even; sub-images are half)"})
    lr: float = field(default=3e-4, metadata={"help": "Adam learning rate (x0.1 at 75 % of the steps)"})
    val_crops: int = field(
        default=32, metadata={"help": "fixed held-out crops scored by PSNR; best.pt keeps the best val_psnr"}
    )
    val_every: int = field(default=500, metadata={"help": "validate and checkpoint every N steps"})
    device: str = field(
        default="cpu",
        metadata={"help": "torch device; crops are drawn on the CPU and synthetic noise on the device (CropBatches)"},
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.objective not in OBJECTIVES:
            raise NoiseaugInputError(f"objective must be one of {OBJECTIVES}, got {self.objective!r}")


def build(config: Neighbor2NeighborConfig, ctx: RunContext) -> Iterator[Stage]:
    """One stage: the chosen objective over crop batches (module docs); exports ``denoiser/``."""
    device = resolve_device(config.device)
    patch, train_seed, val_seed = config.patch, ctx.rank_seed("train"), ctx.shared_seed("validation")
    if not config.real:
        transform = noise_transform(config.noise).to(device)
        train_images, test_images = clean_split(config.images or data_folder("clean", "bsd300-test"))
        batches = CropBatches(
            clean=train_images, noise=transform, patch=patch, batch_size=config.batch, seed=train_seed, device=device
        )
        val = CropBatches(
            clean=test_images, noise=transform, patch=patch, batch_size=config.val_crops, seed=val_seed, device=device
        ).batch(0)
    else:
        train_pairs, val_pairs = validation_split(real_srgb_split(config.data)[0])
        train, held = RealPairs.load(train_pairs), RealPairs.load(val_pairs)
        batches = CropBatches(
            noisy=train.noisy,
            clean=train.clean if config.objective == "noise2clean" else None,
            patch=patch,
            batch_size=config.batch,
            seed=train_seed,
            device=device,
        )
        val = CropBatches(
            noisy=held.noisy, clean=held.clean, patch=patch, batch_size=config.val_crops, seed=val_seed, device=device
        ).batch(0)
    val_noisy, val_clean = val.need_noisy(), val.need_clean()
    with ctx.init():
        net = build_denoiser(config.denoiser, width=config.width, depth=config.depth).to(device)
    if config.objective == "neighbor2neighbor":
        gamma = config.gamma if config.gamma is not None else GAMMA_REAL if config.real else GAMMA_SYNTHETIC
        module: nn.Module = Neighbor2Neighbor(net, gamma, config.steps)
    else:
        module = Noise2Clean(net)
    noisy_psnr = mean_psnr(nn.Identity(), val_noisy, val_clean)

    def validate() -> dict[str, float]:
        value = mean_psnr(net, val_noisy, val_clean)
        return {"val_psnr": value, "val_psnr_noisy": noisy_psnr, "val_neg_psnr": -value}

    yield Stage(
        module, batches, validate, config.steps, config.lr, config.val_every, {"denoiser": net}, best_key="val_neg_psnr"
    )
