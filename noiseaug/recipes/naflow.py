"""Supervised NAFlow on real sRGB pairs (``noiseaug train naflow``).

Data: the training pairs of the chosen real-sRGB folders (:func:`~noiseaug.data.real_srgb.real_srgb_split`:
the held-out PolyU + CC15 scenes are never trained on); classes ("camera configurations") are
``<camera>-iso<ISO>`` from the training split only. Every step draws random crops with flips, the 8-bit
noisy crop dequantised (:class:`~noiseaug.data.real_srgb.RealCrops`). Validation (checkpoint selection): the
configuration-free NLL (:func:`~noiseaug.objectives.naflow.configuration_free_nll`, nats per dimension) on fixed
crops of the validation scenes (:func:`~noiseaug.data.real_srgb.validation_split`: 10 % of the training split's
DSLR scenes, not trained on); the test scenes are never seen.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from ..data.real_srgb import SOURCES, RealCrops, RealPairs, real_srgb_split, validation_split
from ..errors import NoiseaugInputError
from ..flows.naflow import NAFlow
from ..objectives.naflow import NAFlowNLL, configuration_free_nll
from .common import resolve_device
from .driver import RecipeConfig, RunContext, Stage


@dataclass(kw_only=True)
class NAFlowConfig(RecipeConfig):
    """``noiseaug train naflow``: supervised NAFlow on real sRGB pairs (DSLR PolyU + CC15 train split, full PolyU
    photos, SIDD phones)."""

    recipe: ClassVar[str] = "naflow"
    outputs: ClassVar[str] = "model/"

    data: str | None = field(default=None, metadata={"help": "data root holding real-srgb/ (default: $NOISEAUG_DATA)"})
    sources: str = field(
        default=",".join(SOURCES),
        metadata={
            "help": "comma-separated training folders of real-srgb/: polyu, cc15, polyu-full, sidd-train (the held-out "
            "PolyU + CC15 scenes are never trained on)"
        },
    )
    encoder: Literal["cnn", "unshuffle"] = field(
        default="cnn",
        metadata={
            "help": "clean-image condition: cnn (ours, strided 3x3 CNN) or unshuffle (the paper's: pixel-unshuffle + "
            "1x1 convs)"
        },
    )
    steps: int = field(default=3000, metadata={"help": "training steps"})
    batch: int = field(default=8, metadata={"help": "crops per step"})
    patch: int = field(default=96, metadata={"help": "crop side in pixels (a multiple of 8)"})
    lr: float = field(default=5e-4, metadata={"help": "Adam learning rate (x0.1 at 75 % of the steps)"})
    hidden: int = field(default=32, metadata={"help": "coupling/injector width"})
    features: int = field(default=16, metadata={"help": "condition-encoder channels"})
    levels: int = field(default=3, metadata={"help": "flow scale levels"})
    blocks: int = field(default=2, metadata={"help": "flow steps per level"})
    val_crops: int = field(default=48, metadata={"help": "fixed validation crops"})
    val_every: int = field(default=250, metadata={"help": "validate and checkpoint every N steps"})
    device: str = field(
        default="cpu",
        metadata={"help": "torch device, e.g. cuda; crops are drawn on the CPU, so the same on every device"},
    )
    init: str | None = field(
        default=None,
        metadata={
            "help": "fine-tune: start from this NAFlow (folder or released name) instead of a new one; its "
            "architecture must match the flags, configurations it shares with the data keep their latents"
        },
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.sources, str):
            raise NoiseaugInputError(f"sources must be a comma-separated str of {list(SOURCES)}, got {self.sources!r}")


#: the state of a NAFlow that belongs to its configurations rather than to the flow
LATENT_PARAMETERS = ("means", "log_stds")


def start_from(model: NAFlow, source: NAFlow, name: str) -> list[str]:
    """Copy ``source``'s flow and condition-encoder weights into ``model`` (fine-tuning), and the latent Gaussians
    of the configurations both hold; the others keep ``model``'s initial ones. Returns those new configurations.

    ``NoiseaugInputError`` (naming ``init``) if the architectures differ.
    """
    ours, theirs = model.config, source.config
    differing = [k for k in ours if k != "configurations" and ours[k] != theirs.get(k)]
    if differing:
        found = ", ".join(f"{k}={theirs.get(k)!r} (flags: {ours[k]!r})" for k in differing)
        raise NoiseaugInputError(f"init {name!r} has another architecture: {found}; pass the matching flags")
    state = source.state_dict()
    for key in LATENT_PARAMETERS:  # the model's rows, with the shared configurations' taken from the source
        rows = getattr(model, key).detach().clone()
        for i, configuration in enumerate(model.configurations):
            if configuration in source.configurations:
                rows[i] = state[key][source.configurations.index(configuration)]
        state[key] = rows
    model.load_state_dict(state)
    return [c for c in model.configurations if c not in source.configurations]


def build(config: NAFlowConfig, ctx: RunContext) -> Iterator[Stage]:
    """One stage: :class:`~noiseaug.objectives.naflow.NAFlowNLL` of a new NAFlow (or of ``init``'s weights,
    :func:`start_from`), gradient norm clipped at 10; exports ``model/``."""
    train_pairs, val_pairs = validation_split(real_srgb_split(config.data, sources=config.sources.split(","))[0])
    train_data, val_data = RealPairs.load(train_pairs), RealPairs.load(val_pairs)
    configurations = train_data.configurations()
    with ctx.init():
        model = NAFlow(
            configurations,
            levels=config.levels,
            blocks=config.blocks,
            hidden=config.hidden,
            features=config.features,
            encoder=config.encoder,
        )
    if config.init is not None:
        start_from(model, NAFlow.from_pretrained(config.init), config.init)
    device = resolve_device(config.device)
    model.to(device)
    val = RealCrops(
        val_data,
        configurations,
        config.patch,
        config.val_crops,
        seed=ctx.shared_seed("validation"),
        dequantize=False,
        device=device,
    ).batch(0)

    def validate() -> dict[str, float]:
        return {"val_nll": float(configuration_free_nll(model, val["noisy"], val["clean"]).mean())}

    batches = RealCrops(train_data, configurations, config.patch, config.batch, ctx.rank_seed("train"), device=device)
    yield Stage(
        NAFlowNLL(model), batches, validate, config.steps, config.lr, config.val_every, {"model": model}, grad_clip=10.0
    )
