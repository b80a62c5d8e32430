"""Export a Noise Flow training run to ``weights/<name>/`` with a model card built from its records.

The card states the data, the steps, the wall time and the held-out metrics; the metrics come from
``benchmarks/noiseflow_simcam.py``'s ``results.json`` for the same weights.

Usage:
    python benchmarks/release_noiseflow.py --run runs/noiseflow-simcam --eval out/noiseflow-simcam/results.json \
        --name noiseflow-simcam [--exact-eval out/noiseflow-simcam-pi/results.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from noiseaug.flows.noise_flow import NoiseFlow
from noiseaug.hub import save_pretrained
from noiseaug.training import load_checkpoint


def results_table(results: dict) -> str:
    rows = ["| model | NLL / dim (nats) | marginal KL |", "| --- | ---: | ---: |"]
    rows += [f"| {name} | {r['val_nll']:.4f} | {r['val_kl']:.4f} |" for name, r in results["results"].items()]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="training run folder (best.pt)")
    parser.add_argument("--eval", required=True, help="results.json of noiseflow_simcam.py for these weights")
    parser.add_argument("--exact-eval", help="results.json of a pixel-independent run (gap to the exact NLL)")
    parser.add_argument("--name", default="noiseflow-simcam")
    parser.add_argument("--weights", default="weights")
    args = parser.parse_args()

    checkpoint = load_checkpoint(Path(args.run) / "best.pt")
    state = {k.removeprefix("noise_model."): v for k, v in checkpoint["model"].items()}
    history, config = checkpoint["state"]["history"], checkpoint["config"]
    best_step = checkpoint["state"]["best_step"]
    at_best = next(h for h in history if h["step"] == best_step)
    evaluation = json.loads(Path(args.eval).read_text())
    flow = NoiseFlow(["sim-a", "sim-b", "sim-c", "sim-d", "sim-e"], [100.0, 400.0, 800.0, 1600.0, 3200.0])
    flow.load_state_dict(state)
    exact = ""
    if args.exact_eval:
        pi = json.loads(Path(args.exact_eval).read_text())
        exact = ("\n\nOn the pixel-independent simulator (a separate run trained on it, where the exact likelihood "
                 f"is known: {pi['test_patches']} held-out patches):\n\n" + results_table(pi))
    card = f"""---
library_name: noiseaug
license: mit
tags: [noise-modeling, normalizing-flow, raw, noise-flow]
---

# {args.name}

Noise Flow (Abdelhamed, Brubaker, Brown, ICCV 2019), architecture S-Ax4-G-Ax4-CAM, {sum(p.numel() for p in flow.parameters())}
parameters, trained by `noiseaug` on its **simulated camera**: a model of packed raw noise
`(B, 4, H, W)` conditioned on the clean raw image, the ISO and the camera. It knows the five simulated
cameras `sim-a` ... `sim-e` and ISO 100, 400, 800, 1600, 3200. It has not seen real raw data:
for real cameras, train on SIDD with `noiseaug train noiseflow` or the clean-free trainers.

## Data
Clean sRGB images of BSD300 (test set, 100 images; 80 for training, 20 held out by a deterministic
scene split), unprocessed to raw (Brooks et al. 2019) and noised by `SimulatedCamera` (shot, read,
row and fixed-pattern noise, black level, clipping, 10/12-bit quantization), all five cameras and
ISOs drawn uniformly; fresh 32x32 packed patches every step.

## Training
`noiseaug train noiseflow --out runs/{args.name} --steps {config['steps']} --batch 32 --patch 32 --val-every {config['val_every']} --val-batches 16`
(Adam, lr {config['lr']} x0.1 at step {config['lr_decay_at'][0] if config['lr_decay_at'] else '-'}; signal-dependent and gain layers at 10x lr).
These weights are the best validation checkpoint: step {best_step} of the {checkpoint['state']['step']} run when exported,
{at_best['elapsed_s'] / 60:.0f} min of wall time on 1 CPU thread of a shared 2-core machine (validation NLL
{at_best['val_nll']:.4f}, KL {at_best['val_kl']:.4f} on 512 patches).

## Held-out metrics
`python benchmarks/noiseflow_simcam.py --model weights/{args.name} --out out/{args.name}`:
{evaluation['test_patches']} held-out 32x32 packed patches from the 20 held-out images, every camera x ISO
equally often. NLL in nats per dimension on the [0, 1] raw scale; KL: Noise Flow convention
([-0.1, 0.1], 64 bins + under/overflow).

{results_table(evaluation)}{exact}

The simulator's noise is mostly a per-(camera, ISO) noise level function, so the margin over the
fitted NLF is small by construction; what is left for the flow is the row noise, the fixed pattern,
clipping and quantization.
"""
    out = save_pretrained(flow.eval(), Path(args.weights) / args.name, card=card)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
