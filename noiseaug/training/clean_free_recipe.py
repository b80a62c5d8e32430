"""Recipes for the clean-free trainers on the simulated camera (``noiseaug train n2nflow|r2rflow|nbr2flow|n2n``).

Training sees only noisy raw shots (two per scene for ``n2nflow`` and ``n2n``, one for ``r2rflow``
and ``nbr2flow``); the clean images of the held-out split are used for validation only: the noise
model's NLL and KL given the true clean image, and the denoiser's PSNR. With ``variant="nlf"`` the
validation also reports how far the flow's effective NLF (``gamma^2 * beta``) is from the
simulator's analytic one, per (camera, ISO).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from .._validation import check_nonnegative
from ..conditioning import NoiseCondition
from ..data.camera import CameraDraw, SimulatedCamera
from ..data.simulated_pairs import batch_generator
from ..errors import NoiseaugInputError
from ..flows.noise_flow import NoiseFlow
from ..hub import save_pretrained
from ..metrics import psnr
from ..noise import HeteroscedasticGaussianNoise
from .crops import build_denoiser
from .loop import init_distributed, run_trainer, seeded
from .noise2noise_flow import N2NFLOW_LAMBDA, RESIDUALS, Noise2NoiseFlow, R2RFlow, ShotPairs
from .noiseflow_recipe import parameter_groups, simcam_split
from .supervised_flow import evaluate_noise_model

METHODS = {"n2nflow": "pairs", "n2n": "pairs", "r2rflow": "single", "nbr2flow": "neighbour"}


class HeteroscedasticShots:
    """Replace a source's noisy captures by pure heteroscedastic Gaussian noise with the camera's analytic NLF."""

    def __init__(self, source, camera: SimulatedCamera) -> None:
        self.source, self.camera = source, camera
        self.seed, self.captures = source.seed, source.captures

    def batch(self, step: int) -> CameraDraw:
        draw = self.source.batch(step)
        model = HeteroscedasticGaussianNoise(*self.camera.nlf(draw.cond))
        generator = batch_generator(self.seed + 5_555_555, step)
        noisy = tuple(model.sample(draw.clean_raw, generator=generator) for _ in draw.noisy_raw)
        return replace(draw, noisy_raw=noisy)


@torch.no_grad()
def effective_nlf(flow: NoiseFlow, camera: SimulatedCamera) -> tuple[NoiseCondition, torch.Tensor, torch.Tensor]:
    """The NLF-only flow's effective ``(gamma^2 beta1, gamma^2 beta2)`` for every (camera, ISO) of
    ``camera``, camera-major, with the condition that lists them."""
    names = [c for c in camera.cameras for _ in camera.isos]
    isos = [i for _ in camera.cameras for i in camera.isos]
    cond = camera.condition(names, isos)
    fc = flow.flow_condition(torch.zeros(len(names), 4, 1, 1), cond)
    gamma2 = flow.layers[1].gamma(fc).flatten().square()
    beta1, beta2 = flow.layers[0].betas(fc)
    return cond, gamma2 * beta1, gamma2 * beta2


def nlf_recovery(flow: NoiseFlow, camera: SimulatedCamera) -> dict[str, float]:
    """Relative error of the NLF-only flow's effective NLF (:func:`effective_nlf`) against the
    simulator's analytic NLF, over every (camera, ISO): mean and max of ``|estimate / true - 1|``."""
    cond, est1, est2 = effective_nlf(flow, camera)
    true1, true2 = camera.nlf(cond)
    err1, err2 = (est1 / true1 - 1).abs(), (est2 / true2 - 1).abs()
    return {"beta1_err_mean": float(err1.mean()), "beta1_err_max": float(err1.max()),
            "beta2_err_mean": float(err2.mean()), "beta2_err_max": float(err2.max())}


def denoiser_psnr(denoiser: torch.nn.Module, draws: list[CameraDraw]) -> float:
    """Mean PSNR (dB, data range 1) of ``denoiser(noisy)`` against the clean raw, capture 0; pass
    ``torch.nn.Identity()`` for the noisy input's own PSNR (the bar a denoiser has to clear)."""
    values = [psnr(denoiser(d.noisy_raw[0]).clamp(0, 1), d.clean_raw) for d in draws]
    return float(torch.cat(values).mean())


#: Clean-free denoisers: (depth, width, learning rate) defaults per architecture. DnCNN: the paper's
#: 9 layers x 64 at 1e-3; U-Net: 3 levels (the packed raw patches are 32 px) x 48, residual (predicts
#: the noise), at 3e-4: at 1e-3 a joint Noise2NoiseFlow + U-Net run diverged at step 1,600 (the
#: denoiser's gradient norm went from about 800 to 1e10 within 30 steps; clipping it at 2,000 only
#: delayed that by 90 steps), while replaying those steps at 3e-4 stayed stable.
CLEAN_FREE_DENOISERS = {"dncnn": (9, 64, 1e-3), "unet": (3, 48, 3e-4)}


