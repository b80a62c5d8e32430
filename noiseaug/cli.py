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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="noiseaug", description="Realistic camera noise as batched augmentations.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser("demo", help="synthesize noise with every model on shipped real pairs; print a table, write a figure")
    demo.add_argument("--out", default="noiseaug-demo", help="output folder (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    demo.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default: %(default)s)")
    demo.set_defaults(handler=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
