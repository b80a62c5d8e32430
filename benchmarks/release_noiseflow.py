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

from noiseaug.eval.release import noiseflow_card, simcam_flow
from noiseaug.hub import save_pretrained
from noiseaug.training import load_checkpoint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", required=True, help="training run folder (best.pt)")
    parser.add_argument("--eval", required=True, help="results.json of noiseflow_simcam.py for these weights")
    parser.add_argument("--exact-eval", help="results.json of a pixel-independent run (gap to the exact NLL)")
    parser.add_argument("--name", default="noiseflow-simcam")
    parser.add_argument("--weights", default="weights")
    args = parser.parse_args()

    checkpoint = load_checkpoint(Path(args.run) / "best.pt")
    evaluation = json.loads(Path(args.eval).read_text())
    flow = simcam_flow(checkpoint)
    exact = json.loads(Path(args.exact_eval).read_text()) if args.exact_eval else None
    card = noiseflow_card(args.name, flow, checkpoint, evaluation, exact)
    out = save_pretrained(flow.eval(), Path(args.weights) / args.name, card=card)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