def train_clean_free(image_folder: str | Path, out_dir: str | Path, *, method: str = "n2nflow", steps: int = 4000,
                     batch_size: int = 16, patch_size: int = 32, lr: float | None = None,
                     flow_lr: float | None = None, lam: float = N2NFLOW_LAMBDA,
                     denoiser: str = "dncnn", denoiser_depth: int | None = None, denoiser_width: int | None = None,
                     residual: str = "denoised", alpha: float = 2.0, denoiser_warmup: int = 500,
                     variant: str = "full", noise: str = "camera", val_batches: int = 8, val_every: int = 500,
                     seed: int = 0, resume: bool = True, progress: bool = True) -> tuple[NoiseFlow, torch.nn.Module]:
    """Train a noise model + denoiser without clean images; writes checkpoints, ``noise_model/``, ``denoiser/``.

    ``denoiser``: ``"dncnn"`` (the paper's) or ``"unet"``; depth (U-Net: levels), width and the Adam
    learning rate ``lr`` (denoiser and flow; x0.1 at 75 % of the steps) default to
    :data:`CLEAN_FREE_DENOISERS`; ``flow_lr`` sets the noise model's own (default: ``lr``; its
    signal-dependent and gain layers take 10x, as in the supervised recipe). Validation reports
    ``val_psnr`` next to ``val_noisy_psnr``, the noisy input's own PSNR: a denoiser below it does worse
    than returning its input.

    ``residual`` (``n2nflow`` only): the flow's noise is ``I1 - D(I2)`` (``"denoised"``, the paper's) or
    ``(I1 - I2) / sqrt(2)`` around ``D(I2)`` (``"difference"``) or around ``(D(I1) + D(I2)) / 2``
    (``"difference-mean"``; see :mod:`~noiseaug.training.noise2noise_flow`).

    ``alpha`` and ``denoiser_warmup`` (``r2rflow`` only): the recorruption strength, which must exceed 1
    for the noise estimate to converge, and the steps that train the denoiser alone first (while it is
    near the identity, the flow learns ``alpha^2`` times the variance it drew, so it must not run ahead;
    see :class:`~noiseaug.training.noise2noise_flow.R2RFlow`).

    ``noise``: ``"camera"`` (the full simulated camera), ``"pixel-independent"`` (its Poisson-Gaussian
    core) or ``"heteroscedastic"`` (pure Gaussian with the camera's analytic NLF).
    Under ``torchrun`` each rank draws its own batches (seed + rank) and gradients are averaged.
    """
    if method not in METHODS:
        raise NoiseaugInputError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    if denoiser not in CLEAN_FREE_DENOISERS:
        raise NoiseaugInputError(f"denoiser must be one of {sorted(CLEAN_FREE_DENOISERS)}, got {denoiser!r}")
    if residual not in RESIDUALS:
        raise NoiseaugInputError(f"residual must be one of {RESIDUALS}, got {residual!r}")
    if residual != "denoised" and method != "n2nflow":
        raise NoiseaugInputError(f"residual {residual!r} needs two shots of one scene and a noise model: method 'n2nflow', "
                                 f"got {method!r}")
    if noise not in ("camera", "pixel-independent", "heteroscedastic"):
        raise NoiseaugInputError(f"noise must be 'camera', 'pixel-independent' or 'heteroscedastic', got {noise!r}")
    if flow_lr is not None:
        check_nonnegative(flow_lr, "flow_lr", strict=True)
    rank, _ = init_distributed()
    camera = SimulatedCamera() if noise == "camera" else SimulatedCamera.pixel_independent()
    captures = 2 if METHODS[method] == "pairs" else 1
    split = simcam_split(image_folder, camera, patch_size, batch_size, seed + 1000 * rank, captures=captures)
    train_source, test_source = split.train, split.test
    if noise == "heteroscedastic":
        train_source, test_source = HeteroscedasticShots(train_source, camera), HeteroscedasticShots(test_source, camera)
    with seeded(seed):
        flow = NoiseFlow(list(camera.cameras), [float(i) for i in camera.isos], variant=variant)
        default_depth, default_width, default_lr = CLEAN_FREE_DENOISERS[denoiser]
        net = build_denoiser(denoiser, channels=4, width=denoiser_width or default_width,
                             depth=denoiser_depth or default_depth, residual=True)
    objective = (R2RFlow(flow, net, lam, alpha=alpha, denoiser_warmup=denoiser_warmup) if method == "r2rflow"
                 else Noise2NoiseFlow(flow, net, lam, denoiser_only=method == "n2n", residual=residual))
    val_draws = [test_source.batch(k) for k in range(val_batches)]
    noisy_psnr = denoiser_psnr(torch.nn.Identity(), val_draws)

    def validate() -> dict[str, float]:
        metrics = {"val_psnr": denoiser_psnr(net, val_draws), "val_noisy_psnr": noisy_psnr}
        if method != "n2n":
            metrics.update(evaluate_noise_model(flow, val_draws, seed))
            if variant == "nlf":
                metrics.update(nlf_recovery(flow, camera))
        metrics["val_neg_psnr"] = -metrics["val_psnr"]
        return metrics

    lr = default_lr if lr is None else lr
    groups = [{"params": list(net.parameters()), "lr": lr}]
    if method != "n2n":
        groups = parameter_groups(flow, lr if flow_lr is None else flow_lr) + groups
    run_trainer(objective, ShotPairs(train_source, METHODS[method]), validate, out_dir, steps=steps, lr=lr,
                val_every=val_every, seed=seed, best_key="val_neg_psnr" if method == "n2n" else "val_nll",
                resume=resume, progress=progress, parameters=groups)
    if rank == 0:
        if method != "n2n":
            save_pretrained(flow.eval(), Path(out_dir) / "noise_model")
        save_pretrained(net.eval(), Path(out_dir) / "denoiser")
    return flow, net
