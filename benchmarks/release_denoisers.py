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
from pathlib import Path

from noiseaug.eval.release import denoiser_card, release_folder, release_labels
from noiseaug.recipes.dncnn import DEFAULT_FLOW, NOISE_SOURCES
from noiseaug.training import load_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, required=True, help="folder with one run per noise source")
    parser.add_argument("--eval", type=Path, required=True, help="denoising.json of benchmarks/denoising.py")
    parser.add_argument("--noise", nargs="+", choices=NOISE_SOURCES, required=True)
    parser.add_argument("--weights", type=Path, default=Path("weights"))
    args = parser.parse_args()
    evaluation = json.loads(args.eval.read_text())
    labels = release_labels(evaluation)
    for noise in args.noise:
        run = args.runs / noise
        checkpoint = load_checkpoint(run / "best.pt")
        model = json.loads((run / "denoiser" / "config.json").read_text())
        options = json.loads((run / "run.json").read_text())["options"]
        clean, flow = options.get("clean", "bsd300-test"), options.get("flow", DEFAULT_FLOW)
        wall_s = load_checkpoint(run / "last.pt")["state"]["history"][-1]["elapsed_s"]
        label = labels.get(noise, f"dncnn-{noise}")
        card = denoiser_card(noise, checkpoint, model, evaluation, label, clean, wall_s, flow)
        target = release_folder(run / "denoiser", args.weights / f"dncnn-{noise}", card)
        print(f"released {target}")


if __name__ == "__main__":
    main()
