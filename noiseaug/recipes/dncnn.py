"""Reference DnCNN denoisers trained on synthesized pairs (``noiseaug train dncnn --noise ...``).

The question these answer: *which noise should I train with?* Every run has the same budget and
differs only in where the noise comes from:

* ``awgn``: :class:`~noiseaug.GaussianNoiseTransform`, sigma uniform in [0, 50]/255 per patch;
* ``nlf``: :class:`~noiseaug.HeteroscedasticNoiseTransform` with log-uniform ranges that reach phone noise
  (:data:`PHONE_NLF_RANGES`: up to about 45/255 std at mid-grey, where the transform's defaults stop near 31);
* ``pg``: :class:`~noiseaug.PoissonGaussianNoiseTransform` with its default ranges;
* ``naflow``: :class:`~noiseaug.NAFlowTransform` (released ``naflow-srgb``, DSLR and phone configurations,
  or the NAFlow that ``--flow`` names, for every ``naflow*`` source), a random camera configuration per patch;
* ``naflow-phone``: the same flow restricted to its smartphone configurations (:data:`PHONE_CONFIGURATIONS`, the
  phones and ISOs of ``real-srgb/sidd-train``), the synthetic counterpart of ``real-phone``;
* ``naflow-phone-spread``: ``naflow-phone`` with a latent temperature drawn per patch (:data:`PHONE_TEMPERATURES`),
  so that the per-crop noise strengths span the real pairs' from their 10th to their 99th percentile;
* ``naflow-phone-tone``: ``naflow-phone`` with a tone curve's second-order term (:data:`PHONE_TONE_SHIFT`,
  :func:`~noiseaug.noise.tone_curve.tone_curve_shift`), so that the noisy crops are darker than the clean ones as
  the real pairs' are; ``naflow-phone-spread-tone``: both, the spread's temperatures with the tone curve's term;
* ``naflow-phone-fitted``: the same flow following each real phone pair of ``real-srgb/sidd-train`` instead
  (:func:`naflow_phone_fitted`: one fitted latent Gaussian per pair, one pair drawn per patch), the synthetic
  counterpart of ``real-phone`` that also matches each pair's noise strength (``naflow-phone-fitted-brightness``:
  the same bank with latent stds that follow the brightness, ``signal_dependent=True``);
* ``noiseflow-isp``: :class:`~noiseaug.NoiseFlowTransform` (released ``noiseflow-simcam``) in raw,
  through the simulated ISP (:class:`~noiseaug.transforms.raw_route.RawRouteTransform`), a random
  camera and ISO per patch;
* ``real``: the real noisy/clean pairs of the PolyU + CC15 training split (the upper bound for DSLRs);
* ``real-phone``: the real SIDD smartphone pairs of ``real-srgb/sidd-train`` (the upper bound for phones).

Synthetic pairs: random ``patch x patch`` crops (with one of the 8 flips/rotations) of clean sRGB
images (``clean/bsd300-test`` by default; ``--clean sidd-train``: the clean halves of the
``real-srgb/sidd-train`` pairs, the scenes ``real-phone`` trains on, so that a synthetic source and the real
pairs differ only in the noise, as in the NAFlow paper's denoising test), noised, then clipped and rounded to
8 bits like a camera's file. Batch ``k`` is a pure function of ``(seed, k)``. Loss: mean squared error of the
denoised patch against the clean one. Validation (checkpoint selection only): the same noise
source on fixed crops of ``clean/kodak24``, or with ``--val-on-training`` of the source's own clean training
images (for the real sources always: fixed crops of the training pairs, so selection is in-sample there), or with
``--val-on-real-pairs`` (``--clean sidd-train`` only) on the real pairs' crops that ``real-phone`` validates on, so
that a synthetic source and the real pairs select their checkpoints on the same real noise; the test sets are never
seen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal, get_args

import torch.nn.functional as F
from torch import Tensor, nn

from ..data.batches import CropBatch, SynthesizedPairs
from ..data.paired import ImagePair, PairedImageFolder
from ..data.real_srgb import RealCrops, RealPairBatches, RealPairs, real_srgb_split
from ..data.root import data_folder
from ..data.simulated_pairs import read_image_folder
from ..denoisers import DnCNN
from ..errors import NoiseaugInputError
from ..imageio import read_image, read_image_uint8
from ..objectives.noise2clean import Noise2Clean
from ..transforms import (
    GaussianNoiseTransform,
    HeteroscedasticNoiseTransform,
    NAFlowTransform,
    NoiseFlowTransform,
    NoiseTransform,
    ParamRange,
    PoissonGaussianNoiseTransform,
)
from ..transforms.raw_route import RawRouteTransform
from .common import mean_psnr, resolve_device
from .driver import RecipeConfig, RunContext, Stage

#: ``nlf``'s ``beta1`` / ``beta2`` ranges ([0, 1] scale): std ``sqrt(0.5 beta1 + beta2)`` at mid-grey from about
#: 1.8/255 to 45/255, the span of DSLR (2-8/255) and smartphone (6-40/255) sRGB noise.
PHONE_NLF_RANGES = {"beta1": ParamRange(1e-4, 4e-2, log=True), "beta2": ParamRange(1e-6, 1e-2, log=True)}

#: The released ``naflow-srgb`` configurations learned from the SIDD phone pairs of ``real-srgb/sidd-train``
#: (Nexus 6 at ISO 3200, Samsung S6 at ISO 100 and 800).
PHONE_CONFIGURATIONS = ("n6-iso3200", "s6-iso100", "s6-iso800")

#: ``naflow-phone-spread``'s latent temperatures, log-uniform in [2/3, 3/2]: a range symmetric in log whose
#: per-crop noise std on the ``real-phone`` training crops reaches the real pairs' 10th and 99th percentiles
#: (``benchmarks/crop_noise_range.py``; training data only).
PHONE_TEMPERATURES = ParamRange(2 / 3, 3 / 2, log=True)

#: ``naflow-phone-tone``'s ``tone_shift``: the tenth whose noise gives the ``real-phone`` training crops the real
#: pairs' darkening per unit of noise power, 0.40 against 0.42 (the tone slope of ``benchmarks/crop_noise_range.py``;
#: training data only; 0 gives 0.09).
PHONE_TONE_SHIFT = 0.3

#: The NAFlow that the ``naflow*`` sources draw from unless ``--flow`` names another.
DEFAULT_FLOW = "naflow-srgb"

#: Noise sources with a synthesizer, and how each is built from the NAFlow (folder or released name) that the
#: ``naflow*`` sources draw from.
SYNTHETIC_SOURCES: dict[str, Callable[[str], NoiseTransform]] = {
    "awgn": lambda flow: GaussianNoiseTransform(),
    "nlf": lambda flow: HeteroscedasticNoiseTransform(beta1=PHONE_NLF_RANGES["beta1"], beta2=PHONE_NLF_RANGES["beta2"]),
    "pg": lambda flow: PoissonGaussianNoiseTransform(),
    "naflow": lambda flow: NAFlowTransform.from_pretrained(flow),
    "naflow-phone": lambda flow: NAFlowTransform.from_pretrained(flow, configurations=PHONE_CONFIGURATIONS),
    "naflow-phone-spread": lambda flow: NAFlowTransform.from_pretrained(
        flow, configurations=PHONE_CONFIGURATIONS, temperature=PHONE_TEMPERATURES
    ),
    "naflow-phone-tone": lambda flow: NAFlowTransform.from_pretrained(
        flow, configurations=PHONE_CONFIGURATIONS, tone_shift=PHONE_TONE_SHIFT
    ),
    "naflow-phone-spread-tone": lambda flow: NAFlowTransform.from_pretrained(
        flow, configurations=PHONE_CONFIGURATIONS, temperature=PHONE_TEMPERATURES, tone_shift=PHONE_TONE_SHIFT
    ),
    "noiseflow-isp": lambda flow: RawRouteTransform(NoiseFlowTransform.from_pretrained("noiseflow-simcam")),
}
#: Real-pair sources: the training folders of :func:`~noiseaug.data.real_srgb.real_srgb_split`.
REAL_SOURCES: dict[str, tuple[str, ...]] = {"real": ("polyu", "cc15"), "real-phone": ("sidd-train",)}


def sidd_train_pairs(data_root: str | Path | None = None) -> list[ImagePair]:
    """The real phone pairs of ``<data_root>/real-srgb/sidd-train`` (default root:
    :func:`~noiseaug.data.root.data_root`) in name order: ``real-phone``'s training pairs."""
    folder = None if data_root is None else Path(data_root) / "real-srgb" / "sidd-train"
    return PairedImageFolder.sidd_train(folder).pairs


