"""How much noise-aware sampling mixes: NAFlow.posterior's top weight and entropy on *training* pairs.

The posterior temperature's default is judged here, on pairs the model was trained on (every fourth PolyU,
CC15 and sidd-train pair, top-left 256x256), never on the test sets.

    python benchmarks/naflow_posterior.py --model naflow-srgb --temperature 0 0.5 1 2 5
"""

from __future__ import annotations

import argparse
import statistics

import torch

from noiseaug import NAFlow
from noiseaug.data.real_srgb import SOURCES, real_srgb_split
from noiseaug.imageio import read_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="naflow-srgb", help="NAFlow folder or released name")
    parser.add_argument("--temperature", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0, 5.0])
    args = parser.parse_args()
    model = NAFlow.from_pretrained(args.model).eval()
    train, _ = real_srgb_split(sources=SOURCES)
    picks = [p for p in train if p.noisy_path.parent.name != "polyu-full"][::4]
    pairs = [
        (read_image(p.noisy_path)[None, :, :256, :256], read_image(p.clean_path)[None, :, :256, :256]) for p in picks
    ]
    print(
        f"| temperature | mean top weight | mean entropy (nats, max {torch.tensor(len(model.configurations)).log():.2f}) |"
    )
    print("| ---: | ---: | ---: |")
    for temperature in args.temperature:
        weights = [model.posterior(noisy, clean, temperature)[0].double() for noisy, clean in pairs]
        top = statistics.mean(float(w.max()) for w in weights)
        entropy = statistics.mean(float(-(w * w.clamp(min=1e-30).log()).sum()) for w in weights)
        print(f"| {temperature:g} | {top:.3f} | {entropy:.3f} |")
    print(f"({len(pairs)} training pairs)")


if __name__ == "__main__":
    main()
