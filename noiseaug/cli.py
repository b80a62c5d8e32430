"""The ``noiseaug`` command line.

Bad input (a missing file, an unknown model, a number out of range) ends a command with exit status 2 and one
``noiseaug COMMAND: error: ...`` line on stderr, as argparse reports bad options; no traceback (set
``NOISEAUG_TRACEBACK=1`` to get one). Bad input means a :class:`~noiseaug.errors.NoiseaugInputError`, raised by
noiseaug's own checks; any other exception is a bug: a line saying so is printed, then its traceback, and the
exit status is 1.
"""

from __future__ import annotations

import argparse
import contextlib
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
    print(f"\nfigure: {figure}  (columns: {' | '.join(figure_columns())}; "
          f"under each image row, its noise x4 around grey)")
    print(f"table:  {figure.with_suffix('.json')}")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


def _synthesize(args: argparse.Namespace) -> int:
    from .synthesize import PARAMETRIC, build_transform, synthesize_folder

    names = {name for _, params in PARAMETRIC.values() for name in params}
    params = {name: getattr(args, name) for name in sorted(names) if getattr(args, name) is not None}

    transform = build_transform(args.model, params=params, mode=args.mode, configurations=args.configuration,
                                mixture=args.mixture, reference=args.reference, reference_method=args.reference_method,
                                posterior_temperature=args.posterior_temperature)
    metadata = synthesize_folder(args.images, args.out, transform, model_name=args.model, seed=args.seed,
                                 device=args.device, overwrite=args.overwrite, resume=args.resume)
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
    synth.add_argument("--reference-method", choices=("nas", "fitted"),
                       help="NAFlow --mode reference: nas (noise-aware sampling, a mixture of the trained "
                            "configurations; default) or fitted (a latent Gaussian fitted to the reference's noise)")
    synth.add_argument("--posterior-temperature", type=float, metavar="T",
                       help="NAFlow --mode reference --reference-method nas: temperature of the per-position "
                            "posterior over configurations (default 1; 0 = the most likely configuration alone)")
    synth.add_argument("--seed", type=int, default=0, help="run seed; each file's noise depends on it and the "
                       "file name only (default: %(default)s)")
    synth.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default: %(default)s)")
    add_output_arguments(synth)
    synth.set_defaults(handler=_synthesize)


def _denoise(args: argparse.Namespace) -> int:
    from .denoise import denoise_files, load_denoiser

    written = denoise_files(load_denoiser(args.model, args.device), args.source, args.out, device=args.device,
                            overwrite=args.overwrite, resume=args.resume)
    print(f"{len(written)} denoised image(s) written under {Path(args.out)}")
    return 0


def _add_denoise_command(commands: argparse._SubParsersAction) -> None:
    denoise = commands.add_parser("denoise", help="denoise an sRGB image or a folder of them with a pretrained "
                                  "DnCNN / U-Net (8-bit PNG out)")
    denoise.add_argument("source", help="a PNG/JPEG file or a folder of them")
    denoise.add_argument("out", help="output .png file (for a file source) or folder (<stem>.png per image)")
    denoise.add_argument("--model", default="dncnn-naflow", help="a released denoiser name, a folder or a Hugging "
                         "Face repo id (default: %(default)s)")
    denoise.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default: %(default)s)")
    add_output_arguments(denoise)
    denoise.set_defaults(handler=_denoise)


def _train_dncnn(args: argparse.Namespace) -> int:
    from .training.denoiser import train_denoiser

    train_denoiser(args.out, args.noise, images=args.images, val_images=args.val_images, data_root=args.data,
                   steps=args.steps, batch_size=args.batch, patch_size=args.patch, lr=args.lr, depth=args.depth,
                   width=args.width, val_crops=args.val_crops, val_every=args.val_every, seed=args.seed,
                   resume=not args.no_resume)
    print(f"denoiser written to {args.out}/denoiser (config.json + model.safetensors)")
    return 0


def _add_validation_and_resume_arguments(parser: argparse.ArgumentParser, val_crops: int, val_every: int) -> None:
    parser.add_argument("--val-crops", type=int, default=val_crops, help="fixed validation crops")
    parser.add_argument("--val-every", type=int, default=val_every, help="validate and checkpoint every N steps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-resume", action="store_true", help="start over even if OUT/last.pt exists")


