"""NAFlowTransform: any size, the three modes, row selection, precision, seeding, errors."""

import dataclasses

import pytest
import torch
from flow_helpers import trained_looking

from noiseaug import NAFlow, NoiseCondition
from noiseaug.hub import save_pretrained
from noiseaug.transforms.naflow import NAFlowTransform

CONFIGS = ["cam-a-iso100", "cam-a-iso3200", "cam-b-iso800"]


class MixtureSpy:
    """Records the (padded) images and mixture weights that reach the flow's ``_sample_mixture``."""

    def __init__(self, model):
        self.calls, self._inner = [], model._sample_mixture
        model._sample_mixture = self

    def __call__(self, clean, weights, generator=None, temperature=1.0):
        self.calls.append((clean.clone(), weights.clone()))
        return self._inner(clean, weights, generator, temperature)


def _flow(seed=0):
    flow = trained_looking(NAFlow, CONFIGS, seed=seed, hidden=8, features=4, levels=2)
    with torch.no_grad():  # well separated configurations, so that draws show in the output
        flow.log_stds.copy_(torch.tensor([-1.0, 1.0, 0.0])[:, None].expand_as(flow.log_stds))
    return flow


@pytest.fixture(scope="module")
def flow():
    return _flow()


@pytest.fixture
def images():
    return torch.rand(5, 3, 13, 10, generator=torch.Generator().manual_seed(0)) * 0.8 + 0.1


def seeded(seed=1):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_any_size_shape_dtype_and_range_are_kept(flow, images, dtype):
    x = images.to(dtype)
    y = NAFlowTransform(flow)(x, generator=seeded())
    assert y.shape == x.shape and y.dtype == dtype
    assert float(y.min()) >= 0 and float(y.max()) <= 1 and not torch.equal(y, x)
    assert NAFlowTransform(flow)(x[0], generator=seeded()).shape == x[0].shape


def test_padding_is_cropped_off_and_the_flow_sees_multiples_of_its_scale(images):
    spy = MixtureSpy(model := _flow())
    NAFlowTransform(model)(images, generator=seeded())
    padded = spy.calls[0][0]
    assert padded.shape[-2:] == (16, 12)
    torch.testing.assert_close(padded[..., :13, :10], images)
    torch.testing.assert_close(padded[..., 13, :10], images[..., 11, :])  # reflection about the last row


def test_random_mode_draws_one_hot_configurations_from_the_given_set(images):
    spy = MixtureSpy(model := _flow())
    NAFlowTransform(model, configurations=["cam-a-iso3200", "cam-b-iso800"])(
        images.repeat(8, 1, 1, 1), generator=seeded()
    )
    weights = spy.calls[0][1]
    assert torch.equal(weights.sum(1), torch.ones(40)) and set(weights.argmax(1).tolist()) == {1, 2}
    assert bool((weights.max(1).values == 1).all())


def test_random_mixtures_are_spread_over_the_given_set(images):
    spy = MixtureSpy(model := _flow())
    NAFlowTransform(model, configurations=["cam-a-iso100", "cam-b-iso800"], mixture=True)(images, generator=seeded())
    weights = spy.calls[0][1]
    torch.testing.assert_close(weights.sum(1), torch.ones(5))
    assert bool((weights[:, 1] == 0).all()) and bool((weights[:, [0, 2]] > 0).all())


def test_configuration_mode_uses_the_call_condition_or_the_single_name(flow, images):
    direct = NAFlowTransform(flow, mode="configuration", clip=False)
    cond = NoiseCondition(config=torch.tensor([1, 1, 0, 2, 0]))
    padded = torch.nn.functional.pad(images, (0, 2, 0, 3), mode="reflect")
    expected = flow.sample(padded, cond, seeded())[..., :13, :10]
    torch.testing.assert_close(direct(images, cond, generator=seeded()), expected)
    single = NAFlowTransform(flow, mode="configuration", configurations=["cam-a-iso3200"], clip=False)
    expected = flow.sample(padded, NoiseCondition(config=torch.ones(5, dtype=torch.long)), seeded())[..., :13, :10]
    torch.testing.assert_close(single(images, generator=seeded()), expected)
    with pytest.raises(ValueError, match="needs cond=NoiseCondition"):
        direct(images)


def test_reference_mode_uses_the_reference_posterior(flow, images):
    clean = images[:2, :, :8, :8]
    noisy = flow.sample(clean, NoiseCondition(config=torch.tensor([1, 1])), seeded(3))
    t = NAFlowTransform(flow, mode="reference", reference=(noisy, clean))
    torch.testing.assert_close(t.reference_weights, flow.posterior(noisy, clean).mean(0))
    assert int(t.reference_weights.argmax()) == 1  # the loud configuration that made the reference
    spy = MixtureSpy(model := _flow())
    NAFlowTransform(model, mode="reference", reference=(noisy, clean))(images, generator=seeded())
    torch.testing.assert_close(spy.calls[0][1], t.reference_weights.expand(5, -1))


def test_only_selected_rows_reach_the_flow(images):
    spy = MixtureSpy(model := _flow())
    y = NAFlowTransform(model, p=0.5)(images, generator=seeded(4))
    rows = spy.calls[0][0].shape[0]
    changed = (y != images).flatten(1).any(1)
    assert 0 < rows < 5 and int(changed.sum()) == rows


