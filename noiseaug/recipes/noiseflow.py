"""The recipe that trains Noise Flow on the simulated camera (``noiseaug train noiseflow``).

Data: clean sRGB images split by image (scene) with :func:`~noiseaug.data.splits.split_scenes`
(20 % held out), unprocessed to raw and noised by :class:`~noiseaug.data.camera.SimulatedCamera`
(all five cameras, all ISOs; :func:`~noiseaug.data.shots.simcam_split`). Training batches are drawn
fresh each step; the validation set is a fixed, balanced set of patches from the held-out images, scored
by :func:`~noiseaug.objectives.supervised.evaluate_noise_model` (``val_nll`` selects ``best.pt``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from ..data.camera import SimulatedCamera
from ..flows.noise_flow import NoiseFlow
from ..objectives.supervised import SupervisedNLL, validation
from .common import SIMCAM_IMAGES, parameter_groups, simcam_recipe_split
from .driver import RecipeConfig, RunContext, Stage


@dataclass(kw_only=True)
class NoiseFlowConfig(RecipeConfig):
    """``noiseaug train noiseflow``: supervised Noise Flow on the simulated camera (raw-RGB)."""

    recipe: ClassVar[str] = "noiseflow"
    outputs: ClassVar[str] = "model/"

    images: str | None = field(default=None, metadata={"help": SIMCAM_IMAGES})
    steps: int = field(default=20_000, metadata={"help": "training steps"})
    batch: int = field(default=32, metadata={"help": "patches per step"})
    patch: int = field(default=32, metadata={"help": "packed raw patch side (the sRGB crop is twice that)"})
    lr: float = field(
        default=1e-3,
        metadata={
            "help": "Adam learning rate (x0.1 at 75 % of the steps; the signal-dependent and gain layers take 10x)"
        },
    )
    val_batches: int = field(default=16, metadata={"help": "fixed held-out validation batches"})
    val_every: int = field(default=1000, metadata={"help": "validate and checkpoint every N steps"})
    variant: Literal["full", "nlf"] = field(
        default="full", metadata={"help": "noise model: Noise Flow or its NLF-only variant"}
    )
    pixel_independent: bool = field(
        default=False,
        metadata={"help": "simulate without row/fixed-pattern noise, clipping and quantization (exact NLL known)"},
    )


def build(config: NoiseFlowConfig, ctx: RunContext) -> Iterator[Stage]:
    """One stage: :class:`~noiseaug.objectives.supervised.SupervisedNLL` of a new Noise Flow; exports ``model/``."""
    camera = SimulatedCamera.pixel_independent() if config.pixel_independent else SimulatedCamera()
    split = simcam_recipe_split(config.images, camera, config.patch, config.batch, ctx)
    with ctx.init():
        model = NoiseFlow(list(camera.cameras), [float(i) for i in camera.isos], variant=config.variant)
    val_draws = [split.test.batch(k) for k in range(config.val_batches)]
    yield Stage(
        SupervisedNLL(model),
        split.train,
        validation(model, val_draws, ctx.shared_seed("validation-sampling")),
        config.steps,
        config.lr,
        config.val_every,
        {"model": model},
        parameters=parameter_groups(model, config.lr),
    )
