"""Noise Flow vs parametric baselines on the held-out split of the simulated camera.

Prints a markdown table and writes JSON: NLL per dimension (nats) and marginal KL (Noise Flow
convention: [-0.1, 0.1], 64 bins + under/overflow, forward KL(real || model), mean over patches)
for each model on the same fixed, balanced test patches (every camera x ISO equally often).

Baselines:
* AWGN / NLF "fitted on train": maximum-likelihood parameters per (camera, ISO), pooled over
  training patches (the camera-calibrated baseline of the Noise Flow paper).
* AWGN / NLF "oracle": fitted on each test patch itself (optimistic: it sees the test noise).
* "analytic NLF": the simulator's own beta1 * x + beta2 per (camera, ISO).
* "exact": the simulator's true likelihood (only for ``--pixel-independent``).

Usage:
    python benchmarks/noiseflow_simcam.py --model weights/noiseflow-simcam --out out/noiseflow-simcam
    python benchmarks/noiseflow_simcam.py --model RUN/model --pixel-independent --out out/noiseflow-simcam-pi
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch

from noiseaug.data.camera import CameraDraw, SimulatedCamera
from noiseaug.data.root import data_folder
from noiseaug.flows.noise_flow import NoiseFlow
from noiseaug.noise import GaussianNoise, HeteroscedasticGaussianNoise, NoiseModel
from noiseaug.data.shots import simcam_split
from noiseaug.objectives.supervised import evaluate_noise_model

ModelFor = Callable[[CameraDraw], NoiseModel]


def combo_index(draw: CameraDraw, camera: SimulatedCamera) -> torch.Tensor:
    iso_pos = (draw.cond.iso[:, None] == torch.tensor(camera.isos, dtype=torch.float32)[None]).float().argmax(1)
    return draw.cond.camera * len(camera.isos) + iso_pos


def fit_per_combo(train_draws: list[CameraDraw], camera: SimulatedCamera, fit) -> dict[int, NoiseModel]:
    """Pooled ML fit of ``fit`` for every (camera, ISO) combination seen in ``train_draws``."""
    noisy = torch.cat([d.noisy_raw[0] for d in train_draws])
    clean = torch.cat([d.clean_raw for d in train_draws])
    combos = torch.cat([combo_index(d, camera) for d in train_draws])
    return {int(c): fit(noisy[combos == c], clean[combos == c], per_sample=False) for c in combos.unique()}


def per_combo_model(fitted: dict[int, NoiseModel], camera: SimulatedCamera, cls) -> ModelFor:
    def model_for(draw: CameraDraw) -> NoiseModel:
        chosen = [fitted[int(c)] for c in combo_index(draw, camera)]
        params = {name: torch.stack([getattr(m, name) for m in chosen]) for name, _ in chosen[0].named_buffers()}
        return cls(**params)
    return model_for


def evaluate(model_for: ModelFor, draws: list[CameraDraw]) -> dict[str, float]:
    totals = [evaluate_noise_model(model_for(d), [d], seed=k) for k, d in enumerate(draws)]
    return {key: sum(t[key] for t in totals) / len(totals) for key in totals[0]}


class _Exact(NoiseModel):
    """The simulator's exact likelihood as a NoiseModel (pixel-independent camera only)."""

    def __init__(self, camera: SimulatedCamera, draw: CameraDraw) -> None:
        super().__init__()
        self.camera, self.cond = camera, draw.cond

    def _log_prob(self, noisy, clean, cond):
        return self.camera.log_prob(noisy, clean, self.cond)

    def _sample(self, clean, cond, generator, temperature=1.0):
        return self.camera.add_noise(clean, self.cond, generator)


