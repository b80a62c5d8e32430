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
  of one level (``naflow_srgb.nll``). Fitted Gaussian-family likelihoods (fitted on the same image);
  Poisson-Gaussian by its Gaussian approximation (its exact likelihood sums over ``clean / gain``
  photon counts, 10^4 to 10^8 per pixel at the gains fitted to sRGB noise, so it is not tractable and
  the approximation is exact to that precision; with the same ML fit it equals NLF's value, up to the
  gain floor of 1e-8); NAFlow's configuration-free mixture likelihood (one density for both sampling
  modes, listed on the NAS row as ``naflow_srgb.py`` does); "-" for NoiseFlow-ISP, whose sRGB
  density is not tractable.
* lag-1 horizontal correlation of the noise (``naflow_srgb.noise_correlation`` at (0, +1)): spatial
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
import hashlib
import json
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

import torch
from naflow_srgb import MODELS as NAFLOW_BENCH_MODELS
from naflow_srgb import fitted_baselines, load_sets, nll, noise_correlation, synthesize
from noiseflow_simcam import simcam_markdown, simcam_results
from torch import Tensor

from noiseaug import NAFlow
from noiseaug._seeds import mix_seeds
from noiseaug._sizes import crop_to_multiple
from noiseaug.demo import quantize_8bit
from noiseaug.hub import resolve
from noiseaug.metrics import akld, marginal_kl
from noiseaug.noise import PoissonGaussianNoise
from noiseaug.recipes.dncnn import noise_source
from noiseaug.transforms import NoiseTransform

AWGN, NLF, NAFLOW_RANDOM, _, NAFLOW_NAS, NAFLOW_FITTED = NAFLOW_BENCH_MODELS
PG = "Poisson-Gaussian (fitted per image)"
NOISEFLOW_ISP = "NoiseFlow-ISP (pretrained on the simulated camera)"
SRGB_MODELS = (AWGN, NLF, PG, NAFLOW_NAS, NAFLOW_FITTED, NAFLOW_RANDOM, NOISEFLOW_ISP)
SHORT_NAMES = {AWGN: "AWGN (fit)", NLF: "NLF (fit)", PG: "PG (fit)", NAFLOW_NAS: "NAFlow NAS",
               NAFLOW_FITTED: "NAFlow fitted",
               NAFLOW_RANDOM: "NAFlow random", NOISEFLOW_ISP: "NoiseFlow-ISP"}
RAW_FLOWS = {"Noise Flow (noiseflow-simcam)": "noiseflow-simcam",
             "Noise2NoiseFlow (n2nflow-simcam, no clean images)": "n2nflow-simcam"}
RELEASED = ("naflow-srgb", "noiseflow-simcam", "n2nflow-simcam")
METRICS = ("kld", "akld", "nll", "corr_h1", "std_255")
#: Figure: (set position, image position) of the pairs shown, taken modulo what ``--limit`` leaves: a PolyU
#: (Canon 80D, ISO 6400) and a CC15 (D800, ISO 6400) pair of the held-out split, both well registered and
#: with little brightness offset between noisy and clean, and a lower-noise and the Pixel (ISO 6400) pair
#: of sidd-dev.
FIGURE_PICKS = ((0, 4), (0, -1), (1, 1), (1, 2))
CROP = 96


def spread(noise: Tensor) -> dict[str, float]:
    """Lag-1 horizontal correlation (each pixel's noise with its right-hand neighbour's, channels averaged)
    and standard deviation on the 0-255 scale of one noise image."""
    return {"corr_h1": float(noise_correlation(noise, radius=1)[1, 2]), "std_255": float(noise.std() * 255)}


def image_rows(naflow: NAFlow, isp: NoiseTransform, noisy: Tensor, clean: Tensor,
               generator: torch.Generator) -> tuple[list[dict], dict[str, Tensor]]:
    """Per-model metric rows (plus a ``"real"`` row) for one pair already cropped, and the synthetic images."""
    fitted = fitted_baselines(noisy, clean)
    fitted[PG] = PoissonGaussianNoise.fit(noisy, clean)
    likelihoods = nll(naflow, fitted, noisy, clean, generator)
    synthetic = synthesize(naflow, fitted, noisy, clean, generator)
    synthetic[NOISEFLOW_ISP] = quantize_8bit(isp(clean, generator=generator))
    real = noisy - clean
    rows = [{"model": "real", "finite": True, "nll": None, "kld": None, "akld": None} | spread(real)]
    for name in SRGB_MODELS:
        noise = synthetic[name] - clean
        row = {"model": name, "finite": bool(torch.isfinite(noise).all()), "nll": likelihoods.get(name)}
        if row["finite"]:
            row |= {"kld": float(marginal_kl(real, noise, "naflow")), "akld": float(akld(real, noise))} | spread(noise)
        else:  # left out of the means and counted
            row |= dict.fromkeys(("kld", "akld", "corr_h1", "std_255"))
        rows.append(row)
    rows[0]["fits"] = {AWGN: {"sigma": float(fitted[AWGN].sigma)},
                       NLF: {"beta1": float(fitted[NLF].beta1), "beta2": float(fitted[NLF].beta2)},
                       PG: {"gain": float(fitted[PG].gain), "read_sigma": float(fitted[PG].read_sigma)}}
    return rows, synthetic


