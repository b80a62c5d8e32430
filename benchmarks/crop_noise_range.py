"""Does a denoiser's synthetic noise cover the noise strengths of the real phone pairs? Per-crop noise std, paired.

The crops are drawn as ``noiseaug train dncnn --noise real-phone`` draws its training crops: random 48x48 crops
(with flips) of the real SIDD phone pairs of ``real-srgb/sidd-train`` (training data, never a test set). Each
``--noise`` source of ``noiseaug train dncnn`` noises the clean half of the same crops (clipped and rounded to 8
bits, as the recipe does; each source from its own generator seeded by ``--seed``); the real row is the pairs' own
noise. Per crop: the noise std (over its pixels and channels, on the 0-255 scale); the table gives quantiles over
the crops, and the share of crops above the real noise's 90th percentile (the strong end that a denoiser tested on
louder phones has to extrapolate from); then the noise's mean over every crop (negative: noisy darker than clean)
and its tone slope (:func:`~noiseaug.noise.tone_curve.tone_slope`: the darkening per unit of noise power, which a
concave tone curve gives camera sRGB noise).

    python benchmarks/crop_noise_range.py --noise nlf naflow-phone
    python benchmarks/crop_noise_range.py --noise naflow-phone --flow runs/naflow-srgb-b1e8387
    python benchmarks/crop_noise_range.py --noise naflow-phone naflow-phone-tone
"""

from __future__ import annotations

import argparse

import torch

from noiseaug.data.real_srgb import RealCrops, RealPairs, real_srgb_split
from noiseaug.eval import markdown_table
from noiseaug.imageio import quantize_8bit
from noiseaug.noise.tone_curve import tone_slope
from noiseaug.recipes.dncnn import DEFAULT_FLOW, NOISE_SOURCES, REAL_SOURCES, noise_source

QUANTILES = (0.1, 0.5, 0.9, 0.99)


def crop_std(noise: torch.Tensor) -> torch.Tensor:
    """Per-crop std of ``(N, 3, H, W)`` noise on the 0-255 scale."""
    return noise.flatten(1).std(1) * 255


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    synthetic = [n for n in NOISE_SOURCES if n not in REAL_SOURCES]
    parser.add_argument("--noise", nargs="+", choices=synthetic, default=["naflow-phone"], help="dncnn noise sources")
    parser.add_argument("--flow", default=DEFAULT_FLOW, help="the NAFlow of the naflow* sources (folder or name)")
    parser.add_argument("--batches", type=int, default=40, help="batches of 16 crops")
    parser.add_argument("--data", help="data root (default: $NOISEAUG_DATA)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    pairs = RealPairs.load(real_srgb_split(args.data, sources=REAL_SOURCES["real-phone"])[0])
    crops = RealCrops(pairs, [], 48, 16, args.seed, dequantize=False)
    batches = [crops.batch(k) for k in range(args.batches)]
    clean = torch.cat([b["clean"] for b in batches])
    noises = {"real pairs": torch.cat([b["noisy"] for b in batches]) - clean}
    for name in args.noise:
        source = noise_source(name, args.data, args.flow)
        generator = torch.Generator().manual_seed(args.seed)  # each source's draws whatever else is listed
        with torch.no_grad():
            noises[name] = torch.cat([quantize_8bit(source(b["clean"], generator=generator)) for b in batches]) - clean
    stds = {label: crop_std(noise) for label, noise in noises.items()}
    strong = float(torch.quantile(stds["real pairs"], 0.9))
    rows = [
        [
            label,
            " / ".join(f"{float(v):.1f}" for v in torch.quantile(s, torch.tensor(QUANTILES))),
            f"{float(s.max()):.1f}",
            f"{float((s > strong).float().mean()):.3f}",
            f"{float(noises[label].mean()) * 255:+.2f}",
            f"{tone_slope(clean, noises[label]):.2f}",
        ]
        for label, s in stds.items()
    ]
    header = [
        "noise",
        "crop std q10 / q50 / q90 / q99 (/255)",
        "max",
        f"share above the real q90 ({strong:.1f})",
        "mean (/255)",
        "tone slope",
    ]
    print(f"{len(clean)} crops of 48x48 from {len(pairs.pairs)} sidd-train pairs; flow {args.flow}\n")
    print("\n".join(markdown_table(header, rows)))


if __name__ == "__main__":
    main()
