"""``noiseaug demo``: synthesize noise with every available model beside real noise, offline.

For each sample pair shipped in ``noiseaug/assets/samples`` (real noisy + clean crops), every
parametric model is fitted to that pair's residual by maximum likelihood and the released NAFlow
(when installed) takes the pair as its reference, twice: noise-aware sampling (a mixture of its trained
configurations) and a latent Gaussian fitted to the pair's own latent; each is sampled on the clean crop, clipped
and quantised to 8 bits as a camera file would be, and compared with the real noise: noise standard
deviation (0-255 scale), KLD (NAFlow's sRGB convention: [-1, 1], 256 bins) and AKLD (DANet).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Protocol

import torch
from torch import Tensor

from ._validation import check_device, check_seed
from .flows.naflow import NAFlow
from .hub import released_models
from .imageio import quantize_8bit, read_image, write_png
from .metrics import akld, marginal_kl
from .noise import GaussianNoise, HeteroscedasticGaussianNoise, NoiseModel, PoissonGaussianNoise

SAMPLES_PACKAGE = "noiseaug.assets"

#: A demo noise source: ``(real noisy, clean, generator) -> synthetic noisy`` for one real pair.
Sampler = Callable[[Tensor, Tensor, torch.Generator], Tensor]

#: The released NAFlow the demo uses when it is installed (noise-aware sampling, the pair as reference).
DEMO_NAFLOW = "naflow-srgb"


class _Fits(Protocol):
    """A noise model class with a maximum-likelihood ``fit(noisy, clean)``."""

    def fit(self, noisy: Tensor, clean: Tensor) -> NoiseModel: ...


def _fitted(model: _Fits) -> Sampler:
    """Fit ``model`` to the pair's residual by maximum likelihood, then sample it on the clean image."""
    return lambda noisy, clean, generator: model.fit(noisy, clean).to(clean.device).sample(clean, generator=generator)


def demo_samplers() -> dict[str, Sampler]:
    """The parametric models fitted per pair, plus NAFlow with the pair as reference (noise-aware sampling and the
    fitted latent) when its weights are released."""
    samplers = {
        "AWGN (fitted)": _fitted(GaussianNoise),
        "NLF (fitted)": _fitted(HeteroscedasticGaussianNoise),
        "Poisson-Gaussian (fitted)": _fitted(PoissonGaussianNoise),
    }
    if DEMO_NAFLOW in released_models():
        naflow = NAFlow.from_pretrained(DEMO_NAFLOW).eval()

        def noise_aware(noisy: Tensor, clean: Tensor, generator: torch.Generator) -> Tensor:
            return naflow.to(clean.device).sample_noise_aware(clean, noisy, clean, generator)

        def fitted_latent(noisy: Tensor, clean: Tensor, generator: torch.Generator) -> Tensor:
            return naflow.to(clean.device).sample_fitted(clean, noisy, clean, generator)

        samplers["NAFlow (noise-aware)"] = noise_aware
        samplers["NAFlow (fitted latent)"] = fitted_latent
    return samplers


@dataclass(frozen=True)
class SamplePair:
    """A real noisy/clean crop shipped with the package; tensors ``(1, 3, H, W)`` in [0, 1]."""

    name: str
    noisy: Tensor
    clean: Tensor


@dataclass(frozen=True)
class DemoRow:
    image: str
    model: str
    noise_std_255: float
    kld: float | None
    akld: float | None


def sample_pairs() -> list[SamplePair]:
    """The shipped sample pairs (sources in ``noiseaug/assets/samples/SOURCES.md``), sorted by name."""
    folder = resources.files(SAMPLES_PACKAGE) / "samples"
    pairs = []
    for noisy_file in sorted((f for f in folder.iterdir() if f.name.endswith("_noisy.png")), key=lambda f: f.name):
        name = noisy_file.name.removesuffix("_noisy.png")
        with resources.as_file(noisy_file) as noisy_path, resources.as_file(folder / f"{name}_clean.png") as clean_path:
            pairs.append(SamplePair(name, read_image(noisy_path)[None], read_image(clean_path)[None]))
    return pairs


@torch.no_grad()  # the fits are closed-form; NAFlow.sample_* would otherwise record a graph
def run_demo(out_dir: str | Path, seed: int = 0, device: str = "cpu") -> tuple[list[DemoRow], Path]:
    """Run the demo; write ``demo.png`` (figure) and ``demo.json`` (table) under ``out_dir``.

    Figure layout: for each sample, a row of images (clean | real noisy | one column per model) and
    a row of their noise ``noisy - clean`` amplified 4x around mid-grey.
    """
    out_dir, where = Path(out_dir), check_device(device)
    generator = torch.Generator(device=where).manual_seed(check_seed(seed))
    rows: list[DemoRow] = []
    samplers = demo_samplers()
    figure_rows: list[Tensor] = []
    for pair in sample_pairs():
        noisy, clean = pair.noisy.to(where), pair.clean.to(where)
        real_noise = noisy - clean
        rows.append(DemoRow(pair.name, "real", _std_255(real_noise), None, None))
        images = [clean, noisy]
        for model_name, sampler in samplers.items():
            synthetic = quantize_8bit(sampler(noisy, clean, generator))
            model_noise = synthetic - clean
            rows.append(
                DemoRow(
                    pair.name,
                    model_name,
                    _std_255(model_noise),
                    float(marginal_kl(real_noise, model_noise, "naflow")),
                    float(akld(real_noise, model_noise)),
                )
            )
            images.append(synthetic)
        figure_rows.append(_tile_row(images))
        figure_rows.append(_tile_row([torch.full_like(clean, 0.5)] + [(im - clean) * 4 + 0.5 for im in images[1:]]))
    figure = write_png(out_dir / "demo.png", _stack(figure_rows, dim=1))
    (out_dir / "demo.json").write_text(json.dumps([asdict(r) for r in rows], indent=2))
    return rows, figure


def format_table(rows: list[DemoRow]) -> str:
    """The demo table as markdown."""
    lines = [
        "| image | model | noise std (0-255) | KLD (sRGB, 256 bins) | AKLD |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for r in rows:
        kld = "-" if r.kld is None else f"{r.kld:.4f}"
        ak = "-" if r.akld is None else f"{r.akld:.4f}"
        lines.append(f"| {r.image} | {r.model} | {r.noise_std_255:.2f} | {kld} | {ak} |")
    return "\n".join(lines)


def figure_columns() -> list[str]:
    return ["clean", "real noisy", *demo_samplers()]


def _std_255(noise: Tensor) -> float:
    return float(noise.std() * 255)


def _tile_row(images: list[Tensor]) -> Tensor:
    return _stack([im[0].clamp(0, 1).cpu() for im in images], dim=2)


def _stack(tiles: list[Tensor], dim: int, gap: int = 4) -> Tensor:
    """Concatenate ``(3, H, W)`` tiles along ``dim`` with white gaps."""
    shape = list(tiles[0].shape)
    shape[dim] = gap
    spacer = torch.ones(shape)
    parts = [t for tile in tiles for t in (tile, spacer)][:-1]
    return torch.cat(parts, dim=dim)
