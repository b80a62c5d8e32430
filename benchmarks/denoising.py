"""Denoisers on real noisy photographs (and Kodak24 with AWGN): PSNR / SSIM per test set, and a crops figure.

Test sets: the scene-level held-out split of PolyU + CC15 (20 DSLR pairs, the split ``noiseaug train
naflow`` and ``noiseaug train dncnn --noise real`` hold out) and ``real-srgb/sidd-dev`` (5 smartphone
pairs, a camera family none of the models saw); with ``--kodak-sigma S`` (repeatable) also
``clean/kodak24`` with unclipped AWGN of std ``S``/255 (one fixed draw per image and sigma, seeded by
both), the Neighbor2Neighbor and flow-prior papers' synthetic test; ``--no-real`` leaves the real
sets out. Whole images are denoised in one pass; outputs are
clipped to [0, 1] and compared in float with the clean image: PSNR and SSIM (kornia, data range 1,
11x11 window) per image, averaged per set. The "noisy input" row is the identity. A second table splits off
the brightness: each output's mean error (output minus clean, over pixels and channels, /255; negative: darker
than clean) and its PSNR once each channel's mean error is subtracted (what a denoiser would score if it got
every image's mean colour right).

Models: ``--model LABEL=PATH_OR_NAME`` (repeatable), any DnCNN / U-Net folder, released name or Hub id, or a
training checkpoint ``RUN/last.pt`` (or ``best.pt``) of a finished ``noiseaug train dncnn`` run: the architecture of
``RUN/denoiser/``, the checkpoint's weights; by default every released ``dncnn-*`` denoiser. Replicates: labels
``GROUP#K`` (e.g. ``real-phone#1``, ``real-phone#2``: runs of one recipe with different seeds) are also summarised
per group (mean, sample std, min and max PSNR over the runs, per test set).

    python benchmarks/denoising.py --out out/denoising
    python benchmarks/denoising.py --model AWGN=runs/dncnn/awgn/denoiser --model NAFlow=runs/dncnn/naflow/denoiser --out out/d
    python benchmarks/denoising.py --model last=runs/dncnn/naflow/last.pt --out out/last-step
    python benchmarks/denoising.py --no-real --kodak-sigma 25 --model N2N=runs/n2n/denoiser --out out/kodak
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch
from torch import Tensor, nn

from noiseaug.denoise import load_denoiser
from noiseaug.eval import (
    kodak_awgn_sets,
    limit_sets,
    markdown_table,
    pyplot,
    real_srgb_test_sets,
    save_figure,
    write_outputs,
)
from noiseaug.hub import released_models
from noiseaug.metrics import psnr, ssim
from noiseaug.training import load_checkpoint

NOISY_INPUT = "noisy input"


def parse_models(specs: list[str] | None) -> dict[str, str]:
    """``["LABEL=PATH", ...]`` -> ``{label: path}``; default: every released ``dncnn-*`` model."""
    if not specs:
        return {name: name for name in released_models() if name.startswith("dncnn-")}
    models = {}
    for spec in specs:
        label, sep, path = spec.partition("=")
        if not sep or not label or not path:
            raise SystemExit(f"--model takes LABEL=PATH_OR_NAME, got {spec!r}")
        models[label] = path
    return models


def load_model(path: str) -> nn.Module:
    """A denoiser folder, released name or Hub id; or a ``.pt`` checkpoint of a ``noiseaug train dncnn`` run, whose
    ``denoiser`` weights go into the architecture of the run's exported ``denoiser/`` folder beside it."""
    if not path.endswith(".pt"):
        return load_denoiser(path)
    model = load_denoiser(Path(path).parent / "denoiser")
    weights = load_checkpoint(path)["model"]
    model.load_state_dict({k.removeprefix("denoiser."): v for k, v in weights.items() if k.startswith("denoiser.")})
    return model.eval()


