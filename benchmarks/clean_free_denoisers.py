"""How well the clean-free trainers' denoisers denoise, per ISO, on the simulated camera's held-out split.

A Noise2NoiseFlow noise model learns ``p(I1 | D(I2))``: the noise it sees is ``n1 - e``, where
``e = D(I2) - clean`` is the denoiser's error (independent of ``n1``). Its learned variance is
therefore ``v + v_e`` instead of ``v``. This script measures, per ISO (all five cameras pooled):

* ``noisy``: PSNR (dB) of the noisy shot itself, the bar a denoiser has to clear;
* ``denoised``: PSNR of ``D(noisy)``;
* ``ratio``: ``r = mean(e^2) / mean(n^2)`` (1 for the identity, 2 for a denoiser that doubles the error);
* ``excess``: the NLL excess (nats/dim) that ``r`` implies for a Gaussian noise model whose variance is
  inflated by ``1 + r``: ``0.5 * log(1 + r) + 0.5 / (1 + r) - 0.5``.

The patches are those of ``benchmarks/noiseflow_simcam.py``. PSNRs are means of per-patch PSNRs (data
range 1). Usage:

    python benchmarks/clean_free_denoisers.py --denoiser "N2NFlow=runs/n2nflow/denoiser" --out out/clean-free-denoisers
"""

from __future__ import annotations

import argparse
import json

import torch

from noiseaug.data.camera import CameraDraw, SimulatedCamera
from noiseaug.eval import gaussian_nll_excess, markdown_table, simcam_draws, write_outputs
from noiseaug.hub import load_folder


@torch.no_grad()
def per_iso(denoiser: torch.nn.Module, draws: list[CameraDraw]) -> dict[int, dict[str, float]]:
    """Per ISO: noisy and denoised PSNR, error-to-noise ratio and its implied Gaussian NLL excess."""
    rows: dict[int, list[tuple[float, float]]] = {}
    for draw in draws:
        noisy, clean = draw.noisy_raw[0], draw.clean_raw
        noise_mse = (noisy - clean).square().mean((1, 2, 3))
        error_mse = (denoiser(noisy).clamp(0, 1) - clean).square().mean((1, 2, 3))
        for iso, a, b in zip(draw.isos, noise_mse.tolist(), error_mse.tolist(), strict=True):
            rows.setdefault(int(iso), []).append((a, b))
    table = {}
    for iso, pairs in sorted(rows.items()):
        noise, error = torch.tensor(pairs, dtype=torch.float64).unbind(1)
        ratio = float(error.sum() / noise.sum())
        table[iso] = {
            "noisy": float((-10 * noise.log10()).mean()),
            "denoised": float((-10 * error.log10()).mean()),
            "ratio": ratio,
            "excess": gaussian_nll_excess(ratio),
        }
    return table


def markdown(results: dict[str, dict[int, dict[str, float]]]) -> str:
    first = next(iter(results.values()))
    isos = sorted(first)
    rows = [["(noisy input)", *(f"{first[i]['noisy']:.2f} dB" for i in isos)]]
    rows += [
        [name, *(f"{table[i]['denoised']:.2f} dB, r {table[i]['ratio']:.2f}, +{table[i]['excess']:.3f}" for i in isos)]
        for name, table in results.items()
    ]
    return "\n".join(markdown_table(["denoiser", *(f"ISO {i}" for i in isos)], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--denoiser",
        action="append",
        required=True,
        metavar="LABEL=FOLDER",
        help="a denoiser folder (config.json + model.safetensors); repeat to compare",
    )
    parser.add_argument("--images", help="clean sRGB folder (default: $NOISEAUG_DATA/clean/bsd300-test)")
    parser.add_argument("--test-batches", type=int, default=40, help="batches of 32 held-out patches (32x32 packed)")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    draws = simcam_draws(args.images, SimulatedCamera(), args.test_batches).test  # noiseflow_simcam.py's patches
    results = {}
    for spec in args.denoiser:
        label, _, folder = spec.rpartition("=")
        results[label or folder] = per_iso(load_folder(folder).eval(), draws)
    text = markdown(results)
    write_outputs(
        args.out, {"clean_free_denoisers.json": json.dumps(results, indent=2), "clean_free_denoisers.md": text + "\n"}
    )
    print(text)


if __name__ == "__main__":
    main()
