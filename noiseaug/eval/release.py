"""Weight releases: model cards built from a run's records and the benchmark results, and the released folder.

A released model is a folder ``weights/<name>/`` with ``config.json``, ``model.safetensors`` and ``README.md``
(the card: data, noise, budget and held-out metrics). The cards take the training checkpoint's records
(``checkpoint["config"]``, ``checkpoint["state"]["history"]`` and ``["best_step"]``, as
``noiseaug.training.load_checkpoint`` returns them) and the JSON written by the benchmark that measured the
weights (``denoising.json`` of ``benchmarks/denoising.py``, ``results.json`` of ``benchmarks/noiseflow_simcam.py``).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..atomic import atomic_write, atomic_write_text
from ..flows.noise_flow import NoiseFlow
from ..recipes.dncnn import DEFAULT_FLOW
from .tables import markdown_table

#: What each ``noiseaug train dncnn --noise`` source is, as the cards say it.
NOISE_TEXT = {
    "awgn": "additive white Gaussian noise, sigma uniform in [0, 50]/255 per crop (`GaussianNoiseTransform()`)",
    "nlf": "heteroscedastic Gaussian noise `var = beta1 * x + beta2`, beta1 log-uniform in [1e-4, 4e-2] and "
    "beta2 in [1e-6, 1e-2] per crop, ranges that reach phone noise (std up to about 45/255 at mid-grey; "
    "`HeteroscedasticNoiseTransform(**PHONE_NLF_RANGES)`)",
    "pg": "Poisson-Gaussian noise, gain log-uniform in [1e-4, 1.2e-2] and read sigma in [1e-4, 1.5e-2] per crop "
    "(`PoissonGaussianNoiseTransform()`)",
    "naflow": "NAFlow noise from the released `naflow-srgb`, one of its DSLR and smartphone camera configurations "
    'drawn uniformly per crop (`NAFlowTransform.from_pretrained("naflow-srgb")`)',
    "naflow-phone": "NAFlow noise from the released `naflow-srgb` restricted to its three smartphone configurations "
    "(the SIDD phones and ISOs of `real-srgb/sidd-train`: Nexus 6 at ISO 3200, Samsung S6 at ISO 100 "
    'and 800), one drawn uniformly per crop (`NAFlowTransform.from_pretrained("naflow-srgb", '
    "configurations=PHONE_CONFIGURATIONS)`)",
    "naflow-phone-spread": "the noise of `naflow-phone` with a latent temperature drawn log-uniformly in [2/3, 3/2] "
    "per crop, so that the crops' noise strengths span those of the real phone pairs (`temperature="
    "PHONE_TEMPERATURES`)",
    "naflow-phone-tone": "the noise of `naflow-phone` with a concave tone curve's second-order term, which darkens "
    "each noisy crop as a camera's sRGB rendering does (`tone_shift=PHONE_TONE_SHIFT`)",
    "naflow-phone-spread-tone": "the noise of `naflow-phone` with both a latent temperature drawn log-uniformly in "
    "[2/3, 3/2] per crop and a concave tone curve's second-order term (`temperature=PHONE_TEMPERATURES, "
    "tone_shift=PHONE_TONE_SHIFT`)",
    "naflow-phone-fitted": "NAFlow noise from the released `naflow-srgb` following each of the 43 real SIDD "
    "smartphone pairs of `real-srgb/sidd-train`: one latent Gaussian fitted to each pair (its std matched so that "
    "decoded noise has the pair's noise std), one pair drawn uniformly per crop (`NAFlowTransform.from_pretrained("
    '"naflow-srgb", mode="reference", reference_method="fitted", per_reference=True, reference=(noisy, clean))`)',
    "naflow-phone-fitted-brightness": "the same bank as `naflow-phone-fitted`, each latent Gaussian's std following "
    "the clean crop's brightness (`signal_dependent=True`)",
    "noiseflow-isp": "Noise Flow noise from the released `noiseflow-simcam` in raw (random simulated camera and "
    "ISO), through the simulated ISP (`RawRouteTransform`)",
    "real": "none synthesized: the real noisy/clean pairs of the PolyU + CC15 training split (95 pairs)",
    "real-phone": "none synthesized: the 43 real SIDD smartphone pairs of `real-srgb/sidd-train` (Samsung S6 at "
    "ISO 100 and 800, Nexus 6 at ISO 3200)",
}
#: The training data of the sources that use real pairs instead of synthetic noise.
REAL_DATA = {
    "real": "Real noisy/clean pairs of PolyU and CC15, training split (95 pairs) of "
    "`noiseaug.data.real_srgb.real_srgb_split`; random 48x48 crops with flips.",
    "real-phone": "Real SIDD smartphone pairs of `real-srgb/sidd-train` (43 pairs: Samsung S6 at ISO 100 and 800, "
    "Nexus 6 at ISO 3200); random 48x48 crops with flips.",
}
SIMCAM_CAMERAS = ["sim-a", "sim-b", "sim-c", "sim-d", "sim-e"]
SIMCAM_ISOS = [100.0, 400.0, 800.0, 1600.0, 3200.0]


def best_record(checkpoint: Mapping[str, Any]) -> dict:
    """The history entry of the checkpoint's best step."""
    state = checkpoint["state"]
    return next(r for r in state["history"] if r["step"] == state["best_step"])


