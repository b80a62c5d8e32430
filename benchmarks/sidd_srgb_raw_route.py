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
import tempfile
import time
from pathlib import Path

import torch

from noiseaug import NAFlow, NoiseCondition, NoiseFlow, NoiseFlowTransform
from noiseaug.demo import quantize_8bit
from noiseaug.eval import (
    NLF_FIT,
    cell,
    crop_pair,
    divergences,
    markdown_table,
    seeded_generator,
    sidd_dev_pairs,
    spread,
    summarise_rows,
    write_outputs,
)
from noiseaug.eval.compare import NAFLOW_FITTED, NAFLOW_NAS, NAFLOW_RANDOM, random_configuration
from noiseaug.eval.official import converted_flows
from noiseaug.noise import HeteroscedasticGaussianNoise
from noiseaug.transforms.raw_route import RawRouteTransform

#: sidd-dev's phone and ISO per pair (docs of the shared data; ``danet-block``: "most likely" S6 at ISO 800), as
#: the authors' models know them: the Pixel's ISO 6400 becomes their highest, 3200.
PAIR_LABELS = {
    "naflow-0032-0023": ("S6", 3200),
    "naflow-0018-0017": ("GP", 3200),
    "naflow-0011-0013": ("G4", 400),
    "danet-block": ("S6", 800),
}
METRICS = ("kld", "akld", "corr_h1", "std_255")


def metrics(real: torch.Tensor, noise: torch.Tensor | None) -> dict:
    if noise is None:
        return {"kld": None, "akld": None} | spread(real)
    return divergences(real, noise) | spread(noise)


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
        noisy, clean = crop_pair(noisy, clean, naflow.multiple)
        real = noisy - clean
        g = seeded_generator(seed, i)
        synthetic = {NLF_FIT: HeteroscedasticGaussianNoise.fit(noisy, clean).sample(clean, generator=g)}
        with torch.no_grad():
            synthetic[NAFLOW_NAS] = naflow.sample_noise_aware(clean, noisy, clean, g)
            synthetic[NAFLOW_RANDOM] = naflow.sample_mixture(clean, random_configuration(naflow, g), g)
        for model, route in routes.items():
            synthetic[f"raw route + {model} (pair's phone/ISO)"] = route(
                clean, cond=matched_condition(flows[model], name), generator=g
            )
            synthetic[f"raw route + {model} (random phone/ISO)"] = route(clean, generator=g)
        synthetic["raw route + noiseflow-simcam (random)"] = sim_route(clean, generator=g)
        with torch.no_grad():  # drawn last, so that the other models' draws are those of the runs before it existed
            synthetic[NAFLOW_FITTED] = naflow.sample_fitted(clean, noisy, clean, g)
        rows.append({"image": name, "model": "real", **metrics(real, None)})
        for model, image in synthetic.items():
            noise = quantize_8bit(image) - clean
            finite = bool(torch.isfinite(noise).all())
            rows.append(
                {
                    "image": name,
                    "model": model,
                    "finite": finite,
                    **(metrics(real, noise) if finite else dict.fromkeys(METRICS)),
                }
            )
    return rows


def summarise(rows: list[dict]) -> dict[str, dict]:
    return summarise_rows(rows, ("model",), METRICS)


def markdown(summary: dict, rows: list[dict]) -> str:
    table = [
        [
            f"{'real noise' if model == 'real' else model}",
            cell(m["kld"]),
            cell(m["akld"]),
            cell(m["corr_h1"], ".3f"),
            cell(m["std_255"], ".2f"),
        ]
        for model, m in summary.items()
    ]
    images = list(dict.fromkeys(r["image"] for r in rows))
    per_image = [[model, *(cell(r["std_255"], ".2f") for r in rows if r["model"] == model)] for model in summary]
    lines = [
        f"**sidd-dev** ({summary['real']['images']} images, means)",
        "",
        *markdown_table(["model", "KLD", "AKLD", "lag-1 horiz. corr.", "noise std (0-255)"], table),
        "",
        "Noise std per image (0-255):",
        "",
        *markdown_table(["model", *images], per_image),
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--noiseflow", help="folder of the converted Noise Flow (noiseaug convert noiseflow-tf)")
    parser.add_argument("--n2nflow", help="folder of the converted Noise2NoiseFlow (noiseaug convert n2nflow-pth)")
    parser.add_argument(
        "--official", help="folder of the official files (default: $NOISEAUG_OFFICIAL or ../shared/official)"
    )
    parser.add_argument("--data", help="data root (default: $NOISEAUG_DATA or ../shared/data)")
    parser.add_argument("--limit", type=int, help="the first N pairs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="out/sidd_srgb")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    pairs = sidd_dev_pairs(args.data)[: args.limit]
    with tempfile.TemporaryDirectory() as tmp:
        folders = converted_flows(args.noiseflow, args.n2nflow, args.official, Path(tmp))
        flows = {name: NoiseFlow.from_pretrained(folder) for name, folder in folders.items()}
    rows = evaluate(
        flows, NAFlow.from_pretrained("naflow-srgb"), NoiseFlow.from_pretrained("noiseflow-simcam"), pairs, args.seed
    )
    summary = summarise(rows)
    table = markdown(summary, rows)
    print(table)
    out = Path(args.out)
    report = {
        "summary": summary,
        "rows": rows,
        "seed": args.seed,
        "labels": PAIR_LABELS,
        "seconds": round(time.perf_counter() - start, 1),
    }
    write_outputs(out, {"sidd_srgb.md": table, "sidd_srgb.json": json.dumps(report, indent=1)})
    print(f"written to {out}: sidd_srgb.md, sidd_srgb.json ({report['seconds']} s)")
    return report


if __name__ == "__main__":
    main()
