"""Is noise-aware sampling ahead of Rank-1 and of the fitted NLF, or is the gap one draw's luck? Paired draws.

``naflow_srgb.py`` scores one draw per image. Here every test image (the held-out PolyU + CC15 pairs and
``sidd-dev``, as there: clipped 8-bit synthetic noise, the pair itself as the reference, images cropped to the
flow's multiple) is drawn ``--draws`` times. In each draw NAS and Rank-1 share their standard normal latent
(common random numbers: the same seeded generator), so their difference is the mixture's alone; the NLF
fitted to the image draws from its own generator. Per set and draw the mean KLD over the images is taken;
the table gives the mean over draws with the standard deviation over draws, and for each paired difference
(NAS - Rank-1, NAS - NLF; negative means NAS is ahead) its mean, its standard error over draws and the draws
NAS wins. ``naflow_draws.json`` keeps every image's KLD of every draw and the three configurations with NAS's
largest posterior weights.

    python benchmarks/naflow_draws.py --model naflow-srgb --draws 8 --out out/naflow-draws
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

from noiseaug import NAFlow
from noiseaug.demo import quantize_8bit
from noiseaug.eval import (
    NLF_FIT,
    crop_pair,
    divergences,
    fit_per_image,
    limit_sets,
    real_srgb_test_sets,
    seeded_generator,
    write_report,
)
from noiseaug.eval.compare import NAFLOW_NAS, NAFLOW_RANK1

MODELS = (NLF_FIT, NAFLOW_RANK1, NAFLOW_NAS)
DIFFERENCES = ((NAFLOW_NAS, NAFLOW_RANK1), (NAFLOW_NAS, NLF_FIT))


@torch.no_grad()
def draw_klds(model: NAFlow, sets: dict, draws: int, seed: int, posterior_temperature: float) -> tuple[dict, dict]:
    """``{set: {image: {model: [KLD, one per draw]}}}`` and NAS's posterior ``{set: {image: {configuration:
    weight}}}`` (its three largest weights, largest first: the first is Rank-1's configuration); the posteriors
    and the NLF fits are computed once per image, the draws are seeded by ``(seed, draw, set, image)``."""
    kld: dict = {}
    posteriors: dict = {}
    for s, (set_name, pairs) in enumerate(sets.items()):
        kld[set_name], posteriors[set_name] = {}, {}
        for i, (image_name, noisy, clean) in enumerate(pairs):
            noisy, clean = crop_pair(noisy, clean, model.multiple)
            real = noisy - clean
            nlf = fit_per_image(noisy, clean)[NLF_FIT]
            weights = {
                NAFLOW_RANK1: model.posterior(noisy, clean, 0.0),
                NAFLOW_NAS: model.posterior(noisy, clean, posterior_temperature),
            }
            image_kld: dict = {m: [] for m in MODELS}
            for d in range(draws):
                synthetic = {NLF_FIT: nlf.sample(clean, generator=seeded_generator(seed, d, s, i, 1))}
                for name, w in weights.items():  # the same latent draw for both
                    synthetic[name] = model.sample_mixture(clean, w, seeded_generator(seed, d, s, i, 0))
                for name, image in synthetic.items():
                    image_kld[name].append(divergences(real, quantize_8bit(image) - clean)["kld"])
            kld[set_name][image_name] = image_kld
            top = weights[NAFLOW_NAS][0].topk(min(3, len(model.configurations)))
            posteriors[set_name][image_name] = {
                model.configurations[int(c)]: float(w) for w, c in zip(top.values, top.indices, strict=True)
            }
    return kld, posteriors


def set_means(kld: dict) -> dict:
    """``{set: {model: [mean KLD over the set's images, one per draw]}}`` of :func:`draw_klds`' output."""
    return {
        set_name: {m: [statistics.mean(d) for d in zip(*(v[m] for v in images.values()), strict=True)] for m in MODELS}
        for set_name, images in kld.items()
    }


def summarise(kld: dict) -> dict:
    """Per set: each model's mean and std over draws, and each paired difference's mean, standard error over
    draws and the number of draws in which the first model has the lower KLD."""
    summary: dict = {}
    for set_name, models in kld.items():
        draws = len(next(iter(models.values())))
        spread = (lambda v: statistics.stdev(v)) if draws > 1 else (lambda v: float("nan"))
        entry: dict = {m: {"mean": statistics.mean(v), "std": spread(v)} for m, v in models.items()}
        for a, b in DIFFERENCES:
            diff = [x - y for x, y in zip(models[a], models[b], strict=True)]
            entry[f"{a} - {b}"] = {
                "mean": statistics.mean(diff),
                "stderr": spread(diff) / draws**0.5,
                "wins": sum(d < 0 for d in diff),
                "draws": draws,
            }
        summary[set_name] = entry
    return summary


def markdown(summary: dict, posteriors: dict) -> str:
    lines = []
    for set_name, entry in summary.items():
        tops = [next(iter(weights.values())) for weights in posteriors[set_name].values()]
        lines += [
            f"**{set_name}** (NAS posterior's top weight: median {statistics.median(tops):.2f}, "
            f"{min(tops):.2f} to {max(tops):.2f} over {len(tops)} images)",
            "",
            "| KLD | mean over draws | std over draws |",
            "| --- | ---: | ---: |",
        ]
        lines += [f"| {m} | {entry[m]['mean']:.4f} | {entry[m]['std']:.4f} |" for m in MODELS]
        lines += ["", "| paired difference | mean | standard error | NAS ahead |", "| --- | ---: | ---: | ---: |"]
        for a, b in DIFFERENCES:
            d = entry[f"{a} - {b}"]
            lines.append(f"| {a} - {b} | {d['mean']:+.6f} | {d['stderr']:.6f} | {d['wins']} / {d['draws']} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="naflow-srgb", help="NAFlow folder or released name")
    parser.add_argument("--data", type=Path, default=None, help="data root (default: $NOISEAUG_DATA or ../shared/data)")
    parser.add_argument("--draws", type=int, default=8, help="draws per image (at least 2 for a spread)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images of each set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--posterior-temperature", type=float, default=1.0, help="NAS: NAFlow.posterior's temperature")
    parser.add_argument("--out", type=Path, default=Path("out/naflow-draws"))
    args = parser.parse_args()
    if args.draws < 1:
        parser.error(f"--draws must be at least 1, got {args.draws}")
    model = NAFlow.from_pretrained(args.model).eval()
    sets = limit_sets(real_srgb_test_sets(args.data), args.limit)
    kld, posteriors = draw_klds(model, sets, args.draws, args.seed, args.posterior_temperature)
    summary = summarise(set_means(kld))
    report = {"kld": kld, "posterior_top3": posteriors, "summary": summary}
    write_report(args.out, "naflow_draws", report, markdown(summary, posteriors))


if __name__ == "__main__":
    main()
