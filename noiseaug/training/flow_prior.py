"""The flow-prior denoiser: a Glow prior over clean patches, then a denoiser trained on noisy images alone.

**Stage (a)**, :func:`train_glow_prior`: :class:`~noiseaug.flows.glow.Glow` on random 32x32 crops
(one of the 8 flips/rotations) of clean images (``clean/bsd300-test`` by default, split 80/20 by
image), minimising the mean bits per dimension of the uniformly dequantised 8-bit crops
(:class:`GlowNLL`; conventions in :mod:`noiseaug.flows.glow`). Validation: bits/dim on fixed
held-out crops with fixed dequantisation noise (``val_bpd``, which selects ``best.pt``).

**Stage (b)**, :func:`train_flow_prior_denoiser`: a denoiser ``D`` sees only noisy crops ``Y`` (the
clean crops they were made from never reach the loss) and minimises (:class:`FlowPriorDenoising`)

    L = mean((B(Y) - B(X))^2) - lam * log P(X) / (C*H*W),    X = D(Y)

* ``B`` is a 3x3 mean filter (reflect padding); the first term is a mean over every element, on the
  [0, 1] scale: it keeps the low frequencies of ``X`` at those of ``Y`` (noise averages out there).
* ``log P(X) / (C*H*W)`` is the frozen prior's continuous log-density **in nats per dimension**
  ([0, 1] scale), averaged over the batch, computed on non-overlapping prior-sized tiles
  (``image_size``, 32x32) so that the prior scores patches like those it learned from
  (:func:`tiled_log_prob_per_dim`). The prior gets no gradient (``requires_grad=False``, always in
  eval mode) but the gradient flows *through* it into ``X`` and ``D``.
* Noise: AWGN with ``sigma ~ U[0, max_sigma] / 255`` per sample (``max_sigma = 50``), unclipped (the
  data term assumes ``E[B(Y)] = B(X)``, which clipping breaks near 0 and 1).
* ``lam`` (default :data:`FLOW_PRIOR_LAMBDA` = 2e-3) is the knob between fidelity and prior. The
  default is the MAP weight in these units: ``B(Y) - B(X) ~ B(n)`` has per-pixel variance about
  ``sigma^2 / 9``, so ``-log p(Y | X) / D ~ mean((B(Y) - B(X))^2) / (2 sigma^2 / 9)`` and the MAP
  objective is the loss above with ``lam = 2 sigma^2 / 9``: 2.1e-3 at sigma = 25/255 (8.5e-3 at
  50/255). One ``lam`` serves every noise level (a blind denoiser); raise it for smoother outputs,
  lower it to keep more of the input.

Validation (both stages select ``best.pt`` on it): fixed held-out crops; for the denoiser, noisy with
sigma cycled through 15, 25, 50 /255, scored by PSNR (``val_psnr``, per level ``val_psnr_s15`` ...),
plus the prior's NLL per dimension of the outputs (``val_prior_nll``).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..data.root import data_folder
from ..errors import NoiseaugInputError, NoiseaugTypeError
from ..flows.glow import Glow
from ..hub import save_pretrained
from ..noise import GaussianNoise
from ..transforms import GaussianNoiseTransform
from .crops import CropBatch, CropBatches, build_denoiser, clean_split, mean_psnr, resolve_device
from .loop import init_distributed, run_trainer, seeded

#: Default prior weight (MAP weight for sigma ~ 24/255 seen through the 3x3 mean filter; see module docs).
FLOW_PRIOR_LAMBDA = 2e-3
#: Noise levels (0-255 scale) the validation crops cycle through.
VALIDATION_SIGMAS = (15.0, 25.0, 50.0)


def mean_filter(images: Tensor) -> Tensor:
    """``B``: the 3x3 mean of every pixel (reflect padding), same shape."""
    return F.avg_pool2d(F.pad(images, (1, 1, 1, 1), mode="reflect"), 3, stride=1)


def tiled_log_prob_per_dim(prior: Glow, images: Tensor) -> Tensor:
    """``(B,)`` ``log P(images) / (C*H*W)`` in nats: the prior's log-densities of the non-overlapping
    ``image_size`` tiles summed per image (the whole image when H or W is not a multiple of it;
    it must then be a multiple of ``2 ** levels``)."""
    b, c, h, w = images.shape
    s = prior.image_size
    if h % s == 0 and w % s == 0:
        tiles = images.reshape(b, c, h // s, s, w // s, s).permute(0, 2, 4, 1, 3, 5).reshape(-1, c, s, s)
        log_p = prior._log_prob(tiles).view(b, -1).sum(1)
    else:
        log_p = prior._log_prob(images)
    return log_p / images[0].numel()


class GlowNLL(nn.Module):
    """Stage (a)'s loss: mean bits per dimension of a batch's dequantised ``clean`` crops (dequantisation
    noise from the batch's seed)."""

    def __init__(self, glow: Glow) -> None:
        super().__init__()
        self.glow = glow

    def forward(self, batch: CropBatch) -> Tensor:
        return self.glow.bits_per_dim(batch.clean, batch.generator(batch.clean.device)).mean()


class FlowPriorDenoising(nn.Module):
    """Stage (b)'s loss ``mean((B(Y) - B(X))^2) - lam * log P(X) / D`` with ``X = denoiser(Y)`` (module docs).

    The prior is frozen: its parameters never require gradients and it stays in eval mode even when
    this module is put in training mode.

    Example:
        >>> import torch
        >>> from noiseaug import DnCNN
        >>> from noiseaug.flows.glow import Glow
        >>> from noiseaug.training.crops import CropBatch
        >>> objective = FlowPriorDenoising(DnCNN(depth=3, width=8), Glow(levels=2, depth=1, hidden=8, image_size=8))
        >>> loss = objective(CropBatch(noisy=torch.rand(2, 3, 16, 16), clean=None, step=0, seed=0))
        >>> loss.backward()
        >>> any(p.grad is not None for p in objective.prior.parameters())
        False
    """

    def __init__(self, denoiser: nn.Module, prior: Glow, lam: float = FLOW_PRIOR_LAMBDA) -> None:
        super().__init__()
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not lam >= 0:
            raise NoiseaugInputError(f"lam must be a number >= 0, got {lam!r}")
        if not isinstance(prior, Glow):
            raise NoiseaugTypeError(f"prior must be a Glow, got {type(prior).__name__}")
        self.denoiser, self.prior, self.lam = denoiser, prior.requires_grad_(False).eval(), float(lam)

    def train(self, mode: bool = True) -> FlowPriorDenoising:
        super().train(mode)
        self.prior.eval()
        return self

    def forward(self, batch: CropBatch) -> Tensor:
        noisy = batch.noisy
        denoised = self.denoiser(noisy)
        fidelity = (mean_filter(noisy) - mean_filter(denoised)).square().mean()
        return fidelity - self.lam * tiled_log_prob_per_dim(self.prior, denoised).mean()


def train_glow_prior(out_dir: str | Path, *, images: str | Path | None = None, steps: int = 20_000,
                     batch_size: int = 32, patch_size: int = 32, lr: float = 5e-4, levels: int = 3, depth: int = 8,
                     hidden: int = 128, val_crops: int = 256, val_every: int = 500, seed: int = 0,
                     device: str = "cpu", resume: bool = True, progress: bool = True) -> Glow:
    """Stage (a): train the Glow prior on clean crops; writes checkpoints and ``model/`` (save_pretrained).

    ``images``: clean folder (default ``clean/bsd300-test`` under the data root), split 80/20 by
    image; ``patch_size`` (a multiple of ``2 ** levels``) is also the prior's ``image_size``. Adam at
    ``lr`` (x0.1 at 75 % of the steps), gradient norm clipped at 50. ``best.pt`` keeps the lowest
    ``val_bpd``. Under ``torchrun`` each rank draws its own batches (``seed + 1000 * rank``).
    """
    rank, _ = init_distributed()
    device = resolve_device(device)
    train_images, test_images = clean_split(images or data_folder("clean", "bsd300-test"))
    with seeded(seed):
        glow = Glow(channels=3, levels=levels, depth=depth, hidden=hidden, image_size=patch_size).to(device)
    batches = CropBatches(clean=train_images, patch=patch_size, batch_size=batch_size, seed=seed + 1000 * rank,
                          device=device)
    val = CropBatches(clean=test_images, patch=patch_size, batch_size=val_crops, seed=seed + 99_991,
                      device=device).batch(0)

    def validate() -> dict[str, float]:
        return {"val_bpd": float(glow.bits_per_dim(val.clean, val.generator(val.clean.device)).mean())}

    run_trainer(GlowNLL(glow), batches, validate, out_dir, steps=steps, lr=lr, val_every=val_every, seed=seed,
         best_key="val_bpd", resume=resume, progress=progress, grad_clip=50.0)
    if rank == 0:
        save_pretrained(glow.eval(), Path(out_dir) / "model")
    return glow


def validation_crops(images: list[Tensor], patch: int, count: int, seed: int, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
    """Fixed held-out ``(noisy, clean, sigma)``: ``count`` clean crops, AWGN with sigma cycling through
    :data:`VALIDATION_SIGMAS` (0-255 scale), unclipped."""
    clean = CropBatches(clean=images, patch=patch, batch_size=count, seed=seed).batch(0).clean
    sigma = torch.tensor(VALIDATION_SIGMAS)[torch.arange(count) % len(VALIDATION_SIGMAS)]
    noisy = GaussianNoise(sigma / 255).sample(clean, generator=torch.Generator().manual_seed(seed))
    return noisy.to(device), clean.to(device), sigma.to(device)


def train_flow_prior_denoiser(out_dir: str | Path, prior: str | Path | Glow, *, images: str | Path | None = None,
                              lam: float = FLOW_PRIOR_LAMBDA, max_sigma: float = 50.0, denoiser: str = "unet",
                              width: int | None = None, depth: int | None = None, steps: int = 10_000,
                              batch_size: int = 16, patch_size: int = 64, lr: float = 3e-4, val_crops: int = 48,
                              val_every: int = 500, seed: int = 0, device: str = "cpu", resume: bool = True,
                              progress: bool = True) -> nn.Module:
    """Stage (b): train a denoiser on noisy crops only against the frozen ``prior``; writes checkpoints and ``denoiser/``.

    Args:
        prior: a :class:`~noiseaug.flows.glow.Glow` or where to load one (folder, released name, Hub id).
        images: clean folder the noisy crops are made from (default ``clean/bsd300-test``; the same
            80/20 split as the prior, so validation crops are unseen by both).
        lam: the prior's weight (module docs). max_sigma: noise std upper bound, 0-255 scale.
        denoiser, width, depth: :func:`~noiseaug.training.crops.build_denoiser` (UNet 48 wide, 4 levels, by
            default: about 1.6 s a step on one CPU thread at the defaults, DnCNN 17 x 64 about 5 s).
        patch_size: crop side; a multiple of the prior's ``image_size`` (tiled) or of ``2 ** levels``.
        lr: Adam, x0.1 at 75 % of the steps. ``best.pt`` keeps the best ``val_psnr``.
    """
    if isinstance(max_sigma, bool) or not isinstance(max_sigma, (int, float)) or not 0 <= max_sigma <= 255:
        raise NoiseaugInputError(f"max_sigma must be a number in [0, 255] (0-255 scale), got {max_sigma!r}")
    rank, _ = init_distributed()
    device = resolve_device(device)
    glow = prior if isinstance(prior, Glow) else Glow.from_pretrained(prior)
    glow = glow.to(device)
    if patch_size % glow.image_size and patch_size % glow.multiple:
        raise NoiseaugInputError(f"patch_size must be a multiple of the prior's image_size {glow.image_size} (or of "
                                 f"{glow.multiple}), got {patch_size}")
    train_images, test_images = clean_split(images or data_folder("clean", "bsd300-test"))
    noise = GaussianNoiseTransform(sigma=(0.0, max_sigma / 255), clip=False)
    batches = CropBatches(clean=train_images, noise=noise, patch=patch_size, batch_size=batch_size,
                          seed=seed + 1000 * rank, device=device)
    val_noisy, val_clean, val_sigma = validation_crops(test_images, patch_size, val_crops, seed + 99_991, device)
    with seeded(seed):
        net = build_denoiser(denoiser, width=width, depth=depth).to(device)
    module = FlowPriorDenoising(net, glow, lam)
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

    run_trainer(module, batches, validate, out_dir, steps=steps, lr=lr, val_every=val_every, seed=seed,
         best_key="val_neg_psnr", resume=resume, progress=progress, parameters=[{"params": list(net.parameters())}])
    if rank == 0:
        save_pretrained(net.eval(), Path(out_dir) / "denoiser")
    return net
