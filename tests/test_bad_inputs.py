"""Bad inputs at every public entry point, as tables (issue 10, "Reliability").

What is guaranteed, for the transforms, the noise models and flows (``sample`` / ``nll`` / ``log_prob``, NAFlow's
``classify`` and ``sample_noise_aware``), the denoisers, the kornia / albumentations / torchvision adapters, the
loaders (``load_pretrained``, ``from_pretrained``, :mod:`noiseaug.imageio`, ``denoise_files``, ``synthesize``) and
the command line:

* every call either works as documented or raises ``TypeError`` (wrong kind of object or dtype) or ``ValueError``
  (wrong shape, size or value; ``FileNotFoundError`` for a missing file) whose message names the argument and
  says what is accepted; never an error from deep inside torch, never silent garbage;
* images of the wrong rank (2-D, 5-D), channel count or dtype (int, bool, complex, uint8), clean images outside
  [0, 1] and images holding NaN / Inf are rejected. The denoisers check type, dtype and shape but not values
  (noisy input may leave [0, 1]; a NaN propagates), so that a training step costs no host sync;
* an empty batch (B = 0) gives an empty result; 1x1 and odd sizes work wherever the model allows them and are
  otherwise rejected naming the size it needs;
* non-contiguous (strided, transposed) and channels_last inputs give the result of the same contiguous input
  for the same generator seed;
* metadata whose length differs from the batch, unknown cameras / ISOs / configurations, and bad scalars
  (p outside [0, 1], negative sigma or temperature, NaN, a bool or a float where an int or a number is expected)
  are rejected;
* the CLI exits with status 2 and a one-line message on stderr, without a traceback.
"""

import functools
import re
import subprocess
import sys
from dataclasses import dataclass

import numpy as np
import pytest
import torch
from flow_helpers import trained_looking

from noiseaug import (
    DnCNN,
    GaussianNoise,
    GaussianNoiseTransform,
    Glow,
    HeteroscedasticGaussianNoise,
    HeteroscedasticNoiseTransform,
    NAFlow,
    NAFlowTransform,
    NoiseCondition,
    NoiseFlow,
    NoiseFlowTransform,
    PoissonGaussianNoise,
    PoissonGaussianNoiseTransform,
    UNet,
    load_pretrained,
)
from noiseaug.cli import main
from noiseaug.denoise import denoise_files, load_denoiser
from noiseaug.hub import save_pretrained
from noiseaug.imageio import image_files, read_image, write_png
from noiseaug.synthesize import build_transform, synthesize_folder
from noiseaug.transforms import DeviceNoise, NoisyPairs, worker_generator, worker_seed
from noiseaug.transforms.kornia import KorniaNoise
from noiseaug.transforms.raw_route import RawRouteTransform

CONFIGS, CAMERAS, ISOS = ["a-iso100", "b-iso3200"], ["cam-a", "cam-b"], [100, 800]
NAN, INF = float("nan"), float("inf")
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error where CUDA is missing")


# Tiny models with non-trivial weights, built once (no test modifies them). NAFlow's are perturbed less: at the
# default scale its inverse amplifies float rounding (as channels_last convolutions round) past 1e-5.
naflow = functools.cache(lambda: trained_looking(NAFlow, configurations=CONFIGS, hidden=8, features=4, scale=0.01))
noiseflow = functools.cache(lambda: trained_looking(NoiseFlow, CAMERAS, ISOS, hidden=4, steps=1))
glow = functools.cache(lambda: trained_looking(Glow, levels=2, depth=1, hidden=8, image_size=8))
dncnn = functools.cache(lambda: trained_looking(DnCNN, depth=3, width=4))
unet = functools.cache(lambda: trained_looking(UNet, width=4, levels=2))


def seeded(seed=0):
    return torch.Generator().manual_seed(seed)


def batch_of(x):
    return x.shape[0] if x.ndim == 4 else 1


def config_cond(x, n=None):
    return NoiseCondition(config=torch.arange(batch_of(x) if n is None else n) % len(CONFIGS))


def raw_cond(x, n=None):
    n = batch_of(x) if n is None else n
    return NoiseCondition(iso=torch.tensor(ISOS, dtype=torch.float32)[torch.arange(n) % 2], camera=torch.arange(n) % 2)


def kornia_call(transform, x, g):
    """KorniaNoise draws from torch's global RNG (kornia's convention): seed it from ``g``, leave it as it was."""
    with torch.random.fork_rng():
        torch.manual_seed(g.initial_seed())
        return KorniaNoise(transform, keepdim=True)(x)


# ----------------------------------------------------------------------------------------------------------------
# Image arguments: every entry point that takes images, against every kind of bad image.


@dataclass(frozen=True)
class Target:
    """An entry point taking images ``x`` (and a generator); how it names them and what it accepts."""

    call: object  # (x, generator) -> result
    arg: str  # the argument's name in error messages
    channels: int | None = 3  # what it accepts (None: any count)
    size_error: str | None = None  # regex of the error for a size it cannot take (None: any size works)
    fits: object = lambda h, w: True  # which (H, W) it takes
    values_checked: bool = True  # False: the values are not read (denoisers)
    unit_range: bool = True  # values must lie in [0, 1]
    same_shape: bool = True  # the result has the input's shape (else: one value per image)
    per_image: tuple = ()  # with same_shape=False, the shape of each image's value
    shape_error: str | None = None  # regex of the errors for a bad rank and dtype, where the host library
    dtype_error: str | None = None  # (kornia) reports them itself
    size: int = 16  # a size it takes


def multiple_of(m):
    return lambda h, w: h % m == 0 and w % m == 0