@torch.no_grad()
def evaluate(
    models: dict[str, nn.Module], sets: dict[str, list[tuple[str, Tensor, Tensor]]], device: torch.device | None = None
) -> dict:
    """``{set: {model: {"psnr", "ssim", "offset", "psnr_without_offset", "per_image": {name: [psnr, ssim, offset,
    psnr_without_offset]}}}}`` (the identity included; offset: mean error on the 0-255 scale); images are moved to
    ``device`` (default: the CPU), where the models must be."""
    device = device or torch.device("cpu")
    results: dict = {}
    for set_name, pairs in sets.items():
        results[set_name] = {}
        for label, model in {NOISY_INPUT: None, **models}.items():
            per_image = {}
            for name, noisy, clean in ((n, x.to(device), y.to(device)) for n, x, y in pairs):
                out = noisy if model is None else model(noisy).clamp(0, 1)
                channel_offset = (out - clean).mean((-2, -1), keepdim=True)
                per_image[name] = [
                    float(psnr(out, clean)),
                    float(ssim(out, clean)),
                    float(channel_offset.mean()) * 255,
                    float(psnr(out - channel_offset, clean)),
                ]
            results[set_name][label] = {
                key: statistics.fmean(v[k] for v in per_image.values())
                for k, key in enumerate(("psnr", "ssim", "offset", "psnr_without_offset"))
            } | {"per_image": per_image}
            print(
                f"  {set_name:28s} {label:24s} PSNR {results[set_name][label]['psnr']:.2f} dB  "
                f"SSIM {results[set_name][label]['ssim']:.4f}",
                flush=True,
            )
    return results


def replicate_groups(results: dict, key: str = "psnr") -> dict:
    """``{set: {group: {"n", "mean", "std", "min", "max"}}}`` of the ``key`` scores (PSNRs) of the labels ``GROUP#K``
    (groups of at least two runs; sample std)."""
    summary: dict = {}
    for set_name, per_model in results.items():
        groups: dict[str, list[float]] = {}
        for label, scores in per_model.items():
            group, sep, _ = label.rpartition("#")
            if sep and group:
                groups.setdefault(group, []).append(scores[key])
        summary[set_name] = {
            group: {
                "n": len(v),
                "mean": statistics.fmean(v),
                "std": statistics.stdev(v),
                "min": min(v),
                "max": max(v),
            }
            for group, v in groups.items()
            if len(v) >= 2
        }
    return summary


def replicates_markdown(summary: dict, what: str = "PSNR (dB)") -> str:
    sets = list(summary)
    groups = list(summary[sets[0]]) if sets else []
    rows = [
        [
            f"{group} ({summary[sets[0]][group]['n']} runs)",
            *(
                f"{summary[s][group]['mean']:.2f} +- {summary[s][group]['std']:.2f} "
                f"({summary[s][group]['min']:.2f} to {summary[s][group]['max']:.2f})"
                for s in sets
            ),
        ]
        for group in groups
    ]
    return "\n".join(markdown_table(["runs", *(f"{s} {what}: mean +- std (min to max)" for s in sets)], rows))


def score_pair_markdown(results: dict, first: tuple[str, str], second: tuple[str, str], header: str) -> str:
    """A row per model, two scores per set: ``first`` and ``second`` are ``(key, format spec)``; ``header`` names the
    pair after each set's name."""
    sets = list(results)
    rows = [
        [
            label,
            *(f"{results[s][label][first[0]]:{first[1]}} | {results[s][label][second[0]]:{second[1]}}" for s in sets),
        ]
        for label in results[sets[0]]
    ]
    return "\n".join(markdown_table(["model", *(f"{s} {header}" for s in sets)], rows, "---: | ---:"))


def markdown(results: dict) -> str:
    """Each model's PSNR and SSIM per set."""
    return score_pair_markdown(results, ("psnr", ".2f"), ("ssim", ".4f"), "PSNR (dB) | SSIM")


def offset_markdown(results: dict) -> str:
    """Each model's mean error (/255) and PSNR with each image's per-channel mean error removed, per set."""
    return score_pair_markdown(
        results, ("offset", "+.2f"), ("psnr_without_offset", ".2f"), "mean error (/255) | PSNR without it (dB)"
    )


