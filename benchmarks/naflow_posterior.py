"""How much noise-aware sampling mixes, and what the mixing does to its noise, on *training* pairs.

For each posterior temperature: NAFlow.posterior's mean top weight and entropy, and the KLD / AKLD / std ratio of
noise-aware sampling with the pair itself as the reference (8-bit, as in ``naflow_srgb.py``; temperature 0 is
Rank-1). The temperature's default is judged here, on pairs the model was trained on (every fourth PolyU, CC15 and
sidd-train pair, top-left 256x256), never on the test sets.

    python benchmarks/naflow_posterior.py --model naflow-srgb --temperature 0 0.25 0.5 1 2 5
"""

from __future__ import annotations

import argparse
import statistics

import torch

from noiseaug import NAFlow
from noiseaug.data.real_srgb import SOURCES, is_phone_pair, real_srgb_split
from noiseaug.demo import quantize_8bit
from noiseaug.eval import divergences, seeded_generator, std_ratio
from noiseaug.imageio import read_image

METRICS = ("kld", "akld", "std_ratio")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="naflow-srgb", help="NAFlow folder or released name")
    parser.add_argument("--temperature", type=float, nargs="+", default=[0.0, 0.25, 0.5, 1.0, 2.0, 5.0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    model = NAFlow.from_pretrained(args.model).eval()
    train, _ = real_srgb_split(sources=SOURCES)
    picks = [p for p in train if p.noisy_path.parent.name != "polyu-full"][::4]
    pairs = [
        (read_image(p.noisy_path)[None, :, :256, :256], read_image(p.clean_path)[None, :, :256, :256], is_phone_pair(p))
        for p in picks
    ]
    log_n = torch.tensor(len(model.configurations)).log()
    print(
        f"| temperature | mean top weight | mean entropy (nats, max {log_n:.2f}) | "
        "KLD: DSLR / phone | AKLD: DSLR / phone | std ratio: DSLR / phone |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for temperature in args.temperature:
        tops, entropies, scores = [], [], {False: [], True: []}
        for i, (noisy, clean, phone) in enumerate(pairs):
            weights = model.posterior(noisy, clean, temperature)[0].double()
            tops.append(float(weights.max()))
            entropies.append(float(-(weights * weights.clamp(min=1e-30).log()).sum()))
            with torch.no_grad():
                synthetic = model.sample_mixture(clean, weights[None].float(), seeded_generator(args.seed, i))
            noise, real = quantize_8bit(synthetic) - clean, noisy - clean
            scores[phone].append(divergences(real, noise) | {"std_ratio": std_ratio(noise, real)})
        means = {(m, phone): statistics.mean(s[m] for s in scores[phone]) for m in METRICS for phone in (False, True)}
        print(
            f"| {temperature:g} | {statistics.mean(tops):.3f} | {statistics.mean(entropies):.3f} | "
            + " | ".join(f"{means[m, False]:.4f} / {means[m, True]:.4f}" for m in ("kld", "akld"))
            + f" | {means['std_ratio', False]:.2f} / {means['std_ratio', True]:.2f} |"
        )
    print(f"({len(pairs)} training pairs: {sum(not p for *_, p in pairs)} DSLR, {sum(p for *_, p in pairs)} phone)")


if __name__ == "__main__":
    main()