def _add_dncnn_command(models: argparse._SubParsersAction) -> None:
    from .training.denoiser import NOISE_SOURCES

    dncnn = models.add_parser("dncnn", help="reference DnCNN on synthesized (or real) noisy/clean pairs")
    dncnn.add_argument("--noise", required=True, choices=NOISE_SOURCES,
                       help="where the noise comes from (real: the PolyU + CC15 training pairs; real-phone: "
                            "the SIDD phone pairs of real-srgb/sidd-train)")
    dncnn.add_argument("--out", required=True, help="run folder: checkpoints, history.json, denoiser/")
    dncnn.add_argument("--images", help="clean training images (default: $NOISEAUG_DATA/clean/bsd300-test)")
    dncnn.add_argument("--val-images", help="clean validation images (default: $NOISEAUG_DATA/clean/kodak24)")
    dncnn.add_argument("--data", help="data root holding real-srgb/ (default: $NOISEAUG_DATA)")
    dncnn.add_argument("--steps", type=int, default=3000)
    dncnn.add_argument("--batch", type=int, default=16, help="crops per step")
    dncnn.add_argument("--patch", type=int, default=48, help="crop side in pixels (even)")
    dncnn.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (x0.1 at 75%% of the steps)")
    dncnn.add_argument("--depth", type=int, default=17)
    dncnn.add_argument("--width", type=int, default=32, help="channels (the paper's 64 costs 4x on a CPU)")
    _add_validation_and_resume_arguments(dncnn, val_crops=64, val_every=250)
    dncnn.set_defaults(handler=_train_dncnn)


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
                     patch_size=args.patch, lr=args.lr, flow_lr=args.flow_lr, lam=args.lam, denoiser=args.denoiser,
                     denoiser_depth=args.denoiser_depth, denoiser_width=args.denoiser_width, residual=args.residual,
                     alpha=args.alpha, denoiser_warmup=args.denoiser_warmup, variant=args.variant, noise=args.noise,
                     val_batches=args.val_batches, val_every=args.val_every, seed=args.seed, resume=not args.no_resume)
    print(f"written to {args.out}/noise_model and {args.out}/denoiser")
    return 0


def _train_naflow(args: argparse.Namespace) -> int:
    from .training.naflow_recipe import train_naflow

    train_naflow(args.out, data_root=args.data, sources=args.sources.split(","), steps=args.steps,
                 batch_size=args.batch, patch_size=args.patch, lr=args.lr, hidden=args.hidden, features=args.features,
                 encoder=args.encoder, val_crops=args.val_crops,
                 val_every=args.val_every, seed=args.seed, resume=not args.no_resume)
    print(f"model written to {args.out}/model (config.json + model.safetensors)")
    return 0


def _train_neighbor2neighbor(args: argparse.Namespace) -> int:
    from .training.neighbor2neighbor import train_neighbor2neighbor

    train_neighbor2neighbor(args.out, objective=args.objective, data="real" if args.real else "synthetic",
                            noise=args.noise, images=args.images, data_root=args.data, denoiser=args.denoiser,
                            width=args.width, depth=args.depth, gamma=args.gamma, steps=args.steps,
                            batch_size=args.batch, patch_size=args.patch, lr=args.lr, val_crops=args.val_crops,
                            val_every=args.val_every, seed=args.seed, device=args.device, resume=not args.no_resume)
    print(f"denoiser written to {args.out}/denoiser (config.json + model.safetensors)")
    return 0


