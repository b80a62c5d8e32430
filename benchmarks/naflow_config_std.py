"""How strong each learned NAFlow configuration's noise is against the real noise of its own *training* pairs.

For every training pair of the chosen sources (``real_srgb_split``'s training split, never a test set), the noise of
the pair's own configuration is sampled on the pair's clean image (top-left, at most ``--side`` pixels square),
rounded to 8 bits like the real file, and its std is divided by the real noise's. A ratio below 1 means the
configuration learned weaker noise than its pairs hold. Medians per configuration.

    python benchmarks/naflow_config_std.py --model naflow-srgb --sources sidd-train
"""

from __future__ import annotations

import argparse
import statistics

import torch

from noiseaug import NAFlow, NoiseCondition
from noiseaug.data.real_srgb import SOURCES, configuration_name, real_srgb_split
from noiseaug.eval import crop_pair, std_ratio
from noiseaug.imageio import quantize_8bit, read_image


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
    ratios: dict[str, list[float]] = {}
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
        ratios.setdefault(name, []).append(std_ratio(synthetic - clean, noisy - clean))
    print("| configuration | training pairs | median std ratio (synthetic / real) | min | max |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, values in sorted(ratios.items()):
        print(f"| {name} | {len(values)} | {statistics.median(values):.3f} | {min(values):.3f} | {max(values):.3f} |")


if __name__ == "__main__":
    main()
