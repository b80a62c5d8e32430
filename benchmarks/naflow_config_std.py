"""How each learned NAFlow configuration's noise compares with the real noise of its own *training* pairs.

For every training pair of the chosen sources (``real_srgb_split``'s training split, never a test set), the noise of
the pair's own configuration is sampled on the pair's clean image (top-left, at most ``--side`` pixels square),
rounded to 8 bits like the real file, and compared with the real noise: its std divided by the real noise's (below
1: the configuration learned weaker noise than its pairs hold), its lag-1 horizontal correlation (spatial grain),
its shadows-to-highlights ratio (the noise std over the pixels of the darkest quarter of the clean image's
brightness divided by that over the brightest quarter: the signal dependence), its edges-to-flat ratio (the noise
std over the tenth of the pixels where the clean image's Laplacian is largest divided by that over the half where
it is smallest: the content dependence) and its kurtosis (3 for Gaussian noise; heavier tails above). Medians per
configuration.

    python benchmarks/naflow_config_std.py --model naflow-srgb --sources sidd-train
"""

from __future__ import annotations

import argparse
import statistics

import torch
import torch.nn.functional as F

from noiseaug import NAFlow, NoiseCondition
from noiseaug.data.real_srgb import SOURCES, configuration_name, real_srgb_split
from noiseaug.eval import crop_pair, lag1_correlation, std_ratio
from noiseaug.imageio import quantize_8bit, read_image


def std_below_and_above(noise: torch.Tensor, key: torch.Tensor, low: float, high: float) -> tuple[float, float]:
    """The noise std over the pixels whose ``key`` (a per-pixel ``(1, 1, H, W)`` map, shared by the channels) is at
    most its ``low`` quantile, and over those at least its ``high`` quantile (quantiles of a subsample)."""
    keys = key.expand_as(noise).flatten()
    below, above = torch.quantile(keys[:: max(1, keys.numel() // 100_000)], torch.tensor([low, high]))
    values = noise.flatten()
    return float(values[keys <= below].std()), float(values[keys >= above].std())


def shadows_to_highlights(noise: torch.Tensor, clean: torch.Tensor) -> float:
    """Noise std over the pixels whose clean brightness (channel mean) is in the lowest quarter, over the std in
    the highest quarter (``(1, 3, H, W)`` images)."""
    shadows, highlights = std_below_and_above(noise, clean.mean(1, keepdim=True), 0.25, 0.75)
    return shadows / highlights


def edges_to_flat(noise: torch.Tensor, clean: torch.Tensor) -> float:
    """Noise std over the pixels whose clean Laplacian magnitude (channel mean, replicate-padded 4-neighbour
    kernel) is in the highest tenth, over the std in the lowest half (``(1, 3, H, W)`` images)."""
    kernel = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]).expand(3, 1, 3, 3)
    laplacian = F.conv2d(F.pad(clean, (1, 1, 1, 1), mode="replicate"), kernel, groups=3).abs().mean(1, keepdim=True)
    flat, edges = std_below_and_above(noise, laplacian, 0.5, 0.9)
    return edges / flat


def kurtosis(noise: torch.Tensor) -> float:
    """Fourth standardised moment of the noise values (3 for a Gaussian)."""
    centred = noise - noise.mean()
    return float(centred.pow(4).mean() / centred.pow(2).mean().pow(2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="naflow-srgb", help="NAFlow folder or released name")
    parser.add_argument("--sources", nargs="+", choices=SOURCES, default=["sidd-train"], help="training folders")
    parser.add_argument("--side", type=int, default=256, help="crop side in pixels (top-left)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model = NAFlow.from_pretrained(args.model).eval()
    train, _ = real_srgb_split(sources=tuple(args.sources))
    generator = torch.Generator().manual_seed(args.seed)
    rows: dict[str, list[tuple[float, ...]]] = {}
    for pair in train:
        name = configuration_name(pair)
        if name not in model.configurations:
            continue
        noisy = read_image(pair.noisy_path)[None, :, : args.side, : args.side]
        clean = read_image(pair.clean_path)[None, :, : args.side, : args.side]
        noisy, clean = crop_pair(noisy, clean, 2**model.levels)
        config = NoiseCondition(config=torch.tensor([model.configurations.index(name)]))
        with torch.no_grad():
            synthetic = quantize_8bit(model.sample(clean, config, generator=generator))
        fake, real = synthetic - clean, noisy - clean
        rows.setdefault(name, []).append(
            (
                std_ratio(fake, real),
                lag1_correlation(fake),
                lag1_correlation(real),
                shadows_to_highlights(fake, clean),
                shadows_to_highlights(real, clean),
                edges_to_flat(fake, clean),
                edges_to_flat(real, clean),
                kurtosis(fake),
                kurtosis(real),
            )
        )
    print(
        "| configuration | training pairs | std ratio (synthetic / real): median, min, max | "
        "lag-1 corr.: synthetic / real | shadows / highlights std: synthetic / real | "
        "edges / flat std: synthetic / real | kurtosis: synthetic / real |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, values in sorted(rows.items()):
        ratios = [v[0] for v in values]
        med = [statistics.median(v[k] for v in values) for k in range(1, 9)]
        print(
            f"| {name} | {len(values)} | {statistics.median(ratios):.3f}, {min(ratios):.3f}, {max(ratios):.3f} | "
            f"{med[0]:.2f} / {med[1]:.2f} | {med[2]:.2f} / {med[3]:.2f} | {med[4]:.2f} / {med[5]:.2f} | "
            f"{med[6]:.1f} / {med[7]:.1f} |"
        )


if __name__ == "__main__":
    main()
