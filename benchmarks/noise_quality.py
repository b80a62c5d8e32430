"""Noise quality: every noise model on every test set it applies to, in one run.

**Real sRGB** (the test sets of ``naflow_srgb.py``): the scene-level held-out split of PolyU + CC15
(20 pairs, the split ``noiseaug train naflow`` leaves out) and ``real-srgb/sidd-dev`` (5 smartphone
pairs, a camera family no model here was trained on). For each pair every model synthesises a noisy
image from the clean one; it is clipped and rounded to 8 bits like the real file, and its noise
``synthetic - clean`` is compared with the real noise ``noisy - clean``. Models:

* AWGN, NLF (heteroscedastic Gaussian) and Poisson-Gaussian, each *fitted by maximum likelihood to
  that test image's own residual*: they see the answer's statistics (an optimistic baseline);
* NAFlow (released ``naflow-srgb``) with noise-aware sampling (NAS, Alg. 1; the test pair itself as
  the reference) and with a random configuration (one-hot, uniform over the trained ones);
* NoiseFlow-ISP: the released raw ``noiseflow-simcam`` on the unprocessed image, through the simple ISP
  (``noise_source("noiseflow-isp")``, a random simulated camera, ISO and ISP per image). *Pretrained,
  not fitted*: it was trained on the project's simulated camera and never saw real data.

Every model sees the same image, cropped (top-left) to a multiple of 8, which NAFlow needs (and the
raw route's even sizes follow). Metrics per image, then the mean over a set's images:

* KLD: NAFlow's convention, forward KL(real || model) of marginal histograms of the noise on
  [-1, 1] with 256 bins, over bins where both are non-zero; AKLD: DANet's (7x7 Gaussian local variance
  ratio, clamped to [0.1, 10]); both exactly as ``naflow_srgb.py`` computes them.
* NLL per dimension: nats, [0, 1] scale, the real 8-bit noisy image dequantised with uniform noise
  of one level (``noiseaug.eval.compare.likelihoods``). Fitted Gaussian-family likelihoods (fitted on the same image);
  Poisson-Gaussian by its Gaussian approximation (its exact likelihood sums over ``clean / gain``
  photon counts, 10^4 to 10^8 per pixel at the gains fitted to sRGB noise, so it is not tractable and
  the approximation is exact to that precision; with the same ML fit it equals NLF's value, up to the
  gain floor of 1e-8); NAFlow's configuration-free mixture likelihood (one density for both sampling
  modes, listed on the NAS row as ``naflow_srgb.py`` does); "-" for NoiseFlow-ISP, whose sRGB
  density is not tractable.
* lag-1 horizontal correlation of the noise (``noiseaug.eval.noise_correlation`` at (0, +1)): spatial
  correlation, which pixel-independent parametric models cannot produce; the real noise's is given.
* noise std on the 0-255 scale, for scale.

The parametric models are zero-mean, and some real pairs are not: the clean reference differs from the
noisy image by a brightness offset (about 2-4 levels of 255 in PolyU's Canon5D2 crops and CC15's d600, 4-11
on four of the sidd-dev pairs), which their fits absorb into the variance. Every model is scored against
the real residual as it is.

**Simulated raw camera** (``noiseflow_simcam.simcam_results``): NLL per dimension and marginal KL in
the Noise Flow convention ([-0.1, 0.1], 64 bins + under/overflow) on the held-out split's fixed,
balanced packed patches, for ``noiseflow-simcam``, ``n2nflow-simcam`` (trained without clean images)
and the AWGN/NLF baselines (fitted on training patches per camera/ISO, or on each test patch).

Outputs under ``--out``: ``noise_quality.md`` (the tables, printed too), ``noise_quality.json`` (every
number, per image too, with hardware and the weights' commits and hashes) and ``noise_crops.png``
(for a few test images: clean | real noisy | each model's noisy, and under each its noise x4 around
grey). Randomness is seeded per image by ``(--seed, set, image)``, so a ``--limit`` run reproduces the
full run's first images. Reproduce:

    OMP_NUM_THREADS=1 python benchmarks/noise_quality.py --out out/noise-quality
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from torch import Tensor

from noiseaug import NAFlow
from noiseaug.demo import quantize_8bit
from noiseaug.eval import (
    AWGN_FIT,
    NLF_FIT,
    PG_FIT,
    cell,
    crop_pair,
    divergences,
    fit_per_image,
    fitted_parameters,
    limit_sets,
    markdown_table,
    pyplot,
    real_srgb_test_sets,
    save_figure,
    seeded_generator,
    spread,
    summarise_rows,
    write_outputs,
)
from noiseaug.eval.compare import NAFLOW_FITTED, NAFLOW_NAS, NAFLOW_RANDOM, likelihoods, synthesize
from noiseaug.eval.simcam import simcam_markdown, simcam_results
from noiseaug.eval.timing import hardware_line, weights_provenance
from noiseaug.recipes.dncnn import noise_source
from noiseaug.transforms import NoiseTransform

AWGN, NLF, PG = AWGN_FIT, NLF_FIT, PG_FIT
NOISEFLOW_ISP = "NoiseFlow-ISP (pretrained on the simulated camera)"
SRGB_MODELS = (AWGN, NLF, PG, NAFLOW_NAS, NAFLOW_FITTED, NAFLOW_RANDOM, NOISEFLOW_ISP)
SHORT_NAMES = {
    AWGN: "AWGN (fit)",
    NLF: "NLF (fit)",
    PG: "PG (fit)",
    NAFLOW_NAS: "NAFlow NAS",
    NAFLOW_FITTED: "NAFlow fitted",
    NAFLOW_RANDOM: "NAFlow random",
    NOISEFLOW_ISP: "NoiseFlow-ISP",
}
RAW_FLOWS = {
    "Noise Flow (noiseflow-simcam)": "noiseflow-simcam",
    "Noise2NoiseFlow (n2nflow-simcam, no clean images)": "n2nflow-simcam",
}
RELEASED = ("naflow-srgb", "noiseflow-simcam", "n2nflow-simcam")
METRICS = ("kld", "akld", "nll", "corr_h1", "std_255")
#: Figure: (set position, image position) of the pairs shown, taken modulo what ``--limit`` leaves: a PolyU
#: (Canon 80D, ISO 6400) and a CC15 (D800, ISO 6400) pair of the held-out split, both well registered and
#: with little brightness offset between noisy and clean, and a lower-noise and the Pixel (ISO 6400) pair
#: of sidd-dev.
FIGURE_PICKS = ((0, 4), (0, -1), (1, 1), (1, 2))
CROP = 96


def image_rows(
    naflow: NAFlow, isp: NoiseTransform, noisy: Tensor, clean: Tensor, generator: torch.Generator
) -> tuple[list[dict], dict[str, Tensor]]:
    """Per-model metric rows (plus a ``"real"`` row) for one pair already cropped, and the synthetic images."""
    fitted = fit_per_image(noisy, clean, poisson_gaussian=True)
    nll = likelihoods(naflow, fitted, noisy, clean, generator)
    synthetic = synthesize(naflow, fitted, noisy, clean, generator)
    synthetic[NOISEFLOW_ISP] = quantize_8bit(isp(clean, generator=generator))
    real = noisy - clean
    rows = [{"model": "real", "finite": True, "nll": None, "kld": None, "akld": None} | spread(real)]
    for name in SRGB_MODELS:
        noise = synthetic[name] - clean
        row = {"model": name, "finite": bool(torch.isfinite(noise).all()), "nll": nll.get(name)}
        if row["finite"]:
            row |= divergences(real, noise) | spread(noise)
        else:  # left out of the means and counted
            row |= dict.fromkeys(("kld", "akld", "corr_h1", "std_255"))
        rows.append(row)
    rows[0]["fits"] = fitted_parameters(fitted)
    return rows, synthetic


def evaluate_srgb(naflow: NAFlow, isp: NoiseTransform, sets: dict, seed: int) -> tuple[list[dict], dict]:
    """Rows for every (set, image, model) and the images the figure shows: ``{(set, image): [...]}``."""
    picks = {(s, i % len(pairs)) for s, pairs in enumerate(sets.values()) for t, i in FIGURE_PICKS if t == s and pairs}
    rows, shown = [], {}
    for s, (set_name, pairs) in enumerate(sets.items()):
        for i, (name, noisy, clean) in enumerate(pairs):
            noisy, clean = crop_pair(noisy, clean, naflow.multiple)
            generator = seeded_generator(seed, s, i)
            per_model, synthetic = image_rows(naflow, isp, noisy, clean, generator)
            rows += [{"set": set_name, "image": name} | row for row in per_model]
            if (s, i) in picks:
                shown[(s, i)] = (set_name, name, clean, noisy, [synthetic[m] for m in SRGB_MODELS])
    return rows, dict(sorted(shown.items()))


def summarise(rows: list[dict]) -> dict:
    """``{set: {model: {metric mean, "images", "non_finite"}}}``; means over the images with finite samples."""
    return summarise_rows(rows, ("set", "model"), METRICS, count_non_finite=True)


def srgb_markdown(summary: dict) -> str:
    lines = []
    for set_name, models in summary.items():
        rows = []
        for model, m in models.items():
            note = f" ({m['non_finite']} non-finite samples left out)" if m["non_finite"] else ""
            rows.append(
                [
                    f"{'real noise' if model == 'real' else model}{note}",
                    cell(m["kld"]),
                    cell(m["akld"]),
                    cell(m["nll"]),
                    cell(m["corr_h1"], ".3f"),
                    cell(m["std_255"], ".2f"),
                ]
            )
        lines += [
            f"**{set_name}** ({models['real']['images']} images)",
            "",
            *markdown_table(
                ["model", "KLD", "AKLD", "NLL / dim (nats)", "lag-1 horiz. corr.", "noise std (0-255)"], rows
            ),
            "",
        ]
    return "\n".join(lines)


def crops_figure(shown: dict, path: Path, size: int = CROP, zoom: int = 2) -> None:
    """Per shown image, two rows of centre crops: clean | real noisy | each model; then noise x4 around grey."""
    plt = pyplot()
    columns = ["clean", "real noisy", *(SHORT_NAMES[m] for m in SRGB_MODELS)]
    tile, gap, left, top, dpi = size * zoom, 6, 240, 34, 100
    rows = 2 * len(shown)
    width, height = left + len(columns) * (tile + gap), top + rows * (tile + gap)
    fig = plt.figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    for c, label in enumerate(columns):
        fig.text(
            (left + c * (tile + gap) + tile / 2) / width, 1 - 12 / height, label, ha="center", va="center", fontsize=10
        )
    for r, (set_name, name, clean, noisy, synthetic) in enumerate(shown.values()):
        h, w = clean.shape[-2:]
        y0, x0 = (h - size) // 2, (w - size) // 2
        crop = lambda t, y0=y0, x0=x0: t[0, :, y0 : y0 + size, x0 : x0 + size]  # noqa: E731
        images = [crop(clean), crop(noisy), *(crop(s) for s in synthetic)]
        noises = [torch.full_like(images[0], 0.5)] + [crop((t - clean) * 4 + 0.5) for t in [noisy, *synthetic]]
        for k, (row_images, label) in enumerate(((images, f"{set_name.split(' (')[0]}\n{name}"), (noises, "noise x4"))):
            bottom = height - top - (2 * r + k + 1) * (tile + gap)
            fig.text(8 / width, (bottom + tile / 2) / height, label, ha="left", va="center", fontsize=8)
            for c, image in enumerate(row_images):
                ax = fig.add_axes(((left + c * (tile + gap)) / width, bottom / height, tile / width, tile / height))
                ax.imshow(image.nan_to_num(0.5).clamp(0, 1).permute(1, 2, 0).numpy(), interpolation="nearest")
                ax.set_axis_off()
    save_figure(fig, path, dpi=dpi, facecolor="white")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out/noise-quality"))
    parser.add_argument("--data", type=Path, default=None, help="data root (default: $NOISEAUG_DATA or ../shared/data)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="at most this many images per sRGB test set")
    parser.add_argument(
        "--raw-batches",
        type=int,
        default=40,
        help="simulated camera: batches of 32 held-out patches, and training batches for the fits",
    )
    parser.add_argument("--skip-raw", action="store_true", help="leave out the simulated raw camera")
    parser.add_argument("--no-figure", action="store_true", help="no noise_crops.png (no matplotlib needed)")
    args = parser.parse_args()
    start = time.perf_counter()

    naflow = NAFlow.from_pretrained("naflow-srgb").eval()
    isp = noise_source("noiseflow-isp")
    sets = limit_sets(real_srgb_test_sets(args.data), args.limit)
    rows, shown = evaluate_srgb(naflow, isp, sets, args.seed)
    summary = summarise(rows)
    raw = None
    if not args.skip_raw:
        images = None if args.data is None else args.data / "clean" / "bsd300-test"
        raw = simcam_results(RAW_FLOWS, images, test_batches=args.raw_batches, train_batches=args.raw_batches)

    weights = {name: weights_provenance(name) for name in RELEASED}
    header = [
        f"Seed {args.seed}; {hardware_line()}. Weights (last commit / sha256 prefix): "
        + ", ".join(
            f"`{n}` {w['commit']}{' + uncommitted' if w['uncommitted_changes'] else ''} / {w['sha256_16']}"
            for n, w in weights.items()
        )
        + ".",
        "",
        "Real sRGB: synthetic images clipped and rounded to 8 bits; all images cropped to a multiple of 8. "
        "KLD: NAFlow convention ([-1, 1], 256 bins, KL(real || model)); AKLD: DANet. NLL: nats/dim, [0, 1] scale, "
        "real noisy dequantised; AWGN/NLF/PG fitted on the test image itself (PG by its Gaussian approximation, "
        "= NLF's likelihood); NAFlow's configuration-free likelihood on the NAS row; NoiseFlow-ISP: not tractable. "
        "Lag-1 corr.: noise correlation with the right-hand neighbour. NoiseFlow-ISP is the raw simulated-camera "
        "model through the simple ISP, pretrained, never fitted to or trained on real data.",
        "",
    ]
    table = "\n".join(header) + "\n" + srgb_markdown(summary)
    if raw is not None:
        table += "\n**simulated raw camera (held-out split)**\n\n" + simcam_markdown(raw) + "\n"
    write_outputs(
        args.out,
        {
            "noise_quality.md": table,
            "noise_quality.json": json.dumps(
                {
                    "seed": args.seed,
                    "limit": args.limit,
                    "hardware": hardware_line(),
                    "weights": weights,
                    "srgb": {"models": list(SRGB_MODELS), "summary": summary, "rows": rows},
                    "raw": raw,
                    "seconds": round(time.perf_counter() - start, 1),
                },
                indent=2,
            ),
        },
    )
    if not args.no_figure:
        crops_figure(shown, args.out / "noise_crops.png")
    print(table)
    print(
        f"written to {args.out}: noise_quality.md, noise_quality.json"
        + (
            ""
            if args.no_figure
            else ", noise_crops.png (centre crops; columns clean | real noisy | "
            f"{' | '.join(SHORT_NAMES[m] for m in SRGB_MODELS)}; noise x4 around grey below)"
        )
    )


if __name__ == "__main__":
    main()
