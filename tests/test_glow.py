"""Glow prior: log-det and log_prob against autograd, density conventions, sampling, hub round trip, input errors."""

import math

import pytest
import torch
from flow_helpers import trained_looking

from noiseaug import Glow, load_pretrained
from noiseaug.flows.glow import GaussianSplit, dequantize


def small_glow(seed=0, **kwargs):
    return trained_looking(Glow, seed=seed, **{"levels": 2, "depth": 2, "hidden": 8, "image_size": 8, **kwargs})


@pytest.mark.parametrize("levels", [1, 2])
def test_logdet_and_log_prob_match_autograd_jacobian(gen, levels):
    glow = small_glow(levels=levels, image_size=4).double()
    x = torch.rand(1, 3, 4, 4, generator=gen, dtype=torch.float64)
    jacobian = torch.autograd.functional.jacobian(lambda v: glow(v.view(1, 3, 4, 4))[0].flatten(), x.flatten())
    eps, logdet = glow(x)
    expected = torch.linalg.slogdet(jacobian)[1]
    torch.testing.assert_close(logdet[0], expected, atol=1e-8, rtol=1e-8)
    log_normal = -0.5 * (eps.square().sum() + 48 * math.log(2 * math.pi))
    torch.testing.assert_close(glow.log_prob(x)[0], log_normal + expected, atol=1e-8, rtol=1e-8)
    torch.testing.assert_close(glow.nll_per_dim(x)[0], -(log_normal + expected) / 48, atol=1e-9, rtol=1e-8)


def test_gaussian_split_passes_the_kept_half_and_starts_as_a_standard_normal(gen):
    layer = GaussianSplit(6).double()
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    x = torch.randn(2, 6, 3, 3, generator=gen, dtype=torch.float64)
    torch.testing.assert_close(layer(x)[0][:, :3], x[:, :3], atol=0, rtol=0)  # the kept half passes through
    fresh = GaussianSplit(6)  # zero-initialised: the identity, i.e. a standard normal prior
    torch.testing.assert_close(fresh(x.float())[0], x.float())


def test_an_untrained_glow_standardises_its_first_batch():
    glow = Glow(levels=2, depth=1, hidden=8, image_size=8).train()
    x = torch.rand(16, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        glow(x)  # ActNorm data-dependent initialisation
        eps, _ = glow.eval()(x)
    assert 0.5 < float(eps.std()) < 2 and abs(float(eps.mean())) < 0.5


def test_bits_per_dim_convention():
    glow = small_glow()
    images = torch.randint(0, 256, (2, 3, 8, 8), generator=torch.Generator().manual_seed(0)) / 255.0
    y = dequantize(images, torch.Generator().manual_seed(7))
    assert torch.equal((y * 256).floor(), (images * 255).round())  # each value stays in its own bin
    expected = (-glow.log_prob(y) + 192 * math.log(256)) / (192 * math.log(2))
    torch.testing.assert_close(glow.bits_per_dim(images, torch.Generator().manual_seed(7)), expected)
    torch.testing.assert_close(glow.bits_per_dim(y, dequantize_images=False), expected)


def test_sampling_shapes_temperature_and_generator():
    glow = small_glow()
    assert glow.sample(3).shape == (3, 3, 8, 8)
    assert glow.sample(1, size=(16, 8)).shape == (1, 3, 16, 8)
    a, b = (glow.sample(2, 1.0, torch.Generator().manual_seed(s)) for s in (1, 1))
    assert torch.equal(a, b) and not torch.equal(a, glow.sample(2, 1.0, torch.Generator().manual_seed(2)))
    cold = [glow.sample(2, 0.0, torch.Generator().manual_seed(s)) for s in (1, 2)]
    assert torch.equal(cold[0], cold[1])
    torch.testing.assert_close(cold[0], glow.inverse(torch.zeros(2, 3, 8, 8)))
    warm = glow.sample(64, 1.0, torch.Generator().manual_seed(3))
    cool = glow.sample(64, 0.5, torch.Generator().manual_seed(3))
    assert float((cool - cold[0][:1]).std()) < float((warm - cold[0][:1]).std())
    with pytest.raises(ValueError, match="temperature"):
        glow.sample(1, -1.0)
    with pytest.raises(ValueError, match="size"):
        glow.sample(1, size=6)
    with pytest.raises(ValueError, match="n must"):
        glow.sample(0)


def test_hub_round_trip_through_safetensors(tmp_path):
    glow = small_glow(seed=3)
    glow.save_pretrained(tmp_path / "prior")
    assert (tmp_path / "prior" / "model.safetensors").is_file()
    loaded = Glow.from_pretrained(tmp_path / "prior")
    assert loaded.config == glow.config and loaded.config["model_type"] == "glow"
    assert isinstance(load_pretrained(tmp_path / "prior"), Glow)
    x = torch.rand(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(loaded.log_prob(x), glow.log_prob(x), atol=0, rtol=0)
    torch.testing.assert_close(
        loaded.sample(2, 0.7, torch.Generator().manual_seed(1)),
        glow.sample(2, 0.7, torch.Generator().manual_seed(1)),
        atol=0,
        rtol=0,
    )
    assert all(bool(m.initialized) for m in loaded.modules() if hasattr(m, "initialized"))


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="levels"):
        Glow(levels=0)
    with pytest.raises(TypeError, match="hidden"):
        Glow(hidden=8.0)
    with pytest.raises(ValueError, match="image_size"):
        Glow(levels=3, image_size=12)
    glow = small_glow()
    with pytest.raises(ValueError, match="x: Glow with 2 levels"):
        glow.log_prob(torch.rand(1, 3, 6, 8))
    with pytest.raises(ValueError, match="x must have 3 channels"):
        glow.log_prob(torch.rand(1, 4, 8, 8))
    with pytest.raises(ValueError, match="x contains NaN"):
        glow.log_prob(torch.full((1, 3, 8, 8), float("nan")))
    with pytest.raises(ValueError, match=r"images values must lie in \[0, 1\]"):
        glow.bits_per_dim(torch.full((1, 3, 8, 8), 2.0))
