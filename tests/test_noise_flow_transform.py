"""NoiseFlowTransform: packed raw and mosaics, dtypes, determinism, row selection, conditioning, loading."""

import pytest
import torch
from flow_helpers import trained_looking_flow

from noiseaug import NoiseCondition
from noiseaug.data.bayer import pack_bayer, unpack_bayer
from noiseaug.flows.noise_flow import NoiseFlow
from noiseaug.hub import save_pretrained
from noiseaug.transforms import NoiseFlowTransform

CAMERAS, ISOS = ["cam-a", "cam-b", "cam-c"], [100, 400, 800, 3200]


def _flow(seed=0):
    return trained_looking_flow(CAMERAS, ISOS, seed, hidden=4, steps=1)


class Spy:
    """Wraps a model's ``_sample`` and records the rows and conditions that reach it."""

    def __init__(self, model):
        self.calls, self._inner = [], model._sample
        model._sample = self

    def __call__(self, clean, cond, generator, temperature=1.0):
        self.calls.append((clean.clone(), cond, clean.dtype))
        return self._inner(clean, cond, generator, temperature)

    def isos(self):
        return torch.cat([c.iso for _, c, _ in self.calls]).tolist()

    def cameras(self):
        return torch.cat([c.camera for _, c, _ in self.calls]).tolist()


@pytest.fixture(scope="module")
def flow():
    return _flow()


@pytest.fixture
def packed():
    return torch.rand(6, 4, 8, 8, generator=torch.Generator().manual_seed(0)) * 0.8 + 0.1


def seeded(seed=1):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("layout", ["packed", "mosaic"])
def test_shape_dtype_range_are_kept_and_input_untouched(flow, packed, dtype, layout):
    x = (packed if layout == "packed" else unpack_bayer(packed)).to(dtype)
    before = x.clone()
    y = NoiseFlowTransform(flow)(x, generator=seeded())
    assert y.shape == x.shape and y.dtype == dtype and y.device == x.device
    assert 0 <= y.min() and y.max() <= 1 and not torch.equal(y, x)
    assert torch.equal(x, before)
    assert NoiseFlowTransform(flow)(x[0], generator=seeded()).shape == x[0].shape  # unbatched


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_runs_the_flow_in_float32_and_casts_back(packed, dtype):
    x = packed.to(dtype)
    spy = Spy(model := _flow())
    y = NoiseFlowTransform(model)(x, generator=seeded())
    assert spy.calls[0][2] == torch.float32
    assert torch.equal(y, NoiseFlowTransform(model)(x.float(), generator=seeded()).to(dtype))


def test_float64_images_get_float32_noise_on_their_exact_values(flow, packed):
    x = packed.double()
    y64 = NoiseFlowTransform(flow, clip=False)(x, generator=seeded())
    y32 = NoiseFlowTransform(flow, clip=False)(x.float(), generator=seeded())
    torch.testing.assert_close(y64, y32.double(), rtol=0, atol=1e-6)


def test_autocast_does_not_reach_the_flow(flow, packed):
    t = NoiseFlowTransform(flow)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = t(packed, generator=seeded())
    assert y.dtype == torch.float32 and torch.equal(y, t(packed, generator=seeded()))


def test_half_precision_module_is_rejected(packed):
    t = NoiseFlowTransform(_flow()).half()
    with pytest.raises(TypeError, match="float32 or float64.*torch.float16"):
        t(packed)


def test_double_module_computes_in_float64(packed):
    spy = Spy(model := _flow())
    y = NoiseFlowTransform(model).double()(packed.double(), generator=seeded())
    assert spy.calls[0][2] == torch.float64 and y.dtype == torch.float64


def test_seeded_calls_are_bit_identical(flow, packed):
    t = NoiseFlowTransform(flow, p=0.5)
    a, b, c = (t(packed, generator=seeded(s)) for s in (3, 3, 4))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("p", [1.0, 0.5])
def test_mosaic_equals_pack_then_packed_path_then_unpack(flow, packed, p):
    mosaic = unpack_bayer(packed, "GRBG")
    t = NoiseFlowTransform(flow, p=p, pattern="GRBG")
    via_packed = unpack_bayer(t(pack_bayer(mosaic, "GRBG"), generator=seeded(7)), "GRBG")
    assert torch.equal(t(mosaic, generator=seeded(7)), via_packed)


def test_only_selected_rows_reach_the_flow(packed):
    spy = Spy(model := _flow())
    x = packed.repeat(4, 1, 1, 1)  # 24 rows
    y = NoiseFlowTransform(model, p=0.4)(x, generator=seeded(2))
    changed = (y != x).flatten(1).any(1)
    assert len(spy.calls) == 1 and 0 < int(changed.sum()) < len(x)
    assert torch.equal(spy.calls[0][0], x[changed])  # exactly the changed rows, in order
    assert len(spy.calls[0][1]) == int(changed.sum())
    assert torch.equal(y[~changed], x[~changed])


