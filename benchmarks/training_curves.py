"""Validation curves of several training runs on one plot, read from their ``history.json``.

Each ``--run LABEL=FOLDER`` adds one line of ``--key`` (default ``val_psnr``, in dB for the denoiser
trainers) against the training step; a step logged twice (the final validation) is drawn once. The
last value of each run is printed, so the figure's numbers can be quoted.

    python benchmarks/training_curves.py --out docs/figures/n2n_vs_n2c_curves.png \\
        --run "N2N=runs/n2n-gauss25" --run "N2C=runs/n2c-gauss25"
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def read_curve(run: Path, key: str) -> tuple[list[int], list[float]]:
    """``(steps, values)`` of ``key`` in ``run/history.json``, one value per step (the last logged)."""
    path = run / "history.json"
    if not path.is_file():
        raise SystemExit(f"{path} does not exist: --run must name a training run folder")
    by_step = {int(entry["step"]): float(entry[key]) for entry in json.loads(path.read_text()) if key in entry}
    if not by_step:
        raise SystemExit(f"{path} has no {key!r} entries")
    steps = sorted(by_step)
    return steps, [by_step[s] for s in steps]


def parse_run(text: str) -> tuple[str, Path]:
    """``"LABEL=FOLDER"`` -> ``(LABEL, FOLDER)``."""
    label, sep, folder = text.partition("=")
    if not sep or not label or not folder:
        raise argparse.ArgumentTypeError(f"--run takes LABEL=FOLDER, got {text!r}")
    return label, Path(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=parse_run, action="append", required=True, metavar="LABEL=FOLDER")
    parser.add_argument("--key", default="val_psnr", help="history entry to plot (default: %(default)s)")
    parser.add_argument("--ylabel", default="validation PSNR (dB)")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    args = parser.parse_args()

    from noiseaug.eval import pyplot, save_figure

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for label, folder in args.run:
        steps, values = read_curve(folder, args.key)
        ax.plot(steps, values, marker="o", markersize=3, label=label)
        print(f"{label}: {args.key} = {values[-1]:.3f} at step {steps[-1]}")
    ax.set_xlabel("training step")
    ax.set_ylabel(args.ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, args.out, dpi=120)


if __name__ == "__main__":
    main()
