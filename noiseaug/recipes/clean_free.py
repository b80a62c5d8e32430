"""Recipes for the clean-free trainers on the simulated camera (``noiseaug train n2nflow|r2rflow|nbr2flow|n2n``).

Training sees only noisy raw shots (two per scene for ``n2nflow`` and ``n2n``, one for ``r2rflow``
and ``nbr2flow``); the clean images of the held-out split are used for validation only: the noise
model's NLL and KL given the true clean image, and the denoiser's PSNR. With ``variant="nlf"`` the
validation also reports how far the flow's effective NLF (``gamma^2 * beta``) is from the
simulator's analytic one, per (camera, ISO).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import torch

from .._validation import check_nonnegative
from ..conditioning import NoiseCondition
from ..data.camera import CameraDraw, SimulatedCamera
from ..data.shots import HeteroscedasticShots, ShotPairs
from ..data.simulated_pairs import SimulatedRawPairs
from ..errors import NoiseaugInputError, NoiseaugTypeError
from ..flows.layers import Gain, SignalDependent
from ..flows.noise_flow import NoiseFlow
from ..metrics import psnr
from ..objectives.noise2noise_flow import N2NFLOW_LAMBDA, Noise2NoiseFlow, R2RFlow
from ..objectives.supervised import evaluate_noise_model
from .common import SIMCAM_IMAGES, build_denoiser, parameter_groups, simcam_recipe_split
from .driver import RecipeConfig, RunContext, Stage


@torch.no_grad()
def effective_nlf(flow: NoiseFlow, camera: SimulatedCamera) -> tuple[NoiseCondition, torch.Tensor, torch.Tensor]:
    """The NLF-only flow's effective ``(gamma^2 beta1, gamma^2 beta2)`` for every (camera, ISO) of
    ``camera``, camera-major, with the condition that lists them."""
    names = [c for c in camera.cameras for _ in camera.isos]
    isos = [i for _ in camera.cameras for i in camera.isos]
    cond = camera.condition(names, isos)
    fc = flow.flow_condition(torch.zeros(len(names), 4, 1, 1), cond)
    signal, gain = flow.layers[0], flow.layers[1]
    if not (isinstance(signal, SignalDependent) and isinstance(gain, Gain)):
        raise NoiseaugTypeError(
            f"flow must be an NLF-only Noise Flow (variant 'nlf'), got layers "
            f"{type(signal).__name__}, {type(gain).__name__}"
        )
    gamma2 = gain.gamma(fc).flatten().square()
    beta1, beta2 = signal.betas(fc)
    return cond, gamma2 * beta1, gamma2 * beta2


def nlf_recovery(flow: NoiseFlow, camera: SimulatedCamera) -> dict[str, float]:
    """Relative error of the NLF-only flow's effective NLF (:func:`effective_nlf`) against the
    simulator's analytic NLF, over every (camera, ISO): mean and max of ``|estimate / true - 1|``."""
    cond, est1, est2 = effective_nlf(flow, camera)
    true1, true2 = camera.nlf(cond)
    err1, err2 = (est1 / true1 - 1).abs(), (est2 / true2 - 1).abs()
    return {
        "beta1_err_mean": float(err1.mean()),
        "beta1_err_max": float(err1.max()),
        "beta2_err_mean": float(err2.mean()),
        "beta2_err_max": float(err2.max()),
    }


def denoiser_psnr(denoiser: torch.nn.Module, draws: list[CameraDraw]) -> float:
    """Mean PSNR (dB, data range 1) of ``denoiser(noisy)`` against the clean raw, capture 0; pass
    ``torch.nn.Identity()`` for the noisy input's own PSNR (the bar a denoiser has to clear)."""
    values = [psnr(denoiser(d.noisy_raw[0]).clamp(0, 1), d.clean_raw) for d in draws]
    return float(torch.cat(values).mean())


#: Clean-free denoisers: (depth, width, learning rate) defaults per architecture. DnCNN: the paper's
#: 9 layers x 64 at 1e-3; U-Net: 3 levels (the packed raw patches are 32 px) x 48, residual (predicts
#: the noise), at 3e-4 (a joint Noise2NoiseFlow + U-Net run diverged at 1e-3; see the trainers' docs).
CLEAN_FREE_DENOISERS = {"dncnn": (9, 64, 1e-3), "unet": (3, 48, 3e-4)}


