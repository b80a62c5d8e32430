"""Neighbor2Neighbor (Huang, Li, Jia, Wang, Yuan; CVPR 2021): a denoiser trained on single noisy images.

A random neighbour sub-sampler ``G = (g1, g2)`` (:func:`~noiseaug.data.neighbour.neighbour_subsample`)
picks, in every 2x2 cell of the noisy image ``y``, two *different, adjacent* positions (fresh per
sample, cell and step, from the step's seeded generator; shared by all channels). The half-size
images ``g1(y)``, ``g2(y)`` have independent noise (for pixel-independent noise) and nearly equal
clean content, so ``g2(y)`` is a Noise2Noise target for ``f(g1(y))``. The loss (eq. 8-9 of the paper):

    L = ||f(g1 y) - g2 y||^2 + gamma_t * ||f(g1 y) - g2 y - (g1 f(y) - g2 f(y))||^2

where ``f(y)`` (the denoised full-size image) is computed **without gradient**; the regulariser
corrects for the clean sub-images not being exactly equal. Both norms are means over every element
(as in the authors' code), on the [0, 1] scale. ``gamma_t`` ramps linearly from 0 at step 0 to
``gamma`` at the last step (:func:`gamma_ramp`; paper: ``gamma = 2`` for synthetic noise, 1 for
real noise). The same sub-sampling mask is applied to ``y`` and ``f(y)``: they are sub-sampled
together as one tensor (the mask is shared by all channels). At test time ``f`` runs on the
full-size noisy image.

:class:`Noise2Clean` is the supervised baseline on the same plumbing: ``||f(y) - x||^2`` with the
clean ``x``, the same network, batches and budget.

Data (:func:`train_neighbor2neighbor`): ``data="synthetic"`` noises random crops of clean images
(``clean/bsd300-test`` by default, split 80/20 by image) per batch with a noise transform (default
AWGN sigma 25/255, *unclipped*: the paper adds unclipped noise, and clipping would bias the
zero-mean noise that the self-supervised target relies on near 0 and 1); ``data="real"`` crops the
noisy images of the real-sRGB PolyU + CC15 training split (the clean means are used only by the
Noise2Clean baseline and for validation on the held-out scenes).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from torch import Tensor, nn

from .._validation import check_int, check_nonnegative
from ..data.neighbour import neighbour_subsample
from ..data.root import data_folder
from ..errors import NoiseaugInputError
from ..hub import save_pretrained
from ..transforms import GaussianNoiseTransform, NoiseTransform, ParamRange, PoissonGaussianNoiseTransform
from .crops import CropBatch, CropBatches, build_denoiser, clean_split, mean_psnr, resolve_device
from .denoiser import Noise2Clean
from .loop import init_distributed, run_trainer, seeded
from .naflow_recipe import RealPairs, real_srgb_split

#: The paper's final regulariser weights.
GAMMA_SYNTHETIC, GAMMA_REAL = 2.0, 1.0
OBJECTIVES = ("neighbor2neighbor", "noise2clean")


def gamma_ramp(step: int, total_steps: int, gamma: float) -> float:
    """``gamma * step / (total_steps - 1)``, clipped to ``gamma``: 0 at step 0, ``gamma`` at the last step.

    Example:
        >>> [gamma_ramp(s, 5, 2.0) for s in range(6)]
        [0.0, 0.5, 1.0, 1.5, 2.0, 2.0]
    """
    return gamma * min(step / max(total_steps - 1, 1), 1.0)


def neighbor2neighbor_loss(denoised_first: Tensor, second: Tensor, full_first: Tensor, full_second: Tensor,
                           gamma: float) -> Tensor:
    """The loss from its four half-size images: ``f(g1 y)``, ``g2 y``, ``g1 f(y)``, ``g2 f(y)``.

    ``mean((f(g1 y) - g2 y)^2) + gamma * mean((f(g1 y) - g2 y - (g1 f(y) - g2 f(y)))^2)``.

    Example:
        >>> import torch
        >>> one, zero = torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)
        >>> float(neighbor2neighbor_loss(one, zero, one, zero, gamma=2.0))  # f(g1 y) - g2 y equals g1 f(y) - g2 f(y)
        1.0
    """
    diff = denoised_first - second
    return diff.square().mean() + gamma * (diff - (full_first - full_second)).square().mean()


class Neighbor2Neighbor(nn.Module):
    """The Neighbor2Neighbor objective over :class:`~noiseaug.training.crops.CropBatch` (uses ``noisy`` only).

    Args:
        denoiser: any ``(B, C, H, W) -> (B, C, H, W)`` network (UNet, DnCNN, ...).
        gamma: the regulariser's final weight (paper: 2 synthetic, 1 real).
        total_steps: the run's length, over which ``gamma`` ramps up from 0 (:func:`gamma_ramp`).

    Example:
        >>> import torch
        >>> from noiseaug import UNet
        >>> from noiseaug.training.crops import CropBatch
        >>> objective = Neighbor2Neighbor(UNet(width=8, levels=2), gamma=2.0, total_steps=100)
        >>> batch = CropBatch(noisy=torch.rand(2, 3, 16, 16), clean=None, step=50, seed=0)
        >>> objective(batch).ndim, round(objective.gamma_at(50), 4)
        (0, 1.0101)
    """

    def __init__(self, denoiser: nn.Module, gamma: float = GAMMA_SYNTHETIC, total_steps: int = 1) -> None:
        super().__init__()
        self.gamma = check_nonnegative(gamma, "gamma")
        self.denoiser, self.total_steps = denoiser, check_int(total_steps, "total_steps")

    def gamma_at(self, step: int) -> float:
        """The regulariser weight at ``step``."""
        return gamma_ramp(step, self.total_steps, self.gamma)

    def forward(self, batch: CropBatch) -> Tensor:
        y = batch.noisy
        with torch.no_grad():
            full = self.denoiser(y)
        first, second = neighbour_subsample(torch.cat([y, full], 1), batch.generator(y.device))
        c = y.shape[1]
        return neighbor2neighbor_loss(self.denoiser(first[:, :c]), second[:, :c], first[:, c:], second[:, c:],
                                      self.gamma_at(batch.step))


_SPEC = re.compile(r"^(gauss|poisson)(\d+(?:\.\d+)?)(?:-(\d+(?:\.\d+)?))?$")


def noise_transform(spec: str) -> NoiseTransform:
    """An unclipped synthetic noise from the paper's names.

    ``"gauss25"``: AWGN sigma 25/255; ``"gauss5-50"``: sigma uniform in [5, 50]/255 per image;
    ``"poisson30"``: ``Poisson(lambda x) / lambda`` with ``lambda = 30`` (gain ``1 / lambda``);
    ``"poisson5-50"``: gain log-uniform in [1/50, 1/5] per image (the paper draws lambda uniformly).

    Example:
        >>> noise_transform("gauss5-50")
        GaussianNoiseTransform(sigma=U(0.01961, 0.1961), p=1.0, clip=False)
    """
    match = _SPEC.match(spec) if isinstance(spec, str) else None
    if match is None:
        raise NoiseaugInputError(f"noise must look like 'gauss25', 'gauss5-50', 'poisson30' or 'poisson5-50', got {spec!r}")
    kind, low, high = match.group(1), float(match.group(2)), float(match.group(3) or match.group(2))
    valid = 0 < low <= high if kind == "poisson" else 0 <= low <= high
    if not valid:
        raise NoiseaugInputError(f"noise {spec!r}: the range must be increasing (and positive for poisson)")
    if kind == "gauss":
        return GaussianNoiseTransform(sigma=(low / 255, high / 255), clip=False)
    return PoissonGaussianNoiseTransform(gain=ParamRange(1 / high, 1 / low, log=True), read_sigma=0.0, clip=False)


def train_neighbor2neighbor(out_dir: str | Path, *, objective: str = "neighbor2neighbor", data: str = "synthetic",
                            noise: str | NoiseTransform = "gauss25", images: str | Path | None = None,
                            data_root: str | Path | None = None, denoiser: str = "unet", width: int | None = None,
                            depth: int | None = None, gamma: float | None = None, steps: int = 20_000,
                            batch_size: int = 16, patch_size: int = 64, lr: float = 3e-4, val_crops: int = 32,
                            val_every: int = 500, seed: int = 0, device: str = "cpu", resume: bool = True,
                            progress: bool = True) -> nn.Module:
    """Train a denoiser with Neighbor2Neighbor (or the Noise2Clean baseline); writes checkpoints and ``denoiser/``.

    Args:
        out_dir: run folder: ``last.pt``, ``best.pt``, ``history.json`` and ``denoiser/`` (save_pretrained).
        objective: ``"neighbor2neighbor"`` or ``"noise2clean"`` (same network, data and budget).
        data: ``"synthetic"`` (clean ``images`` + ``noise``) or ``"real"`` (PolyU + CC15 noisy train split
            under ``data_root``, default ``$NOISEAUG_DATA``).
        noise: a :func:`noise_transform` name or any :class:`~noiseaug.transforms.NoiseTransform` (synthetic).
        images: clean image folder (default ``clean/bsd300-test`` under the data root), split 80/20 by image.
        denoiser, width, depth: :func:`~noiseaug.training.crops.build_denoiser` (UNet 48 wide, 4 levels).
        gamma: the regulariser's final weight; None: 2 for synthetic, 1 for real noise (the paper's).
        steps, batch_size, patch_size, lr: Adam at ``lr``, x0.1 at 75 % of the steps; crops are
            ``patch_size`` square (even; the sub-images are half that).
        val_crops: fixed held-out crops (``patch_size``) scored by PSNR every ``val_every`` steps;
            ``best.pt`` keeps the best ``val_psnr`` (``val_neg_psnr`` is the key).
        device: torch device; batches are drawn on the CPU, so runs match across devices up to arithmetic.

    Under ``torchrun`` each rank draws its own batches (``seed + 1000 * rank``).
    """
    if objective not in OBJECTIVES:
        raise NoiseaugInputError(f"objective must be one of {OBJECTIVES}, got {objective!r}")
    if data not in ("synthetic", "real"):
        raise NoiseaugInputError(f"data must be 'synthetic' or 'real', got {data!r}")
    rank, _ = init_distributed()
    device = resolve_device(device)
    common = {"patch": patch_size, "device": device}
    if data == "synthetic":
        transform = noise_transform(noise) if isinstance(noise, str) else noise
        train_images, test_images = clean_split(images or data_folder("clean", "bsd300-test"))
        batches = CropBatches(clean=train_images, noise=transform, batch_size=batch_size, seed=seed + 1000 * rank, **common)
        val = CropBatches(clean=test_images, noise=transform, batch_size=val_crops, seed=seed + 99_991, **common).batch(0)
    else:
        train_pairs, test_pairs = real_srgb_split(data_root)
        train, test = RealPairs.load(train_pairs), RealPairs.load(test_pairs)
        batches = CropBatches(noisy=train.noisy, clean=train.clean if objective == "noise2clean" else None,
                              batch_size=batch_size, seed=seed + 1000 * rank, **common)
        val = CropBatches(noisy=test.noisy, clean=test.clean, batch_size=val_crops, seed=seed + 99_991, **common).batch(0)
    with seeded(seed):
        net = build_denoiser(denoiser, width=width, depth=depth).to(device)
    if objective == "neighbor2neighbor":
        final_gamma = gamma if gamma is not None else GAMMA_SYNTHETIC if data == "synthetic" else GAMMA_REAL
        module: nn.Module = Neighbor2Neighbor(net, final_gamma, steps)
    else:
        module = Noise2Clean(net)
    noisy_psnr = mean_psnr(nn.Identity(), val.noisy, val.clean)

    def validate() -> dict[str, float]:
        value = mean_psnr(net, val.noisy, val.clean)
        return {"val_psnr": value, "val_psnr_noisy": noisy_psnr, "val_neg_psnr": -value}

    run_trainer(module, batches, validate, out_dir, steps=steps, lr=lr, val_every=val_every, seed=seed,
                best_key="val_neg_psnr", resume=resume, progress=progress)
    if rank == 0:
        save_pretrained(net.eval(), Path(out_dir) / "denoiser")
    return net
