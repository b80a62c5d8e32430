"""Does a DnCNN noise source draw the same noise on a GPU as on the CPU? Statistics of one source's noise on the
same clean crops, drawn on the CPU and on CUDA (TF32 convolutions on, PyTorch's default, and off).

The draws differ between devices (each device has its own generator), so the comparison is of distributions:
per setting, the mean over crops of the noise std and of the mean error (noisy minus clean, 8-bit noisy crop, 0-255
scale) with their standard errors, and the per-crop std's 10th / 50th / 90th percentiles. The crops are those of
``SynthesizedPairs`` (``--clean sidd-train``'s clean halves, 48x48, ``--batches`` batches of 16).

    python benchmarks/device_noise_stats.py --device cuda --out out/device-noise
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

from noiseaug.data.batches import SynthesizedPairs
from noiseaug.eval import markdown_table, write_outputs
from noiseaug.recipes.dncnn import DnCNNConfig, clean_images, noise_source


def noise_stats(pairs: SynthesizedPairs, batches: int) -> dict[str, float]:
    """Mean per-crop std and mean error (0-255) with standard errors, and std percentiles, over ``batches``."""
    stds, offsets = [], []
    for step in range(batches):
        batch = pairs.batch(step)
        residual = (batch.need_noisy() - batch.need_clean()).flatten(1).double().cpu() * 255
        stds += residual.std(1).tolist()
        offsets += residual.mean(1).tolist()
    n, q = len(stds), statistics.quantiles(stds, n=10)
    return {
        "crops": n,
        "std": statistics.fmean(stds),
        "std_se": statistics.stdev(stds) / n**0.5,
        "offset": statistics.fmean(offsets),
        "offset_se": statistics.stdev(offsets) / n**0.5,
        "std_p10": q[0],
        "std_p50": q[4],
        "std_p90": q[8],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--noise", default="naflow-phone-spread-tone", help="a synthetic --noise of noiseaug train dncnn"
    )
    parser.add_argument("--flow", default="naflow-srgb", help="the NAFlow of the naflow* sources")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--batches", type=int, default=128, help="batches of 16 crops per setting")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    config = DnCNNConfig(noise=args.noise, clean="sidd-train", flow=args.flow)
    images = clean_images(config)
    settings = {"cpu": ("cpu", None)}
    if torch.device(args.device).type == "cuda":
        settings |= {"cuda, TF32 on": (args.device, True), "cuda, TF32 off": (args.device, False)}
    results = {}
    for label, (device, tf32) in settings.items():
        if tf32 is not None:
            torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = tf32
        source = noise_source(args.noise, flow=args.flow).to(device)
        pairs = SynthesizedPairs(images, source, config.patch, config.batch, args.seed, device=device)
        with torch.no_grad():
            results[label] = noise_stats(pairs, args.batches)
        print(label, json.dumps(results[label]), flush=True)
    rows = [
        [
            label,
            str(r["crops"]),
            f"{r['std']:.3f} +- {r['std_se']:.3f}",
            f"{r['std_p10']:.2f} / {r['std_p50']:.2f} / {r['std_p90']:.2f}",
            f"{r['offset']:+.3f} +- {r['offset_se']:.3f}",
        ]
        for label, r in results.items()
    ]
    table = "\n".join(
        markdown_table(["setting", "crops", "noise std (0-255)", "std p10 / p50 / p90", "mean error"], rows)
    )
    report = f"# {args.noise} noise by device\n\n{torch.__version__}\n\n{table}\n"
    write_outputs(args.out, {"device_noise.md": report, "device_noise.json": json.dumps(results, indent=2)})
    print(table)


if __name__ == "__main__":
    main()
