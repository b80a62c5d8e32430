"""The authors' SIDD Noise Flow in sRGB: ``RawRouteTransform`` on sidd-dev, beside the fitted NLF and NAFlow.

On the five SIDD smartphone pairs of ``real-srgb/sidd-dev`` (256 x 256, an S6 at ISO 3200, a Pixel at ISO 6400, a
G4 at ISO 400, an S6 at ISO 800 most likely, and an unlabelled colour chart), every model synthesises a noisy
image from the clean one, clipped and rounded to 8 bits like the real file, and its noise is compared with the
real noise with ``noise_quality.py``'s metrics: KLD (NAFlow's convention), AKLD, lag-1 horizontal correlation and
noise std (0-255). Models:

* NLF fitted by maximum likelihood to the pair's own residual (it sees the answer's statistics);
* NAFlow (released ``naflow-srgb``): noise-aware sampling and the fitted latent with the pair itself as
  reference, and a random configuration (as in ``noise_quality.py``);
* the raw route (``RawRouteTransform``: random Brooks et al. ISP settings, unprocess, raw noise, the simple ISP)
  with the authors' converted **Noise Flow** and **Noise2NoiseFlow** (``noiseaug convert``), at the pair's phone and
  ISO (:data:`PAIR_LABELS`; the Pixel's ISO 6400 is beyond the models' ISO 3200, so 3200; the chart gets a random
  phone and ISO) and at a random phone and ISO per image;
* the raw route with the released ``noiseflow-simcam`` (trained on the simulated camera; random camera and ISO),
  as ``noise_quality.py``'s NoiseFlow-ISP.

*Pretrained, not fitted:* none of the raw-route models saw these images, and the simple ISP is not SIDD's. Seeds
per image from ``(--seed, image)``. Outputs under ``--out``: ``sidd_srgb.md`` (printed), ``sidd_srgb.json``.
Models are converted into a temporary folder from ``--official`` unless ``--noiseflow`` / ``--n2nflow`` name
converted folders. Reproduce:

    python benchmarks/sidd_srgb_raw_route.py --out out/sidd_srgb
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from naflow_srgb import noise_correlation
from sidd_noiseflow_nlf import converted_models

from noiseaug import NAFlow, NoiseCondition, NoiseFlow, NoiseFlowTransform
from noiseaug.transforms.raw_route import RawRouteTransform
from noiseaug._seeds import mix_seeds
from noiseaug._sizes import crop_to_multiple
from noiseaug.data import data_root
from noiseaug.data.paired import PairedImageFolder
from noiseaug.demo import quantize_8bit
from noiseaug.imageio import read_image
from noiseaug.metrics import akld, marginal_kl
from noiseaug.noise import HeteroscedasticGaussianNoise

#: sidd-dev's phone and ISO per pair (docs of the shared data; ``danet-block``: "most likely" S6 at ISO 800), as
#: the authors' models know them: the Pixel's ISO 6400 becomes their highest, 3200.
PAIR_LABELS = {"naflow-0032-0023": ("S6", 3200), "naflow-0018-0017": ("GP", 3200), "naflow-0011-0013": ("G4", 400),
               "danet-block": ("S6", 800)}
METRICS = ("kld", "akld", "corr_h1", "std_255")


def metrics(real: torch.Tensor, noise: torch.Tensor | None) -> dict:
    if noise is None:
        return {"kld": None, "akld": None, "corr_h1": float(noise_correlation(real, radius=1)[1, 2]),
                "std_255": float(real.std() * 255)}
    return {"kld": float(marginal_kl(real, noise, "naflow")), "akld": float(akld(real, noise)),
            "corr_h1": float(noise_correlation(noise, radius=1)[1, 2]), "std_255": float(noise.std() * 255)}


def raw_route(flow: NoiseFlow) -> RawRouteTransform:
    return RawRouteTransform(NoiseFlowTransform(flow))


def matched_condition(flow: NoiseFlow, name: str) -> NoiseCondition | None:
    if name not in PAIR_LABELS:
        return None
    camera, iso = PAIR_LABELS[name]
    return NoiseCondition(iso=torch.tensor([float(iso)]), camera=torch.tensor([flow.cameras.index(camera)]))


def evaluate(flows: dict[str, NoiseFlow], naflow: NAFlow, simcam: NoiseFlow, pairs: list, seed: int) -> list[dict]:
    routes = {name: raw_route(flow) for name, flow in flows.items()}
    sim_route = raw_route(simcam)
    rows = []
    for i, (name, noisy, clean) in enumerate(pairs):
        noisy, clean = crop_to_multiple(noisy, naflow.multiple), crop_to_multiple(clean, naflow.multiple)
        real = noisy - clean
        g = torch.Generator().manual_seed(mix_seeds(seed, i))
        synthetic = {"NLF (fitted per image)": HeteroscedasticGaussianNoise.fit(noisy, clean).sample(clean, generator=g)}
        with torch.no_grad():
            synthetic["NAFlow (NAS)"] = naflow.sample_noise_aware(clean, noisy, clean, g)
            n = len(naflow.configurations)
            one_hot = torch.nn.functional.one_hot(torch.randint(n, (1,), generator=g), n).float()
            synthetic["NAFlow (random configuration)"] = naflow.sample_mixture(clean, one_hot, g)
        for model, route in routes.items():
            synthetic[f"raw route + {model} (pair's phone/ISO)"] = route(clean, cond=matched_condition(flows[model], name),
                                                                         generator=g)
            synthetic[f"raw route + {model} (random phone/ISO)"] = route(clean, generator=g)
        synthetic["raw route + noiseflow-simcam (random)"] = sim_route(clean, generator=g)
        with torch.no_grad():  # drawn last, so that the other models' draws are those of the runs before it existed
            synthetic["NAFlow (fitted latent)"] = naflow.sample_fitted(clean, noisy, clean, g)
        rows.append({"image": name, "model": "real", **metrics(real, None)})
        for model, image in synthetic.items():
            noise = quantize_8bit(image) - clean
            finite = bool(torch.isfinite(noise).all())
            rows.append({"image": name, "model": model, "finite": finite,
                         **(metrics(real, noise) if finite else dict.fromkeys(METRICS))})
    return rows


def summarise(rows: list[dict]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for model in dict.fromkeys(r["model"] for r in rows):
        mine = [r for r in rows if r["model"] == model]
        out[model] = {k: (statistics.mean(v) if (v := [r[k] for r in mine if r[k] is not None]) else None)
                      for k in METRICS} | {"images": len(mine)}
    return out


def markdown(summary: dict, rows: list[dict]) -> str:
    lines = [f"**sidd-dev** ({summary['real']['images']} images, means)", "",
             "| model | KLD | AKLD | lag-1 horiz. corr. | noise std (0-255) |", "| --- | ---: | ---: | ---: | ---: |"]
    for model, m in summary.items():
        cells = ["-" if m[k] is None else f"{m[k]:.4f}" for k in ("kld", "akld")]
        cells += ["-" if m[k] is None else f"{m[k]:.3f}" if k == "corr_h1" else f"{m[k]:.2f}" for k in ("corr_h1", "std_255")]
        lines.append(f"| {'real noise' if model == 'real' else model} | {' | '.join(cells)} |")
    lines += ["", "Noise std per image (0-255):", "", "| model | " + " | ".join(dict.fromkeys(r["image"] for r in rows))
              + " |", "| --- |" + " ---: |" * len({r['image'] for r in rows})]
    for model in summary:
        lines.append(f"| {model} | " + " | ".join("-" if r["std_255"] is None else f"{r['std_255']:.2f}"
                                                 for r in rows if r["model"] == model) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--noiseflow", help="folder of the converted Noise Flow (noiseaug convert noiseflow-tf)")
    parser.add_argument("--n2nflow", help="folder of the converted Noise2NoiseFlow (noiseaug convert n2nflow-pth)")
    parser.add_argument("--official", help="folder of the official files (default: $NOISEAUG_OFFICIAL or "
                        "../shared/official)")
    parser.add_argument("--data", help="data root (default: $NOISEAUG_DATA or ../shared/data)")
    parser.add_argument("--limit", type=int, help="the first N pairs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out/sidd_srgb")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    root = Path(args.data) if args.data else data_root()
    sidd = PairedImageFolder.sidd_dev(root / "real-srgb" / "sidd-dev")
    pairs = [(p.name, read_image(p.noisy_path)[None], read_image(p.clean_path)[None]) for p in sidd.pairs][:args.limit]
    with tempfile.TemporaryDirectory() as tmp:
        flows = {name: NoiseFlow.from_pretrained(folder) for name, folder in converted_models(args, Path(tmp)).items()}
    rows = evaluate(flows, NAFlow.from_pretrained("naflow-srgb"), NoiseFlow.from_pretrained("noiseflow-simcam"),
                    pairs, args.seed)
    summary = summarise(rows)
    table = markdown(summary, rows)
    print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "sidd_srgb.md").write_text(table)
    report = {"summary": summary, "rows": rows, "seed": args.seed, "labels": PAIR_LABELS,
              "seconds": round(time.perf_counter() - start, 1)}
    (out / "sidd_srgb.json").write_text(json.dumps(report, indent=1))
    print(f"written to {out}: sidd_srgb.md, sidd_srgb.json ({report['seconds']} s)")
    return report


if __name__ == "__main__":
    main()
