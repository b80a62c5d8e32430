"""The ``noiseaug`` command line."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence


def _demo(args: argparse.Namespace) -> int:
    from .demo import figure_columns, format_table, run_demo

    start = time.perf_counter()
    rows, figure = run_demo(args.out, seed=args.seed, device=args.device)
    print(format_table(rows))
    print(f"\nfigure: {figure}  (columns: {' | '.join(figure_columns())}; "
          f"under each image row, its noise x4 around grey)")
    print(f"table:  {figure.with_suffix('.json')}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


def _train_noiseflow(args: argparse.Namespace) -> int:
    from .data.root import data_folder
    from .training.noiseflow_recipe import train_noiseflow

    images = args.images or data_folder("clean", "bsd300-test")
    train_noiseflow(images, args.out, steps=args.steps, batch_size=args.batch, patch_size=args.patch, lr=args.lr,
                    val_batches=args.val_batches, val_every=args.val_every, variant=args.variant,
                    pixel_independent=args.pixel_independent, seed=args.seed, resume=not args.no_resume)
    print(f"model written to {args.out}/model (config.json + model.safetensors)")
    return 0


def _add_train_commands(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train a model (checkpoints are resumable)")
    models = train.add_subparsers(dest="model", required=True, metavar="MODEL")
    noiseflow = models.add_parser("noiseflow", help="supervised Noise Flow on the simulated camera (raw-RGB)")
    noiseflow.add_argument("--images", help="folder of clean sRGB images (default: $NOISEAUG_DATA/clean/bsd300-test)")
    noiseflow.add_argument("--out", required=True, help="run folder: checkpoints, history.json, model/")
    noiseflow.add_argument("--steps", type=int, default=20_000)
    noiseflow.add_argument("--batch", type=int, default=32, help="patches per step")
    noiseflow.add_argument("--patch", type=int, default=32, help="packed raw patch side (the sRGB crop is twice that)")
    noiseflow.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (x0.1 at 75%% of the steps)")
    noiseflow.add_argument("--val-batches", type=int, default=16)
    noiseflow.add_argument("--val-every", type=int, default=1000)
    noiseflow.add_argument("--variant", choices=["full", "nlf"], default="full")
    noiseflow.add_argument("--pixel-independent", action="store_true",
                           help="simulate without row/fixed-pattern noise, clipping and quantization (exact NLL known)")
    noiseflow.add_argument("--seed", type=int, default=0)
    noiseflow.add_argument("--no-resume", action="store_true", help="start over even if OUT/last.pt exists")
    noiseflow.set_defaults(handler=_train_noiseflow)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="noiseaug", description="Realistic camera noise as batched augmentations.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser("demo", help="synthesize noise with every model on shipped real pairs; print a table, write a figure")
    demo.add_argument("--out", default="noiseaug-demo", help="output folder (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    demo.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default: %(default)s)")
    demo.set_defaults(handler=_demo)
    _add_train_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