#: How each method reads the simulated shots (:class:`~noiseaug.data.shots.ShotPairs` modes).
METHODS = {"n2nflow": "pairs", "n2n": "pairs", "r2rflow": "single", "nbr2flow": "neighbour"}


@dataclass(kw_only=True)
class CleanFreeConfig(RecipeConfig):
    """The options every clean-free recipe shares; the method is the subclass's ``recipe``
    (:class:`N2NFlowConfig`, :class:`N2NConfig`, :class:`R2RFlowConfig`, :class:`Nbr2FlowConfig`)."""

    outputs: ClassVar[str] = "noise_model/, denoiser/"

    images: str | None = field(default=None, metadata={"help": SIMCAM_IMAGES})
    steps: int = field(default=4000, metadata={"help": "training steps"})
    batch: int = field(default=16, metadata={"help": "patches per step"})
    patch: int = field(default=32, metadata={"help": "packed raw patch side (the sRGB crop is twice that)"})
    lr: float | None = field(
        default=None,
        metadata={
            "help": "Adam learning rate of the denoiser and the flow, x0.1 at 75 % of the steps (default: DnCNN 1e-3, "
            "U-Net 3e-4)"
        },
    )
    val_batches: int = field(default=8, metadata={"help": "fixed held-out validation batches"})
    val_every: int = field(default=500, metadata={"help": "validate and checkpoint every N steps"})
    variant: Literal["full", "nlf"] = field(
        default="full", metadata={"help": "noise model: Noise Flow or its NLF-only variant"}
    )
    lam: float = field(default=N2NFLOW_LAMBDA, metadata={"help": "weight of the denoiser loss (paper: 2^18)"})
    flow_lr: float | None = field(
        default=None,
        metadata={
            "help": "the noise model's Adam learning rate (default: --lr; its signal-dependent and gain layers take 10x)"
        },
    )
    denoiser: Literal["dncnn", "unet"] = field(
        default="dncnn",
        metadata={
            "help": "DnCNN (the paper's) or a residual U-Net; --lr then defaults to 1e-3 for DnCNN, 3e-4 for the U-Net"
        },
    )
    denoiser_depth: int | None = field(
        default=None, metadata={"help": "DnCNN layers (default 9) or U-Net levels (default 3)"}
    )
    denoiser_width: int | None = field(default=None, metadata={"help": "channels (default: DnCNN 64, U-Net 48)"})
    residual: Literal["denoised", "difference", "difference-mean"] = field(
        default="denoised",
        metadata={
            "help": "n2nflow: the flow's noise is I1 - D(I2) (the paper's) or (I1 - I2)/sqrt(2), which keeps the "
            "denoiser's error out of it, around D(I2) or around (D(I1) + D(I2))/2"
        },
    )
    alpha: float = field(
        default=2.0,
        metadata={"help": "r2rflow: recorruption strength, > 1 for the noise estimate to converge; R2R's 0.5 diverges"},
    )
    denoiser_warmup: int = field(default=500, metadata={"help": "r2rflow: steps that train the denoiser alone first"})
    noise: Literal["camera", "pixel-independent", "heteroscedastic"] = field(
        default="camera",
        metadata={
            "help": "the simulated camera, its Poisson-Gaussian core, or pure Gaussian noise with its analytic NLF"
        },
    )

    def __post_init__(self) -> None:
        super().__post_init__()  # checks denoiser and residual against their Literal choices
        if self.residual != "denoised" and self.recipe != "n2nflow":
            raise NoiseaugInputError(
                f"residual {self.residual!r} needs two shots of one scene and a noise model: "
                f"recipe 'n2nflow', got {self.recipe!r}"
            )
        if self.noise not in ("camera", "pixel-independent", "heteroscedastic"):
            raise NoiseaugInputError(
                f"noise must be 'camera', 'pixel-independent' or 'heteroscedastic', got {self.noise!r}"
            )
        if self.flow_lr is not None:
            check_nonnegative(self.flow_lr, "flow_lr", strict=True)


