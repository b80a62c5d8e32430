"""NAFlow on real sRGB noise: KLD / AKLD against per-image fitted AWGN and NLF, a correlation figure, crops.

For every held-out pair (the scene-level test split of PolyU + CC15 used by ``noiseaug train naflow``)
and every ``real-srgb/sidd-dev`` pair (a smartphone camera family NAFlow never saw), each model
synthesises a noisy image from the clean one, which is clipped and rounded to 8 bits like the real
file, and its noise is compared with the real noise:

* AWGN and NLF *fitted to that test image's own residual* (maximum likelihood): the strongest
  parametric baselines, since they see the answer's statistics;
* NAFlow with the test pair itself as the reference: noise-aware sampling (NAS, Alg. 1, the tempered
  posterior's mixture), Rank-1 (the most likely configuration alone: the paper's Table 5 baseline) and
  the latent Gaussian fitted to the pair (beyond the paper), and the same fit with a std that follows the
  clean image's brightness (``signal_dependent=True``);
* NAFlow with a random configuration (uniform over the trained ones).

Noise std: the synthetic noise's standard deviation over the real one's, per image (``std ratio``).

KLD: NAFlow's convention (marginal histograms of ``noisy - clean`` on [-1, 1], 256 bins); AKLD:
DANet's. NLL per dimension (nats, [0, 1] scale, 8-bit values dequantised with uniform noise): NAFlow's
configuration-free mixture likelihood; the fitted baselines' Gaussian likelihood (with the advantage
of being fitted on the same image). Images are cropped to a multiple of 8 (top-left).

    python benchmarks/naflow_srgb.py --model runs/naflow-srgb/model --out out/naflow-srgb
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from torch import Tensor

from noiseaug import NAFlow
from noiseaug.demo import quantize_8bit
from noiseaug.eval import (
    CORRELATION_RADIUS,
    NLF_FIT,
    crop_pair,
    divergences,
    fit_per_image,
    noise_correlation,
    pyplot,
    real_srgb_test_sets,
    save_figure,
    seeded_generator,
    std_ratio,
    summarise_rows,
    write_outputs,
)
from noiseaug.eval.compare import MODELS, NAFLOW_NAS, likelihoods, synthesize
from noiseaug.imageio import write_png

METRICS = ("kld", "akld", "nll", "std_ratio")
FITTED_BRIGHTNESS = "NAFlow (fitted latent, brightness-dependent std)"


@torch.no_grad()
def evaluate(model: NAFlow, sets: dict, seed: int, posterior_temperature: float = 1.0) -> tuple[dict, list, dict]:
    """Per-set mean metrics (and the worst ``|std ratio - 1|``), per-image rows, and mean correlation maps
    (held-out set)."""
    rows, correlations = [], {}
    for s, (set_name, pairs) in enumerate(sets.items()):
        for i, (name, noisy, clean) in enumerate(pairs):
            generator = seeded_generator(seed, s, i)
            noisy, clean = crop_pair(noisy, clean, model.multiple)
            real = noisy - clean
            baselines = fit_per_image(noisy, clean)
            nll = likelihoods(model, baselines, noisy, clean, generator)
            synthetic_set = synthesize(model, baselines, noisy, clean, generator, posterior_temperature)
            synthetic_set[FITTED_BRIGHTNESS] = quantize_8bit(
                model.sample_fitted(clean, noisy, clean, generator, signal_dependent=True)
            )
            for model_name, synthetic in synthetic_set.items():
                noise = synthetic - clean
                rows.append(
                    {"set": set_name, "image": name, "model": model_name}
                    | divergences(real, noise)
                    | {"nll": nll.get(model_name), "std_ratio": std_ratio(noise, real)}
                )
                if set_name.startswith("held-out") and model_name in (NLF_FIT, NAFLOW_NAS):
                    correlations.setdefault(model_name, []).append(noise_correlation(noise))
            if set_name.startswith("held-out"):
                correlations.setdefault("real", []).append(noise_correlation(real))
    summary = summarise_rows(rows, ("set", "model"), METRICS)
    for set_name, models in summary.items():
        for model_name, m in models.items():
            m["worst_std_error"] = max(
                abs(r["std_ratio"] - 1) for r in rows if r["set"] == set_name and r["model"] == model_name
            )
    mean_corr = {k: torch.stack(v).mean(0) for k, v in correlations.items()}
    return summary, rows, mean_corr


def markdown(summary: dict) -> str:
    lines = []
    for set_name, models in summary.items():
        count = next(iter(models.values()))["images"]
        lines += [
            f"**{set_name}** ({count} images)",
            "",
            "| model | KLD | AKLD | NLL / dim (nats) | std ratio: mean / worst error |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for model_name, m in models.items():
            nll_text = "-" if m["nll"] is None else f"{m['nll']:.4f}"
            lines.append(
                f"| {model_name} | {m['kld']:.4f} | {m['akld']:.4f} | {nll_text} | "
                f"{m['std_ratio']:.2f} / {100 * m['worst_std_error']:.0f} % |"
            )
        lines.append("")
    return "\n".join(lines)


def correlation_figure(corr: dict[str, Tensor], path: Path) -> None:
    plt = pyplot()
    names = ["real", NAFLOW_NAS, NLF_FIT]
    masked = {}
    for name in names:
        masked[name] = corr[name].clone()
        masked[name][CORRELATION_RADIUS, CORRELATION_RADIUS] = float("nan")  # the centre is 1 by definition
    vmax = max(float(m.nan_to_num(0).abs().max()) for m in masked.values())
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
    for ax, name in zip(axes, names, strict=True):
        im = ax.imshow(masked[name].numpy(), cmap="RdBu_r", vmin=-vmax, vmax=vmax)
        ax.set_title(f"{name}\nneighbour corr. (centre masked)", fontsize=9)
        ax.set_xticks([0, CORRELATION_RADIUS, 2 * CORRELATION_RADIUS], [-CORRELATION_RADIUS, 0, CORRELATION_RADIUS])
        ax.set_yticks([0, CORRELATION_RADIUS, 2 * CORRELATION_RADIUS], [-CORRELATION_RADIUS, 0, CORRELATION_RADIUS])
        fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def crops_figure(
    model: NAFlow, sets: dict, path: Path, seed: int, size: int = 96, posterior_temperature: float = 1.0
) -> None:
    """Rows: a few held-out and sidd-dev images; columns: clean, real noisy, each model; noise x4 below."""
    picks = [pairs[i] for pairs in sets.values() for i in range(min(2, len(pairs)))]
    rows = []
    for k, (_, noisy, clean) in enumerate(picks):
        generator = seeded_generator(seed, k)
        noisy, clean = noisy[..., :size, :size], clean[..., :size, :size]
        synthetic = synthesize(model, fit_per_image(noisy, clean), noisy, clean, generator, posterior_temperature)
        images = [clean, noisy, *synthetic.values()]
        rows.append(torch.cat([im[0] for im in images], dim=2))
        rows.append(
            torch.cat([torch.full_like(clean[0], 0.5)] + [((im - clean) * 4 + 0.5)[0] for im in images[1:]], dim=2)
        )
    write_png(path, torch.cat(rows, dim=1).clamp(0, 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="naflow-srgb", help="NAFlow folder or released name")
    parser.add_argument("--data", type=Path, default=None, help="data root (default: $NOISEAUG_DATA or ../shared/data)")
    parser.add_argument("--out", type=Path, default=Path("out/naflow-srgb"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--posterior-temperature", type=float, default=1.0, help="NAS: temperature of NAFlow.posterior (0 is Rank-1)"
    )
    args = parser.parse_args()
    model = NAFlow.from_pretrained(args.model).eval()
    sets = real_srgb_test_sets(args.data)
    summary, rows, corr = evaluate(model, sets, args.seed, args.posterior_temperature)
    table = markdown(summary)
    write_outputs(
        args.out,
        {
            "naflow_srgb.md": table,
            "naflow_srgb.json": json.dumps(
                {"summary": summary, "rows": rows, "correlation": {k: v.tolist() for k, v in corr.items()}}, indent=2
            ),
        },
    )
    correlation_figure(corr, args.out / "noise_correlation.png")
    crops_figure(
        model, sets, args.out / "naflow_crops.png", args.seed, posterior_temperature=args.posterior_temperature
    )
    print(table)
    print(
        f"written to {args.out}: naflow_srgb.md, naflow_srgb.json, noise_correlation.png, naflow_crops.png "
        f"(crops: columns clean | real noisy | {' | '.join(MODELS)}; noise x4 around grey below each row)"
    )


if __name__ == "__main__":
    main()