def naflow_phone_fitted(
    data_root: str | Path | None = None, signal_dependent: bool = False, flow: str = DEFAULT_FLOW
) -> NAFlowTransform:
    """The NAFlow ``flow`` (folder or released name; default the released ``naflow-srgb``) following each real
    phone pair that ``real-phone`` trains on, those of ``<data_root>/real-srgb/sidd-train`` (default root:
    :func:`~noiseaug.data.root.data_root`), in name order: a bank of one latent Gaussian fitted to each pair
    (``mode="reference", reference_method="fitted", per_reference=True``, ``signal_dependent`` as there), one pair
    drawn uniformly per image. Fitting reads every pair once (a progress bar shows it)."""
    pairs = sidd_train_pairs(data_root)
    noisy, clean = [read_image(p.noisy_path) for p in pairs], [read_image(p.clean_path) for p in pairs]
    return NAFlowTransform.from_pretrained(
        flow,
        mode="reference",
        reference_method="fitted",
        per_reference=True,
        signal_dependent=signal_dependent,
        reference=(noisy, clean),
    )


#: Synthesizers fitted to real pairs: built from the data root holding ``real-srgb/`` and the NAFlow to fit.
FITTED_SOURCES: dict[str, Callable[[str | Path | None, str], NoiseTransform]] = {
    "naflow-phone-fitted": lambda root, flow: naflow_phone_fitted(root, flow=flow),
    "naflow-phone-fitted-brightness": lambda root, flow: naflow_phone_fitted(root, signal_dependent=True, flow=flow),
}
#: Where the clean training images of a synthetic source come from (``--clean``).
CleanSource = Literal["bsd300-test", "sidd-train"]