@dataclass(kw_only=True)
class N2NFlowConfig(CleanFreeConfig):
    """``noiseaug train n2nflow``: Noise2NoiseFlow: noise model + DnCNN from pairs of noisy shots (simulated camera)."""

    recipe: ClassVar[str] = "n2nflow"


@dataclass(kw_only=True)
class N2NConfig(CleanFreeConfig):
    """``noiseaug train n2n``: the same DnCNN with the Noise2Noise loss alone (the baseline of Noise2NoiseFlow)."""

    recipe: ClassVar[str] = "n2n"
    outputs: ClassVar[str] = "denoiser/"


@dataclass(kw_only=True)
class R2RFlowConfig(CleanFreeConfig):
    """``noiseaug train r2rflow``: R2RFlow: noise model + DnCNN from single noisy shots (recorrupted inputs)."""

    recipe: ClassVar[str] = "r2rflow"


@dataclass(kw_only=True)
class Nbr2FlowConfig(CleanFreeConfig):
    """``noiseaug train nbr2flow``: Noise2NoiseFlow on Neighbor2Neighbor sub-sampled halves of single noisy shots."""

    recipe: ClassVar[str] = "nbr2flow"


def build(config: CleanFreeConfig, ctx: RunContext) -> Iterator[Stage]:
    """One stage: the method's objective (module docs); ``best.pt`` by ``val_nll`` (``n2n``: the best ``val_psnr``);
    exports ``noise_model/`` (not for ``n2n``) and ``denoiser/``."""
    method = config.recipe
    camera = SimulatedCamera() if config.noise == "camera" else SimulatedCamera.pixel_independent()
    captures = 2 if METHODS[method] == "pairs" else 1
    split = simcam_recipe_split(config.images, camera, config.patch, config.batch, ctx, captures)
    train_source: SimulatedRawPairs | HeteroscedasticShots = split.train
    test_source: SimulatedRawPairs | HeteroscedasticShots = split.test
    if config.noise == "heteroscedastic":
        train_source = HeteroscedasticShots(train_source, camera, ctx.rank_seed("train-heteroscedastic"))
        test_source = HeteroscedasticShots(test_source, camera, ctx.shared_seed("validation-heteroscedastic"))
    default_depth, default_width, default_lr = CLEAN_FREE_DENOISERS[config.denoiser]
    with ctx.init():
        flow = NoiseFlow(list(camera.cameras), [float(i) for i in camera.isos], variant=config.variant)
        net = build_denoiser(
            config.denoiser,
            channels=4,
            width=config.denoiser_width or default_width,
            depth=config.denoiser_depth or default_depth,
            residual=True,
        )
    objective: torch.nn.Module = (
        R2RFlow(flow, net, config.lam, alpha=config.alpha, denoiser_warmup=config.denoiser_warmup)
        if method == "r2rflow"
        else Noise2NoiseFlow(flow, net, config.lam, denoiser_only=method == "n2n", residual=config.residual)
    )
    val_draws = [test_source.batch(k) for k in range(config.val_batches)]
    noisy_psnr = denoiser_psnr(torch.nn.Identity(), val_draws)
    sampling_seed = ctx.shared_seed("validation-sampling")

    def validate() -> dict[str, float]:
        metrics = {"val_psnr": denoiser_psnr(net, val_draws), "val_noisy_psnr": noisy_psnr}
        if method != "n2n":
            metrics.update(evaluate_noise_model(flow, val_draws, sampling_seed))
            if config.variant == "nlf":
                metrics.update(nlf_recovery(flow, camera))
        metrics["val_neg_psnr"] = -metrics["val_psnr"]
        return metrics

    lr = default_lr if config.lr is None else config.lr
    groups = [{"params": list(net.parameters()), "lr": lr}]
    if method != "n2n":
        groups = parameter_groups(flow, lr if config.flow_lr is None else config.flow_lr) + groups
    exports: dict[str, torch.nn.Module] = (
        {"denoiser": net} if method == "n2n" else {"noise_model": flow, "denoiser": net}
    )
    yield Stage(
        objective,
        ShotPairs(train_source, METHODS[method], seed=ctx.rank_seed("train-pairs")),
        validate,
        config.steps,
        lr,
        config.val_every,
        exports,
        best_key="val_neg_psnr" if method == "n2n" else "val_nll",
        parameters=groups,
    )
