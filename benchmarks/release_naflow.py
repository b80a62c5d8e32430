"""Export the best validation checkpoint of a ``noiseaug train naflow`` run as a model folder.

Writes ``config.json`` + ``model.safetensors`` (the architecture of ``RUN/model/config.json`` with the
weights of ``RUN/best.pt``) and prints the checkpoint's step and validation NLL, for the model card.

    python benchmarks/release_naflow.py --run runs/naflow --out weights/naflow-srgb
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from noiseaug.hub import model_from_config, save_pretrained
from noiseaug.training import load_checkpoint


def export_best(run: Path, out: Path) -> dict:
    """Save ``run``'s best checkpoint to ``out``; returns the history row of that step."""
    checkpoint = load_checkpoint(run / "best.pt")
    model = model_from_config(json.loads((run / "model" / "config.json").read_text()))
    model.load_state_dict({k.removeprefix("model."): v for k, v in checkpoint["model"].items()})
    save_pretrained(model.eval(), out)
    best_step = checkpoint["state"]["best_step"]
    return next(h for h in checkpoint["state"]["history"] if h["step"] == best_step)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", type=Path, required=True, help="training run folder (best.pt, model/config.json)")
    parser.add_argument("--out", type=Path, required=True, help="model folder to write (config.json, model.safetensors)")
    args = parser.parse_args()
    print(json.dumps(export_best(args.run, args.out)))


if __name__ == "__main__":
    main()
