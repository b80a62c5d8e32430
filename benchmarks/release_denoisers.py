"""Export reference-DnCNN training runs to ``weights/dncnn-<noise>/`` with cards built from their records.

Each card states the data, the noise source, the budget (steps, crops, wall time) and the real-noise
test metrics; the metrics come from ``benchmarks/denoising.py``'s ``denoising.json`` run on the same
weights, with every released denoiser and the noisy input as context.

Usage:
    python benchmarks/release_denoisers.py --runs runs/dncnn --eval out/denoising/denoising.json \
        --noise awgn nlf naflow real
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from noiseaug.training import load_checkpoint
from noiseaug.recipes.dncnn import NOISE_SOURCES

NOISE_TEXT = {
    "awgn": "additive white Gaussian noise, sigma uniform in [0, 50]/255 per crop (`GaussianNoiseTransform()`)",
    "nlf": "heteroscedastic Gaussian noise `var = beta1 * x + beta2`, beta1 log-uniform in [1e-4, 4e-2] and "
           "beta2 in [1e-6, 1e-2] per crop, ranges that reach phone noise (std up to about 45/255 at mid-grey; "
           "`HeteroscedasticNoiseTransform(**PHONE_NLF_RANGES)`)",
    "pg": "Poisson-Gaussian noise, gain log-uniform in [1e-4, 1.2e-2] and read sigma in [1e-4, 1.5e-2] per crop "
          "(`PoissonGaussianNoiseTransform()`)",
    "naflow": "NAFlow noise from the released `naflow-srgb`, one of its DSLR and smartphone camera configurations "
              "drawn uniformly per crop (`NAFlowTransform.from_pretrained(\"naflow-srgb\")`)",
    "noiseflow-isp": "Noise Flow noise from the released `noiseflow-simcam` in raw (random simulated camera and "
                     "ISO), through the simulated ISP (`RawRouteTransform`)",
    "real": "none synthesized: the real noisy/clean pairs of the PolyU + CC15 training split (95 pairs)",
    "real-phone": "none synthesized: the 43 real SIDD smartphone pairs of `real-srgb/sidd-train` (Samsung S6 at "
                  "ISO 100 and 800, Nexus 6 at ISO 3200)",
}
REAL_DATA = {
    "real": "Real noisy/clean pairs of PolyU and CC15, training split (95 pairs) of "
            "`noiseaug.data.real_srgb.real_srgb_split`; random 48x48 crops with flips.",
    "real-phone": "Real SIDD smartphone pairs of `real-srgb/sidd-train` (43 pairs: Samsung S6 at ISO 100 and 800, "
                  "Nexus 6 at ISO 3200); random 48x48 crops with flips.",
}


def metrics_table(evaluation: dict, highlight: str) -> str:
    results = evaluation["results"]
    sets = list(results)
    lines = ["| model | " + " | ".join(f"{s}: PSNR / SSIM" for s in sets) + " |",
             "| --- | " + " | ".join("---:" for _ in sets) + " |"]
    for label in results[sets[0]]:
        cells = [f"{results[s][label]['psnr']:.2f} dB / {results[s][label]['ssim']:.4f}" for s in sets]
        name = f"**{label} (these weights)**" if label == highlight else label
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def card(noise: str, run: Path, evaluation: dict, label: str) -> str:
    checkpoint = load_checkpoint(run / "best.pt")
    history, config = checkpoint["state"]["history"], checkpoint["config"]
    best = next(r for r in history if r["step"] == checkpoint["state"]["best_step"])
    model = json.loads((run / "denoiser" / "config.json").read_text())
    data = (REAL_DATA[noise] if noise in REAL_DATA else
            "Clean images: BSD300 test set (`clean/bsd300-test`, 100 images), random 48x48 crops with one of the "
            f"8 flips/rotations. Noise: {NOISE_TEXT[noise]}. Noisy crops are clipped and rounded to 8 bits.")
    return f"""---
library_name: noiseaug
license: other
license_name: research-only-data
tags: [denoising, dncnn, srgb]
---

# dncnn-{noise}

A DnCNN (depth {model['depth']}, width {model['width']}, batch norm, residual output) trained by `noiseaug` on
noisy/clean pairs whose noise is: {NOISE_TEXT[noise]}. One of the reference denoisers that answer
"which noise should I train with?": every `dncnn-*` model had the same budget and differs only in the noise.
`noiseaug denoise noisy.png out.png --model dncnn-{noise}`, or `DnCNN.from_pretrained("dncnn-{noise}")`.

## Data
{data} The training images' terms (BSDS, PolyU, CC15, SIDD) are research-only; so are these weights.

## Training
`noiseaug train dncnn --noise {noise} --out runs/dncnn/{noise} --steps {config['steps']}` (defaults: batch 16
crops of 48x48, Adam lr {config['lr']:g} x0.1 at step {config['lr_decay_at'][0]}, MSE against the clean crop;
width 32 instead of the paper's 64 so that a CPU can train it). {config['steps']} steps =
{config['steps'] * 16:,} crops, {history[-1]['elapsed_s'] / 60:.0f} min of wall time on one thread of a shared
2-core CPU. Released: the best validation checkpoint, step {best['step']} (validation PSNR {best['val_psnr']:.2f} dB
on 64 fixed {'training-pair' if noise in REAL_DATA else 'Kodak24'} crops with the same noise source).

## Held-out metrics
Real noisy photographs (`python benchmarks/denoising.py --out out/denoising`): the held-out scenes of
PolyU + CC15 (20 DSLR pairs) and `sidd-dev` (5 smartphone pairs no model saw); whole images, PSNR / SSIM
(kornia, data range 1) averaged per image.

{metrics_table(evaluation, label)}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, required=True, help="folder with one run per noise source")
    parser.add_argument("--eval", type=Path, required=True, help="denoising.json of benchmarks/denoising.py")
    parser.add_argument("--noise", nargs="+", choices=NOISE_SOURCES, required=True)
    parser.add_argument("--weights", type=Path, default=Path("weights"))
    args = parser.parse_args()
    evaluation = json.loads(args.eval.read_text())
    labels = {Path(path).parent.name if "/" in str(path) else str(path): label
              for label, path in evaluation["models"].items()}
    for noise in args.noise:
        run = args.runs / noise
        target = args.weights / f"dncnn-{noise}"
        target.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "model.safetensors"):
            shutil.copyfile(run / "denoiser" / name, target / name)
        (target / "README.md").write_text(card(noise, run, evaluation, labels.get(noise, f"dncnn-{noise}")))
        print(f"released {target}")


if __name__ == "__main__":
    main()
