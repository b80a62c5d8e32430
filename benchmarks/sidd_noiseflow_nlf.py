"""What the real SIDD noise looks like: the authors' converted Noise Flow and Noise2NoiseFlow against SIDD's NLFs.

For every (camera, ISO) the authors' models know (five SIDD phones x ISO 100, 400, 800, 1600, 3200), each model
samples noise on the same clean raw: ``--images`` (default Kodak24) centre-cropped to ``--size`` sRGB pixels and
unprocessed by the simulated camera (``SimulatedCamera.capture``: random Brooks et al. ISP settings per image,
packed raw in noiseaug's channel order). All 25 combinations go through each model in one batch, mixed (the
authors' own code samples one ISO and camera per call). The sampled noise's noise level function is fitted by
pooled maximum likelihood (``fit_linear_variance``: ``var = beta1 * x + beta2``) per combination, and compared with
SIDD's calibrated NLF (``sidd_cam_iso_nlf.csv`` of the Noise Flow repository, 15 of the 25 combinations; the
numbers are ``noiseaug.data.sensor.SIDD_NLF``):

* ``beta1``, ``beta2`` of each model's samples, and SIDD's;
* ``var / SIDD``: the sampled noise's mean square over the mean of SIDD's ``beta1 * x + beta2`` on the same
  pixels (1 = SIDD's noise strength on this clean raw).

The SIDD phone presets of the simulated camera (``SimulatedCamera.sidd_phones()``, calibrated to that CSV) are
measured the same way, as a check of the method (their ratio should be 1 where SIDD calibrated the pair).

Models: ``--noiseflow DIR`` and ``--n2nflow DIR`` (folders written by ``noiseaug convert``), or, when neither is
given, both converted into a temporary folder from ``--official`` (default ``$NOISEAUG_OFFICIAL`` or
``../shared/official``). Outputs under ``--out``: ``sidd_nlf.md`` (printed too), ``sidd_nlf.json`` and, with
matplotlib, ``sidd_nlf.png`` (beta1 and beta2 against ISO per phone). Reproduce:

    python benchmarks/sidd_noiseflow_nlf.py --out out/sidd_nlf
    python benchmarks/sidd_noiseflow_nlf.py --noiseflow noiseflow-sidd --n2nflow n2nflow-sidd --device cuda
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import tempfile
import time
from pathlib import Path

import torch

from noiseaug import NoiseCondition, NoiseFlow
from noiseaug.data import SimulatedCamera, data_root
from noiseaug.data.sensor import SIDD_NLF, SIDD_PHONES, SIM_ISOS
from noiseaug.eval import clean_raw_crops, nlf_per_group, pyplot, save_figure, write_outputs
from noiseaug.eval.official import converted_flows

COMBOS = [(c, iso) for c in range(len(SIDD_PHONES)) for iso in SIM_ISOS]


def combo_batch(clean: torch.Tensor) -> tuple[torch.Tensor, NoiseCondition, torch.Tensor]:
    """Every image under every (camera, ISO): clean ``(25 N, 4, h, w)``, the condition, the combination index."""
    n = clean.shape[0]
    camera = torch.tensor([c for c, _ in COMBOS]).repeat_interleave(n)
    iso = torch.tensor([float(i) for _, i in COMBOS]).repeat_interleave(n)
    return (
        clean.repeat(len(COMBOS), 1, 1, 1),
        NoiseCondition(iso=iso, camera=camera),
        torch.arange(len(COMBOS)).repeat_interleave(n),
    )


def measure(noise: torch.Tensor, clean: torch.Tensor, combo: torch.Tensor) -> list[dict]:
    """Per combination: the pooled ML NLF fit of ``noise`` and its variance ratio to SIDD's NLF."""
    return nlf_per_group(
        noise, clean, combo, len(COMBOS), lambda k: SIDD_NLF.get((SIDD_PHONES[COMBOS[k][0]], COMBOS[k][1]))
    )


def sample_flow(flow: NoiseFlow, clean: torch.Tensor, cond: NoiseCondition, seed: int, device: str) -> torch.Tensor:
    flow = flow.to(device)
    x = clean.to(device)
    with torch.no_grad():
        noisy = flow.sample(x, cond.to(device), torch.Generator(device=device).manual_seed(seed))
    return (noisy - x).cpu()


def sample_presets(clean: torch.Tensor, cond: NoiseCondition, seed: int) -> torch.Tensor:
    cam = SimulatedCamera.sidd_phones()
    return cam.add_noise(clean, cond, torch.Generator().manual_seed(seed)) - clean


def fmt(v: float | None, digits: int = 3) -> str:
    return "-" if v is None else f"{v:.{digits}g}"


