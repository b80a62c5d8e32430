"""The ``noiseaug`` command line.

Bad input (a missing file, an unknown model, a number out of range) ends a command with exit status 2 and one
``noiseaug COMMAND: error: ...`` line on stderr, as argparse reports bad options; no traceback (set
``NOISEAUG_TRACEBACK=1`` to get one). Bad input means a :class:`~noiseaug.errors.NoiseaugInputError`, raised by
noiseaug's own checks; any other exception is a bug: a line saying so is printed, then its traceback, and the
exit status is 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .outputs import add_output_arguments


def _demo(args: argparse.Namespace) -> int:
    from .demo import figure_columns, format_table, run_demo

    start = time.perf_counter()
    rows, figure = run_demo(args.out, seed=args.seed, device=args.device)
    print(format_table(rows))
    print(
        f"\nfigure: {figure}  (columns: {' | '.join(figure_columns())}; under each image row, its noise x4 around grey)"
    )
    print(f"table:  {figure.with_suffix('.json')}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


def _synthesize(args: argparse.Namespace) -> int:
    from .synthesize import PARAMETRIC, build_transform, synthesize_folder

    names = {name for _, params in PARAMETRIC.values() for name in params}
    params = {name: getattr(args, name) for name in sorted(names) if getattr(args, name) is not None}

    transform = build_transform(
        args.model,
        params=params,
        mode=args.mode,
        configurations=args.configuration,
        mixture=args.mixture,
        reference=args.reference,
        reference_method=args.reference_method,
        posterior_temperature=args.posterior_temperature,
        temperature=args.temperature,
        tone_shift=args.tone_shift,
    )
    metadata = synthesize_folder(
        args.images,
        args.out,
        transform,
        model_name=args.model,
        seed=args.seed,
        device=args.device,
        overwrite=args.overwrite,
        resume=args.resume,
    )
    print(f"noisy images and {metadata.name} written to {metadata.parent}")
    return 0


def _add_synthesize_command(commands: argparse._SubParsersAction) -> None:
    synth = commands.add_parser(
        "synthesize",
        help="noisy 8-bit PNG copies of a folder of clean images, "
        "plus metadata.json (model, seed, drawn parameters per file)",
    )
    synth.add_argument("images", help="folder of clean PNG/JPEG images (each noised on its own, any size)")
    synth.add_argument("--out", required=True, help="output folder: <stem>.png per image and metadata.json")
    synth.add_argument(
        "--model",
        required=True,
        help="awgn, nlf, pg, or a pretrained sRGB noise flow: a released "
        "name (naflow-srgb), a folder or a Hugging Face repo id",
    )
    value = "one value on the [0, 1] scale, or LOW HIGH drawn uniformly per image; default: "
    synth.add_argument("--sigma", type=float, nargs="+", metavar="V", help=f"awgn noise std: {value}0 .. 50/255")
    synth.add_argument(
        "--beta1",
        type=float,
        nargs="+",
        metavar="V",
        help=f"nlf variance slope (var = beta1*x + beta2): {value}log-uniform 1e-4 .. 2e-2",
    )
    synth.add_argument(
        "--beta2", type=float, nargs="+", metavar="V", help=f"nlf constant variance: {value}log-uniform 1e-6 .. 5e-3"
    )
    synth.add_argument(
        "--gain", type=float, nargs="+", metavar="V", help=f"pg shot-noise gain: {value}log-uniform 1e-4 .. 1.2e-2"
    )
    synth.add_argument(
        "--read-sigma", type=float, nargs="+", metavar="V", help=f"pg read-noise std: {value}log-uniform 1e-4 .. 1.5e-2"
    )
    synth.add_argument(
        "--mode",
        choices=("random", "configuration", "reference"),
        help="NAFlow only: a random configuration per image (default), one --configuration, or "
        "noise-aware sampling like a --reference pair",
    )
    synth.add_argument(
        "--configuration",
        action="append",
        metavar="NAME",
        help="NAFlow: the configuration of --mode configuration; in random mode, the set to draw "
        "from (repeat the option)",
    )
    synth.add_argument("--mixture", action="store_true", help="NAFlow random mode: random mixtures of configurations")
    synth.add_argument(
        "--reference",
        nargs=2,
        metavar=("NOISY", "CLEAN"),
        help="NAFlow --mode reference: a real noisy image and its clean version",
    )
    synth.add_argument(
        "--reference-method",
        choices=("nas", "fitted"),
        help="NAFlow --mode reference: nas (noise-aware sampling, a mixture of the trained "
        "configurations; default) or fitted (a latent Gaussian fitted to the reference's noise)",
    )
    synth.add_argument(
        "--posterior-temperature",
        type=float,
        metavar="T",
        help="NAFlow --mode reference --reference-method nas: temperature of the per-position "
        "posterior over configurations (default 1; 0 = the most likely configuration alone)",
    )
    synth.add_argument(
        "--temperature",
        type=float,
        nargs="+",
        metavar="T",
        help="NAFlow: the latent's temperature (std scale), one value (default 1; 0 decodes the mean) or LOW HIGH "
        "drawn log-uniformly per image",
    )
    synth.add_argument(
        "--tone-shift",
        type=float,
        metavar="C",
        help="NAFlow: add a tone curve's second-order term, noise n -> n - C n^2 / max(clean, 0.05), which darkens "
        "the noisy image as a camera's sRGB rendering does (default 0, off)",
    )
    synth.add_argument(
        "--seed",
        type=int,
        default=0,
        help="run seed; each file's noise depends on it and the file name only (default: %(default)s)",
    )
    synth.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default: %(default)s)")
    add_output_arguments(synth)
    synth.set_defaults(handler=_synthesize)


def _denoise(args: argparse.Namespace) -> int:
    from .denoise import denoise_files, load_denoiser

    written = denoise_files(
        load_denoiser(args.model, args.device),
        args.source,
        args.out,
        device=args.device,
        overwrite=args.overwrite,
        resume=args.resume,
    )
    print(f"{len(written)} denoised image(s) written under {Path(args.out)}")
    return 0


def _add_denoise_command(commands: argparse._SubParsersAction) -> None:
    denoise = commands.add_parser(
        "denoise", help="denoise an sRGB image or a folder of them with a pretrained DnCNN / U-Net (8-bit PNG out)"
    )
    denoise.add_argument("source", help="a PNG/JPEG file or a folder of them")
    denoise.add_argument("out", help="output .png file (for a file source) or folder (<stem>.png per image)")
    denoise.add_argument(
        "--model",
        default="dncnn-naflow",
        help="a released denoiser name, a folder or a Hugging Face repo id (default: %(default)s)",
    )
    denoise.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default: %(default)s)")
    add_output_arguments(denoise)
    denoise.set_defaults(handler=_denoise)


def _train(args: argparse.Namespace) -> int:
    """``noiseaug train RECIPE``: the recipe's config from the options, then :func:`~noiseaug.recipes.run_recipe`."""
    from .recipes import RECIPES, run_recipe
    from .recipes.flags import config_from_arguments

    config = config_from_arguments(RECIPES[args.model].config, args)
    exports = run_recipe(config, args.out, resume=not args.no_resume)
    print(f"written to {', '.join(str(Path(args.out) / name) for name in exports)}")
    return 0


