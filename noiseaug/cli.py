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


def _synthesize(args: argparse.Namespace) -> int:
    from .synthesize import PARAMETRIC, build_transform, synthesize_folder

    names = {name for _, params in PARAMETRIC.values() for name in params}
    params = {name: getattr(args, name) for name in sorted(names) if getattr(args, name) is not None}
    try:
        transform = build_transform(args.model, params=params, mode=args.mode, configurations=args.configuration,
                                    mixture=args.mixture, reference=args.reference)
        metadata = synthesize_folder(args.images, args.out, transform, model_name=args.model, seed=args.seed,
                                     device=args.device)
    except (ValueError, TypeError, FileNotFoundError) as error:
        print(f"noiseaug synthesize: error: {error}", file=sys.stderr)
        return 2
    print(f"noisy images and {metadata.name} written to {metadata.parent}")
    return 0


def _add_synthesize_command(commands: argparse._SubParsersAction) -> None:
    synth = commands.add_parser("synthesize", help="noisy 8-bit PNG copies of a folder of clean images, "
                                "plus metadata.json (model, seed, drawn parameters per file)")
    synth.add_argument("images", help="folder of clean PNG/JPEG images (each noised on its own, any size)")
    synth.add_argument("--out", required=True, help="output folder: <stem>.png per image and metadata.json")
    synth.add_argument("--model", required=True, help="awgn, nlf, pg, or a pretrained sRGB noise flow: a released "
                       "name (naflow-srgb), a folder or a Hugging Face repo id")
    value = "one value on the [0, 1] scale, or LOW HIGH drawn uniformly per image; default: "
    synth.add_argument("--sigma", type=float, nargs="+", metavar="V", help=f"awgn noise std: {value}0 .. 50/255")
    synth.add_argument("--beta1", type=float, nargs="+", metavar="V",
                       help=f"nlf variance slope (var = beta1*x + beta2): {value}log-uniform 1e-4 .. 2e-2")
    synth.add_argument("--beta2", type=float, nargs="+", metavar="V",
                       help=f"nlf constant variance: {value}log-uniform 1e-6 .. 5e-3")
    synth.add_argument("--gain", type=float, nargs="+", metavar="V",
                       help=f"pg shot-noise gain: {value}log-uniform 1e-4 .. 1.2e-2")
    synth.add_argument("--read-sigma", type=float, nargs="+", metavar="V",
                       help=f"pg read-noise std: {value}log-uniform 1e-4 .. 1.5e-2")
    synth.add_argument("--mode", choices=("random", "configuration", "reference"),
                       help="NAFlow only: a random configuration per image (default), one --configuration, or "
                            "noise-aware sampling like a --reference pair")
    synth.add_argument("--configuration", action="append", metavar="NAME",
                       help="NAFlow: the configuration of --mode configuration; in random mode, the set to draw "
                            "from (repeat the option)")
    synth.add_argument("--mixture", action="store_true", help="NAFlow random mode: random mixtures of configurations")
    synth.add_argument("--reference", nargs=2, metavar=("NOISY", "CLEAN"),
                       help="NAFlow --mode reference: a real noisy image and its clean version")
    synth.add_argument("--seed", type=int, default=0, help="run seed; each file's noise depends on it and the "
                       "file name only (default: %(default)s)")
    synth.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default: %(default)s)")
    synth.set_defaults(handler=_synthesize)


def _clean_images(args: argparse.Namespace):
    from .data.root import data_folder

    return args.images or data_folder("clean", "bsd300-test")


def _train_noiseflow(args: argparse.Namespace) -> int:
    from .training.noiseflow_recipe import train_noiseflow

    train_noiseflow(_clean_images(args), args.out, steps=args.steps, batch_size=args.batch, patch_size=args.patch,
                    lr=args.lr, val_batches=args.val_batches, val_every=args.val_every, variant=args.variant,
                    pixel_independent=args.pixel_independent, seed=args.seed, resume=not args.no_resume)
    print(f"model written to {args.out}/model (config.json + model.safetensors)")
    return 0


def _train_clean_free(args: argparse.Namespace) -> int:
    from .training.clean_free_recipe import train_clean_free

    train_clean_free(_clean_images(args), args.out, method=args.model, steps=args.steps, batch_size=args.batch,
                     patch_size=args.patch, lr=args.lr, lam=args.lam, denoiser_depth=args.denoiser_depth,
                     denoiser_width=args.denoiser_width, variant=args.variant, noise=args.noise,
                     val_batches=args.val_batches, val_every=args.val_every, seed=args.seed, resume=not args.no_resume)
    print(f"written to {args.out}/noise_model and {args.out}/denoiser")
    return 0


