"""Convergence plot of NLF recovery: an NLF-only flow trained by Noise2NoiseFlow on heteroscedastic data.

Reads the ``history.json`` of ``noiseaug train n2nflow --variant nlf --noise heteroscedastic`` and plots
the mean and max over (camera, ISO) of ``|estimate / true - 1|`` for ``beta1`` and ``beta2`` (the
flow's effective NLF ``gamma^2 * beta`` against the simulator's analytic one) per validation step.

    python benchmarks/nlf_recovery_plot.py --run runs/n2nflow-nlf-hetero --out docs/figures/nlf_recovery.png

With ``--table`` it also prints, per (camera, ISO), the run's final effective NLF (``RUN/noise_model``)
against the true one and, as the bar a clean-data method reaches, the maximum-likelihood NLF fitted with
the clean images on ``--reference-batches`` held-out batches of the same heteroscedastic data.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="run folder with history.json")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--table", action="store_true", help="print the per-(camera, ISO) table (see above)")
    parser.add_argument("--reference-batches", type=int, default=40, help="held-out batches of 16 for the "
                        "clean-data fit (default: %(default)s)")
    parser.add_argument("--images", help="clean sRGB folder (default: $NOISEAUG_DATA/clean/bsd300-test)")
    args = parser.parse_args()
    history = json.loads((args.run / "history.json").read_text())

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [h["step"] for h in history]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for key, style in (("beta1_err_mean", "C0-"), ("beta1_err_max", "C0:"), ("beta2_err_mean", "C1-"), ("beta2_err_max", "C1:")):
        ax.semilogy(steps, [h[key] for h in history], style, marker="o", markersize=3, label=key.replace("_err", " rel. error"))
    ax.axhline(0.1, color="grey", lw=0.8, ls="--", label="10 % target")
    ax.set_xlabel("training step")
    ax.set_ylabel("|estimate / true - 1|")
    ax.legend(fontsize=8)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=120)
    for h in history[-1:]:
        print({k: round(v, 4) for k, v in h.items() if k.startswith("beta")})
    if args.table:
        print(recovery_table(args.run / "noise_model", args.images, args.reference_batches))


def recovery_table(model: Path, images: str | Path | None, reference_batches: int) -> str:
    """Markdown table: per (camera, ISO), the true NLF, the flow's and the clean-data fit's relative errors."""
    from noiseflow_simcam import fit_per_combo

    from noiseaug.data.camera import SimulatedCamera
    from noiseaug.data.root import data_folder
    from noiseaug.flows.noise_flow import NoiseFlow
    from noiseaug.noise import HeteroscedasticGaussianNoise
    from noiseaug.training.clean_free_recipe import HeteroscedasticShots, effective_nlf
    from noiseaug.training.noiseflow_recipe import simcam_split

    camera = SimulatedCamera.pixel_independent()
    cond, est1, est2 = effective_nlf(NoiseFlow.from_pretrained(model), camera)
    true1, true2 = camera.nlf(cond)
    test = simcam_split(images or data_folder("clean", "bsd300-test"), camera, 32, 16, seed=0).test
    draws = [HeteroscedasticShots(test, camera).batch(k) for k in range(reference_batches)]
    fitted = fit_per_combo(draws, camera, HeteroscedasticGaussianNoise.fit)  # same camera-major order
    lines = ["| camera | ISO | true beta1 | true beta2 | flow beta1 err | flow beta2 err | clean fit beta1 err | "
             "clean fit beta2 err |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for k in range(len(true1)):
        errors = [float(abs(e / t - 1)) for e, t in ((est1[k], true1[k]), (est2[k], true2[k]),
                                                    (fitted[k].beta1, true1[k]), (fitted[k].beta2, true2[k]))]
        name, iso = camera.cameras[k // len(camera.isos)], camera.isos[k % len(camera.isos)]
        lines.append(f"| {name} | {iso} | {float(true1[k]):.2e} | {float(true2[k]):.2e} | "
                     + " | ".join(f"{e:.3f}" for e in errors) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