TARGETS = {
    "GaussianNoiseTransform": Target(lambda x, g: GaussianNoiseTransform(sigma=0.1)(x, generator=g), "images", None),
    "HeteroscedasticNoiseTransform": Target(
        lambda x, g: HeteroscedasticNoiseTransform()(x, generator=g), "images", None
    ),
    "PoissonGaussianNoiseTransform": Target(
        lambda x, g: PoissonGaussianNoiseTransform()(x, generator=g), "images", None
    ),
    "NAFlowTransform": Target(lambda x, g: NAFlowTransform(naflow())(x, generator=g), "images"),
    "NoiseFlowTransform": Target(lambda x, g: NoiseFlowTransform(noiseflow())(x, generator=g), "images", 4),
    "RawRouteTransform": Target(
        lambda x, g: RawRouteTransform(PoissonGaussianNoiseTransform(gain=0.01, read_sigma=0.005))(x, generator=g),
        "images",
        size_error="even H and W",
        fits=multiple_of(2),
    ),
    "DeviceNoise": Target(
        lambda x, g: DeviceNoise(GaussianNoiseTransform(), seed=g.initial_seed())(x)[0], "images", None
    ),
    "KorniaNoise": Target(
        lambda x, g: kornia_call(GaussianNoiseTransform(), x, g),
        "images",
        None,
        shape_error=r"Input size must have a shape of either \(H, W\), \(C, H, W\)",
        dtype_error=r"Expected input of \[torch.bfloat16, torch.float16, torch.float32, "
        r"torch.float64\]. Got torch",
    ),
    "GaussianNoise.sample": Target(lambda x, g: GaussianNoise(0.1).sample(x, generator=g), "clean", None),
    "GaussianNoise.nll": Target(lambda x, g: GaussianNoise(0.1).nll(x, x), "clean", None, same_shape=False),
    "HeteroscedasticGaussianNoise.sample": Target(
        lambda x, g: HeteroscedasticGaussianNoise(1e-3, 1e-4).sample(x, generator=g), "clean", None
    ),
    "HeteroscedasticGaussianNoise.log_prob": Target(
        lambda x, g: HeteroscedasticGaussianNoise(1e-3, 1e-4).log_prob(x, x), "clean", None, same_shape=False
    ),
    "PoissonGaussianNoise.sample": Target(
        lambda x, g: PoissonGaussianNoise(0.01, 0.01).sample(x, generator=g), "clean", None
    ),
    "PoissonGaussianNoise.nll": Target(
        lambda x, g: PoissonGaussianNoise(0.01, 0.01).nll(x, x), "clean", None, same_shape=False
    ),
    "NoiseFlow.sample": Target(lambda x, g: noiseflow().sample(x, raw_cond(x), generator=g), "clean", 4),
    "NoiseFlow.nll": Target(lambda x, g: noiseflow().nll(x, x, raw_cond(x)), "clean", 4, same_shape=False),
    "NAFlow.sample": Target(
        lambda x, g: naflow().sample(x, config_cond(x), generator=g),
        "clean",
        size_error=r"clean: NAFlow with 3 levels needs H and W divisible by 8",
        fits=multiple_of(8),
    ),
    "NAFlow.nll": Target(
        lambda x, g: naflow().nll(x, x, config_cond(x)),
        "clean",
        same_shape=False,
        size_error=r"clean: NAFlow with 3 levels needs H and W divisible by 8",
        fits=multiple_of(8),
    ),
    "NAFlow.classify": Target(
        lambda x, g: naflow().classify(x, x),
        "clean",
        same_shape=False,
        per_image=(2,),
        size_error=r"classify needs images of at least 8x8",
        fits=lambda h, w: min(h, w) >= 8,
    ),
    "NAFlow.sample_noise_aware": Target(
        lambda x, g: naflow().sample_noise_aware(x, *[torch.full((1, 3, 8, 8), 0.5)] * 2, generator=g),
        "clean",
        size_error=r"clean: NAFlow with 3 levels needs H and W divisible by 8",
        fits=multiple_of(8),
    ),
    "Glow.log_prob": Target(
        lambda x, g: glow().log_prob(x),
        "x",
        unit_range=False,
        same_shape=False,
        size=8,
        size_error=r"x: Glow with 2 levels needs H and W that are positive multiples of 4",
        fits=multiple_of(4),
    ),
    "Glow.bits_per_dim": Target(
        lambda x, g: glow().bits_per_dim(x, g),
        "images",
        same_shape=False,
        size=8,
        size_error=r"Glow with 2 levels needs H and W that are positive multiples of 4",
        fits=multiple_of(4),
    ),
    "DnCNN": Target(lambda x, g: dncnn()(x), "noisy", values_checked=False),
    "UNet": Target(lambda x, g: unet()(x), "noisy", values_checked=False),
}


def image_cases(name):
    """Rows ``(target, x, expected)`` for ``TARGETS[name]``; ``expected`` is None (works) or ``(error type, regex)``."""
    t = TARGETS[name]
    c, s, g = t.channels or 3, t.size, seeded(1)
    good = lambda *shape: torch.rand(*shape, generator=g) * 0.8 + 0.1  # noqa: E731 - away from the [0, 1] bounds
    shape_error = (ValueError, t.shape_error or rf"\b{t.arg}\b.*(shape|channels)")
    dtype_error = (TypeError, t.dtype_error or rf"\b{t.arg}\b.*dtype")
    kornia = t is TARGETS["KorniaNoise"]
    cases = [
        ("2-D", good(s, s), None if kornia else shape_error),  # kornia takes (H, W)
        ("5-D", good(1, 1, c, s, s), shape_error),
        ("channels", good(1, {3: 2, 4: 3}.get(t.channels, 5), s, s), shape_error if t.channels else None),
        *[
            (str(dtype).removeprefix("torch."), good(1, c, s, s).to(dtype), dtype_error)
            for dtype in (torch.int64, torch.bool, torch.complex64, torch.uint8)
        ],
        (
            "range",
            good(1, c, s, s) * 3 - 1,
            (ValueError, rf"\b{t.arg}\b values must lie in \[0, 1\]") if t.unit_range and t.values_checked else None,
        ),
        (
            "NaN",
            good(1, c, s, s).index_fill(-1, torch.tensor([2]), NAN),
            (ValueError, rf"\b{t.arg}\b contains NaN or Inf") if t.values_checked else None,
        ),
        (
            "Inf",
            good(1, c, s, s).index_fill(-1, torch.tensor([2]), INF),
            (ValueError, rf"\b{t.arg}\b contains NaN or Inf") if t.values_checked else None,
        ),
        ("empty-batch", good(0, c, s, s), None),
        ("unbatched", good(c, s, s), None),
        *[
            (f"{h}x{w}", good(2, c, h, w), None if t.fits(h, w) else (ValueError, t.size_error))
            for h, w in ((1, 1), (7, 5), (33, 17))
        ],
    ]
    return [pytest.param(t, x, expected, id=f"{name}-{case}") for case, x, expected in cases]


