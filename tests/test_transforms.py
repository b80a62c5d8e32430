"""The batched parametric transforms and the base class later transforms inherit."""

import pytest
import torch

from noiseaug import NoiseCondition
from noiseaug.transforms import (
    GaussianNoiseTransform,
    HeteroscedasticNoiseTransform,
    NoiseTransform,
    ParamRange,
    PoissonGaussianNoiseTransform,
)

TRANSFORMS = [GaussianNoiseTransform, HeteroscedasticNoiseTransform, PoissonGaussianNoiseTransform]


@pytest.fixture
def batch():
    return torch.rand(16, 3, 24, 24, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("cls", TRANSFORMS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_shape_dtype_range_are_kept(cls, dtype, batch):
    x = batch.to(dtype)
    y = cls()(x, generator=torch.Generator().manual_seed(1))
    assert y.shape == x.shape and y.dtype == dtype
    assert 0 <= y.min() and y.max() <= 1 and not torch.equal(y, x)
    assert torch.equal(x, batch.to(dtype))  # input untouched


@pytest.mark.parametrize("cls", TRANSFORMS)
def test_unbatched_image_in_unbatched_image_out(cls, batch):
    assert cls()(batch[0]).shape == batch[0].shape


@pytest.mark.parametrize("cls", TRANSFORMS)
def test_seeded_calls_are_bit_identical(cls, batch):
    t = cls(p=0.5)
    a = t(batch, generator=torch.Generator().manual_seed(3))
    b = t(batch, generator=torch.Generator().manual_seed(3))
    c = t(batch, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_clip_off_keeps_values_outside_unit_range(batch):
    y = GaussianNoiseTransform(sigma=0.3, clip=False)(batch, generator=torch.Generator().manual_seed(0))
    assert y.min() < 0 and y.max() > 1


def test_p_selects_whole_images(batch):
    big = torch.rand(400, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    y = GaussianNoiseTransform(sigma=0.1, p=0.25)(big, generator=torch.Generator().manual_seed(1))
    changed = (y != big).flatten(1).any(1)
    assert 0.18 < changed.float().mean().item() < 0.32
    assert torch.equal(y[~changed], big[~changed])
    assert torch.equal(GaussianNoiseTransform(p=0.0)(batch), batch)


def test_per_sample_sigma_is_drawn_from_its_range():
    clean = torch.full((64, 1, 64, 64), 0.5)
    y = GaussianNoiseTransform(sigma=(0.01, 0.05))(clean, generator=torch.Generator().manual_seed(0))
    std = (y - clean).flatten(1).std(1)
    assert std.min() > 0.009 and std.max() < 0.052
    assert std.std() > 0.008  # really per sample, not one value for the batch


def test_fixed_nlf_parameters_give_the_analytic_variance():
    levels = torch.tensor([0.1, 0.5, 0.9]).view(3, 1, 1, 1).expand(3, 1, 128, 128)
    y = HeteroscedasticNoiseTransform(beta1=0.004, beta2=1e-4, clip=False)(
        levels, generator=torch.Generator().manual_seed(0)
    )
    var = (y - levels).flatten(1).var(1)
    torch.testing.assert_close(var, 0.004 * torch.tensor([0.1, 0.5, 0.9]) + 1e-4, rtol=0.05, atol=0)


def test_log_uniform_range_draws_cover_orders_of_magnitude():
    values = ParamRange(1e-4, 1e-2, log=True).draw(10_000, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert values.min() >= 1e-4 and values.max() <= 1e-2
    assert (values < 1e-3).float().mean().item() == pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: GaussianNoiseTransform(sigma=(0.2, 0.1)), ValueError, "low <= high"),
        (lambda: GaussianNoiseTransform(sigma=-0.1), ValueError, "sigma values must be >= 0"),
        (lambda: GaussianNoiseTransform(sigma="big"), TypeError, "sigma must be a float"),
        (lambda: PoissonGaussianNoiseTransform(gain=0.0), ValueError, "gain values must be > 0"),
        (lambda: GaussianNoiseTransform(p=1.5), ValueError, r"p must be a probability in \[0, 1\]"),
        (lambda: GaussianNoiseTransform(clip="yes"), TypeError, "clip must be a bool"),
        (
            lambda: HeteroscedasticNoiseTransform(beta1=ParamRange(0.0, 1e-2, log=True)),
            ValueError,
            "beta1 values must be > 0",
        ),
    ],
)
def test_invalid_configuration_raises_named_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_invalid_calls_raise_named_errors(batch):
    t = GaussianNoiseTransform()
    with pytest.raises(TypeError, match="images must be a floating-point tensor"):
        t((batch * 255).to(torch.uint8))
    with pytest.raises(ValueError, match=r"images values must lie in \[0, 1\]"):
        t(batch * 2)
    with pytest.raises(ValueError, match="cond has 2 entries but the batch has 16 images"):
        t(batch, cond=NoiseCondition(iso=torch.tensor([100.0, 200.0])))


class RowCountingTransform(NoiseTransform):
    """A minimal subclass, as a flow transform would be: counts the rows it is asked to noise."""

    channels = (3,)
    compute_selected_rows_only = True

    def __init__(self, p):
        super().__init__(p=p)
        self.rows_seen = []

    def parameter_spec(self):
        return {"iso": (torch.float32, ())}

    def draw_parameters(self, shape, cond, generator, device):
        self.rows_seen.append((shape[0], None if cond is None else cond.iso.tolist()))
        return {"iso": torch.zeros(shape[0]) if cond is None else cond.iso}

    def add_noise(self, clean, params, generator):
        assert clean.shape[0] == self.rows_seen[-1][0] == params.draws["iso"].shape[0]
        return clean * 0 + 0.25


def test_subclass_computes_only_selected_rows_and_gets_their_condition(batch):
    t = RowCountingTransform(p=0.5)
    cond = NoiseCondition(iso=torch.arange(16, dtype=torch.float32))
    y = t(batch, cond=cond, generator=torch.Generator().manual_seed(0))
    changed = (y == 0.25).flatten(1).all(1)
    ((rows, isos),) = t.rows_seen
    assert rows == int(changed.sum()) < 16
    assert isos == torch.arange(16, dtype=torch.float32)[changed].tolist()
    assert torch.equal(y[~changed], batch[~changed])


def test_subclass_channel_check(batch):
    with pytest.raises(ValueError, match="images must have 3 channels"):
        RowCountingTransform(p=1.0)(batch[:, :1])


def test_transforms_are_modules_that_compose(batch):
    pipeline = torch.nn.Sequential(HeteroscedasticNoiseTransform(p=0.5), GaussianNoiseTransform(sigma=0.01))
    assert pipeline(batch).shape == batch.shape
    assert "sigma=0.01" in repr(pipeline)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_in_place_sampling_equals_the_formula_bit_for_bit(batch, dtype):
    """p == 1: draws in order (parameters, then noise), then clamp(clean + std * z) computed in the noise's memory."""
    x = batch.to(dtype)
    for transform, std in [
        (GaussianNoiseTransform(sigma=(0.0, 0.2)), lambda p: p["sigma"].view(-1, 1, 1, 1).to(dtype).square().sqrt()),
        (
            HeteroscedasticNoiseTransform(),
            lambda p: (p["beta1"].view(-1, 1, 1, 1).to(dtype) * x + p["beta2"].view(-1, 1, 1, 1).to(dtype)).sqrt(),
        ),
    ]:
        g = torch.Generator().manual_seed(5)
        params = transform.draw_params(x.shape[0], g, x.device)
        z = torch.randn(x.shape, generator=g).to(dtype)
        expected = (x + std(params) * z).clamp(0, 1)
        assert torch.equal(transform(x, generator=torch.Generator().manual_seed(5)), expected)


def test_identity_subclass_output_is_clamped_without_touching_the_input():
    class Identity(NoiseTransform):
        def add_noise(self, clean, cond, generator):
            return clean

    x = torch.full((1, 3, 2, 2), 1.00005)  # inside the range tolerance, clamped in the output
    y = Identity()(x)
    assert float(y.max()) == 1.0 and torch.equal(x, torch.full((1, 3, 2, 2), 1.00005))


def test_gradients_reach_the_clean_batch_through_the_in_place_path(batch):
    x = batch.clone().requires_grad_()
    HeteroscedasticNoiseTransform()(x, generator=torch.Generator().manual_seed(0)).sum().backward()
    assert x.grad is not None and 0 < float(x.grad.abs().sum())