def test_seeded_calls_are_bit_identical_and_seeds_differ(flow, images):
    t = NAFlowTransform(flow, mixture=True)
    assert torch.equal(t(images, generator=seeded(7)), t(images, generator=seeded(7)))
    assert not torch.equal(t(images, generator=seeded(7)), t(images, generator=seeded(8)))


@pytest.mark.parametrize(
    "kwargs",
    [dict(configurations=["cam-b-iso800"]), dict(mixture=True)],
    ids=["configuration", "mixture"],
)
def test_a_temperature_range_gives_each_image_the_noise_of_its_own_fixed_temperature(flow, images, kwargs):
    spread = NAFlowTransform(flow, temperature=(0.5, 2.0), **kwargs)
    params = spread.generate_parameters(images.shape, generator=seeded(3))
    temperatures = params.draws["temperature"]
    assert temperatures.shape == (5,) and float(temperatures.min()) >= 0.5 and float(temperatures.max()) <= 2.0
    assert len(set(temperatures.tolist())) == 5
    assert spread.describe_parameters(params, 2)["temperature"] == float(temperatures[2])
    noisy = spread(images, generator=seeded(4), params=params)
    for row, temperature in enumerate(temperatures.tolist()):
        fixed = NAFlowTransform(flow, temperature=temperature, **kwargs)
        latent = {k: v for k, v in params.draws.items() if k != "temperature"}
        replay = fixed(images, generator=seeded(4), params=dataclasses.replace(params, draws=latent))
        torch.testing.assert_close(noisy[row], replay[row])


def test_a_fixed_temperature_draws_nothing_extra(flow, images):
    params = NAFlowTransform(flow, temperature=1.5).generate_parameters(images.shape, generator=seeded(3))
    assert set(params.draws) == {"config"}


def test_autocast_and_no_grad_graph(flow, images):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = NAFlowTransform(flow)(images.clone().requires_grad_(), generator=seeded())
    assert y.dtype == torch.float32 and not y.requires_grad and bool(torch.isfinite(y).all())


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(mode="sometimes"), ValueError, "mode must be one of"),
        (dict(mode="reference"), ValueError, "reference=.noisy, clean. is required"),
        (dict(configurations=["nikon"]), ValueError, r"configurations: unknown \['nikon'\]"),
        (dict(configurations="cam-a-iso100"), TypeError, "configurations must be a sequence of names"),
        (dict(mode="configuration", configurations=CONFIGS[:2]), ValueError, "takes one name"),
        (dict(mixture=1), TypeError, "mixture must be a bool"),
        (dict(temperature=-1.0), ValueError, "temperature must be a finite number >= 0"),
        (dict(temperature=(-0.5, 1.0)), ValueError, "temperature values must be >= 0"),
        (dict(temperature=(2.0, 1.0)), ValueError, "temperature must be finite with low <= high"),
        (dict(temperature="hot"), TypeError, "temperature must be"),
    ],
)
def test_constructor_errors(flow, kwargs, error, match):
    with pytest.raises(error, match=match):
        NAFlowTransform(flow, **kwargs)


def test_call_errors(flow, images):
    with pytest.raises(TypeError, match="must be an NAFlow"):
        NAFlowTransform(torch.nn.Identity())
    with pytest.raises(ValueError, match="only used with mode='configuration'"):
        NAFlowTransform(flow)(images, NoiseCondition(config=torch.zeros(5, dtype=torch.long)))
    with pytest.raises(ValueError, match="channels"):
        NAFlowTransform(flow)(torch.rand(2, 4, 8, 8))


def test_from_pretrained_wraps_a_saved_flow(tmp_path, flow, images):
    save_pretrained(flow, tmp_path / "naflow")
    loaded = NAFlowTransform.from_pretrained(tmp_path / "naflow", p=0.5, mixture=True)
    assert isinstance(loaded.model, NAFlow) and loaded.p == 0.5 and "mixture=True" in repr(loaded)
    original = NAFlowTransform(flow, p=0.5, mixture=True)
    assert torch.equal(loaded(images, generator=seeded()), original(images, generator=seeded()))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_seeded_and_half(flow, images):
    t = NAFlowTransform(flow).cuda()
    x = images.cuda().half()
    a = t(x, generator=torch.Generator("cuda").manual_seed(0))
    assert (
        a.dtype == torch.float16
        and a.is_cuda
        and torch.equal(a, t(x, generator=torch.Generator("cuda").manual_seed(0)))
    )


def test_tone_shift_adds_the_tone_curves_term_to_the_same_draw(flow, images):
    from noiseaug.noise.tone_curve import tone_curve_shift

    plain = NAFlowTransform(flow, clip=False)(images, generator=seeded(5))
    toned = NAFlowTransform(flow, clip=False, tone_shift=0.4)(images, generator=seeded(5))
    torch.testing.assert_close(toned, images + tone_curve_shift(images, plain - images, 0.4))
    assert float((toned - images).mean()) < float((plain - images).mean())  # darker on average
    torch.testing.assert_close(NAFlowTransform(flow, tone_shift=0.0)(images, generator=seeded(5)), plain.clamp(0, 1))
    with pytest.raises(ValueError, match="tone_shift must be"):
        NAFlowTransform(flow, tone_shift=-0.1)