def test_given_cond_is_used_as_is(flow, packed):
    cond = NoiseCondition(iso=torch.tensor([100.0, 400, 800, 3200, 100, 400]), camera=torch.tensor([0, 1, 2, 0, 1, 2]))
    t = NoiseFlowTransform(flow, isos=[800], cameras=["cam-a"], temperature=0.7)
    expected = flow.sample(packed, cond, seeded(5), temperature=0.7, clip=True)
    assert torch.equal(t(packed, cond, generator=seeded(5)), expected)


def test_missing_cond_fields_are_drawn(packed):
    spy = Spy(model := _flow())
    camera = torch.tensor([2, 2, 0, 0, 1, 1])
    NoiseFlowTransform(model, isos=[400])(packed, NoiseCondition(camera=camera), generator=seeded())
    assert spy.cameras() == camera.tolist() and spy.isos() == [400.0] * 6


def test_draws_stay_in_the_given_sets_and_cover_them():
    spy = Spy(model := _flow())
    x = torch.rand(64, 4, 2, 2, generator=seeded(0))
    NoiseFlowTransform(model, isos=[400, 3200], cameras=["cam-c", "cam-b"])(x, generator=seeded())
    assert set(spy.isos()) == {400.0, 3200.0} and set(spy.cameras()) == {1, 2}
    NoiseFlowTransform(model)(x, generator=seeded())
    assert set(spy.isos()) == set(map(float, ISOS)) and set(spy.cameras()) == {0, 1, 2}


def test_drawn_conditions_change_the_noise(flow):
    x = torch.full((2, 4, 8, 8), 0.5)
    low = NoiseFlowTransform(flow, isos=[100], clip=False)(x, generator=seeded())
    high = NoiseFlowTransform(flow, isos=[3200], clip=False)(x, generator=seeded())
    assert not torch.equal(low, high)


def test_temperature_zero_ignores_the_seed(flow, packed):
    t = NoiseFlowTransform(flow, isos=[800], cameras=["cam-b"], temperature=0.0)
    assert torch.equal(t(packed, generator=seeded(1)), t(packed, generator=seeded(2)))


def test_no_autograd_graph(flow, packed):
    y = NoiseFlowTransform(flow)(packed.clone().requires_grad_(), generator=seeded())
    assert not y.requires_grad


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (
            dict(isos=[100, 500]),
            ValueError,
            r"isos: unknown ISO \[500\]; the model knows ISO \[100.0, 400.0, 800.0, 3200.0\]",
        ),
        (
            dict(cameras=["cam-a", "nikon"]),
            ValueError,
            r"cameras: unknown \['nikon'\]; the model knows \['cam-a', 'cam-b', 'cam-c'\]",
        ),
        (dict(cameras=[0]), TypeError, "cameras must be a sequence of names"),
        (dict(cameras="cam-a"), TypeError, "cameras must be a sequence of names"),
        (dict(isos=[]), ValueError, "isos must not be empty"),
        (dict(isos=[100, 100.2]), ValueError, "isos must be distinct"),
        (dict(temperature=-0.1), ValueError, "temperature must be a finite number >= 0"),
        (dict(pattern="RGBG"), ValueError, "pattern must be one of"),
        (dict(p=1.5), ValueError, "p must be a probability"),
    ],
)
def test_constructor_errors(flow, kwargs, error, match):
    with pytest.raises(error, match=match):
        NoiseFlowTransform(flow, **kwargs)


def test_call_errors(flow, packed):
    t = NoiseFlowTransform(flow)
    with pytest.raises(TypeError, match="model must be a NoiseFlow"):
        NoiseFlowTransform(torch.nn.Identity())
    with pytest.raises(ValueError, match=r"images must have 1 or 4 channels, got shape \(6, 3, 8, 8\)"):
        t(packed[:, :3])
    with pytest.raises(ValueError, match="needs even H and W"):
        t(torch.rand(2, 1, 8, 7))
    with pytest.raises(ValueError, match=r"unknown ISO \[200.0\]; this model knows ISO"):
        t(packed, NoiseCondition(iso=torch.full((6,), 200.0), camera=torch.zeros(6, dtype=torch.long)))
    with pytest.raises(ValueError, match="cond has 2 entries"):
        t(packed, NoiseCondition(iso=torch.full((2,), 100.0)))


def test_from_pretrained_wraps_a_saved_flow(tmp_path, flow, packed):
    save_pretrained(flow, tmp_path / "flow")
    loaded = NoiseFlowTransform.from_pretrained(tmp_path / "flow", isos=[800, 3200], cameras=["cam-b"], p=0.5)
    assert isinstance(loaded.model, NoiseFlow) and loaded.isos == [800.0, 3200.0] and loaded.p == 0.5
    original = NoiseFlowTransform(flow, isos=[800, 3200], cameras=["cam-b"], p=0.5)
    assert torch.equal(loaded(packed, generator=seeded()), original(packed, generator=seeded()))
    assert "isos=[800.0, 3200.0]" in repr(loaded)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_seeded_and_half(flow, packed):
    t = NoiseFlowTransform(flow).cuda()
    x = packed.cuda().half()
    a = t(x, generator=torch.Generator("cuda").manual_seed(0))
    b = t(x, generator=torch.Generator("cuda").manual_seed(0))
    assert a.dtype == torch.float16 and a.is_cuda and torch.equal(a, b)