def simcam_results(flows: dict[str, str | Path], images: str | Path | None = None, pixel_independent: bool = False,
                   test_batches: int = 40, train_batches: int = 40) -> dict:
    """Evaluate the NoiseFlow weights in ``flows`` (display name -> folder or released name) and the baselines.

    Returns ``{"setting", "test_patches", "held_out_images", "results": {model: {"val_nll", "val_kl"}}}``;
    the flows come first, in the given order, then the baselines of the module docs. Each model sees
    the same ``test_batches`` batches of 32 held-out patches; the per-camera/ISO fits pool
    ``train_batches`` balanced training batches.
    """
    camera = SimulatedCamera.pixel_independent() if pixel_independent else SimulatedCamera()
    # test_seed: the held-out stream the published tables were measured on
    split = simcam_split(images or data_folder("clean", "bsd300-test"), camera, 32, 32, seed=0, test_seed=10_000)
    test = [split.test.batch(k) for k in range(1000, 1000 + test_batches)]  # disjoint from the validation batches
    split.train.balanced = True
    train = [split.train.batch(k) for k in range(10**6, 10**6 + train_batches)]
    models: dict[str, ModelFor] = {name: (lambda d, f=NoiseFlow.from_pretrained(path): f) for name, path in flows.items()}
    models |= {
        "NLF, fitted on train per camera/ISO": per_combo_model(fit_per_combo(train, camera, HeteroscedasticGaussianNoise.fit), camera, HeteroscedasticGaussianNoise),
        "AWGN, fitted on train per camera/ISO": per_combo_model(fit_per_combo(train, camera, GaussianNoise.fit), camera, GaussianNoise),
        "NLF, oracle fit per test patch": lambda d: HeteroscedasticGaussianNoise.fit(d.noisy_raw[0], d.clean_raw),
        "AWGN, oracle fit per test patch": lambda d: GaussianNoise.fit(d.noisy_raw[0], d.clean_raw),
        "simulator's analytic NLF": lambda d: HeteroscedasticGaussianNoise(*camera.nlf(d.cond)),
    }
    if pixel_independent:
        models["simulator's exact likelihood"] = lambda d: _Exact(camera, d)
    setting = "pixel-independent Poisson-Gaussian" if pixel_independent else "full (shot, read, row and fixed-pattern noise, clipping, 10- or 12-bit quantization)"
    return {"setting": setting, "test_patches": len(test) * 32, "held_out_images": len(split.test_names),
            "results": {name: evaluate(model_for, test) for name, model_for in models.items()}}


def simcam_markdown(report: dict) -> str:
    """The table of :func:`simcam_results` with its one-line statement of the setting and conventions."""
    lines = [f"Simulated camera, {report['setting']}; {report['test_patches']} held-out 32x32 packed patches from "
             f"{report['held_out_images']} held-out images, 5 cameras x 5 ISOs balanced. NLL: nats/dim. KL: Noise Flow convention.", "",
             "| model | NLL / dim | marginal KL |", "| --- | ---: | ---: |"]
    lines += [f"| {name} | {r['val_nll']:.4f} | {r['val_kl']:.4f} |" for name, r in report["results"].items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="NoiseFlow folder or released name")
    parser.add_argument("--images", help="clean sRGB folder (default: $NOISEAUG_DATA/clean/bsd300-test)")
    parser.add_argument("--pixel-independent", action="store_true")
    parser.add_argument("--test-batches", type=int, default=40, help="batches of 32 test patches (32x32 packed)")
    parser.add_argument("--train-batches", type=int, default=40, help="training batches for the per-combination fits")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    start = time.perf_counter()
    report = simcam_results({"Noise Flow": args.model}, args.images, args.pixel_independent, args.test_batches, args.train_batches)
    table = simcam_markdown(report)
    print(table)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({
        "setting": report["setting"], "model": str(args.model), "test_patches": report["test_patches"], "results": report["results"],
        "hardware": platform.processor() or platform.machine(), "torch": torch.__version__,
        "seconds": round(time.perf_counter() - start, 1)}, indent=2))
    (out / "results.md").write_text(table + "\n")


if __name__ == "__main__":
    main()