def _add_train_commands(commands: argparse._SubParsersAction) -> None:
    """``noiseaug train RECIPE``: one sub-command per recipe, its options generated from the recipe's config
    (:mod:`noiseaug.recipes.flags`), plus ``--out`` and ``--no-resume``."""
    from .recipes import RECIPES
    from .recipes.flags import add_config_arguments

    train = commands.add_parser("train", help="train a model (checkpoints are resumable)")
    models = train.add_subparsers(dest="model", required=True, metavar="MODEL")
    for name, recipe in RECIPES.items():
        summary = (recipe.config.__doc__ or "").split(": ", 1)[-1].strip().rstrip(".").replace("``", "")
        sub = models.add_parser(name, help=" ".join(summary.split()), description=" ".join(summary.split()))
        sub.add_argument(
            "--out", required=True, help=f"run folder: checkpoints, run.json, history.json, {recipe.config.outputs}"
        )
        add_config_arguments(sub, recipe.config)
        sub.add_argument("--no-resume", action="store_true", help="start over even if OUT holds checkpoints")
        sub.set_defaults(handler=_train)


def _convert(args: argparse.Namespace) -> int:
    from .convert import convert_n2nflow_pth, convert_noiseflow_tf

    convert = convert_noiseflow_tf if args.format == "noiseflow-tf" else convert_n2nflow_pth
    out = convert(args.source, args.out, overwrite=args.overwrite)
    extra = " and its DnCNN denoiser in dncnn/" if args.format == "n2nflow-pth" else ""
    print(
        f"converted {args.source} to {out} (config.json, model.safetensors, README.md{extra}); licence CC BY-NC-SA "
        f"4.0. Use it with NoiseFlowTransform.from_pretrained({str(out)!r})"
    )
    return 0


