"""The flow-prior recipe (``noiseaug train flow-prior``): a Glow prior on clean crops (``OUT/prior``), then a
denoiser on noisy crops alone against it (``OUT/denoise``); the objectives and their units are in
:mod:`noiseaug.objectives.flow_prior`.

Validation (both stages select ``best.pt`` on it): fixed held-out crops; for the prior, bits/dim with fixed
dequantisation noise (``val_bpd``); for the denoiser, noisy with sigma cycled through 15, 25, 50 /255, scored by
PSNR (``val_psnr``, per level ``val_psnr_s15`` ...), plus the prior's NLL per dimension of the outputs
(``val_prior_nll``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import torch
from torch import Tensor, nn

from ..data.batches import CropBatches, clean_split
from ..data.root import data_folder
from ..errors import NoiseaugInputError
from ..flows.glow import Glow
from ..noise import GaussianNoise
from ..objectives.flow_prior import FLOW_PRIOR_LAMBDA, FlowPriorDenoising, GlowNLL, tiled_log_prob_per_dim
from ..transforms import GaussianNoiseTransform
from .common import build_denoiser, mean_psnr, resolve_device
from .driver import RecipeConfig, RunContext, Stage

#: Noise levels (0-255 scale) the validation crops cycle through.
VALIDATION_SIGMAS = (15.0, 25.0, 50.0)
#: The stages' folders under ``OUT``.
PRIOR_FOLDER, DENOISER_FOLDER = "prior", "denoise"


@dataclass(kw_only=True)
class FlowPriorConfig(RecipeConfig):
    """``noiseaug train flow-prior``: a Glow prior on clean crops (``OUT/prior``), then a denoiser on noisy crops
    alone against it (``OUT/denoise``)."""

    recipe: ClassVar[str] = "flow-prior"
    outputs: ClassVar[str] = "prior/ (checkpoints, model/) and denoise/ (checkpoints, denoiser/)"

    stage: Literal["both", "prior", "denoiser"] = field(
        default="both", metadata={"help": "train the prior, the denoiser, or both in turn"}
    )
    images: str | None = field(
        default=None,
        metadata={
            "help": "clean images (default: $NOISEAUG_DATA/clean/bsd300-test, split 80/20 by image for both stages)"
        },
    )
    prior: str | None = field(
        default=None,
        metadata={"help": "prior for --stage denoiser: folder, released name or Hub id (default: OUT/prior/model)"},
    )
    prior_steps: int = field(default=20_000, metadata={"help": "prior training steps"})
    prior_batch: int = field(default=32, metadata={"help": "prior crops per step"})
    prior_patch: int = field(
        default=32, metadata={"help": "prior crop side, also its image_size (a multiple of 2^levels)"}
    )
    prior_lr: float = field(
        default=5e-4,
        metadata={"help": "prior Adam learning rate (x0.1 at 75 % of the steps; gradient norm clipped at 50)"},
    )
    prior_val_crops: int = field(default=256, metadata={"help": "prior validation crops (val_bpd selects best.pt)"})
    levels: int = field(default=3, metadata={"help": "Glow scale levels L"})
    flow_depth: int = field(default=8, metadata={"help": "Glow steps K per level"})
    hidden: int = field(default=128, metadata={"help": "Glow coupling width"})
    steps: int = field(default=10_000, metadata={"help": "denoiser steps"})
    batch: int = field(default=16, metadata={"help": "denoiser crops per step"})
    patch: int = field(default=64, metadata={"help": "denoiser crop side (a multiple of --prior-patch)"})
    lr: float = field(default=3e-4, metadata={"help": "denoiser Adam learning rate (x0.1 at 75 % of the steps)"})
    lam: float = field(default=FLOW_PRIOR_LAMBDA, metadata={"help": "prior weight on log P per dimension"})
    max_sigma: float = field(default=50.0, metadata={"help": "noise std drawn in [0, MAX] / 255"})
    denoiser: Literal["unet", "dncnn"] = field(default="unet", metadata={"help": "the network (build_denoiser)"})
    width: int | None = field(default=None, metadata={"help": "channels (default: UNet 48, DnCNN 64)"})
    depth: int | None = field(default=None, metadata={"help": "UNet levels (default 4) or DnCNN depth (default 17)"})
    val_crops: int = field(default=48, metadata={"help": "denoiser validation crops (val_psnr selects best.pt)"})
    val_every: int = field(default=500, metadata={"help": "validate and checkpoint every N steps (both stages)"})
    device: str = field(default="cpu", metadata={"help": "torch device"})

    def __post_init__(self) -> None:
        super().__post_init__()
        if (
            isinstance(self.max_sigma, bool)
            or not isinstance(self.max_sigma, (int, float))
            or not 0 <= self.max_sigma <= 255
        ):
            raise NoiseaugInputError(f"max_sigma must be a number in [0, 255] (0-255 scale), got {self.max_sigma!r}")


def build(config: FlowPriorConfig, ctx: RunContext) -> Iterator[Stage]:
    """The prior stage (``stage`` both or prior; exports ``prior/model/``), then the denoiser stage (both or
    denoiser; exports ``denoise/denoiser/``), which reads the prior from ``--prior`` or ``OUT/prior/model``."""
    device = resolve_device(config.device)
    train_images, test_images = clean_split(config.images or data_folder("clean", "bsd300-test"))
    if config.stage in ("both", "prior"):
        yield prior_stage(config, ctx, train_images, test_images, device)
    if config.stage in ("both", "denoiser"):
        prior = ctx.out / PRIOR_FOLDER / "model" if config.stage == "both" or config.prior is None else config.prior
        yield denoiser_stage(config, ctx, Glow.from_pretrained(prior).to(device), train_images, test_images, device)


def prior_stage(
    config: FlowPriorConfig,
    ctx: RunContext,
    train_images: list[Tensor],
    test_images: list[Tensor],
    device: torch.device,
) -> Stage:
    """Stage (a): :class:`~noiseaug.objectives.flow_prior.GlowNLL` of a new Glow on clean crops."""
    with ctx.init("prior-init"):
        glow = Glow(
            channels=3,
            levels=config.levels,
            depth=config.flow_depth,
            hidden=config.hidden,
            image_size=config.prior_patch,
        ).to(device)
    batches = CropBatches(
        clean=train_images,
        patch=config.prior_patch,
        batch_size=config.prior_batch,
        seed=ctx.rank_seed("prior-train"),
        device=device,
    )
    val = CropBatches(
        clean=test_images,
        patch=config.prior_patch,
        batch_size=config.prior_val_crops,
        seed=ctx.shared_seed("prior-validation"),
        device=device,
    ).batch(0)
    val_clean = val.need_clean()

    def validate() -> dict[str, float]:
        return {"val_bpd": float(glow.bits_per_dim(val_clean, val.generator(val_clean.device)).mean())}

    return Stage(
        GlowNLL(glow),
        batches,
        validate,
        config.prior_steps,
        config.prior_lr,
        config.val_every,
        {"model": glow},
        best_key="val_bpd",
        grad_clip=50.0,
        folder=PRIOR_FOLDER,
    )


def validation_crops(
    images: list[Tensor], patch: int, count: int, seed: int, device: torch.device
) -> tuple[Tensor, Tensor, Tensor]:
    """Fixed held-out ``(noisy, clean, sigma)``: ``count`` clean crops, AWGN with sigma cycling through
    :data:`VALIDATION_SIGMAS` (0-255 scale), unclipped."""
    clean = CropBatches(clean=images, patch=patch, batch_size=count, seed=seed).batch(0).need_clean()
    sigma = torch.tensor(VALIDATION_SIGMAS)[torch.arange(count) % len(VALIDATION_SIGMAS)]
    noisy = GaussianNoise(sigma / 255).sample(clean, generator=torch.Generator().manual_seed(seed))
    return noisy.to(device), clean.to(device), sigma.to(device)


def denoiser_stage(
    config: FlowPriorConfig,
    ctx: RunContext,
    glow: Glow,
    train_images: list[Tensor],
    test_images: list[Tensor],
    device: torch.device,
) -> Stage:
    """Stage (b): :class:`~noiseaug.objectives.flow_prior.FlowPriorDenoising` of a new denoiser against the frozen
    ``glow``, on AWGN crops with sigma uniform in [0, max_sigma] / 255, unclipped."""
    if config.patch % glow.image_size and config.patch % glow.multiple:
        raise NoiseaugInputError(
            f"patch must be a multiple of the prior's image_size {glow.image_size} (or of "
            f"{glow.multiple}), got {config.patch}"
        )
    noise = GaussianNoiseTransform(sigma=(0.0, config.max_sigma / 255), clip=False)
    batches = CropBatches(
        clean=train_images,
        noise=noise,
        patch=config.patch,
        batch_size=config.batch,
        seed=ctx.rank_seed("train"),
        device=device,
    )
    val_noisy, val_clean, val_sigma = validation_crops(
        test_images, config.patch, config.val_crops, ctx.shared_seed("validation"), device
    )
    with ctx.init():
        net = build_denoiser(config.denoiser, width=config.width, depth=config.depth).to(device)
    noisy_psnr = mean_psnr(nn.Identity(), val_noisy, val_clean)

    def validate() -> dict[str, float]:
        denoised = net(val_noisy)
        metrics = {"val_psnr": mean_psnr(nn.Identity(), denoised, val_clean), "val_psnr_noisy": noisy_psnr}
        for level in VALIDATION_SIGMAS:
            rows = val_sigma == level
            if bool(rows.any()):
                metrics[f"val_psnr_s{level:g}"] = mean_psnr(nn.Identity(), denoised[rows], val_clean[rows])
        metrics["val_prior_nll"] = -float(tiled_log_prob_per_dim(glow, denoised).mean())
        metrics["val_neg_psnr"] = -metrics["val_psnr"]
        return metrics

    return Stage(
        FlowPriorDenoising(net, glow, config.lam),
        batches,
        validate,
        config.steps,
        config.lr,
        config.val_every,
        {"denoiser": net},
        best_key="val_neg_psnr",
        parameters=[{"params": list(net.parameters())}],
        folder=DENOISER_FOLDER,
    )