def markdown(results: dict[str, list[dict]]) -> str:
    names = list(results)
    head = (
        "| camera | ISO | SIDD beta1 | SIDD beta2 | "
        + " | ".join(f"{n} beta1 | {n} beta2 | {n} var/SIDD" for n in names)
        + " |"
    )
    lines = [head, "|" + " --- |" * (4 + 3 * len(names))]
    for k, (cam, iso) in enumerate(COMBOS):
        sidd = SIDD_NLF.get((SIDD_PHONES[cam], iso))
        cells = [SIDD_PHONES[cam], str(iso), fmt(sidd and sidd[0]), fmt(sidd and sidd[1])]
        for n in names:
            r = results[n][k]
            cells += [fmt(r["beta1"]), fmt(r["beta2"]), fmt(r["var_ratio"], 2)]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "| model | var/SIDD median (15 calibrated pairs) | min | max | beta1/SIDD geometric mean |",
        "| --- | --- | --- | --- | --- |",
    ]
    for n in names:
        ratios = sorted(r["var_ratio"] for r in results[n] if r["var_ratio"] is not None)
        logs = [
            math.log(results[n][k]["beta1"] / SIDD_NLF[(SIDD_PHONES[c], i)][0])
            for k, (c, i) in enumerate(COMBOS)
            if (SIDD_PHONES[c], i) in SIDD_NLF and results[n][k]["beta1"] > 0
        ]
        median = (
            ratios[len(ratios) // 2]
            if len(ratios) % 2
            else 0.5 * (ratios[len(ratios) // 2 - 1] + ratios[len(ratios) // 2])
        )
        lines.append(
            f"| {n} | {median:.2f} | {ratios[0]:.2f} | {ratios[-1]:.2f} | "
            f"{math.exp(sum(logs) / len(logs)) if logs else float('nan'):.2f} |"
        )
    return "\n".join(lines) + "\n"


def figure(results: dict[str, list[dict]], path: Path) -> Path:
    plt = pyplot()
    fig, axes = plt.subplots(2, len(SIDD_PHONES), figsize=(3.2 * len(SIDD_PHONES), 6), sharex=True)
    for c, phone in enumerate(SIDD_PHONES):
        for row, key in enumerate(("beta1", "beta2")):
            ax = axes[row, c]
            for n, rows in results.items():
                ax.plot(
                    SIM_ISOS,
                    [rows[SIM_ISOS.index(i) + c * len(SIM_ISOS)][key] for i in SIM_ISOS],
                    marker="o",
                    label=n,
                    lw=1,
                )
            pts = [(i, SIDD_NLF[(phone, i)][row]) for i in SIM_ISOS if (phone, i) in SIDD_NLF]
            ax.plot(*zip(*pts, strict=True), "k*", ms=10, label="SIDD NLF (csv)")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{phone}: {key}")
            if row == 1:
                ax.set_xlabel("ISO")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("NLF of sampled noise (var = beta1 x + beta2, normalised raw) vs SIDD's calibrated NLF")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--noiseflow", help="folder of the converted Noise Flow (noiseaug convert noiseflow-tf)")
    parser.add_argument("--n2nflow", help="folder of the converted Noise2NoiseFlow (noiseaug convert n2nflow-pth)")
    parser.add_argument(
        "--official",
        help="folder of the official files, converted when no model folder is given "
        "(default: $NOISEAUG_OFFICIAL or ../shared/official)",
    )
    parser.add_argument("--images", help="clean sRGB images (default: the data root's clean/kodak24)")
    parser.add_argument("--limit", type=int, help="use the first N images")
    parser.add_argument("--size", type=int, default=256, help="centre-crop side in sRGB pixels (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="out/sidd_nlf")
    parser.add_argument("--no-figure", action="store_true")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    out = Path(args.out)
    images = Path(args.images) if args.images else data_root() / "clean" / "kodak24"
    clean = clean_raw_crops(images, args.limit, args.size, args.seed)
    batch, cond, combo = combo_batch(clean)
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for k, (name, folder) in enumerate(
            converted_flows(args.noiseflow, args.n2nflow, args.official, Path(tmp)).items()
        ):
            flow = NoiseFlow.from_pretrained(folder)
            results[name] = measure(sample_flow(flow, batch, cond, args.seed + 1 + k, args.device), batch, combo)
    results["sim preset"] = measure(sample_presets(batch, cond, args.seed + 10), batch, combo)
    table = markdown(results)
    print(table)
    report = {
        "images": str(images),
        "count": int(clean.shape[0]),
        "packed_size": list(clean.shape[-2:]),
        "seed": args.seed,
        "device": args.device,
        "hardware": platform.platform(),
        "combos": [
            {
                "camera": SIDD_PHONES[c],
                "iso": i,
                "sidd": SIDD_NLF.get((SIDD_PHONES[c], i)),
                **{n: results[n][k] for n in results},
            }
            for k, (c, i) in enumerate(COMBOS)
        ],
        "seconds": round(time.perf_counter() - start, 1),
    }
    write_outputs(out, {"sidd_nlf.md": table, "sidd_nlf.json": json.dumps(report, indent=1)})
    if not args.no_figure:
        try:
            print(f"figure: {figure(results, out / 'sidd_nlf.png')}")
        except ImportError:
            print("matplotlib is not installed: no figure (pip install matplotlib)")
    print(f"written to {out}: sidd_nlf.md, sidd_nlf.json ({report['seconds']} s)")
    return report


if __name__ == "__main__":
    main()
