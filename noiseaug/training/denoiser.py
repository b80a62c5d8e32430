"""Reference DnCNN denoisers trained on synthesized pairs (``noiseaug train dncnn --noise ...``).

The question these answer: *which noise should I train with?* Every run has the same budget and
differs only in where the noise comes from:

* ``awgn``: :class:`~noiseaug.GaussianNoiseTransform`, sigma uniform in [0, 50]/255 per patch;
* ``nlf``: :class:`~noiseaug.HeteroscedasticNoiseTransform` with log-uniform ranges that reach phone noise
  (:data:`PHONE_NLF_RANGES`: up to about 45/255 std at mid-grey, where the transform's defaults stop near 31);
* ``pg``: :class:`~noiseaug.PoissonGaussianNoiseTransform` with its default ranges;
* ``naflow``: :class:`~noiseaug.NAFlowTransform` (released ``naflow-srgb``, DSLR and phone configurations),
  a random camera configuration per patch;
* ``naflow-phone``: the same flow restricted to its smartphone configurations (:data:`PHONE_CONFIGURATIONS`, the
  phones and ISOs of ``real-srgb/sidd-train``), the synthetic counterpart of ``real-phone``;
* ``noiseflow-isp``: :class:`~noiseaug.NoiseFlowTransform` (released ``noiseflow-simcam``) in raw,
  through the simulated ISP (:class:`~noiseaug.transforms.raw_route.RawRouteTransform`), a random
  camera and ISO per patch;
* ``real``: the real noisy/clean pairs of the PolyU + CC15 training split (the upper bound for DSLRs);
* ``real-phone``: the real SIDD smartphone pairs of ``real-srgb/sidd-train`` (the upper bound for phones).

Synthetic pairs: random ``patch x patch`` crops (with one of the 8 flips/rotations) of clean sRGB
images (``clean/bsd300-test`` by default), noised, then clipped and rounded to 8 bits like a
camera's file. Batch ``k`` is a pure function of ``(seed, k)``. Loss: mean squared error of the
denoised patch against the clean one. Validation (checkpoint selection only): the same noise
source on fixed crops of ``clean/kodak24`` (for ``real``: fixed crops of the training pairs,
so selection is in-sample there); the test sets are never seen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import torch.nn.functional as F
from torch import Tensor, nn

from ..data.root import data_folder
from ..data.simulated_pairs import read_image_folder
from ..demo import quantize_8bit
from ..denoisers import DnCNN
from ..errors import NoiseaugInputError
from ..hub import save_pretrained
from ..transforms import (
    GaussianNoiseTransform,
    ParamRange,
    HeteroscedasticNoiseTransform,
    NAFlowTransform,
    NoiseFlowTransform,
    NoiseTransform,
    PoissonGaussianNoiseTransform,
)
from ..transforms.raw_route import RawRouteTransform
from .crops import CropBatch, CropBatches, mean_psnr
from .loop import init_distributed, run_trainer, seeded
from .naflow_recipe import RealCrops, RealPairs, real_srgb_split

#: ``nlf``'s ``beta1`` / ``beta2`` ranges ([0, 1] scale): std ``sqrt(0.5 beta1 + beta2)`` at mid-grey from about
#: 1.8/255 to 45/255, the span of DSLR (2-8/255) and smartphone (6-40/255) sRGB noise.
PHONE_NLF_RANGES = {"beta1": ParamRange(1e-4, 4e-2, log=True), "beta2": ParamRange(1e-6, 1e-2, log=True)}

#: The released ``naflow-srgb`` configurations learned from the SIDD phone pairs of ``real-srgb/sidd-train``
#: (Nexus 6 at ISO 3200, Samsung S6 at ISO 100 and 800).
PHONE_CONFIGURATIONS = ("n6-iso3200", "s6-iso100", "s6-iso800")

#: Noise sources with a synthesizer, and how each is built.
SYNTHETIC_SOURCES: dict[str, Callable[[], NoiseTransform]] = {
    "awgn": GaussianNoiseTransform,
    "nlf": lambda: HeteroscedasticNoiseTransform(**PHONE_NLF_RANGES),
    "pg": PoissonGaussianNoiseTransform,
    "naflow": lambda: NAFlowTransform.from_pretrained("naflow-srgb"),
    "naflow-phone": lambda: NAFlowTransform.from_pretrained("naflow-srgb", configurations=PHONE_CONFIGURATIONS),
    "noiseflow-isp": lambda: RawRouteTransform(NoiseFlowTransform.from_pretrained("noiseflow-simcam")),
}
#: Real-pair sources: the training folders of :func:`~noiseaug.training.naflow_recipe.real_srgb_split`.
REAL_SOURCES: dict[str, tuple[str, ...]] = {"real": ("polyu", "cc15"), "real-phone": ("sidd-train",)}
NOISE_SOURCES = (*SYNTHETIC_SOURCES, *REAL_SOURCES)


def noise_source(name: str) -> NoiseTransform:
    """The synthesizer of a named source (see the module docs); ``ValueError`` for unknown names."""
    if name not in SYNTHETIC_SOURCES:
        raise NoiseaugInputError(f"noise must be one of {list(SYNTHETIC_SOURCES)} (or {list(REAL_SOURCES)} for real pairs), "
                         f"got {name!r}")
    return SYNTHETIC_SOURCES[name]().eval()


class SynthesizedPairs:
    """Batches (:class:`~noiseaug.training.crops.CropBatch`) of random clean crops noised by ``noise``, the noisy crop clipped and
    rounded to 8 bits: :class:`~noiseaug.training.crops.CropBatches` (synthetic mode) plus the rounding.

    Args:
        images: clean sRGB images, uint8 or float ``(3, H, W)``; each at least ``patch`` on both sides.
        noise: the noise transform (called with the batch's generator).
        patch: crop side (even, so the raw route can take it). batch_size: crops per batch.
        seed: batch ``k`` depends only on ``(seed, k)``.

    Example:
        >>> import torch
        >>> from noiseaug import GaussianNoiseTransform
        >>> images = [torch.rand(3, 40, 50, generator=torch.Generator().manual_seed(0))]
        >>> pairs = SynthesizedPairs(images, GaussianNoiseTransform(sigma=0.1), patch=16, batch_size=4, seed=0)
        >>> batch = pairs.batch(0)
        >>> batch.noisy.shape, bool(torch.equal(batch.noisy, pairs.batch(0).noisy))
        (torch.Size([4, 3, 16, 16]), True)
    """

    def __init__(self, images: Sequence[Tensor], noise: NoiseTransform, patch: int, batch_size: int, seed: int) -> None:
        self.crops = CropBatches(clean=list(images), noise=noise, patch=patch, batch_size=batch_size, seed=seed)

    def batch(self, step: int) -> CropBatch:
        crops = self.crops.batch(step)
        return replace(crops, noisy=quantize_8bit(crops.noisy))


class RealPairBatches:
    """:class:`~noiseaug.training.naflow_recipe.RealCrops` (real noisy/clean crops, flips) as :class:`CropBatch` objects."""

    def __init__(self, crops: RealCrops) -> None:
        self.crops = crops

    def batch(self, step: int) -> CropBatch:
        crops = self.crops.batch(step)
        return CropBatch(crops["noisy"], crops["clean"], step, seed=0)


class Noise2Clean(nn.Module):
    """The supervised objective: ``mean((f(noisy) - clean)^2)`` over :class:`~noiseaug.training.crops.CropBatch`."""

    def __init__(self, denoiser: nn.Module) -> None:
        super().__init__()
        self.denoiser = denoiser

    def forward(self, batch: CropBatch) -> Tensor:
        if batch.clean is None:
            raise NoiseaugInputError("Noise2Clean needs batches with clean images (batch.clean is None)")
        return (self.denoiser(batch.noisy) - batch.clean).square().mean()


def train_denoiser(out_dir: str | Path, noise: str, *, images: str | Path | None = None,
                   val_images: str | Path | None = None, data_root: str | Path | None = None, steps: int = 3000,
                   batch_size: int = 16, patch_size: int = 48, lr: float = 1e-3, depth: int = 17, width: int = 32,
                   val_crops: int = 64, val_every: int = 250, seed: int = 0, resume: bool = True,
                   progress: bool = True) -> DnCNN:
    """Train a DnCNN on one noise source (see the module docs); writes checkpoints and ``denoiser/``.

    ``images`` / ``val_images``: clean training / validation folders (default ``clean/bsd300-test`` /
    ``clean/kodak24`` under the data root); ``data_root`` locates the real pairs of ``noise="real"`` / ``"real-phone"``.
    """
    if noise not in NOISE_SOURCES:
        raise NoiseaugInputError(f"noise must be one of {list(NOISE_SOURCES)}, got {noise!r}")
    rank, _ = init_distributed()
    with seeded(seed):
        denoiser = DnCNN(channels=3, depth=depth, width=width)
    if noise in REAL_SOURCES:
        train_data = RealPairs.load(real_srgb_split(data_root, sources=REAL_SOURCES[noise])[0])
        batches = RealPairBatches(RealCrops(train_data, [], patch_size, batch_size, seed + rank, dequantize=False))
        val = RealPairBatches(RealCrops(train_data, [], patch_size, val_crops, seed + 99_991, dequantize=False)).batch(0)
    else:
        source = noise_source(noise)
        train_images = read_image_folder(images or data_folder("clean", "bsd300-test")).values()
        batches = SynthesizedPairs(list(train_images), source, patch_size, batch_size, seed + rank)
        kodak = read_image_folder(val_images or data_folder("clean", "kodak24")).values()
        val = SynthesizedPairs(list(kodak), source, patch_size, val_crops, seed + 99_991).batch(0)

    def validate() -> dict[str, float]:
        denoised = denoiser(val.noisy).clamp(0, 1)
        return {"val_mse": float(F.mse_loss(denoised, val.clean)), "val_psnr": mean_psnr(nn.Identity(), denoised, val.clean)}

    run_trainer(Noise2Clean(denoiser), batches, validate, out_dir, steps=steps, lr=lr, val_every=val_every, seed=seed,
                best_key="val_mse", resume=resume, progress=progress)
    if rank == 0:
        save_pretrained(denoiser.eval(), Path(out_dir) / "denoiser")
    return denoiser
