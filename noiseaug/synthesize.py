"""``noiseaug synthesize``: noisy 8-bit PNG copies of a folder of clean sRGB images, with a metadata JSON.

Each image is read (PNG/JPEG, 8-bit RGB, as floats in [0, 1]), noised on its own (images differ in size; NAFlow
pads to its multiple and crops back), clipped to [0, 1], rounded to 8 bits and written as ``<stem>.png``. Its
noise comes from a generator seeded with ``mix_seeds(seed, sha256(file name))``: it depends on the run's seed and
the file's name only, not on the other files in the folder. ``metadata.json`` records, per output file, the
model, the mode, that seed and what was drawn for the image (the parameters of a parametric model; NAFlow's
configuration or mixture weights).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from ._seeds import mix_seeds
from ._validation import check_device, check_real, check_seed
from .atomic import atomic_write_text
from .errors import NoiseaugInputError, NoiseaugTypeError
from .flows.naflow import NAFlow
from .flows.noise_flow import NoiseFlow
from .hub import load_pretrained
from .imageio import image_files, read_image, write_png
from .outputs import plan_outputs
from .transforms import (
    GaussianNoiseTransform,
    HeteroscedasticNoiseTransform,
    NAFlowTransform,
    NoiseTransform,
    ParametricNoiseTransform,
    ParamRange,
    PoissonGaussianNoiseTransform,
)
from .transforms.noise_params import NoiseParams

#: Parametric models by CLI name: (transform class, its parameter names).
PARAMETRIC: dict[str, tuple[type[ParametricNoiseTransform], tuple[str, ...]]] = {
    "awgn": (GaussianNoiseTransform, ("sigma",)),
    "nlf": (HeteroscedasticNoiseTransform, ("beta1", "beta2")),
    "pg": (PoissonGaussianNoiseTransform, ("gain", "read_sigma")),
}
METADATA_NAME = "metadata.json"


def parametric_transform(model: str, params: dict[str, Sequence[float]]) -> ParametricNoiseTransform:
    """``awgn`` / ``nlf`` / ``pg`` with ``params[name]`` = one value (fixed) or two (a uniform range), [0, 1] scale.

    Parameters not given keep the transform's default range.
    """
    cls, names = PARAMETRIC[model]
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise NoiseaugInputError(f"model {model!r} takes the parameters {list(names)}, not {unknown}")
    specs: dict[str, Any] = {
        name: fixed_or_range(values, name, "a number on the [0, 1] scale") for name, values in params.items()
    }
    return cls(**specs)


def fixed_or_range(values: Sequence[float], name: str, what: str, *, log: bool = False) -> float | ParamRange:
    """A command-line option's one value (fixed) or two (``low high``: a range, one draw per image; log-uniform with
    ``log``); each value a real number (``what`` describes it in the error)."""
    values = [check_real(v, name, what) for v in values]
    if len(values) == 1:
        return values[0]
    if len(values) != 2:
        spread = "log-uniform" if log else "uniform"
        raise NoiseaugInputError(f"{name} takes one value (fixed) or two (low high, {spread}), got {values}")
    return ParamRange(values[0], values[1], log=log)


def naflow_transform(
    model: NAFlow,
    mode: str | None,
    configurations: Sequence[str] | None,
    mixture: bool,
    reference: Sequence[str | Path] | None,
    reference_method: str | None = None,
    posterior_temperature: float | None = None,
    temperature: Sequence[float] | None = None,
    tone_shift: float | None = None,
) -> NAFlowTransform:
    """An :class:`NAFlowTransform` for one of :data:`~noiseaug.transforms.naflow.MODES` (default ``"random"``).

    ``reference`` is ``(noisy image path, clean image path)`` for ``mode="reference"``; ``reference_method``
    (``"nas"`` by default, or ``"fitted"``) and ``posterior_temperature`` are that mode's options.
    ``temperature`` (one value, or ``low, high`` drawn log-uniformly per image) and ``tone_shift`` are every mode's
    (``None``: the transform's defaults).
    """
    mode = mode or "random"
    if mode == "configuration" and (configurations is None or len(configurations) != 1):
        raise NoiseaugInputError(
            f"mode 'configuration' needs exactly one configuration name, got {configurations}; "
            f"the model knows {model.configurations}"
        )
    reference_options = {"reference_method": reference_method, "posterior_temperature": posterior_temperature}
    given = {name: value for name, value in reference_options.items() if value is not None}
    if given and mode != "reference":
        raise NoiseaugInputError(f"{', '.join(given)}: options of --mode reference only, not of mode {mode!r}")
    pair = None
    if reference is not None:
        if len(reference) != 2:
            raise NoiseaugInputError(f"reference takes two image paths (noisy, clean), got {list(reference)}")
        pair = (read_image(reference[0]), read_image(reference[1]))
    options: dict[str, Any] = {
        "mode": mode,
        "configurations": configurations,
        "mixture": mixture,
        "reference": pair,
        **given,
    }
    if temperature is not None:
        options["temperature"] = fixed_or_range(temperature, "temperature", "a number >= 0", log=True)
    if tone_shift is not None:
        options["tone_shift"] = tone_shift
    return NAFlowTransform(model, **options)


def build_transform(
    model: str,
    *,
    params: dict[str, Sequence[float]] | None = None,
    mode: str | None = None,
    configurations: Sequence[str] | None = None,
    mixture: bool = False,
    reference: Sequence[str | Path] | None = None,
    reference_method: str | None = None,
    posterior_temperature: float | None = None,
    temperature: Sequence[float] | None = None,
    tone_shift: float | None = None,
) -> NoiseTransform:
    """The transform for ``model``: ``awgn``, ``nlf``, ``pg``, or a pretrained sRGB flow (folder, released name
    such as ``"naflow-srgb"``, or Hub id). ``mode``, ``configurations``, ``mixture``, ``reference``,
    ``reference_method``, ``posterior_temperature``, ``temperature`` and ``tone_shift`` are NAFlow's options (see
    :func:`naflow_transform`) and an error elsewhere; ``params`` are the parametric models' and an error for a flow.
    """
    params = params or {}
    flow_options = {
        "mode": mode,
        "configurations": configurations,
        "mixture": mixture or None,
        "reference": reference,
        "reference_method": reference_method,
        "posterior_temperature": posterior_temperature,
        "temperature": temperature,
        "tone_shift": tone_shift,
    }
    given = [name for name, value in flow_options.items() if value is not None]
    if model in PARAMETRIC:
        if given:
            raise NoiseaugInputError(f"{', '.join(given)}: only NAFlow models take these options, not {model!r}")
        return parametric_transform(model, params)
    if params:
        raise NoiseaugInputError(f"{', '.join(sorted(params))}: parameters of awgn/nlf/pg, not of the flow {model!r}")
    try:
        loaded = load_pretrained(model)
    except (ValueError, FileNotFoundError) as error:
        raise NoiseaugInputError(
            f"model must be one of {sorted(PARAMETRIC)} or a pretrained noise flow (folder, released "
            f"name or Hub id); loading {model!r} failed: {error}"
        ) from error
    if isinstance(loaded, NoiseFlow):
        raise NoiseaugInputError(
            f"{model!r} is a Noise Flow, a raw-RGB model that samples packed Bayer raw "
            "(B, 4, H/2, W/2) with camera/ISO metadata; synthesize noises sRGB images: use an sRGB model "
            "(awgn, nlf, pg or an NAFlow such as naflow-srgb), or NoiseFlowTransform in Python on raw data"
        )
    if not isinstance(loaded, NAFlow):
        raise NoiseaugInputError(f"{model!r} holds a {type(loaded).__name__}, not a noise model")
    return naflow_transform(
        loaded,
        mode,
        configurations,
        mixture,
        reference,
        reference_method,
        posterior_temperature,
        temperature,
        tone_shift,
    )


def image_seed(seed: int, name: str) -> int:
    """The noise seed of the file ``name`` in a run seeded with ``seed``."""
    digest = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")
    return mix_seeds(seed, digest)


def describe_draw(transform: NoiseTransform, params: NoiseParams) -> dict[str, Any]:
    """What ``transform`` drew for the (one) image of ``params``: the transform's
    :meth:`~noiseaug.transforms.base.NoiseTransform.describe_parameters` of row 0.

    Parametric models: ``{"params": {name: value}}``; NAFlow: the configuration or the mixture weights over
    configurations (a mixture, or the reference's posterior), largest first; for a fitted reference latent, only
    ``{"reference_method": "fitted"}`` (the Gaussian is the same for every file).
    """
    return transform.describe_parameters(params, 0)


def synthesize_folder(
    images: str | Path,
    out: str | Path,
    transform: NoiseTransform,
    *,
    model_name: str,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = True,
    overwrite: bool = False,
    resume: bool = False,
) -> Path:
    """Write a noisy ``OUT/<stem>.png`` for every image in ``images`` and ``OUT/metadata.json``; returns its path.

    Outputs are checked before anything is written (:func:`~noiseaug.outputs.plan_outputs`: never an input; an
    existing one only with ``overwrite``, or kept with ``resume``) and written atomically. ``metadata.json`` is
    written first with the run's settings and ``"complete": false``, and completed at the end; ``resume`` refuses an ``OUT``
    whose ``metadata.json`` has other settings (another model, mode, seed or input), so the kept files and the new
    ones come from one run, and gives the same bytes as an uninterrupted run (each file's noise depends on the
    seed and its name only).
    """
    check_seed(seed)
    if not isinstance(transform, NoiseTransform):
        raise NoiseaugTypeError(
            f"transform must be a noiseaug NoiseTransform (see build_transform), got {type(transform).__name__}"
        )
    images, out, device = Path(images), Path(out), check_device(device)
    files = image_files(images)
    targets = [out / f"{path.stem}.png" for path in files]
    metadata_path = out / METADATA_NAME
    todo = plan_outputs(files, [*targets, metadata_path], overwrite=overwrite, resume=resume)[:-1]
    transform = transform.to(device).eval()
    mode = getattr(transform, "mode", None)
    settings: dict[str, Any] = {
        "model": model_name,
        "mode": mode,
        "seed": seed,
        "input": str(images.resolve()),
        "transform": f"{type(transform).__name__}({transform.extra_repr()})",
    }
    if resume:
        _check_resumed_settings(metadata_path, settings)
    start = {**settings, "device": str(device), "complete": False, "files": {}}
    atomic_write_text(metadata_path, json.dumps(start, indent=2) + "\n")
    records: dict[str, dict[str, Any]] = {}
    for path, target, write in tqdm(
        list(zip(files, targets, todo, strict=True)), desc="synthesize", unit="image", disable=not progress
    ):
        clean = read_image(path).to(device)
        file_seed = image_seed(seed, path.name)
        generator = torch.Generator(device=device).manual_seed(file_seed)
        params = transform.generate_parameters(clean.shape, generator=generator, device=device)
        drawn = describe_draw(transform, params)
        if write:
            with torch.no_grad():
                noisy = transform(clean, generator=generator, params=params)
            write_png(target, noisy)
        records[target.name] = {
            "source": path.name,
            "model": model_name,
            "mode": mode,
            "seed": file_seed,
            "size": list(clean.shape[-2:]),
            **drawn,
        }
    metadata = {**settings, "device": str(device), "complete": True, "files": records}
    return atomic_write_text(metadata_path, json.dumps(metadata, indent=2) + "\n")


def _check_resumed_settings(metadata_path: Path, settings: dict[str, Any]) -> None:
    """``--resume``: the existing ``metadata.json`` (if any) must record the same settings as this run."""
    if not metadata_path.is_file():
        return
    try:
        previous = json.loads(metadata_path.read_text())
    except (OSError, ValueError) as error:
        raise NoiseaugInputError(
            f"--resume: {metadata_path} is not readable JSON ({error}); pass --overwrite to start over"
        ) from error
    differences = [
        f"{key} {previous.get(key)!r} -> {value!r}" for key, value in settings.items() if previous.get(key) != value
    ]
    if differences:
        raise NoiseaugInputError(
            f"--resume: {metadata_path} is from another run ({'; '.join(differences)}); pass "
            "--overwrite to start over, or write to another folder"
        )