def evaluate_srgb(naflow: NAFlow, isp: NoiseTransform, sets: dict, seed: int) -> tuple[list[dict], dict]:
    """Rows for every (set, image, model) and the images the figure shows: ``{(set, image): [...]}``."""
    picks = {(s, i % len(pairs)) for s, pairs in enumerate(sets.values()) for t, i in FIGURE_PICKS if t == s and pairs}
    rows, shown = [], {}
    for s, (set_name, pairs) in enumerate(sets.items()):
        for i, (name, noisy, clean) in enumerate(pairs):
            noisy, clean = crop_to_multiple(noisy, naflow.multiple), crop_to_multiple(clean, naflow.multiple)
            generator = torch.Generator().manual_seed(mix_seeds(seed, s, i))
            per_model, synthetic = image_rows(naflow, isp, noisy, clean, generator)
            rows += [{"set": set_name, "image": name} | row for row in per_model]
            if (s, i) in picks:
                shown[(s, i)] = (set_name, name, clean, noisy, [synthetic[m] for m in SRGB_MODELS])
    return rows, dict(sorted(shown.items()))


def summarise(rows: list[dict]) -> dict:
    """``{set: {model: {metric mean, "images", "non_finite"}}}``; means over the images with finite samples."""
    summary: dict[str, dict] = {}
    for row in rows:
        entry = summary.setdefault(row["set"], {}).setdefault(row["model"], {"values": {k: [] for k in METRICS},
                                                                             "images": 0, "non_finite": 0})
        entry["images"] += 1
        entry["non_finite"] += not row["finite"]
        for key in METRICS:
            if row[key] is not None:
                entry["values"][key].append(row[key])
    return {set_name: {model: {k: (statistics.mean(v) if v else None) for k, v in e.pop("values").items()} | e
                       for model, e in models.items()} for set_name, models in summary.items()}


def srgb_markdown(summary: dict) -> str:
    lines = []
    for set_name, models in summary.items():
        lines += [f"**{set_name}** ({models['real']['images']} images)", "",
                  "| model | KLD | AKLD | NLL / dim (nats) | lag-1 horiz. corr. | noise std (0-255) |",
                  "| --- | ---: | ---: | ---: | ---: | ---: |"]
        for model, m in models.items():
            cells = ["-" if m[k] is None else f"{m[k]:.4f}" for k in ("kld", "akld", "nll")]
            cells += ["-" if m[k] is None else f"{m[k]:.3f}" if k == "corr_h1" else f"{m[k]:.2f}" for k in ("corr_h1", "std_255")]
            note = f" ({m['non_finite']} non-finite samples left out)" if m["non_finite"] else ""
            lines.append(f"| {'real noise' if model == 'real' else model}{note} | {' | '.join(cells)} |")
        lines.append("")
    return "\n".join(lines)


def weights_provenance(name: str) -> dict:
    """Where a released model's weights come from: folder, last commit touching it, uncommitted changes, hash."""
    folder = resolve(name)
    digest = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()[:16]

    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None

    return {"folder": str(folder), "commit": git("log", "-1", "--format=%h", "--", "."),
            "uncommitted_changes": bool(git("status", "--porcelain", "--", ".")), "sha256_16": digest}


def hardware() -> str:
    return (f"{platform.processor() or platform.machine()} CPU, {os.cpu_count()} cores visible, "
            f"{torch.get_num_threads()} torch thread(s), torch {torch.__version__}")


