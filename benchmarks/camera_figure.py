"""Figure: the simulated camera's noise for each camera at ISO 100 and 3200, on a Kodak image.

Writes ``<out>/simulated_cameras.png`` (rows: camera x ISO; columns: clean sRGB through the ISP,
noisy raw rendered with a plain bilinear demosaic + 2.2 gamma (no white balance or colour
correction, hence the green cast), noisy sRGB through the ISP, and the sRGB noise x3 around grey)
and ``simulated_cameras.json``, and prints a markdown table of the noise levels (sRGB RMSE on the
0-255 scale, the convention of the shared-data README).

    python benchmarks/camera_figure.py --out docs/figures [--image ../shared/data/clean/kodak24/kodim23.png]
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import torch

from noiseaug.data import SimulatedCamera, demosaic, process
from noiseaug.data.root import data_folder
from noiseaug.eval import pyplot, save_figure, write_outputs
from noiseaug.imageio import read_image

ISOS = (100, 3200)
AMPLIFY = 3.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/figures"))
    parser.add_argument("--image", type=Path, default=None, help="clean sRGB image (default: Kodak kodim23)")
    parser.add_argument("--width", type=int, default=128, help="width the image is resized to (area), even")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    path = args.image or data_folder("clean", "kodak24") / "kodim23.png"
    image = read_image(path)
    h, w = image.shape[-2:]
    size = (round(h * args.width / w / 2) * 2, args.width // 2 * 2)
    srgb = torch.nn.functional.interpolate(image[None], size=size, mode="area").clamp(0, 1)

    camera = SimulatedCamera()
    rows, records = [], []
    for name in camera.cameras:
        for iso in ISOS:
            # One seed per row: the ISP settings (CCM, gains) are the same in every row; the noise differs.
            draw = camera.capture(srgb, camera.condition(name, iso), torch.Generator().manual_seed(args.seed))
            clean, noisy = draw.pair("srgb")
            raw_view = demosaic(draw.noisy_raw[0], draw.patterns).clamp(0, 1).pow(1 / 2.2)
            noise = (noisy - clean) * AMPLIFY + 0.5
            rows.append((f"{name} ISO {iso}\n{draw.patterns[0]}", [clean, raw_view, noisy, noise.clamp(0, 1)]))
            beta1, beta2 = camera.nlf(draw.cond)
            records.append(
                {
                    "camera": name,
                    "iso": iso,
                    "pattern": draw.patterns[0],
                    "beta1": float(beta1),
                    "beta2": float(beta2),
                    "raw_noise_std": float((draw.noisy_raw[0] - draw.clean_raw).std()),
                    "srgb_rmse_255": float((noisy - clean).square().mean().sqrt() * 255),
                }
            )
            assert torch.equal(process(draw.clean_raw, draw.isp), clean)

    plt = pyplot()
    columns = ["clean (ISP)", "noisy raw\n(demosaic + gamma)", "noisy sRGB (ISP)", f"noise x{AMPLIFY:g} (sRGB)"]
    fig, axes = plt.subplots(len(rows), 4, figsize=(4 * 1.3, len(rows) * 1.3 * size[0] / size[1] + 0.5), dpi=80)
    for r, (label, panels) in enumerate(rows):
        for c, panel in enumerate(panels):
            ax = axes[r, c]
            ax.imshow(panel[0].permute(1, 2, 0).clamp(0, 1).numpy(), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(columns[c], fontsize=7)
            if c == 0:
                ax.set_ylabel(label, fontsize=7)
    fig.suptitle(f"noiseaug simulated cameras ({path.name} resized to {size[1]}x{size[0]})", fontsize=8)
    fig.tight_layout(pad=0.3, h_pad=0.2, w_pad=0.2, rect=(0, 0, 1, 0.975))
    save_figure(fig, args.out / "simulated_cameras.png")
    result = {
        "image": path.name,
        "size": list(size),
        "seed": args.seed,
        "hardware": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "convention": "raw normalized (black 0, white 1); sRGB RMSE on 0-255",
        "rows": records,
    }
    write_outputs(args.out, {"simulated_cameras.json": json.dumps(result, indent=2)})

    print(f"simulated cameras on {path.name} ({size[1]}x{size[0]}), {result['hardware']}, torch {torch.__version__}\n")
    print("| camera | ISO | CFA | beta1 | beta2 | raw noise std | sRGB RMSE (0-255) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for rec in records:
        print(
            f"| {rec['camera']} | {rec['iso']} | {rec['pattern']} | {rec['beta1']:.2e} | {rec['beta2']:.2e} | "
            f"{rec['raw_noise_std']:.4f} | {rec['srgb_rmse_255']:.1f} |"
        )
    print(f"\nwrote {args.out / 'simulated_cameras.png'} and {args.out / 'simulated_cameras.json'}")


if __name__ == "__main__":
    main()
