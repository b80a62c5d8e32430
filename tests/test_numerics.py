"""Numerical robustness: finite likelihoods and samples at the ends of the intensity range (all-black,
saturated, constant images), in half precision and under autocast, at temperature 0 and at the extreme ISOs,
for every noise model and transform, with the released weights where they exist."""

import contextlib
import itertools

import pytest
import torch
import torch.nn.functional as F
from flow_helpers import trained_looking

from noiseaug import (
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
)

LEVELS = {"black": 0.0, "constant": 0.5, "saturated": 1.0}
SIDE = 16  # a multiple of the released NAFlow's 2 ** levels


@pytest.fixture(scope="module")
def noise_flow():
    return NoiseFlow.from_pretrained("noiseflow-simcam")


@pytest.fixture(scope="module")
def naflow():
    return NAFlow.from_pretrained("naflow-srgb")


def _every_iso_and_camera(flow):
    """One row per (ISO, camera) the released Noise Flow knows."""
    iso, camera = zip(*itertools.product(flow.iso_levels, range(len(flow.cameras))), strict=True)
    return NoiseCondition(iso=torch.tensor(iso), camera=torch.tensor(camera))


def _pair(low_a, high_a, low_b, high_b):
    """Two per-sample parameters, each at the low and at the high end of its range."""
    return torch.tensor([low_a, high_a]), torch.tensor([low_b, high_b])


#: name -> (model, condition) for a batch of two; flows cover every ISO x camera / configuration instead.
MODELS = {
    "gaussian": lambda request: (GaussianNoise(torch.tensor([1e-3, 0.2])), None),
    "heteroscedastic": lambda request: (HeteroscedasticGaussianNoise(*_pair(1e-4, 2e-2, 1e-6, 5e-3)), None),
    "poisson_gaussian": lambda request: (PoissonGaussianNoise(*_pair(1e-4, 1.2e-2, 1e-4, 1.5e-2)), None),
    "poisson_gaussian_exact": lambda request: (
        PoissonGaussianNoise(*_pair(1e-3, 1.2e-2, 1e-4, 1.5e-2), exact_likelihood=True),
        None,
    ),
    "noise_flow": lambda request: (flow := request.getfixturevalue("noise_flow"), _every_iso_and_camera(flow)),
    "naflow": lambda request: (
        flow := request.getfixturevalue("naflow"),
        NoiseCondition(config=torch.arange(len(flow.configurations))),
    ),
}


def _channels(model):
    return (model.channels or (3,))[-1]


def _constant(value, batch, channels, dtype=torch.float32):
    return torch.full((batch, channels, SIDE, SIDE), value, dtype=dtype)


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("name", MODELS)
def test_nll_is_finite_on_black_constant_and_saturated_images(request, name, level):
    model, cond = MODELS[name](request)
    clean = _constant(LEVELS[level], len(cond) if cond is not None else 2, _channels(model))
    small_noise = 0.01 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))
    for noisy in (clean, clean + small_noise):
        nll = model.nll(noisy, clean, cond)
        assert nll.shape == (clean.shape[0],) and torch.isfinite(nll).all(), (name, level, nll)


@pytest.mark.parametrize("level", LEVELS)
def test_glow_density_is_finite_on_black_constant_and_saturated_images(level):
    glow = trained_looking(Glow, levels=2, depth=2, hidden=8, image_size=8)
    images = torch.full((2, 3, 8, 8), LEVELS[level])
    noisy = images + 0.01 * torch.randn(images.shape, generator=torch.Generator().manual_seed(0))
    bits = glow.bits_per_dim(images, torch.Generator().manual_seed(1))
    for value in (glow.log_prob(images), glow.log_prob(noisy), bits):
        assert value.shape == (2,) and torch.isfinite(value).all(), value


def test_a_zero_noise_variance_is_a_named_error_not_nan():
    clean = _constant(0.0, 1, 3)
    for model in (GaussianNoise(0.0), HeteroscedasticGaussianNoise(1e-3, 0.0), PoissonGaussianNoise(1e-3, 0.0)):
        with pytest.raises(ValueError, match=rf"{type(model).__name__}\(.*noise variance is 0"):
            model.nll(clean, clean)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64], ids=str)
@pytest.mark.parametrize("name", ["noise_flow", "naflow"])
def test_flow_models_take_images_of_any_float_dtype(request, name, dtype):
    model, cond = MODELS[name](request)
    clean = _constant(0.5, len(cond), _channels(model), dtype)
    noisy = model.sample(clean, cond, torch.Generator().manual_seed(0))
    assert noisy.dtype == dtype and torch.isfinite(noisy).all()
    assert torch.isfinite(model.nll(noisy, clean, cond)).all()


TRANSFORMS = {
    "gaussian": lambda request: GaussianNoiseTransform(clip=False),
    "heteroscedastic": lambda request: HeteroscedasticNoiseTransform(clip=False),
    "poisson_gaussian": lambda request: PoissonGaussianNoiseTransform(clip=False),
    "naflow": lambda request: NAFlowTransform(request.getfixturevalue("naflow"), clip=False),
    "noise_flow": lambda request: NoiseFlowTransform(request.getfixturevalue("noise_flow"), clip=False),
}