def _train_naflow(args: argparse.Namespace) -> int:
    from .training.naflow_recipe import train_naflow

    train_naflow(args.out, data_root=args.data, steps=args.steps, batch_size=args.batch, patch_size=args.patch,
                 lr=args.lr, hidden=args.hidden, features=args.features, val_crops=args.val_crops,
                 val_every=args.val_every, seed=args.seed, resume=not args.no_resume)
    print(f"model written to {args.out}/model (config.json + model.safetensors)")
    return 0


CLEAN_FREE_HELP = {
    "n2nflow": "Noise2NoiseFlow: noise model + DnCNN from pairs of noisy shots (simulated camera)",
    "n2n": "the same DnCNN with the Noise2Noise loss alone (the baseline of Noise2NoiseFlow)",
    "r2rflow": "R2RFlow: noise model + DnCNN from single noisy shots (recorrupted inputs)",
    "nbr2flow": "Noise2NoiseFlow on Neighbor2Neighbor sub-sampled halves of single noisy shots",
}


def _add_run_arguments(parser: argparse.ArgumentParser, outputs: str, steps: int, batch: int, val_batches: int,
                       val_every: int) -> None:
    """The arguments every simulated-camera training command shares (defaults differ per command)."""
    parser.add_argument("--images", help="folder of clean sRGB images to simulate from (default: $NOISEAUG_DATA/clean/bsd300-test)")
    parser.add_argument("--out", required=True, help=f"run folder: checkpoints, history.json, {outputs}")
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--batch", type=int, default=batch, help="patches per step")
    parser.add_argument("--patch", type=int, default=32, help="packed raw patch side (the sRGB crop is twice that)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (x0.1 at 75%% of the steps)")
    parser.add_argument("--val-batches", type=int, default=val_batches)
    parser.add_argument("--val-every", type=int, default=val_every)
    parser.add_argument("--variant", choices=["full", "nlf"], default="full",
                        help="noise model: Noise Flow or its NLF-only variant")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-resume", action="store_true", help="start over even if OUT/last.pt exists")


def _add_train_commands(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train a model (checkpoints are resumable)")
    models = train.add_subparsers(dest="model", required=True, metavar="MODEL")
    noiseflow = models.add_parser("noiseflow", help="supervised Noise Flow on the simulated camera (raw-RGB)")
    _add_run_arguments(noiseflow, "model/", steps=20_000, batch=32, val_batches=16, val_every=1000)
    noiseflow.add_argument("--pixel-independent", action="store_true",
                           help="simulate without row/fixed-pattern noise, clipping and quantization (exact NLL known)")
    noiseflow.set_defaults(handler=_train_noiseflow)
    naflow = models.add_parser("naflow", help="supervised NAFlow on the real sRGB pairs (PolyU + CC15 train split)")
    naflow.add_argument("--data", help="data root holding real-srgb/polyu and real-srgb/nam-cc15 (default: $NOISEAUG_DATA)")
    naflow.add_argument("--out", required=True, help="run folder: checkpoints, history.json, model/")
    naflow.add_argument("--steps", type=int, default=3000)
    naflow.add_argument("--batch", type=int, default=8, help="crops per step")
    naflow.add_argument("--patch", type=int, default=64, help="crop side in pixels (a multiple of 8)")
    naflow.add_argument("--lr", type=float, default=5e-4, help="Adam learning rate (x0.1 at 75%% of the steps)")
    naflow.add_argument("--hidden", type=int, default=32, help="coupling/injector width")
    naflow.add_argument("--features", type=int, default=16, help="condition-encoder channels")
    naflow.add_argument("--val-crops", type=int, default=48)
    naflow.add_argument("--val-every", type=int, default=250)
    naflow.add_argument("--seed", type=int, default=0)
    naflow.add_argument("--no-resume", action="store_true", help="start over even if OUT/last.pt exists")
    naflow.set_defaults(handler=_train_naflow)
    for name, text in CLEAN_FREE_HELP.items():
        sub = models.add_parser(name, help=text)
        _add_run_arguments(sub, "noise_model/, denoiser/", steps=4000, batch=16, val_batches=8, val_every=500)
        sub.add_argument("--lam", type=float, default=2.0**18, help="weight of the denoiser loss (paper: 2^18)")
        sub.add_argument("--denoiser-depth", type=int, default=9)
        sub.add_argument("--denoiser-width", type=int, default=64)
        sub.add_argument("--noise", choices=["camera", "pixel-independent", "heteroscedastic"], default="camera")
        sub.set_defaults(handler=_train_clean_free)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="noiseaug", description="Realistic camera noise as batched augmentations.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser("demo", help="synthesize noise with every model on shipped real pairs; print a table, write a figure")
    demo.add_argument("--out", default="noiseaug-demo", help="output folder (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    demo.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default: %(default)s)")
    demo.set_defaults(handler=_demo)
    _add_synthesize_command(commands)
    _add_train_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