def denoising_table(evaluation: Mapping[str, Any], highlight: str) -> str:
    """PSNR / SSIM per test set of every model in ``denoising.json``; the row ``highlight`` in bold."""
    results = evaluation["results"]
    sets = list(results)
    rows = [
        [
            f"**{label} (these weights)**" if label == highlight else label,
            *(f"{results[s][label]['psnr']:.2f} dB / {results[s][label]['ssim']:.4f}" for s in sets),
        ]
        for label in results[sets[0]]
    ]
    return "\n".join(markdown_table(["model", *(f"{s}: PSNR / SSIM" for s in sets)], rows))


#: The clean training images of a synthetic source, by the recipe's ``--clean`` value.
CLEAN_TEXT = {
    "bsd300-test": "BSD300 test set (`clean/bsd300-test`, 100 images)",
    "sidd-train": "the clean halves of the 43 `real-srgb/sidd-train` phone pairs (`--clean sidd-train`: the "
    "scenes `dncnn-real-phone` trains on, so the two differ only in the noise)",
}


def denoiser_card(
    noise: str,
    checkpoint: Mapping[str, Any],
    model_config: Mapping[str, Any],
    evaluation: Mapping[str, Any],
    label: str,
    clean: str = "bsd300-test",
    wall_s: float | None = None,
    flow: str = DEFAULT_FLOW,
) -> str:
    """The card of ``dncnn-<noise>``: ``model_config`` is the denoiser's ``config.json``, ``label`` its row in
    ``evaluation`` (``denoising.json``), ``clean`` the run's ``--clean`` (a key of :data:`CLEAN_TEXT`), ``wall_s``
    the whole run's wall time (default: the best checkpoint's, which is the run's when it is the last step),
    ``flow`` the run's ``--flow`` (the NAFlow of the ``naflow*`` sources)."""
    history, config = checkpoint["state"]["history"], checkpoint["config"]
    noise_text = NOISE_TEXT[noise]
    flow_flag = ""
    if flow != DEFAULT_FLOW:
        noise_text = noise_text.replace("the released `naflow-srgb`", f"the NAFlow `{flow}`")
        noise_text = noise_text.replace('"naflow-srgb"', f'"{flow}"')  # the code the text quotes
        flow_flag = f" --flow {flow}"
    wall_s = history[-1]["elapsed_s"] if wall_s is None else wall_s
    best, model = best_record(checkpoint), model_config
    data = (
        REAL_DATA[noise]
        if noise in REAL_DATA
        else f"Clean images: {CLEAN_TEXT[clean]}, random 48x48 crops with one of the "
        f"8 flips/rotations. Noise: {noise_text}. Noisy crops are clipped and rounded to 8 bits."
    )
    clean_flag = "" if clean == "bsd300-test" or noise in REAL_DATA else f" --clean {clean}"
    return f"""---
library_name: noiseaug
license: other
license_name: research-only-data
tags: [denoising, dncnn, srgb]
---

# dncnn-{noise}

A DnCNN (depth {model["depth"]}, width {model["width"]}, batch norm, residual output) trained by `noiseaug` on
noisy/clean pairs whose noise is: {noise_text}. One of the reference denoisers that answer
"which noise should I train with?": every `dncnn-*` model had the same budget and differs only in the noise.
`noiseaug denoise noisy.png out.png --model dncnn-{noise}`, or `DnCNN.from_pretrained("dncnn-{noise}")`.

## Data
{data} The training images' terms (BSDS, PolyU, CC15, SIDD) are research-only; so are these weights.

## Training
`noiseaug train dncnn --noise {noise}{clean_flag}{flow_flag} --out runs/dncnn/{noise} --steps {config["steps"]}` (defaults: batch 16
crops of 48x48, Adam lr {config["lr"]:g} x0.1 at step {config["lr_decay_at"][0]}, MSE against the clean crop;
width 32 instead of the paper's 64 so that a CPU can train it). {config["steps"]} steps =
{config["steps"] * 16:,} crops, {wall_s / 60:.0f} min of wall time on one thread of a shared
2-core CPU. Released: the best validation checkpoint, step {best["step"]} (validation PSNR {best["val_psnr"]:.2f} dB
on 64 fixed {"training-pair" if noise in REAL_DATA else "Kodak24"} crops with the same noise source).

## Held-out metrics
Real noisy photographs (`python benchmarks/denoising.py --out out/denoising`): the held-out scenes of
PolyU + CC15 (20 DSLR pairs) and `sidd-dev` (5 smartphone pairs no model saw); whole images, PSNR / SSIM
(kornia, data range 1) averaged per image.

{denoising_table(evaluation, label)}
"""


def release_labels(evaluation: Mapping[str, Any]) -> dict[str, str]:
    """``{run or model name: label in denoising.json}``: a path ``.../<run>/denoiser`` maps from ``<run>``."""
    return {
        Path(path).parent.name if "/" in str(path) else str(path): label for label, path in evaluation["models"].items()
    }