@pytest.mark.parametrize("autocast", [False, True], ids=["plain", "autocast_bf16"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
@pytest.mark.parametrize("name", TRANSFORMS)
def test_low_precision_samples_are_finite_and_keep_the_dtype(request, name, dtype, autocast):
    transform = TRANSFORMS[name](request)
    channels = 4 if name == "noise_flow" else 3
    rows = [_constant(v, 4, channels, dtype) for v in LEVELS.values()]
    textured = torch.rand(4, channels, SIDE, SIDE, generator=torch.Generator().manual_seed(0)).to(dtype)
    clean = torch.cat(rows + [textured])
    with torch.autocast("cpu", dtype=torch.bfloat16) if autocast else contextlib.nullcontext():
        noisy = transform(clean, generator=torch.Generator().manual_seed(1))
    assert noisy.dtype == dtype and noisy.shape == clean.shape
    assert torch.isfinite(noisy).all()
    assert (noisy != clean).any(), "no noise was added"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16], ids=str)
@pytest.mark.parametrize("name", ["gaussian", "heteroscedastic", "poisson_gaussian"])
def test_temperature_zero_is_the_mean_of_the_parametric_models(request, name, dtype):
    model, _ = MODELS[name](request)  # per-sample parameters at both ends of their ranges
    textured = torch.rand(2, 3, SIDE, SIDE, generator=torch.Generator().manual_seed(0)).to(dtype)
    for clean in [*(_constant(v, 2, 3, dtype) for v in LEVELS.values()), textured]:
        assert torch.equal(model.sample(clean, generator=torch.Generator().manual_seed(1), temperature=0.0), clean)


def _cold_samples(sample):
    """Two temperature-0 samples from different generators; they must agree exactly."""
    a, b = (sample(torch.Generator().manual_seed(seed)) for seed in (1, 2))
    assert torch.equal(a, b)
    return a


def test_noise_flow_at_temperature_zero_decodes_the_zero_latent(noise_flow):
    cond = _every_iso_and_camera(noise_flow)
    clean = torch.rand(len(cond), 4, SIDE, SIDE, generator=torch.Generator().manual_seed(0))
    cold = _cold_samples(lambda gen: noise_flow.sample(clean, cond, gen, temperature=0.0))
    with torch.no_grad():
        expected = clean + noise_flow.decode(torch.zeros_like(clean), noise_flow.flow_condition(clean, cond))
    torch.testing.assert_close(cold, expected)


def test_naflow_at_temperature_zero_decodes_the_configuration_mean(naflow):
    n = len(naflow.configurations)
    clean = torch.rand(n, 3, SIDE, SIDE, generator=torch.Generator().manual_seed(0))
    config = torch.arange(n)
    weights = torch.rand(n, n, generator=torch.Generator().manual_seed(3))
    side = SIDE // naflow.multiple
    with torch.no_grad():
        named = NoiseCondition(config=config)
        for sample, mean in [
            (lambda gen: naflow.sample(clean, named, gen, temperature=0.0), naflow.means[config]),
            (lambda gen: naflow.sample_mixture(clean, weights, gen, temperature=0.0), naflow.mixture(weights)[0]),
        ]:
            z = mean[:, :, None, None].expand(n, naflow.latent_channels, side, side)
            torch.testing.assert_close(_cold_samples(sample), clean + naflow.decode(z, clean))
        torch.testing.assert_close(naflow.mixture(F.one_hot(config, n).float())[0], naflow.means)


def test_the_lowest_and_highest_known_iso_give_finite_samples_and_nll(noise_flow):
    cameras = len(noise_flow.cameras)
    for iso in (min(noise_flow.iso_levels), max(noise_flow.iso_levels)):
        cond = NoiseCondition(iso=torch.full((3 * cameras,), iso), camera=torch.arange(cameras).repeat(3))
        clean = torch.cat([_constant(v, cameras, 4) for v in LEVELS.values()])
        noisy = noise_flow.sample(clean, cond, torch.Generator().manual_seed(0))
        assert torch.isfinite(noisy).all() and (noisy != clean).any()
        assert torch.isfinite(noise_flow.nll(noisy, clean, cond)).all()


@pytest.mark.parametrize("iso", [50.0, 1000.0, 6400.0])
def test_an_iso_outside_the_trained_set_is_an_error_naming_the_known_isos(noise_flow, iso):
    known = rf"knows ISO \[{', '.join(str(i) for i in noise_flow.iso_levels)}\]"
    clean = _constant(0.5, 1, 4)
    cond = NoiseCondition(iso=torch.tensor([iso]), camera=torch.tensor([0]))
    for call in (
        lambda: noise_flow.sample(clean, cond),
        lambda: noise_flow.nll(clean, clean, cond),
        lambda: NoiseFlowTransform(noise_flow)(clean, cond),
        lambda: NoiseFlowTransform(noise_flow, isos=[iso]),
    ):
        with pytest.raises(ValueError, match=rf"unknown ISO \[{iso}\]; (this|the) model {known}"):
            call()
