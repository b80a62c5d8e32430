"""Convergence plot of NLF recovery: an NLF-only flow trained by Noise2NoiseFlow on heteroscedastic data.

Reads the ``history.json`` of ``noiseaug train n2nflow --variant nlf --noise heteroscedastic`` and plots
the mean and max over (camera, ISO) of ``|estimate / true - 1|`` for ``beta1`` and ``beta2`` (the
flow's effective NLF ``gamma^2 * beta`` against the simulator's analytic one) per validation step.

    python benchmarks/nlf_recovery_plot.py --run runs/n2nflow-nlf-hetero --out docs/figures/nlf_recovery.png

With ``--table`` it also prints, per (camera, ISO), the run's final effective NLF (``RUN/noise_model``)
against the true one and, as the bar a clean-data method reaches, the maximum-likelihood NLF fitted with
the clean images on ``--reference-batches`` held-out batches of the same heteroscedastic data. When the
run has a ``denoiser``, it adds the ML NLF of the half pair difference around the run's mean estimate
``(D(I1) + D(I2)) / 2``: what ``--residual difference-mean`` conditions on, so the best that an NLF trained
that way can reach with this denoiser (the flow's own errors should sit close to it).
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import replace
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="run folder with history.json")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--table", action="store_true", help="print the per-(camera, ISO) table (see above)")
    parser.add_argument(
        "--reference-batches",
        type=int,
        default=40,
        help="held-out batches of 16 for the clean-data fit (default: %(default)s)",
    )
    parser.add_argument("--images", help="clean sRGB folder (default: $NOISEAUG_DATA/clean/bsd300-test)")
    args = parser.parse_args()
    history = json.loads((args.run / "history.json").read_text())

    from noiseaug.eval import pyplot, save_figure

    plt = pyplot()
    steps = [h["step"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for key, style in (
        ("beta1_err_mean", "C0-"),
        ("beta1_err_max", "C0:"),
        ("beta2_err_mean", "C1-"),
        ("beta2_err_max", "C1:"),
    ):
        ax.semilogy(
            steps,
            [h[key] for h in history],
            style,
            marker="o",
            markersize=3,
            label=key.replace("_err_", ", ") + " over settings",
        )
    ax.axhline(0.1, color="grey", lw=0.8, ls="--", label="10 % target")
    ax.set_xlabel("training step")
    ax.set_ylabel("|estimate / true - 1|")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, args.out, dpi=120)
    for h in history[-1:]:
        print({k: round(v, 4) for k, v in h.items() if k.startswith("beta")})
    if args.table:
        denoiser = args.run / "denoiser"
        print(
            recovery_table(
                args.run / "noise_model", args.images, args.reference_batches, denoiser if denoiser.is_dir() else None
            )
        )


def recovery_table(model: Path, images: str | Path | None, reference_batches: int, denoiser: Path | None = None) -> str:
    """Markdown table: per (camera, ISO), the true NLF, the flow's and the clean-data fit's signed relative
    errors (``estimate / true - 1``) and, given ``denoiser``, those of the fit around its mean estimate."""
    import torch

    from noiseaug.data.camera import SimulatedCamera
    from noiseaug.data.root import data_folder
    from noiseaug.data.shots import HeteroscedasticShots, simcam_split
    from noiseaug.eval import fit_per_combo
    from noiseaug.flows.noise_flow import NoiseFlow
    from noiseaug.hub import load_pretrained
    from noiseaug.noise import HeteroscedasticGaussianNoise
    from noiseaug.recipes.clean_free import effective_nlf

    camera = SimulatedCamera.pixel_independent()
    cond, est1, est2 = effective_nlf(NoiseFlow.from_pretrained(model), camera)
    true1, true2 = camera.nlf(cond)
    test = simcam_split(
        images or data_folder("clean", "bsd300-test"), camera, 32, 16, seed=0, test_seed=10_000, captures=2
    ).test
    # test_seed and seed: the held-out stream and noise the published figure was drawn with (the trainer's old offsets)
    draws = [HeteroscedasticShots(test, camera, seed=5_565_555).batch(k) for k in range(reference_batches)]
    fits = [fit_per_combo(draws, camera, HeteroscedasticGaussianNoise.fit)]  # same camera-major order
    header = "| camera | ISO | true beta1 | true beta2 | flow beta1 err | flow beta2 err | clean fit beta1 err | clean fit beta2 err |"
    if denoiser is not None:
        with torch.no_grad():
            fits.append(
                fit_per_combo(
                    around_mean_estimate(draws, load_pretrained(denoiser).eval()),
                    camera,
                    HeteroscedasticGaussianNoise.fit,
                )
            )
        header += " fit around D beta1 err | fit around D beta2 err |"
    lines = [header, "|" + " --- |" * 2 + " ---: |" * (header.count("|") - 3)]
    for k in range(len(true1)):
        estimates = [(est1[k], est2[k])] + [(fit[k].beta1, fit[k].beta2) for fit in fits]
        errors = [float(e / t - 1) for pair in estimates for e, t in zip(pair, (true1[k], true2[k]), strict=True)]
        name, iso = camera.cameras[k // len(camera.isos)], camera.isos[k % len(camera.isos)]
        lines.append(
            f"| {name} | {iso} | {float(true1[k]):.2e} | {float(true2[k]):.2e} | "
            + " | ".join(f"{e:+.3f}" for e in errors)
            + " |"
        )
    return "\n".join(lines)


def around_mean_estimate(draws: list, denoiser) -> list:
    """Each draw as (clean = ``(D(I1) + D(I2)) / 2`` clamped to [0, 1], noisy = that + ``(I1 - I2) / sqrt(2)``)."""
    out = []
    for draw in draws:
        first, second = draw.noisy_raw
        estimate = ((denoiser(first) + denoiser(second)) / 2).clamp(0.0, 1.0)
        out.append(replace(draw, clean_raw=estimate, noisy_raw=(estimate + (first - second) / math.sqrt(2.0),)))
    return out


if __name__ == "__main__":
    main()