def _add_convert_command(commands: argparse._SubParsersAction) -> None:
    convert = commands.add_parser(
        "convert",
        help="convert the authors' SIDD-trained Noise Flow / Noise2NoiseFlow "
        "weights into a noiseaug folder (config.json + model.safetensors + card)",
    )
    formats = convert.add_subparsers(dest="format", required=True, metavar="FORMAT")
    for name, source, text in (
        (
            "noiseflow-tf",
            "CKPT_PREFIX",
            "Noise Flow's TensorFlow 1 checkpoint (BorealisAI/noise_flow, "
            "models/NoiseFlow/ckpt/model.ckpt.best): PREFIX.index + PREFIX.data-00000-of-00001, read without TensorFlow",
        ),
        (
            "n2nflow-pth",
            "FILE",
            "Noise2NoiseFlow's PyTorch checkpoint (SamsungLabs/Noise2NoiseFlow, "
            "epoch_160_nf_model_net.pth): the flow, and its DnCNN into OUT/dncnn",
        ),
    ):
        sub = formats.add_parser(name, help=text)
        sub.add_argument(
            "source",
            metavar=source,
            help="the checkpoint prefix (or its .index file)" if name == "noiseflow-tf" else "the .pth file",
        )
        sub.add_argument("--out", required=True, help="output folder (new or empty)")
        sub.add_argument("--overwrite", action="store_true", help="replace OUT if it holds a previous conversion")
        sub.set_defaults(handler=_convert)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="noiseaug", description="Realistic camera noise as batched augmentations.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo", help="synthesize noise with every model on shipped real pairs; print a table, write a figure"
    )
    demo.add_argument("--out", default="noiseaug-demo", help="output folder (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    demo.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default: %(default)s)")
    demo.set_defaults(handler=_demo)
    _add_synthesize_command(commands)
    _add_denoise_command(commands)
    _add_train_commands(commands)
    _add_convert_command(commands)
    return parser


def _report_bug(command: str, error: Exception) -> None:
    """Before the traceback: say that an error noiseaug did not raise on purpose is a bug, not bad input."""
    print(
        f"noiseaug {command}: internal error {type(error).__name__}: this is a bug in noiseaug (or a library it "
        "calls), not a problem with your input; please report it with the traceback below",
        file=sys.stderr,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; for bad input (a :class:`~noiseaug.errors.NoiseaugInputError`), print one error line and
    return 2; any other error is a bug: a line says so and the exception propagates (see the module docs)."""
    from .errors import NoiseaugInputError

    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except NoiseaugInputError as error:
        if os.environ.get("NOISEAUG_TRACEBACK"):
            raise
        message = " ".join(str(error).split())  # one line, whatever the error's own layout
        print(f"noiseaug {args.command}: error: {message}", file=sys.stderr)
        return 2
    except Exception as error:
        _report_bug(args.command, error)
        raise  # Python prints the traceback and exits with status 1


if __name__ == "__main__":
    sys.exit(main())
