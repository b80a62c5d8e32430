"""Noise models against the simulated camera's held-out noise: NLL per dimension and marginal KL.

Every model sees the same fixed held-out draws (:func:`noiseaug.eval.testsets.simcam_draws`: 32x32 packed
patches, every camera x ISO equally often). NLL: nats per dimension on the [0, 1] raw scale; KL: the Noise Flow
convention of ``noiseaug.metrics.marginal_kl`` ([-0.1, 0.1], 64 bins + under/overflow, ``KL(real || model)``),
mean over patches, as ``noiseaug.objectives.supervised.evaluate_noise_model`` computes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from ..data.camera import CameraDraw, SimulatedCamera
from ..flows.noise_flow import NoiseFlow
from ..noise import GaussianNoise, HeteroscedasticGaussianNoise, NoiseModel
from ..objectives.supervised import evaluate_noise_model
from .baselines import ModelFor, SimulatorLikelihood, fit_per_combo, per_combo_model
from .tables import markdown_table
from .testsets import simcam_draws


def constant_model(model: NoiseModel) -> ModelFor:
    """A :data:`ModelFor` that gives every draw the same ``model`` (a flow conditioned by the draw itself)."""
    return lambda draw: model


def evaluate_on_draws(model_for: ModelFor, draws: Sequence[CameraDraw]) -> dict[str, float]:
    """``{"val_nll", "val_kl"}`` of ``model_for(draw)`` on each draw (seed ``k`` for draw ``k``), averaged."""
    totals = [evaluate_noise_model(model_for(d), [d], seed=k) for k, d in enumerate(draws)]
    return {key: sum(t[key] for t in totals) / len(totals) for key in totals[0]}


def baseline_models(camera: SimulatedCamera, train: Sequence[CameraDraw], exact: bool = False) -> dict[str, ModelFor]:
    """The parametric baselines: AWGN / NLF fitted per (camera, ISO) on ``train``, AWGN / NLF fitted on each test
    patch itself (oracle), the simulator's analytic NLF and, with ``exact``, its exact likelihood."""
    models: dict[str, ModelFor] = {
        "NLF, fitted on train per camera/ISO": per_combo_model(
            fit_per_combo(train, camera, HeteroscedasticGaussianNoise.fit), camera, HeteroscedasticGaussianNoise
        ),
        "AWGN, fitted on train per camera/ISO": per_combo_model(
            fit_per_combo(train, camera, GaussianNoise.fit), camera, GaussianNoise
        ),
        "NLF, oracle fit per test patch": lambda d: HeteroscedasticGaussianNoise.fit(d.noisy_raw[0], d.clean_raw),
        "AWGN, oracle fit per test patch": lambda d: GaussianNoise.fit(d.noisy_raw[0], d.clean_raw),
        "simulator's analytic NLF": lambda d: HeteroscedasticGaussianNoise(*camera.nlf(d.cond)),
    }
    if exact:
        models["simulator's exact likelihood"] = lambda d: SimulatorLikelihood(camera, d)
    return models


def simcam_results(
    flows: Mapping[str, str | Path],
    images: str | Path | None = None,
    pixel_independent: bool = False,
    test_batches: int = 40,
    train_batches: int = 40,
) -> dict:
    """Evaluate the NoiseFlow weights in ``flows`` (display name -> folder or released name) and the baselines.

    Returns ``{"setting", "test_patches", "held_out_images", "results": {model: {"val_nll", "val_kl"}}}``;
    the flows come first, in the given order, then :func:`baseline_models`. Each model sees the same
    ``test_batches`` batches of 32 held-out patches; the per-camera/ISO fits pool ``train_batches`` balanced
    training batches.
    """
    camera = SimulatedCamera.pixel_independent() if pixel_independent else SimulatedCamera()
    draws = simcam_draws(images, camera, test_batches, train_batches)
    models: dict[str, ModelFor] = {
        name: constant_model(NoiseFlow.from_pretrained(path)) for name, path in flows.items()
    }
    models |= baseline_models(camera, draws.train, exact=pixel_independent)
    setting = (
        "pixel-independent Poisson-Gaussian"
        if pixel_independent
        else "full (shot, read, row and fixed-pattern noise, clipping, 10- or 12-bit quantization)"
    )
    return {
        "setting": setting,
        "test_patches": len(draws.test) * 32,
        "held_out_images": draws.held_out_images,
        "results": {name: evaluate_on_draws(model_for, draws.test) for name, model_for in models.items()},
    }


def simcam_markdown(report: Mapping) -> str:
    """The table of :func:`simcam_results` with its one-line statement of the setting and conventions."""
    lines = [
        f"Simulated camera, {report['setting']}; {report['test_patches']} held-out 32x32 packed patches from "
        f"{report['held_out_images']} held-out images, 5 cameras x 5 ISOs balanced. NLL: nats/dim. KL: Noise "
        "Flow convention.",
        "",
    ]
    rows = [[name, f"{r['val_nll']:.4f}", f"{r['val_kl']:.4f}"] for name, r in report["results"].items()]
    return "\n".join(lines + markdown_table(["model", "NLL / dim", "marginal KL"], rows))