#: Every ``--noise`` name (the synthesizers', the fitted ones', then the real pairs').
NoiseSource = Literal[
    "awgn",
    "nlf",
    "pg",
    "naflow",
    "naflow-phone",
    "naflow-phone-spread",
    "naflow-phone-tone",
    "naflow-phone-spread-tone",
    "noiseflow-isp",
    "naflow-phone-fitted",
    "naflow-phone-fitted-brightness",
    "real",
    "real-phone",
]
NOISE_SOURCES: tuple[str, ...] = get_args(NoiseSource)


def noise_source(name: str, data_root: str | Path | None = None, flow: str = DEFAULT_FLOW) -> NoiseTransform:
    """The synthesizer of a named source (see the module docs); ``data_root`` (default
    :func:`~noiseaug.data.root.data_root`) holds the real pairs that :data:`FITTED_SOURCES` fit to, ``flow`` is
    the NAFlow (folder or released name) that the ``naflow*`` sources draw from.
    :class:`~noiseaug.errors.NoiseaugInputError` for unknown names."""
    if name in FITTED_SOURCES:
        return FITTED_SOURCES[name](data_root, flow).eval()
    if name not in SYNTHETIC_SOURCES:
        raise NoiseaugInputError(
            f"noise must be one of {[*SYNTHETIC_SOURCES, *FITTED_SOURCES]} (or {list(REAL_SOURCES)} for real "
            f"pairs), got {name!r}"
        )
    return SYNTHETIC_SOURCES[name](flow).eval()


