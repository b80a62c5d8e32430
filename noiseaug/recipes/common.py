"""What several recipes share: library denoisers by name, the PSNR they are validated with, the device under
``torchrun``, Noise Flow's Adam groups, and the simulated-camera recipes' data split."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..data.camera import SimulatedCamera
from ..data.root import data_folder
from ..data.shots import SimCamSplit, simcam_split
from ..denoisers import DnCNN, UNet
from ..errors import NoiseaugInputError
from ..flows.layers import Gain, SignalDependent
from ..flows.noise_flow import NoiseFlow
from ..metrics import psnr
from .driver import RunContext

#: The help of ``--images`` for the simulated-camera recipes (noiseflow and the clean-free family).
SIMCAM_IMAGES = "folder of clean sRGB images to simulate from (default: $NOISEAUG_DATA/clean/bsd300-test)"

#: The denoisers a trainer can build by name, with their default widths and depths.
DENOISERS = {"unet": "UNet(width=48, levels=4)", "dncnn": "DnCNN(depth=17, width=64)"}


def build_denoiser(
    name: str, channels: int = 3, width: int | None = None, depth: int | None = None, residual: bool | None = None
) -> nn.Module:
    """A library denoiser by name: ``"unet"`` (``depth`` = levels, default 4; ``width`` 48) or
    ``"dncnn"`` (``depth`` default 17; ``width`` 64). ``residual=None`` keeps each network's default
    (the U-Net predicts the clean image, DnCNN the noise). Weight initialisation uses torch's global
    RNG (wrap in :func:`~noiseaug.training.loop.seeded`, or a recipe's ``ctx.init()``)."""
    if name == "unet":
        return UNet(channels, width=width or 48, levels=depth or 4, residual=bool(residual))
    if name == "dncnn":
        return DnCNN(channels, depth=depth or 17, width=width or 64, residual=residual is not False)
    raise NoiseaugInputError(f"denoiser must be one of {sorted(DENOISERS)}, got {name!r}")


@torch.no_grad()
def mean_psnr(denoiser: nn.Module, noisy: Tensor, clean: Tensor) -> float:
    """Mean PSNR (dB, data range 1) of ``denoiser(noisy)`` clamped to [0, 1], against ``clean``."""
    return float(psnr(denoiser(noisy).clamp(0, 1), clean).mean())


def resolve_device(device: str | torch.device) -> torch.device:
    """``device`` as a ``torch.device``; a bare ``"cuda"`` under ``torchrun`` becomes ``cuda:LOCAL_RANK``."""
    device = torch.device(device)
    if device.type == "cuda" and device.index is None and "LOCAL_RANK" in os.environ:
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return device


#: Learning-rate multiplier for the signal-dependent and gain layers. Their few parameters live in log
#: space and start at the paper's near-identity values, several units (e.g. log(beta1/beta2) from
#: -9 to +5..+9 on the simulator) from where the data puts them: at the base rate Adam needs >10k
#: steps to get there, at 10x about a tenth of that.
CONDITIONAL_LR_MULTIPLIER = 10.0


def parameter_groups(model: NoiseFlow, lr: float) -> list[dict[str, Any]]:
    """Adam groups: the conditional (S, G) layers at ``CONDITIONAL_LR_MULTIPLIER * lr``, the rest at ``lr``."""
    conditional = [p for m in model.modules() if isinstance(m, (SignalDependent, Gain)) for p in m.parameters()]
    ids = {id(p) for p in conditional}
    rest = [p for p in model.parameters() if id(p) not in ids]
    return [{"params": rest, "lr": lr}, {"params": conditional, "lr": CONDITIONAL_LR_MULTIPLIER * lr}]


def simcam_recipe_split(
    images: str | Path | None, camera: SimulatedCamera, patch: int, batch: int, ctx: RunContext, captures: int = 1
) -> SimCamSplit:
    """The simulated-camera recipes' data: ``images`` (default ``clean/bsd300-test``) split by scene, the training
    stream seeded by this rank's ``"train"`` seed and the held-out stream by the shared ``"validation"`` seed."""
    return simcam_split(
        images or data_folder("clean", "bsd300-test"),
        camera,
        patch,
        batch,
        ctx.rank_seed("train"),
        ctx.shared_seed("validation"),
        captures=captures,
    )