def crops_figure(shown: dict, path: Path, size: int = CROP, zoom: int = 2) -> None:
    """Per shown image, two rows of centre crops: clean | real noisy | each model; then noise x4 around grey."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = ["clean", "real noisy", *(SHORT_NAMES[m] for m in SRGB_MODELS)]
    tile, gap, left, top, dpi = size * zoom, 6, 240, 34, 100
    rows = 2 * len(shown)
    width, height = left + len(columns) * (tile + gap), top + rows * (tile + gap)
    fig = plt.figure(figsize=(width / dpi, height / dpi), dpi=dpi)
    for c, label in enumerate(columns):
        fig.text((left + c * (tile + gap) + tile / 2) / width, 1 - 12 / height, label, ha="center", va="center", fontsize=10)
    for r, (set_name, name, clean, noisy, synthetic) in enumerate(shown.values()):
        h, w = clean.shape[-2:]
        y0, x0 = (h - size) // 2, (w - size) // 2
        crop = lambda t: t[0, :, y0:y0 + size, x0:x0 + size]  # noqa: E731
        images = [crop(clean), crop(noisy), *(crop(s) for s in synthetic)]
        noises = [torch.full_like(images[0], 0.5)] + [crop((t - clean) * 4 + 0.5) for t in [noisy, *synthetic]]
        for k, (row_images, label) in enumerate(((images, f"{set_name.split(' (')[0]}\n{name}"), (noises, "noise x4"))):
            bottom = height - top - (2 * r + k + 1) * (tile + gap)
            fig.text(8 / width, (bottom + tile / 2) / height, label, ha="left", va="center", fontsize=8)
            for c, image in enumerate(row_images):
                ax = fig.add_axes(((left + c * (tile + gap)) / width, bottom / height, tile / width, tile / height))
                ax.imshow(image.nan_to_num(0.5).clamp(0, 1).permute(1, 2, 0).numpy(), interpolation="nearest")
                ax.set_axis_off()
    fig.savefig(path, dpi=dpi, facecolor="white")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("out/noise-quality"))
    parser.add_argument("--data", type=Path, default=None, help="data root (default: $NOISEAUG_DATA or ../shared/data)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="at most this many images per sRGB test set")
    parser.add_argument("--raw-batches", type=int, default=40,
                        help="simulated camera: batches of 32 held-out patches, and training batches for the fits")
    parser.add_argument("--skip-raw", action="store_true", help="leave out the simulated raw camera")
    parser.add_argument("--no-figure", action="store_true", help="no noise_crops.png (no matplotlib needed)")
    args = parser.parse_args()
    start = time.perf_counter()

    naflow = NAFlow.from_pretrained("naflow-srgb").eval()
    isp = noise_source("noiseflow-isp")
    sets = {name: pairs[:args.limit] for name, pairs in load_sets(args.data).items()}
    rows, shown = evaluate_srgb(naflow, isp, sets, args.seed)
    summary = summarise(rows)
    raw = None
    if not args.skip_raw:
        images = None if args.data is None else args.data / "clean" / "bsd300-test"
        raw = simcam_results(RAW_FLOWS, images, test_batches=args.raw_batches, train_batches=args.raw_batches)

    weights = {name: weights_provenance(name) for name in RELEASED}
    header = [f"Seed {args.seed}; {hardware()}. Weights (last commit / sha256 prefix): "
              + ", ".join(f"`{n}` {w['commit']}{' + uncommitted' if w['uncommitted_changes'] else ''} / {w['sha256_16']}"
                          for n, w in weights.items()) + ".", "",
              "Real sRGB: synthetic images clipped and rounded to 8 bits; all images cropped to a multiple of 8. "
              "KLD: NAFlow convention ([-1, 1], 256 bins, KL(real || model)); AKLD: DANet. NLL: nats/dim, [0, 1] scale, "
              "real noisy dequantised; AWGN/NLF/PG fitted on the test image itself (PG by its Gaussian approximation, "
              "= NLF's likelihood); NAFlow's configuration-free likelihood on the NAS row; NoiseFlow-ISP: not tractable. "
              "Lag-1 corr.: noise correlation with the right-hand neighbour. NoiseFlow-ISP is the raw simulated-camera "
              "model through the simple ISP, pretrained, never fitted to or trained on real data.", ""]
    table = "\n".join(header) + "\n" + srgb_markdown(summary)
    if raw is not None:
        table += "\n**simulated raw camera (held-out split)**\n\n" + simcam_markdown(raw) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "noise_quality.md").write_text(table)
    (args.out / "noise_quality.json").write_text(json.dumps({
        "seed": args.seed, "limit": args.limit, "hardware": hardware(), "weights": weights,
        "srgb": {"models": list(SRGB_MODELS), "summary": summary, "rows": rows},
        "raw": raw, "seconds": round(time.perf_counter() - start, 1)}, indent=2))
    if not args.no_figure:
        crops_figure(shown, args.out / "noise_crops.png")
    print(table)
    print(f"written to {args.out}: noise_quality.md, noise_quality.json"
          + ("" if args.no_figure else ", noise_crops.png (centre crops; columns clean | real noisy | "
             f"{' | '.join(SHORT_NAMES[m] for m in SRGB_MODELS)}; noise x4 around grey below)"))


if __name__ == "__main__":
    main()