@pytest.mark.parametrize("target, x, expected", [row for name in TARGETS for row in image_cases(name)])
def test_image_argument(target, x, expected):
    if expected is not None:
        with pytest.raises(expected[0], match=expected[1]):
            target.call(x, seeded())
        return
    out = target.call(x, seeded())
    assert out.shape == (x.shape if target.same_shape else x.shape[:-3] + target.per_image)
    if target.values_checked:
        assert torch.isfinite(out).all()


LAYOUTS = {
    "strided": lambda x: torch.cat([x, x], -1)[..., ::2],
    "transposed": lambda x: x.transpose(-1, -2).contiguous().transpose(-1, -2),
    "channels_last": lambda x: x.contiguous(memory_format=torch.channels_last),
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", TARGETS)
def test_layout_does_not_change_the_result(name, layout):
    target = TARGETS[name]
    x = torch.rand(2, target.channels or 3, target.size, target.size, generator=seeded(2)) * 0.8 + 0.1
    variant = LAYOUTS[layout](x)
    assert not variant.is_contiguous()
    # float32 tolerance: convolutions may round differently per memory layout; the draws are the same
    torch.testing.assert_close(target.call(variant, seeded()), target.call(variant.contiguous(), seeded()))


# ----------------------------------------------------------------------------------------------------------------
# Generators, metadata and scalar arguments: (call, expected error type, regex naming the argument).


def images(c=3, b=2, s=16):
    return torch.rand(b, c, s, s, generator=seeded(3)) * 0.8 + 0.1


GENERATOR = (TypeError, r"generator must be a torch.Generator or None, got int")
COND_LENGTH = (ValueError, r"cond has 3 entries but the batch has 2 images")
COND_TYPE = (TypeError, r"cond must be a noiseaug.NoiseCondition or None, got dict")
SIGMA = (ValueError, r"sigma values must be >= 0")


def row(id, call, error, pattern, marks=()):
    return pytest.param(call, error, pattern, id=id, marks=marks)


ARGUMENT_ROWS = [
    # generators
    row("transform-generator", lambda: GaussianNoiseTransform()(images(), generator=1), *GENERATOR),
    row("NAFlowTransform-generator", lambda: NAFlowTransform(naflow())(images(), generator=1), *GENERATOR),
    row("model.sample-generator", lambda: GaussianNoise(0.1).sample(images(), generator=1), *GENERATOR),
    row(
        "NoiseFlow.sample-generator", lambda: noiseflow().sample(images(4), raw_cond(images()), generator=1), *GENERATOR
    ),
    row("Glow.sample-generator", lambda: glow().sample(1, generator=1), *GENERATOR),
    row(
        "sample_noise_aware-generator",
        lambda: naflow().sample_noise_aware(images(), images(b=1), images(b=1), generator=1),
        *GENERATOR,
    ),
    # metadata
    row(
        "transform-cond-length",
        lambda: GaussianNoiseTransform()(images(), NoiseCondition(iso=torch.ones(3))),
        *COND_LENGTH,
    ),
    row("transform-cond-type", lambda: GaussianNoiseTransform()(images(), {"iso": torch.ones(2)}), *COND_TYPE),
    row(
        "RawRoute-cond-length",
        lambda: RawRouteTransform(PoissonGaussianNoiseTransform())(images(), raw_cond(images(), 3)),
        *COND_LENGTH,
    ),
    row(
        "NoiseFlowTransform-cond-length",
        lambda: NoiseFlowTransform(noiseflow())(images(4), raw_cond(images(), 3)),
        *COND_LENGTH,
    ),
    row(
        "NAFlowTransform-cond-length",
        lambda: NAFlowTransform(naflow(), mode="configuration")(images(), config_cond(images(), 3)),
        *COND_LENGTH,
    ),
    row(
        "GaussianNoise.sample-cond-length",
        lambda: GaussianNoise(0.1).sample(images(), raw_cond(images(), 3)),
        *COND_LENGTH,
    ),
    row("GaussianNoise.nll-cond-type", lambda: GaussianNoise(0.1).nll(images(), images(), {"iso": 1}), *COND_TYPE),
    row(
        "NoiseFlow.nll-cond-length", lambda: noiseflow().nll(images(4), images(4), raw_cond(images(), 3)), *COND_LENGTH
    ),
    row("NAFlow.sample-cond-length", lambda: naflow().sample(images(), config_cond(images(), 3)), *COND_LENGTH),
    row("NoiseFlow-no-cond", lambda: noiseflow().sample(images(4)), ValueError, r"NoiseFlow needs cond="),
    row(
        "NoiseFlow-unknown-iso",
        lambda: noiseflow().sample(
            images(4), NoiseCondition(iso=torch.tensor([100.0, 123.0]), camera=torch.tensor([0, 1]))
        ),
        ValueError,
        r"unknown ISO \[123.0\]; this model knows ISO \[100.0, 800.0\]",
    ),
    row(
        "NoiseFlow-unknown-camera",
        lambda: noiseflow().sample(
            images(4), NoiseCondition(iso=torch.tensor([100.0, 100.0]), camera=torch.tensor([0, 7]))
        ),
        ValueError,
        r"cond.camera must hold integer indices into \['cam-a', 'cam-b'\]",
    ),
    row(
        "NoiseFlow-float-camera",
        lambda: noiseflow().sample(
            images(4), NoiseCondition(iso=torch.tensor([100.0, 100.0]), camera=torch.tensor([0.0, 1.0]))
        ),
        ValueError,
        r"cond.camera must hold integer indices",
    ),
    row("NAFlow-no-cond", lambda: naflow().sample(images()), ValueError, r"NAFlow needs cond=NoiseCondition\(config"),
    row(
        "NAFlow-unknown-config",
        lambda: naflow().nll(images(), images(), NoiseCondition(config=torch.tensor([0, 5]))),
        ValueError,
        r"cond.config must hold integer indices into \['a-iso100', 'b-iso3200'\]",
    ),
    row(
        "NAFlowTransform-unknown-config",
        lambda: NAFlowTransform(naflow(), mode="configuration")(images(), NoiseCondition(config=torch.tensor([0, 5]))),
        ValueError,
        r"cond.config must hold integer indices",
    ),
    row(
        "NoiseCondition-2d",
        lambda: NoiseCondition(iso=torch.ones(2, 2)),
        ValueError,
        r"NoiseCondition.iso must be a 1-D per-sample tensor",
    ),
    row(
        "NoiseCondition-list",
        lambda: NoiseCondition(iso=[100, 800]),
        TypeError,
        r"NoiseCondition.iso must be a 1-D per-sample tensor or None, got list",
    ),
    row(
        "NoiseCondition-lengths",
        lambda: NoiseCondition(iso=torch.ones(2), camera=torch.zeros(3, dtype=torch.long)),
        ValueError,
        r"NoiseCondition fields must all have the batch size",
    ),
    row(
        "noisy-clean-shapes",
        lambda: GaussianNoise(0.1).nll(images(s=8), images()),
        ValueError,
        r"noisy and clean must have the same shape",
    ),
    row("noisy-dtype", lambda: GaussianNoise(0.1).nll(images().long(), images()), TypeError, r"noisy\b.*dtype"),
    row("noisy-NaN", lambda: GaussianNoise(0.1).nll(images() * NAN, images()), ValueError, r"noisy contains NaN"),
    # probabilities, parameters and temperatures
    *[
        row(f"p={p!r}", lambda p=p: GaussianNoiseTransform(p=p), error, r"p must be a probability in \[0, 1\]")
        for p, error in (
            (-0.1, ValueError),
            (1.5, ValueError),
            (NAN, ValueError),
            (True, TypeError),
            ("0.5", TypeError),
        )
    ],
    row("p-numpy", lambda: GaussianNoiseTransform(p=np.float32(0.5)), None, None),
    row("clip-int", lambda: GaussianNoiseTransform(clip=1), TypeError, r"clip must be a bool"),
    row("transform-sigma-negative", lambda: GaussianNoiseTransform(sigma=-0.1), *SIGMA),
    row("transform-sigma-range-negative", lambda: GaussianNoiseTransform(sigma=(-0.1, 0.1)), *SIGMA),
    row("transform-sigma-NaN", lambda: GaussianNoiseTransform(sigma=NAN), ValueError, r"sigma must be finite"),
    row(
        "transform-sigma-reversed",
        lambda: GaussianNoiseTransform(sigma=(0.2, 0.1)),
        ValueError,
        r"sigma must be finite with low <= high",
    ),
    row(
        "transform-sigma-bool",
        lambda: GaussianNoiseTransform(sigma=(True, 0.2)),
        TypeError,
        r"sigma must be a float, a \(low, high\) tuple or a ParamRange",
    ),
    row("transform-sigma-str", lambda: GaussianNoiseTransform(sigma="0.1"), TypeError, r"sigma must be a float"),
    row("transform-gain-zero", lambda: PoissonGaussianNoiseTransform(gain=0.0), ValueError, r"gain values must be > 0"),
    row(
        "transform-beta1-negative",
        lambda: HeteroscedasticNoiseTransform(beta1=-1e-3),
        ValueError,
        r"beta1 values must be",
    ),
    row("model-sigma-negative", lambda: GaussianNoise(-0.1), ValueError, r"sigma must be >= 0"),
    row("model-sigma-NaN", lambda: GaussianNoise(NAN), ValueError, r"sigma must be finite"),
    row("model-sigma-bool", lambda: GaussianNoise(True), TypeError, r"sigma must be a float or a tensor"),
    row(
        "model-sigma-2d", lambda: GaussianNoise(torch.ones(2, 2)), ValueError, r"sigma must be a scalar or a per-sample"
    ),
    row(
        "model-sigma-per-sample",
        lambda: GaussianNoise(torch.full((3,), 0.1)).sample(images()),
        ValueError,
        r"sigma has 3 per-sample values but the batch has 2 images",
    ),
    row("model-gain-zero", lambda: PoissonGaussianNoise(0.0, 0.01), ValueError, r"gain must be > 0"),
    row("model-read_sigma-Inf", lambda: PoissonGaussianNoise(0.01, INF), ValueError, r"read_sigma must be finite"),
    row("model-beta2-negative", lambda: HeteroscedasticGaussianNoise(1e-3, -1.0), ValueError, r"beta2 must be >= 0"),
    *[
        row(
            f"sample-temperature={t!r}",
            lambda t=t: GaussianNoise(0.1).sample(images(), temperature=t),
            error,
            r"temperature must be a finite number >= 0",
        )
        for t, error in ((-1.0, ValueError), (NAN, ValueError), (True, TypeError))
    ],
    row(
        "NAFlowTransform-temperature",
        lambda: NAFlowTransform(naflow(), temperature=-1.0),
        ValueError,
        r"temperature must be a finite number >= 0",
    ),
    row(
        "NoiseFlowTransform-temperature",
        lambda: NoiseFlowTransform(noiseflow(), temperature=INF),
        ValueError,
        r"temperature must be a finite number >= 0",
    ),
    row("Glow.sample-temperature", lambda: glow().sample(1, temperature=NAN), ValueError, r"temperature must be"),
    row(
        "sample_noise_aware-temperature",
        lambda: naflow().sample_noise_aware(images(), images(b=1), images(b=1), temperature=-1.0),
        ValueError,
        r"temperature must be a finite number >= 0",
    ),
    # transform options: unknown names, modes, models
    row(
        "NAFlowTransform-unknown-config",
        lambda: NAFlowTransform(naflow(), configurations=["zzz"]),
        ValueError,
        r"configurations: unknown \['zzz'\]; the model knows \['a-iso100', 'b-iso3200'\]",
    ),
    row(
        "NAFlowTransform-config-str",
        lambda: NAFlowTransform(naflow(), configurations="a-iso100"),
        TypeError,
        r"configurations must be a sequence of names",
    ),
    row("NAFlowTransform-mode", lambda: NAFlowTransform(naflow(), mode="best"), ValueError, r"mode must be one of"),
    row("NAFlowTransform-mixture", lambda: NAFlowTransform(naflow(), mixture=1), TypeError, r"mixture must be a bool"),
    row(
        "NAFlowTransform-reference-missing",
        lambda: NAFlowTransform(naflow(), mode="reference"),
        ValueError,
        r"reference=\(noisy, clean\) is required",
    ),
    row(
        "NAFlowTransform-reference-range",
        lambda: NAFlowTransform(naflow(), mode="reference", reference=(images(), images() * 3)),
        ValueError,
        r"reference clean values must lie in \[0, 1\]",
    ),
    row("NAFlowTransform-model", lambda: NAFlowTransform(noiseflow()), TypeError, r"model must be an NAFlow"),
    row(
        "NoiseFlowTransform-unknown-iso",
        lambda: NoiseFlowTransform(noiseflow(), isos=[123]),
        ValueError,
        r"isos: unknown ISO \[123\]; the model knows ISO \[100.0, 800.0\]",
    ),
    row(
        "NoiseFlowTransform-iso-bool",
        lambda: NoiseFlowTransform(noiseflow(), isos=[True]),
        TypeError,
        r"isos must be a sequence of ISO numbers",
    ),
    row(
        "NoiseFlowTransform-unknown-camera",
        lambda: NoiseFlowTransform(noiseflow(), cameras=["zzz"]),
        ValueError,
        r"cameras: unknown \['zzz'\]; the model knows \['cam-a', 'cam-b'\]",
    ),
    row("NoiseFlowTransform-pattern", lambda: NoiseFlowTransform(noiseflow(), pattern="XYZW"), ValueError, r"pattern"),
    row("NoiseFlowTransform-model", lambda: NoiseFlowTransform(naflow()), TypeError, r"model must be a NoiseFlow"),
    row(
        "NoiseFlowTransform-odd-mosaic",
        lambda: NoiseFlowTransform(noiseflow())(images(1, s=7)),
        ValueError,
        r"images: a Bayer mosaic \(B, 1, H, W\) needs even H and W",
    ),
    row("RawRoute-raw", lambda: RawRouteTransform(GaussianNoise(0.1)), TypeError, r"raw must be a NoiseTransform"),
    row(
        "RawRoute-pattern", lambda: RawRouteTransform(GaussianNoiseTransform(), pattern="ABCD"), ValueError, r"pattern"
    ),
    # integer counts and sizes (check_int: TypeError for a non-int, ValueError below the minimum)
    row("DnCNN-depth", lambda: DnCNN(depth=1), ValueError, r"depth must be an int >= 2, got 1"),
    row("DnCNN-width-float", lambda: DnCNN(width=4.0), TypeError, r"width must be a positive int, got float"),
    row("DnCNN-channels-bool", lambda: DnCNN(channels=True), TypeError, r"channels must be a positive int, got bool"),
    row("UNet-levels", lambda: UNet(levels=0), ValueError, r"levels must be a positive int, got 0"),
    row("Glow-levels", lambda: Glow(levels=0), ValueError, r"levels must be a positive int"),
    row("Glow-image_size", lambda: Glow(levels=2, image_size=6), ValueError, r"image_size must be a multiple of"),
    row("Glow.sample-n-zero", lambda: glow().sample(0), ValueError, r"n must be a positive int, got 0"),
    row("Glow.sample-n-float", lambda: glow().sample(2.0), TypeError, r"n must be a positive int, got float"),
    row("Glow.sample-size", lambda: glow().sample(1, size=6), ValueError, r"size must be .*multiples of 4"),
    row("Glow.sample-size-str", lambda: glow().sample(1, size="8"), TypeError, r"size must be an int or an \(H, W\)"),
    row("NAFlow-levels", lambda: NAFlow(CONFIGS, levels=0), ValueError, r"levels must be a positive int"),
    row("NAFlow-hidden-float", lambda: NAFlow(CONFIGS, hidden=8.0), TypeError, r"hidden must be a positive int"),
    row("NAFlow-configurations", lambda: NAFlow(["a", "a"]), ValueError, r"configurations must be .* distinct"),
    row("NoiseFlow-hidden", lambda: NoiseFlow(CAMERAS, ISOS, hidden=0), ValueError, r"hidden must be a positive int"),
    row(
        "NoiseFlow-iso_levels",
        lambda: NoiseFlow(CAMERAS, [100, -1]),
        ValueError,
        r"iso_levels must be a non-empty list of positive ISO values",
    ),
    # data-pipeline helpers
    row(
        "NoisyPairs-seed",
        lambda: NoisyPairs([images(b=1)[0]], GaussianNoiseTransform(), seed=-1),
        ValueError,
        r"seed must be a non-negative int, got -1",
    ),
    row(
        "NoisyPairs-seed-float",
        lambda: NoisyPairs([images(b=1)[0]], GaussianNoiseTransform(), seed=1.5),
        TypeError,
        r"seed must be a non-negative int, got float",
    ),
    row(
        "NoisyPairs-transform",
        lambda: NoisyPairs([images(b=1)[0]], lambda x: x),
        TypeError,
        r"transform must be a noiseaug NoiseTransform",
    ),
    row(
        "NoisyPairs-dataset",
        lambda: NoisyPairs(5, GaussianNoiseTransform()),
        TypeError,
        r"dataset must be a map-style Dataset",
    ),
    row(
        "NoisyPairs-image_key",
        lambda: NoisyPairs([images(b=1)[0]], GaussianNoiseTransform(), image_key=1.5),
        TypeError,
        r"image_key must be a dict key",
    ),
    row(
        "NoisyPairs-item-range",
        lambda: NoisyPairs([images(b=1)[0] * 3], GaussianNoiseTransform())[0],
        ValueError,
        r"images values must lie in \[0, 1\]",
    ),
    row(
        "DeviceNoise-device",
        lambda: DeviceNoise(GaussianNoiseTransform(), "gpu-please"),
        ValueError,
        r"device must be a torch device such as 'cpu' or 'cuda', got 'gpu-please'",
    ),
    row(
        "DeviceNoise-cuda",
        lambda: DeviceNoise(GaussianNoiseTransform(), "cuda"),
        ValueError,
        r"device 'cuda' was given, but CUDA is not available",
        NO_CUDA,
    ),
    row(
        "DeviceNoise-seed-bool",
        lambda: DeviceNoise(GaussianNoiseTransform(), seed=True),
        TypeError,
        r"seed must be a non-negative int, got bool",
    ),
    row(
        "DeviceNoise-batch",
        lambda: DeviceNoise(GaussianNoiseTransform())({"clean": images()}),
        ValueError,
        r"without the key image_key='image'",
    ),
    row("worker_seed", lambda: worker_seed(-3), ValueError, r"seed must be a non-negative int"),
    row(
        "worker_generator-device", lambda: worker_generator(device="gpu"), ValueError, r"device must be a torch device"
    ),
    # host-library adapters
    row(
        "Kornia-wrapped-p",
        lambda: KorniaNoise(GaussianNoiseTransform(p=0.5)),
        ValueError,
        r"KorniaNoise: the adapter applies p itself, so build the wrapped transform with p=1.0",
    ),
    row("Kornia-p", lambda: KorniaNoise(GaussianNoiseTransform(), p=2.0), ValueError, r"p must be a probability"),
    row("Kornia-transform", lambda: KorniaNoise("gaussian"), TypeError, r"KorniaNoise: transform must be a noiseaug"),
    row(
        "Kornia-same_on_batch",
        lambda: KorniaNoise(GaussianNoiseTransform(), same_on_batch=1),
        TypeError,
        r"same_on_batch must be a bool",
    ),
    row(
        "Kornia-wrapped-channels",
        lambda: KorniaNoise(NAFlowTransform(naflow()))(images(4)),
        ValueError,
        r"images must have 3 channels",
    ),
]


@pytest.mark.parametrize("call, error, pattern", ARGUMENT_ROWS)
def test_argument(call, error, pattern):
    if error is None:
        call()
        return
    with pytest.raises(error, match=pattern):
        call()


# ----------------------------------------------------------------------------------------------------------------
# Numpy images through the albumentations adapter, and the torchvision adapter (skipped where not installed).


def albumentations_call(transform, image, seed=0):
    A = pytest.importorskip("albumentations")
    from noiseaug.transforms.albumentations import AlbumentationsNoise

    return A.Compose([AlbumentationsNoise(transform)], seed=seed)(image=image)["image"]


def hwc(dtype=np.float32, shape=(16, 16, 3)):
    image = np.random.default_rng(0).uniform(0.1, 0.9, shape).astype(np.float32)
    return (image * 255).round().astype(np.uint8) if dtype == np.uint8 else image.astype(dtype)


@pytest.mark.parametrize(
    "image, transform, error, pattern",
    [
        pytest.param(hwc(np.uint8), GaussianNoiseTransform, None, None, id="uint8-HWC"),
        pytest.param(hwc(), GaussianNoiseTransform, None, None, id="float32-HWC"),
        pytest.param(hwc(shape=(1, 1, 3)), GaussianNoiseTransform, None, None, id="1x1"),
        pytest.param(hwc(shape=(7, 5)), GaussianNoiseTransform, None, None, id="grey-7x5"),
        *[
            pytest.param(
                hwc(dtype),
                GaussianNoiseTransform,
                TypeError,
                r"image must be uint8 .* or float32",
                id=np.dtype(dtype).name,
            )
            for dtype in (np.float64, np.int32, np.bool_)
        ],
        pytest.param(hwc() * 3, GaussianNoiseTransform, ValueError, r"images values must lie in \[0, 1\]", id="range"),
        pytest.param(hwc() * np.float32(NAN), GaussianNoiseTransform, ValueError, r"images contains NaN", id="NaN"),
        pytest.param(
            hwc(shape=(1, 16, 16, 3)),
            GaussianNoiseTransform,
            ValueError,
            r"AlbumentationsNoise: image must be a numpy array \(H, W, C\) or \(H, W\), got shape",
            id="4-D",
        ),
        pytest.param(
            hwc(shape=(16, 16)),
            lambda: NAFlowTransform(naflow()),
            ValueError,
            r"images must have 3 channels",
            id="grey-to-NAFlow",
        ),
    ],
)
def test_albumentations_image(image, transform, error, pattern):
    if error is None:
        out = albumentations_call(transform(), image)
        assert out.shape == image.shape and out.dtype == image.dtype
        return
    with pytest.raises(error, match=pattern):
        albumentations_call(transform(), image)


@pytest.mark.parametrize("layout", ["strided", "flipped", "read-only"])
def test_albumentations_layout_does_not_change_the_result(layout):
    base = hwc(shape=(16, 32, 3))
    image = {"strided": base[:, ::2], "flipped": base[:, ::-1], "read-only": base.copy()}[layout]
    image.flags.writeable = layout != "read-only"
    expected = albumentations_call(GaussianNoiseTransform(), np.ascontiguousarray(image))
    np.testing.assert_array_equal(albumentations_call(GaussianNoiseTransform(), image), expected)


def test_albumentations_wrapped_p_is_named():
    pytest.importorskip("albumentations")
    from noiseaug.transforms.albumentations import AlbumentationsNoise

    with pytest.raises(ValueError, match=r"AlbumentationsNoise: the adapter applies p itself"):
        AlbumentationsNoise(GaussianNoiseTransform(p=0.5))


@pytest.mark.parametrize("case", ["wrapped-p", "p", "2-D", "PIL-mode"])
def test_torchvision_bad_input(case):
    pytest.importorskip("torchvision")
    import PIL.Image

    from noiseaug.transforms.torchvision import TorchvisionNoise

    error, pattern, call = {
        "wrapped-p": (
            ValueError,
            r"the adapter applies p itself",
            lambda: TorchvisionNoise(GaussianNoiseTransform(p=0.5)),
        ),
        "p": (ValueError, r"p must be a probability", lambda: TorchvisionNoise(GaussianNoiseTransform(), p=-1.0)),
        "2-D": (
            ValueError,
            r"images must have shape \(\.\.\., C, H, W\)",
            lambda: TorchvisionNoise(GaussianNoiseTransform())(torch.rand(8, 8)),
        ),
        "PIL-mode": (
            TypeError,
            r"PIL images must have mode L or RGB",
            lambda: TorchvisionNoise(GaussianNoiseTransform())(PIL.Image.new("CMYK", (8, 8))),
        ),
    }[case]
    with pytest.raises(error, match=pattern):
        call()


# ----------------------------------------------------------------------------------------------------------------
# Files: loaders, image IO, denoise_files, synthesize, and the command line.


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A folder of inputs: tiny saved models (good and broken), images (good and corrupt), an empty folder."""
    root = tmp_path_factory.mktemp("files")
    save_pretrained(dncnn(), root / "dncnn")
    save_pretrained(noiseflow(), root / "noiseflow")
    for broken in ("no-weights", "bad-json", "bad-weights"):
        save_pretrained(dncnn(), root / broken)
    (root / "no-weights" / "model.safetensors").unlink()
    (root / "bad-json" / "config.json").write_text("{not json")
    (root / "bad-weights" / "model.safetensors").write_bytes(b"\x00" * 64)
    write_png(root / "images" / "a.png", torch.rand(3, 12, 10, generator=seeded(4)))
    (root / "corrupt.png").write_bytes(b"not a png")
    (root / "notes.txt").write_text("hello")
    (root / "empty").mkdir()
    return root


FILE_ROWS = [
    row(
        "load-missing",
        lambda d: load_pretrained(d / "missing"),
        ValueError,
        r"is not a folder, not a released model .*and not a Hugging Face repo id",
    ),
    row("load-int", lambda d: load_pretrained(123), TypeError, r"name_or_path must be a folder path"),
    row(
        "load-no-weights",
        lambda d: load_pretrained(d / "no-weights"),
        FileNotFoundError,
        r"model.safetensors not found: a pretrained folder holds config.json and model.safetensors",
    ),
    row("load-bad-json", lambda d: load_pretrained(d / "bad-json"), ValueError, r"config.json is not valid JSON"),
    row(
        "load-bad-weights",
        lambda d: load_pretrained(d / "bad-weights"),
        ValueError,
        r"model.safetensors is not a readable safetensors file",
    ),
    row(
        "load-map_location",
        lambda d: load_pretrained(d / "dncnn", map_location="gpu"),
        ValueError,
        r"map_location must be a torch device such as 'cpu' or 'cuda', got 'gpu'",
    ),
    row(
        "load-map_location-cuda",
        lambda d: load_pretrained(d / "dncnn", map_location="cuda"),
        ValueError,
        r"map_location 'cuda' was given, but CUDA is not available",
        NO_CUDA,
    ),
    row("load-ok", lambda d: load_pretrained(d / "dncnn"), None, None),
    row("load-released", lambda d: load_pretrained("noiseflow-simcam"), None, None),
    row(
        "from_pretrained-wrong-class",
        lambda d: NoiseFlow.from_pretrained(d / "dncnn"),
        ValueError,
        r"holds a DnCNN, not a NoiseFlow",
    ),
    row(
        "from_pretrained-transform-wrong-class",
        lambda d: NAFlowTransform.from_pretrained(d / "noiseflow"),
        ValueError,
        r"holds a NoiseFlow, not a NAFlow",
    ),
    row(
        "from_pretrained-transform-camera",
        lambda d: NoiseFlowTransform.from_pretrained(d / "noiseflow", cameras=["zzz"]),
        ValueError,
        r"cameras: unknown \['zzz'\]",
    ),
    row(
        "from_pretrained-released-config",
        lambda d: NAFlowTransform.from_pretrained("naflow-srgb", configurations=["nope"]),
        ValueError,
        r"configurations: unknown \['nope'\]; the model knows \[",
    ),
    row("read_image-missing", lambda d: read_image(d / "missing.png"), FileNotFoundError, r"image file not found"),
    row("read_image-type", lambda d: read_image(d / "notes.txt"), ValueError, r"unsupported image type '.txt'"),
    row(
        "read_image-corrupt",
        lambda d: read_image(d / "corrupt.png"),
        ValueError,
        r"corrupt.png is not a readable 8-bit PNG/JPEG image",
    ),
    row("image_files-empty", lambda d: image_files(d / "empty"), ValueError, r"no .png/.jpg/.jpeg images in"),
    row("image_files-missing", lambda d: image_files(d / "missing"), FileNotFoundError, r"image folder not found"),
    row(
        "write_png-suffix",
        lambda d: write_png(d / "out.jpg", torch.rand(3, 4, 4)),
        ValueError,
        r"write_png writes PNG files",
    ),
    row(
        "write_png-batch",
        lambda d: write_png(d / "out.png", torch.rand(1, 3, 4, 4)),
        ValueError,
        r"image must have shape \(C, H, W\)",
    ),
    row(
        "write_png-uint8",
        lambda d: write_png(d / "out.png", torch.zeros(3, 4, 4, dtype=torch.uint8)),
        TypeError,
        r"image must be a floating-point tensor",
    ),
    row("load_denoiser-flow", lambda d: load_denoiser(d / "noiseflow"), TypeError, r"is a NoiseFlow, not a denoiser"),
    row(
        "load_denoiser-device",
        lambda d: load_denoiser(d / "dncnn", device="gpu"),
        ValueError,
        r"device must be a torch device",
    ),
    row(
        "denoise_files-source",
        lambda d: denoise_files(dncnn(), d / "missing", d / "out", progress=False),
        FileNotFoundError,
        r"source not found",
    ),
    row(
        "denoise_files-model",
        lambda d: denoise_files("dncnn", d / "images", d / "out", progress=False),
        TypeError,
        r"model must be a denoiser module",
    ),
    row(
        "denoise_files-device",
        lambda d: denoise_files(dncnn(), d / "images", d / "out", device="gpu", progress=False),
        ValueError,
        r"device must be a torch device",
    ),
    row(
        "denoise_files-channels",
        lambda d: denoise_files(DnCNN(channels=4, depth=2, width=2), d / "images", d / "out", progress=False),
        ValueError,
        r"noisy must have 4 channels",
    ),
    row("synthesize-sigma-negative", lambda d: build_transform("awgn", params={"sigma": [-0.1]}), *SIGMA),
    row(
        "synthesize-sigma-str",
        lambda d: build_transform("awgn", params={"sigma": ["x"]}),
        TypeError,
        r"sigma must be a number on the \[0, 1\] scale, got str",
    ),
    row(
        "synthesize-unknown-model",
        lambda d: build_transform("nope"),
        ValueError,
        r"model must be one of \['awgn', 'nlf', 'pg'\] or a pretrained noise flow",
    ),
    row(
        "synthesize-raw-flow",
        lambda d: build_transform(str(d / "noiseflow")),
        ValueError,
        r"is a Noise Flow, a raw-RGB",
    ),
    row(
        "synthesize-images",
        lambda d: synthesize_folder(
            d / "missing", d / "out", GaussianNoiseTransform(), model_name="awgn", progress=False
        ),
        FileNotFoundError,
        r"image folder not found",
    ),
    row(
        "synthesize-transform",
        lambda d: synthesize_folder(d / "images", d / "out", "awgn", model_name="awgn"),
        TypeError,
        r"transform must be a noiseaug NoiseTransform",
    ),
    row(
        "synthesize-seed",
        lambda d: synthesize_folder(d / "images", d / "out", GaussianNoiseTransform(), model_name="awgn", seed=-1),
        ValueError,
        r"seed must be a non-negative int",
    ),
    row(
        "synthesize-device",
        lambda d: synthesize_folder(d / "images", d / "out", GaussianNoiseTransform(), model_name="awgn", device="gpu"),
        ValueError,
        r"device must be a torch device",
    ),
]


@pytest.mark.parametrize("call, error, pattern", FILE_ROWS)
def test_file_argument(files, call, error, pattern):
    if error is None:
        call(files)
        return
    with pytest.raises(error, match=pattern):
        call(files)


def synthesize_args(d, *extra):
    return ["synthesize", str(d / "images"), "--out", str(d / "cli-out"), "--model", "awgn", *extra]


CLI_ROWS = [
    pytest.param(
        lambda d: ["synthesize", str(d / "missing"), "--out", str(d / "o"), "--model", "awgn"],
        r"noiseaug synthesize: error: image folder not found",
        id="synthesize-missing-images",
    ),
    pytest.param(
        lambda d: synthesize_args(d, "--sigma", "abc"),
        r"argument --sigma: invalid float value: 'abc'",
        id="synthesize-sigma-text",
    ),
    pytest.param(
        lambda d: synthesize_args(d, "--sigma", "-0.1"), r"sigma values must be >= 0", id="synthesize-sigma-negative"
    ),
    pytest.param(lambda d: synthesize_args(d, "--sigma", "nan"), r"sigma must be finite", id="synthesize-sigma-nan"),
    pytest.param(
        lambda d: synthesize_args(d, "--seed", "-1"),
        r"seed must be a non-negative int, got -1",
        id="synthesize-seed-negative",
    ),
    pytest.param(
        lambda d: synthesize_args(d, "--seed", "1.5"), r"argument --seed: invalid int value", id="synthesize-seed-float"
    ),
    pytest.param(
        lambda d: synthesize_args(d, "--device", "gpu"), r"device must be a torch device", id="synthesize-device"
    ),
    pytest.param(
        lambda d: synthesize_args(d, "--gain", "0.1"),
        r"takes the parameters \['sigma'\]",
        id="synthesize-wrong-parameter",
    ),
    pytest.param(
        lambda d: ["synthesize", str(d / "images"), "--out", str(d / "o"), "--model", str(d / "dncnn")],
        r"holds a DnCNN, not a noise model",
        id="synthesize-denoiser-as-model",
    ),
    pytest.param(
        lambda d: ["denoise", str(d / "missing.png"), str(d / "o.png"), "--model", str(d / "dncnn")],
        r"noiseaug denoise: error: source not found",
        id="denoise-missing-source",
    ),
    pytest.param(
        lambda d: ["denoise", str(d / "corrupt.png"), str(d / "o.png"), "--model", str(d / "dncnn")],
        r"corrupt.png is not a readable 8-bit PNG/JPEG image",
        id="denoise-corrupt-image",
    ),
    pytest.param(
        lambda d: ["denoise", str(d / "images"), str(d / "o"), "--model", str(d / "missing")],
        r"is not a folder, not a released model",
        id="denoise-missing-model",
    ),
    pytest.param(
        lambda d: ["denoise", str(d / "images"), str(d / "o"), "--model", str(d / "noiseflow")],
        r"is a NoiseFlow, not a denoiser",
        id="denoise-flow-as-model",
    ),
    pytest.param(
        lambda d: ["denoise", str(d / "images"), str(d / "o"), "--model", str(d / "dncnn"), "--device", "gpu"],
        r"device must be a torch device",
        id="denoise-device",
    ),
    pytest.param(
        lambda d: ["train", "dncnn", "--noise", "awgn", "--out", str(d / "run"), "--images", str(d / "missing")],
        r"noiseaug train: error: image folder not found",
        id="train-missing-images",
    ),
    pytest.param(
        lambda d: ["train", "dncnn", "--noise", "awgn", "--out", str(d / "run"), "--steps", "many"],
        r"argument --steps: invalid int value: 'many'",
        id="train-steps-text",
    ),
]


@pytest.mark.parametrize("argv, pattern", CLI_ROWS)
def test_cli_bad_input(files, argv, pattern, capsys):
    try:
        status = main(argv(files))
    except SystemExit as exit:  # argparse's own errors: usage, then one error line
        status = exit.code
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    last = err.strip().splitlines()[-1]  # after argparse's usage lines, or a progress bar that had started
    assert re.search(pattern, last) and last.startswith("noiseaug "), err
    assert sum(line.startswith("noiseaug ") for line in err.splitlines()) == 1, err


def test_cli_bad_input_in_a_real_process(files):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "noiseaug",
            "synthesize",
            str(files / "images"),
            "--out",
            str(files / "o"),
            "--model",
            "awgn",
            "--sigma",
            "0.1",
            "0.2",
            "0.3",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert re.fullmatch(r"noiseaug synthesize: error: sigma takes one value .*\n", result.stderr)
