"""Convergence plot of NLF recovery: an NLF-only flow trained by Noise2NoiseFlow on heteroscedastic data.

Reads the ``history.json`` of ``noiseaug train n2nflow --variant nlf --noise heteroscedastic`` and plots
the mean and max over (camera, ISO) of ``|estimate / true - 1|`` for ``beta1`` and ``beta2`` (the
flow's effective NLF ``gamma^2 * beta`` against the simulator's analytic one) per validation step.

    python benchmarks/nlf_recovery_plot.py --run runs/n2nflow-nlf-hetero --out docs/figures/nlf_recovery.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="run folder with history.json")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
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


if __name__ == "__main__":
    main()