def _train_flow_prior(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .training.flow_prior import train_flow_prior_denoiser, train_glow_prior

    out, resume = Path(args.out), not args.no_resume
    prior = args.prior or out / "prior" / "model"
    if args.stage in ("both", "prior"):
        train_glow_prior(out / "prior", images=args.images, steps=args.prior_steps, batch_size=args.prior_batch,
                         patch_size=args.prior_patch, lr=args.prior_lr, levels=args.levels, depth=args.flow_depth,
                         hidden=args.hidden, val_crops=args.prior_val_crops, val_every=args.val_every,
                         seed=args.seed, device=args.device, resume=resume)
        print(f"prior written to {out / 'prior' / 'model'}")
        prior = out / "prior" / "model"
    if args.stage in ("both", "denoiser"):
        train_flow_prior_denoiser(out / "denoise", prior, images=args.images, lam=args.lam, max_sigma=args.max_sigma,
                                  denoiser=args.denoiser, width=args.width, depth=args.depth, steps=args.steps,
                                  batch_size=args.batch, patch_size=args.patch, lr=args.lr, val_crops=args.val_crops,
                                  val_every=args.val_every, seed=args.seed, device=args.device, resume=resume)
        print(f"denoiser written to {out / 'denoise' / 'denoiser'}")
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
    _add_dncnn_command(models)
    noiseflow = models.add_parser("noiseflow", help="supervised Noise Flow on the simulated camera (raw-RGB)")
    _add_run_arguments(noiseflow, "model/", steps=20_000, batch=32, val_batches=16, val_every=1000)
    noiseflow.add_argument("--pixel-independent", action="store_true",
                           help="simulate without row/fixed-pattern noise, clipping and quantization (exact NLL known)")
    noiseflow.set_defaults(handler=_train_noiseflow)
    naflow = models.add_parser("naflow", help="supervised NAFlow on real sRGB pairs (DSLR PolyU + CC15 train split, "
                               "full PolyU photos, SIDD phones)")
    naflow.add_argument("--data", help="data root holding real-srgb/ (default: $NOISEAUG_DATA)")
    naflow.add_argument("--sources", default="polyu,cc15,polyu-full,sidd-train",
                        help="comma-separated training folders of real-srgb/: polyu, cc15, polyu-full, sidd-train "
                        "(the held-out PolyU + CC15 scenes are never trained on)")
    naflow.add_argument("--encoder", choices=["cnn", "unshuffle"], default="cnn",
                        help="clean-image condition: cnn (ours, strided 3x3 CNN) or unshuffle (the paper's: "
                        "pixel-unshuffle + 1x1 convs)")
    naflow.add_argument("--out", required=True, help="run folder: checkpoints, history.json, model/")
    naflow.add_argument("--steps", type=int, default=3000)
    naflow.add_argument("--batch", type=int, default=8, help="crops per step")
    naflow.add_argument("--patch", type=int, default=96, help="crop side in pixels (a multiple of 8)")
    naflow.add_argument("--lr", type=float, default=5e-4, help="Adam learning rate (x0.1 at 75%% of the steps)")
    naflow.add_argument("--hidden", type=int, default=32, help="coupling/injector width")
    naflow.add_argument("--features", type=int, default=16, help="condition-encoder channels")
    _add_validation_and_resume_arguments(naflow, val_crops=48, val_every=250)
    naflow.set_defaults(handler=_train_naflow)
    for name, text in CLEAN_FREE_HELP.items():
        sub = models.add_parser(name, help=text)
        _add_run_arguments(sub, "noise_model/, denoiser/", steps=4000, batch=16, val_batches=8, val_every=500)
        sub.add_argument("--lam", type=float, default=2.0**18, help="weight of the denoiser loss (paper: 2^18)")
        sub.set_defaults(lr=None)  # per denoiser: DnCNN 1e-3, U-Net 3e-4 (CLEAN_FREE_DENOISERS)
        sub.add_argument("--flow-lr", type=float, help="the noise model's Adam learning rate (default: --lr)")
        sub.add_argument("--denoiser", choices=["dncnn", "unet"], default="dncnn",
                         help="DnCNN (the paper's) or a residual U-Net (default: %(default)s); --lr then defaults "
                         "to 1e-3 for DnCNN, 3e-4 for the U-Net")
        sub.add_argument("--denoiser-depth", type=int, help="DnCNN layers (default 9) or U-Net levels (default 3)")
        sub.add_argument("--denoiser-width", type=int, help="channels (default: DnCNN 64, U-Net 48)")
        sub.add_argument("--residual", choices=["denoised", "difference", "difference-mean"], default="denoised",
                         help="n2nflow: the flow's noise is I1 - D(I2) (the paper's) or (I1 - I2)/sqrt(2), which "
                         "keeps the denoiser's error out of it, around D(I2) or around (D(I1) + D(I2))/2 "
                         "(default: %(default)s)")
        sub.add_argument("--alpha", type=float, default=2.0, help="r2rflow: recorruption strength, > 1 for the "
                         "noise estimate to converge; R2R's 0.5 diverges (default: %(default)s)")
        sub.add_argument("--denoiser-warmup", type=int, default=500, help="r2rflow: steps that train the denoiser "
                         "alone first (default: %(default)s)")
        sub.add_argument("--noise", choices=["camera", "pixel-independent", "heteroscedastic"], default="camera")
        sub.set_defaults(handler=_train_clean_free)
    n2n = models.add_parser("neighbor2neighbor", help="Neighbor2Neighbor denoiser from single noisy images "
                            "(or its Noise2Clean baseline), synthetic or real sRGB noise")
    n2n.add_argument("--out", required=True, help="run folder: checkpoints, history.json, denoiser/")
    n2n.add_argument("--images", help="clean images to noise (default: $NOISEAUG_DATA/clean/bsd300-test, split 80/20)")
    n2n.add_argument("--real", action="store_true", help="train on the real noisy PolyU + CC15 train split instead")
    n2n.add_argument("--data", help="data root for --real (default: $NOISEAUG_DATA)")
    n2n.add_argument("--objective", choices=["neighbor2neighbor", "noise2clean"], default="neighbor2neighbor")
    n2n.add_argument("--noise", default="gauss25", help="synthetic noise: gauss25, gauss5-50, poisson30, poisson5-50 "
                     "(unclipped; default: %(default)s)")
    n2n.add_argument("--denoiser", choices=["unet", "dncnn"], default="unet")
    n2n.add_argument("--width", type=int, help="channels (default: UNet 48, DnCNN 64)")
    n2n.add_argument("--depth", type=int, help="UNet levels (default 4) or DnCNN depth (default 17)")
    n2n.add_argument("--gamma", type=float, help="final regulariser weight, ramped from 0 (default: 2 synthetic, 1 real)")
    n2n.add_argument("--steps", type=int, default=20_000)
    n2n.add_argument("--batch", type=int, default=16, help="crops per step")
    n2n.add_argument("--patch", type=int, default=64, help="crop side (even; sub-images are half)")
    n2n.add_argument("--lr", type=float, default=3e-4, help="Adam learning rate (x0.1 at 75%% of the steps)")
    n2n.add_argument("--val-crops", type=int, default=32)
    n2n.add_argument("--val-every", type=int, default=500)
    n2n.add_argument("--seed", type=int, default=0)
    n2n.add_argument("--device", default="cpu", help="torch device (default: %(default)s)")
    n2n.add_argument("--no-resume", action="store_true", help="start over even if OUT/last.pt exists")
    n2n.set_defaults(handler=_train_neighbor2neighbor)
    flow_prior = models.add_parser("flow-prior", help="flow-prior denoiser: a Glow prior on clean crops (OUT/prior), "
                                   "then a denoiser on noisy crops alone against it (OUT/denoise)")
    flow_prior.add_argument("--out", required=True, help="run folder: prior/ (checkpoints, model/) and denoise/ "
                            "(checkpoints, denoiser/)")
    flow_prior.add_argument("--stage", choices=["both", "prior", "denoiser"], default="both",
                            help="train the prior, the denoiser, or both in turn (default: %(default)s)")
    flow_prior.add_argument("--images", help="clean images (default: $NOISEAUG_DATA/clean/bsd300-test, split 80/20)")
    flow_prior.add_argument("--prior", help="prior for --stage denoiser: folder, released name or Hub id "
                            "(default: OUT/prior/model)")
    flow_prior.add_argument("--prior-steps", type=int, default=20_000)
    flow_prior.add_argument("--prior-batch", type=int, default=32)
    flow_prior.add_argument("--prior-patch", type=int, default=32, help="prior crop side (a multiple of 2^levels)")
    flow_prior.add_argument("--prior-lr", type=float, default=5e-4)
    flow_prior.add_argument("--prior-val-crops", type=int, default=256)
    flow_prior.add_argument("--levels", type=int, default=3, help="Glow scale levels L")
    flow_prior.add_argument("--flow-depth", type=int, default=8, help="Glow steps K per level")
    flow_prior.add_argument("--hidden", type=int, default=128, help="Glow coupling width")
    flow_prior.add_argument("--steps", type=int, default=10_000, help="denoiser steps")
    flow_prior.add_argument("--batch", type=int, default=16, help="denoiser crops per step")
    flow_prior.add_argument("--patch", type=int, default=64, help="denoiser crop side (a multiple of --prior-patch)")
    flow_prior.add_argument("--lr", type=float, default=3e-4, help="denoiser Adam learning rate")
    flow_prior.add_argument("--lam", type=float, default=2e-3, help="prior weight on log P per dimension")
    flow_prior.add_argument("--max-sigma", type=float, default=50.0, help="noise std drawn in [0, MAX] / 255")
    flow_prior.add_argument("--denoiser", choices=["unet", "dncnn"], default="unet")
    flow_prior.add_argument("--width", type=int, help="channels (default: UNet 48, DnCNN 64)")
    flow_prior.add_argument("--depth", type=int, help="UNet levels (default 4) or DnCNN depth (default 17)")
    flow_prior.add_argument("--val-crops", type=int, default=48, help="denoiser validation crops")
    flow_prior.add_argument("--val-every", type=int, default=500)
    flow_prior.add_argument("--seed", type=int, default=0)
    flow_prior.add_argument("--device", default="cpu", help="torch device (default: %(default)s)")
    flow_prior.add_argument("--no-resume", action="store_true", help="start over even if checkpoints exist")
    flow_prior.set_defaults(handler=_train_flow_prior)


def _convert(args: argparse.Namespace) -> int:
    from .convert import convert_n2nflow_pth, convert_noiseflow_tf

    convert = convert_noiseflow_tf if args.format == "noiseflow-tf" else convert_n2nflow_pth
    out = convert(args.source, args.out, overwrite=args.overwrite)
    extra = " and its DnCNN denoiser in dncnn/" if args.format == "n2nflow-pth" else ""
    print(f"converted {args.source} to {out} (config.json, model.safetensors, README.md{extra}); licence CC BY-NC-SA "
          f"4.0. Use it with NoiseFlowTransform.from_pretrained({str(out)!r})")
    return 0


def _add_convert_command(commands: argparse._SubParsersAction) -> None:
    convert = commands.add_parser("convert", help="convert the authors' SIDD-trained Noise Flow / Noise2NoiseFlow "
                                  "weights into a noiseaug folder (config.json + model.safetensors + card)")
    formats = convert.add_subparsers(dest="format", required=True, metavar="FORMAT")
    for name, source, text in (
            ("noiseflow-tf", "CKPT_PREFIX", "Noise Flow's TensorFlow 1 checkpoint (BorealisAI/noise_flow, "
             "models/NoiseFlow/ckpt/model.ckpt.best): PREFIX.index + PREFIX.data-00000-of-00001, read without TensorFlow"),
            ("n2nflow-pth", "FILE", "Noise2NoiseFlow's PyTorch checkpoint (SamsungLabs/Noise2NoiseFlow, "
             "epoch_160_nf_model_net.pth): the flow, and its DnCNN into OUT/dncnn")):
        sub = formats.add_parser(name, help=text)
        sub.add_argument("source", metavar=source, help="the checkpoint prefix (or its .index file)"
                         if name == "noiseflow-tf" else "the .pth file")
        sub.add_argument("--out", required=True, help="output folder (new or empty)")
        sub.add_argument("--overwrite", action="store_true", help="replace OUT if it holds a previous conversion")
        sub.set_defaults(handler=_convert)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="noiseaug", description="Realistic camera noise as batched augmentations.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser("demo", help="synthesize noise with every model on shipped real pairs; print a table, write a figure")
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
    print(f"noiseaug {command}: internal error {type(error).__name__}: this is a bug in noiseaug (or a library it "
          "calls), not a problem with your input; please report it with the traceback below", file=sys.stderr)


def _recorded(args: argparse.Namespace) -> contextlib.AbstractContextManager:
    """``noiseaug train``: every recipe's run folder gets its ``run.json``, checked on resume (see run_record)."""
    if args.command != "train":
        return contextlib.nullcontext()
    from .training.run_record import recorded_run

    return recorded_run(args)


def main(argv: Sequence[str] | None = None) -> int:
    """Run a command; for bad input (a :class:`~noiseaug.errors.NoiseaugInputError`), print one error line and
    return 2; any other error is a bug: a line says so and the exception propagates (see the module docs)."""
    from .errors import NoiseaugInputError

    args = build_parser().parse_args(argv)
    try:
        with _recorded(args):
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
