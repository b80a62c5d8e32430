"""Noise Flow vs parametric baselines on the held-out split of the simulated camera.

Prints a markdown table and writes JSON: NLL per dimension (nats) and marginal KL (Noise Flow
convention: [-0.1, 0.1], 64 bins + under/overflow, forward KL(real || model), mean over patches)
for each model on the same fixed, balanced test patches (every camera x ISO equally often).

Baselines:
* AWGN / NLF "fitted on train": maximum-likelihood parameters per (camera, ISO), pooled over
  training patches (the camera-calibrated baseline of the Noise Flow paper).
* AWGN / NLF "oracle": fitted on each test patch itself (optimistic: it sees the test noise).
* "analytic NLF": the simulator's own beta1 * x + beta2 per (camera, ISO).
* "exact": the simulator's true likelihood (only for ``--pixel-independent``).

Usage:
    python benchmarks/noiseflow_simcam.py --model weights/noiseflow-simcam --out out/noiseflow-simcam
    python benchmarks/noiseflow_simcam.py --model RUN/model --pixel-independent --out out/noiseflow-simcam-pi
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from noiseaug.eval import write_outputs
from noiseaug.eval.simcam import simcam_markdown, simcam_results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="NoiseFlow folder or released name")
    parser.add_argument("--images", help="clean sRGB folder (default: $NOISEAUG_DATA/clean/bsd300-test)")
    parser.add_argument("--pixel-independent", action="store_true")
    parser.add_argument("--test-batches", type=int, default=40, help="batches of 32 test patches (32x32 packed)")
    parser.add_argument("--train-batches", type=int, default=40, help="training batches for the per-combination fits")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    start = time.perf_counter()
    report = simcam_results(
        {"Noise Flow": args.model}, args.images, args.pixel_independent, args.test_batches, args.train_batches
    )
    table = simcam_markdown(report)
    print(table)
    write_outputs(
        args.out,
        {
            "results.json": json.dumps(
                {
                    "setting": report["setting"],
                    "model": str(args.model),
                    "test_patches": report["test_patches"],
                    "results": report["results"],
                    "hardware": platform.processor() or platform.machine(),
                    "torch": torch.__version__,
                    "seconds": round(time.perf_counter() - start, 1),
                },
                indent=2,
            ),
            "results.md": table + "\n",
        },
    )


if __name__ == "__main__":
    main()