@dataclass(kw_only=True)
class DnCNNConfig(RecipeConfig):
    """``noiseaug train dncnn``: a reference DnCNN on synthesized (or real) noisy/clean pairs."""

    recipe: ClassVar[str] = "dncnn"
    outputs: ClassVar[str] = "denoiser/"

    noise: NoiseSource = field(
        metadata={
            "help": "where the noise comes from (real: the PolyU + CC15 training pairs; "
            "real-phone: the SIDD phone pairs of real-srgb/sidd-train; naflow-phone-fitted: naflow-srgb "
            "fitted to each of those pairs)"
        }
    )
    clean: CleanSource = field(
        default="bsd300-test",
        metadata={
            "help": "clean training images of a synthetic source: clean/bsd300-test, or the clean halves of the "
            "real-srgb/sidd-train pairs (the scenes real-phone trains on); --images overrides it"
        },
    )
    images: str | None = field(default=None, metadata={"help": "a folder of clean training images (see --clean)"})
    val_images: str | None = field(
        default=None, metadata={"help": "clean validation images (default: $NOISEAUG_DATA/clean/kodak24)"}
    )
    val_on_training: bool = field(
        default=False,
        metadata={
            "help": "validate a synthetic source on fixed crops of its own clean training images, noised by it "
            "(as the real sources always validate on their training pairs), instead of --val-images"
        },
    )
    val_on_real_pairs: bool = field(
        default=False,
        metadata={
            "help": "with --clean sidd-train: validate on fixed crops of the real sidd-train pairs whose clean halves "
            "the source noises (the crops real-phone validates on), instead of --val-images"
        },
    )
    data: str | None = field(default=None, metadata={"help": "data root holding real-srgb/ (default: $NOISEAUG_DATA)"})
    flow: str = field(
        default=DEFAULT_FLOW,
        metadata={"help": "the NAFlow (model folder or released name) that the naflow* noise sources draw from"},
    )
    steps: int = field(default=3000, metadata={"help": "training steps"})
    batch: int = field(default=16, metadata={"help": "crops per step"})
    patch: int = field(default=48, metadata={"help": "crop side in pixels (even)"})
    lr: float = field(default=1e-3, metadata={"help": "Adam learning rate (x0.1 at 75 % of the steps)"})
    depth: int = field(default=17, metadata={"help": "DnCNN layers"})
    width: int = field(default=32, metadata={"help": "channels (the paper's 64 costs 4x on a CPU)"})
    val_crops: int = field(default=64, metadata={"help": "fixed validation crops"})
    val_every: int = field(default=250, metadata={"help": "validate and checkpoint every N steps"})
    device: str = field(
        default="cpu",
        metadata={"help": "torch device, e.g. cuda; crops are drawn on the CPU, synthetic noise on the device"},
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.flow != DEFAULT_FLOW and not self.noise.startswith("naflow"):
            raise NoiseaugInputError(f"flow applies to the naflow* noise sources only, got noise {self.noise!r}")
        if self.val_on_training and (self.val_images is not None or self.noise in REAL_SOURCES):
            raise NoiseaugInputError(
                "val_on_training applies to the synthetic sources without val_images (real pairs always validate "
                f"on their training pairs), got noise {self.noise!r} and val_images {self.val_images!r}"
            )
        if self.val_on_real_pairs and (
            self.noise in REAL_SOURCES
            or self.clean != "sidd-train"
            or self.images is not None
            or self.val_images is not None
            or self.val_on_training
        ):
            raise NoiseaugInputError(
                "val_on_real_pairs applies to a synthetic source on --clean sidd-train without images, val_images "
                f"or val_on_training, got noise {self.noise!r}, clean {self.clean!r}, images {self.images!r}, "
                f"val_images {self.val_images!r}, val_on_training {self.val_on_training}"
            )


def clean_images(config: DnCNNConfig) -> list[Tensor]:
    """The clean uint8 ``(3, H, W)`` images a synthetic source noises: ``--images``, else ``--clean``'s set."""
    if config.images is not None:
        return list(read_image_folder(config.images).values())
    if config.clean == "sidd-train":
        return [read_image_uint8(pair.clean_path) for pair in sidd_train_pairs(config.data)]
    return list(read_image_folder(data_folder("clean", "bsd300-test")).values())


def real_validation_crops(pairs: RealPairs, config: DnCNNConfig, seed: int) -> CropBatch:
    """``config.val_crops`` fixed ``config.patch`` crops of real ``pairs`` drawn with ``seed``: what the real
    sources validate on, and (on the ``real-phone`` pairs) a synthetic source with ``val_on_real_pairs``."""
    return RealPairBatches(RealCrops(pairs, [], config.patch, config.val_crops, seed, dequantize=False)).batch(0)


def build(config: DnCNNConfig, ctx: RunContext) -> Iterator[Stage]:
    """One stage: :class:`~noiseaug.objectives.noise2clean.Noise2Clean` of a new DnCNN (see the module docs);
    ``best.pt`` keeps the lowest ``val_mse``; exports ``denoiser/``."""
    device = resolve_device(config.device)
    with ctx.init():
        denoiser = DnCNN(channels=3, depth=config.depth, width=config.width)
    denoiser.to(device)
    batches: RealPairBatches | SynthesizedPairs
    val_seed = ctx.shared_seed("validation")
    if config.noise in REAL_SOURCES:
        train_data = RealPairs.load(real_srgb_split(config.data, sources=REAL_SOURCES[config.noise])[0])
        batches = RealPairBatches(
            RealCrops(
                train_data, [], config.patch, config.batch, ctx.rank_seed("train"), dequantize=False, device=device
            )
        )
        val = real_validation_crops(train_data, config, val_seed)
    else:
        source = noise_source(config.noise, config.data, config.flow).to(device)
        train_images = clean_images(config)
        batches = SynthesizedPairs(
            train_images, source, config.patch, config.batch, ctx.rank_seed("train"), device=device
        )
        if config.val_on_real_pairs:
            phone_pairs = RealPairs.load(real_srgb_split(config.data, sources=REAL_SOURCES["real-phone"])[0])
            val = real_validation_crops(phone_pairs, config, val_seed)
        else:
            val_images = (
                train_images
                if config.val_on_training
                else list(read_image_folder(config.val_images or data_folder("clean", "kodak24")).values())
            )
            val = SynthesizedPairs(val_images, source, config.patch, config.val_crops, val_seed, device=device).batch(0)

    val_noisy, val_clean = val.need_noisy().to(device), val.need_clean().to(device)

    def validate() -> dict[str, float]:
        denoised = denoiser(val_noisy).clamp(0, 1)
        return {
            "val_mse": float(F.mse_loss(denoised, val_clean)),
            "val_psnr": mean_psnr(nn.Identity(), denoised, val_clean),
        }

    yield Stage(
        Noise2Clean(denoiser),
        batches,
        validate,
        config.steps,
        config.lr,
        config.val_every,
        {"denoiser": denoiser},
        best_key="val_mse",
    )
