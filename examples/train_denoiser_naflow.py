"""Train a small DnCNN on clean images with NAFlow camera noise added on the device, then test it on real noise.

The DataLoader yields random clean crops (8-bit, as stored); in the loop, each batch goes to the device and
`DeviceNoise` adds NAFlow sRGB noise there, in one batched call with its own seeded generator (a random camera
configuration per crop). The denoiser never sees a real noisy image in training. At the end it denoises the real
noisy/clean pairs shipped in noiseaug/assets/samples and prints PSNR (dB, data range 1) before and after.

    python examples/train_denoiser_naflow.py --steps 2000 --device cuda --out runs/dncnn-naflow
    python examples/train_denoiser_naflow.py --steps 50        # a CPU smoke run

Clean images: --images, default $NOISEAUG_DATA/clean/bsd300-test. Writes OUT/denoiser (config.json +
model.safetensors, load with DnCNN.from_pretrained) and OUT/results.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from tqdm import tqdm

from noiseaug import DnCNN, NAFlowTransform
from noiseaug.data.patches import RandomPatches
from noiseaug.data.root import data_folder
from noiseaug.data.simulated_pairs import read_image_folder
from noiseaug.demo import sample_pairs
from noiseaug.metrics import psnr
from noiseaug.transforms import DeviceNoise


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000, help="training steps (default: %(default)s)")
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu", help="torch device (default: %(default)s)"
    )
    parser.add_argument("--out", default="runs/dncnn-naflow", help="output folder (default: %(default)s)")
    parser.add_argument("--images", help="folder of clean PNG/JPEG images (default: $NOISEAUG_DATA/clean/bsd300-test)")
    parser.add_argument("--batch", type=int, default=16, help="crops per step (default: %(default)s)")
    parser.add_argument("--patch", type=int, default=64, help="crop side in pixels (default: %(default)s)")
    parser.add_argument("--depth", type=int, default=5, help="DnCNN depth (default: %(default)s)")
    parser.add_argument("--width", type=int, default=16, help="DnCNN width (default: %(default)s)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default: %(default)s)")
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seeds crops, noise and weights (default: %(default)s)")
    args = parser.parse_args(argv)
    if min(args.steps, args.batch, args.patch) < 1 or args.workers < 0:
        parser.error("--steps, --batch and --patch must be positive, --workers >= 0")
    return args


def clean_crops(folder: Path, patch: int, seed: int) -> RandomPatches:
    """Random ``patch``-sized crops (uint8 ``(3, patch, patch)``, flips and rot90) of every image in ``folder``."""
    images = [{"image": image} for image in read_image_folder(folder).values()]
    return RandomPatches(images, size=patch, per_image=8, seed=seed, keys=("image",))


def evaluate(net: DnCNN, device: torch.device) -> list[dict[str, float | str]]:
    """PSNR of the real noisy image and of the denoised one against the clean image, per shipped pair."""
    rows = []
    net.eval()
    with torch.no_grad():
        for pair in sample_pairs():
            noisy, clean = pair.noisy.to(device), pair.clean.to(device)
            denoised = net(noisy).clamp(0, 1)
            rows.append(
                {
                    "image": pair.name,
                    "noisy_psnr": float(psnr(noisy, clean)[0]),
                    "denoised_psnr": float(psnr(denoised, clean)[0]),
                }
            )
    return rows


def main(argv: list[str] | None = None) -> dict[str, object]:
    args = parse_args(argv)
    device, out = torch.device(args.device), Path(args.out)
    torch.manual_seed(args.seed)  # the DnCNN's initial weights
    crops = clean_crops(
        Path(args.images) if args.images else data_folder("clean", "bsd300-test"), args.patch, args.seed
    )
    loader = DataLoader(
        crops,
        batch_size=args.batch,
        shuffle=True,
        num_workers=args.workers,
        drop_last=True,
        generator=torch.Generator().manual_seed(args.seed),
    )
    if len(loader) == 0:
        raise SystemExit(f"--batch {args.batch} is larger than the {len(crops)} crops per epoch")
    add_noise = DeviceNoise(NAFlowTransform.from_pretrained("naflow-srgb"), device, seed=args.seed)
    net = DnCNN(channels=3, depth=args.depth, width=args.width).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)

    step, epoch, losses = 0, 0, []
    with tqdm(total=args.steps, desc="train", unit="step") as bar:
        while step < args.steps:
            crops.set_epoch(epoch)
            for batch in loader:
                clean = batch["image"].to(device, non_blocking=True).float() / 255
                noisy, clean = add_noise(clean)  # NAFlow noise, on the device, one call per batch
                loss = F.mse_loss(net(noisy), clean)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
                step += 1
                bar.update()
                bar.set_postfix(loss=f"{losses[-1]:.2e}")
                if step == args.steps:
                    break
            epoch += 1

    rows = evaluate(net, device)
    for row in rows:
        print(f"{row['image']:<40} noisy {row['noisy_psnr']:6.2f} dB -> denoised {row['denoised_psnr']:6.2f} dB")
    window = max(1, args.steps // 20)  # the loss curve as 20 (or fewer) window means
    curve = [sum(losses[i : i + window]) / len(losses[i : i + window]) for i in range(0, len(losses), window)]
    results = {"args": vars(args), "final_loss": losses[-1], "loss_curve": curve, "real_pairs": rows}
    net.save_pretrained(out / "denoiser")
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"denoiser and results.json written to {out}")
    return results


if __name__ == "__main__":
    main()