@torch.no_grad()
def crops_figure(models: dict[str, nn.Module], sets: dict, path: Path, size: int = 96) -> None:
    """One row per test set (its first image, 96x96 centre crop): noisy | each model | clean; whole-image PSNR below."""
    plt = pyplot()
    columns = [NOISY_INPUT, *models, "clean"]
    rows = [(set_name, *pairs[0]) for set_name, pairs in sets.items()]
    fig, axes = plt.subplots(len(rows), len(columns), figsize=(2.2 * len(columns), 2.4 * len(rows)), squeeze=False)
    for r, (set_name, name, noisy, clean) in enumerate(rows):
        h, w = noisy.shape[-2:]
        top, left = (h - size) // 2, (w - size) // 2
        crop = (slice(None), slice(None), slice(top, top + size), slice(left, left + size))
        images = {NOISY_INPUT: noisy, "clean": clean}
        images.update({label: model(noisy).clamp(0, 1) for label, model in models.items()})
        for c, label in enumerate(columns):
            ax = axes[r][c]
            ax.imshow(images[label][crop][0].permute(1, 2, 0).numpy(), interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
            if label not in ("clean",):
                ax.set_xlabel(f"{float(psnr(images[label], clean)):.2f} dB (whole image)", fontsize=8)
            if r == 0:
                ax.set_title(label, fontsize=9)
        axes[r][0].set_ylabel(f"{set_name}\n{name}", fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", action="append", help="LABEL=PATH_OR_NAME of a denoiser (repeatable)")
    parser.add_argument("--data", type=Path, help="data root (default: $NOISEAUG_DATA)")
    parser.add_argument(
        "--kodak-sigma",
        type=float,
        action="append",
        default=[],
        help="also test on Kodak24 with unclipped AWGN of this std (0-255 scale; repeatable)",
    )
    parser.add_argument("--no-real", action="store_true", help="leave out the real test sets")
    parser.add_argument("--limit", type=int, help="first N images of each set only (smoke runs)")
    parser.add_argument("--no-figure", action="store_true", help="skip the crops figure (no matplotlib needed)")
    parser.add_argument(
        "--device", default="cpu", help="torch device, e.g. cuda (TF32 off, so scores match the CPU's to rounding)"
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            parser.error("--device cuda but CUDA is not available")
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    specs = parse_models(args.model)
    if not specs:
        raise SystemExit("no denoisers: pass --model LABEL=PATH (no released dncnn-* models found)")
    models = {label: load_model(path).to(device) for label, path in specs.items()}
    sets = {} if args.no_real else limit_sets(real_srgb_test_sets(args.data), args.limit)
    sets.update(kodak_awgn_sets(args.kodak_sigma, args.data, args.limit))
    if not sets:
        raise SystemExit("no test sets: drop --no-real or add --kodak-sigma")
    start = time.perf_counter()
    results = evaluate(models, sets, device)
    table = markdown(results)
    groups = replicate_groups(results)
    if any(groups.values()):
        table += "\n\nReplicates (labels GROUP#K):\n\n" + replicates_markdown(groups)
    table += "\n\nBrightness (each image's mean error, and PSNR once it is removed per channel):\n\n"
    table += offset_markdown(results)
    if any(groups.values()):
        without = replicate_groups(results, "psnr_without_offset")
        table += "\n\nReplicates, PSNR without the mean error:\n\n" + replicates_markdown(without, "PSNR (dB)")
    hardware = (
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} thread(s)"
        + (f", {torch.cuda.get_device_name(device)}" if device.type == "cuda" else "")
    )
    report = (
        f"# Denoising\n\nPSNR / SSIM (kornia, data range 1) per image, averaged; "
        f"whole images, outputs clipped to [0, 1]. {hardware}; {time.perf_counter() - start:.0f} s.\n\n{table}\n"
    )
    write_outputs(
        args.out,
        {
            "denoising.md": report,
            "denoising.json": json.dumps({"models": specs, "results": results, "replicates": groups}, indent=2),
        },
    )
    if not args.no_figure:
        crops_figure({label: model.cpu() for label, model in models.items()}, sets, args.out / "denoising_crops.png")
    print("\n" + table)
    print(
        f"\nwritten under {args.out}: denoising.md, denoising.json"
        + ("" if args.no_figure else ", denoising_crops.png")
    )


if __name__ == "__main__":
    main()