def copy_file(source: Path, target: Path) -> Path:
    """Copy the file ``source`` to ``target`` atomically (``target`` holds the old file or the whole copy)."""
    return atomic_write(target, lambda tmp: shutil.copyfile(source, tmp))


def release_folder(source: str | Path, target: str | Path, card: str) -> Path:
    """Copy ``config.json`` and ``model.safetensors`` of the model folder ``source`` into ``target`` (created if
    missing) and write the ``card`` as ``README.md``; every file atomically. Returns ``target``."""
    source, target = Path(source), Path(target)
    for name in ("config.json", "model.safetensors"):
        copy_file(source / name, target / name)
    atomic_write_text(target / "README.md", card)
    return target


def simcam_flow(checkpoint: Mapping[str, Any]) -> NoiseFlow:
    """The Noise Flow of a ``noiseaug train noiseflow`` checkpoint on the simulated camera (cameras ``sim-a`` ...
    ``sim-e``, ISO 100 ... 3200), its weights loaded from ``checkpoint["model"]`` (the ``noise_model.`` prefix
    removed)."""
    state = {k.removeprefix("noise_model."): v for k, v in checkpoint["model"].items()}
    flow = NoiseFlow(SIMCAM_CAMERAS, SIMCAM_ISOS)
    flow.load_state_dict(state)
    return flow


def noise_model_table(results: Mapping[str, Any]) -> str:
    """NLL per dimension and marginal KL of every model in a ``results.json`` of ``noiseflow_simcam.py``."""
    rows = [[name, f"{r['val_nll']:.4f}", f"{r['val_kl']:.4f}"] for name, r in results["results"].items()]
    return "\n".join(markdown_table(["model", "NLL / dim (nats)", "marginal KL"], rows))


def noiseflow_card(
    name: str,
    flow: NoiseFlow,
    checkpoint: Mapping[str, Any],
    evaluation: Mapping[str, Any],
    exact: Mapping[str, Any] | None = None,
) -> str:
    """The card of a Noise Flow trained on the simulated camera, released as ``name``; ``evaluation`` (and
    ``exact``, a pixel-independent run's) are ``results.json`` of ``noiseflow_simcam.py``."""
    config, best_step = checkpoint["config"], checkpoint["state"]["best_step"]
    at_best = best_record(checkpoint)
    exact_text = ""
    if exact is not None:
        exact_text = (
            "\n\nOn the pixel-independent simulator (a separate run trained on it, where the exact "
            f"likelihood is known: {exact['test_patches']} held-out patches):\n\n" + noise_model_table(exact)
        )
    return f"""---
library_name: noiseaug
license: mit
tags: [noise-modeling, normalizing-flow, raw, noise-flow]
---

# {name}

Noise Flow (Abdelhamed, Brubaker, Brown, ICCV 2019), architecture S-Ax4-G-Ax4-CAM, {sum(p.numel() for p in flow.parameters())}
parameters, trained by `noiseaug` on its **simulated camera**: a model of packed raw noise
`(B, 4, H, W)` conditioned on the clean raw image, the ISO and the camera. It knows the five simulated
cameras `sim-a` ... `sim-e` and ISO 100, 400, 800, 1600, 3200. It has not seen real raw data:
for real cameras, train on SIDD with `noiseaug train noiseflow` or the clean-free trainers.

## Data
Clean sRGB images of BSD300 (test set, 100 images; 80 for training, 20 held out by a deterministic
scene split), unprocessed to raw (Brooks et al. 2019) and noised by `SimulatedCamera` (shot, read,
row and fixed-pattern noise, black level, clipping, 10/12-bit quantization), all five cameras and
ISOs drawn uniformly; fresh 32x32 packed patches every step.

## Training
`noiseaug train noiseflow --out runs/{name} --steps {config["steps"]} --batch 32 --patch 32 --val-every {config["val_every"]} --val-batches 16`
(Adam, lr {config["lr"]} x0.1 at step {config["lr_decay_at"][0] if config["lr_decay_at"] else "-"}; signal-dependent and gain layers at 10x lr).
These weights are the best validation checkpoint: step {best_step} of the {checkpoint["state"]["step"]} run when exported,
{at_best["elapsed_s"] / 60:.0f} min of wall time on 1 CPU thread of a shared 2-core machine (validation NLL
{at_best["val_nll"]:.4f}, KL {at_best["val_kl"]:.4f} on 512 patches).

## Held-out metrics
`python benchmarks/noiseflow_simcam.py --model weights/{name} --out out/{name}`:
{evaluation["test_patches"]} held-out 32x32 packed patches from the 20 held-out images, every camera x ISO
equally often. NLL in nats per dimension on the [0, 1] raw scale; KL: Noise Flow convention
([-0.1, 0.1], 64 bins + under/overflow).

{noise_model_table(evaluation)}{exact_text}

The simulator's noise is mostly a per-(camera, ISO) noise level function, so the margin over the
fitted NLF is small by construction; what is left for the flow is the row noise, the fixed pattern,
clipping and quantization.
"""
