"""The signal-dependent latent Gaussian of NAFlow's fitted-latent mode (noiseaug.flows.latent_fit)."""

import pytest
import torch
from test_naflow_reference import small_flow

from noiseaug.flows.latent_fit import LatentGaussian, fit_latent_gaussian, latent_brightness
from noiseaug.transforms.naflow import NAFlowTransform


def brightness_ramp(batch: int = 2, side: int = 32) -> torch.Tensor:
    """``(B, 1, side, side)`` brightness rising from 0.05 (left) to 0.95 (right)."""
    return torch.linspace(0.05, 0.95, side).expand(batch, 1, side, side).clone()


def test_the_fit_recovers_each_channels_slope_and_mid_grey_std():
    g = torch.Generator().manual_seed(0)
    brightness = brightness_ramp()
    truth = LatentGaussian(
        torch.randn(4, generator=g), torch.tensor([0.5, 1.0, 2.0, 4.0]), torch.tensor([-3.0, -1.0, 0.0, 2.0])
    )
    z = truth.draw(torch.randn(2, 4, 32, 32, generator=g), brightness)
    fit = fit_latent_gaussian(z, brightness)
    torch.testing.assert_close(fit.slope, truth.slope, atol=0.15, rtol=0)
    torch.testing.assert_close(fit.std, truth.std, atol=0, rtol=0.05)
    torch.testing.assert_close(fit.mean, truth.mean, atol=0.2, rtol=0)
    constant = fit_latent_gaussian(z, None)
    assert constant.slope is None
    torch.testing.assert_close(
        constant.std.double(),
        (z - z.mean((0, 2, 3), keepdim=True)).double().square().mean((0, 2, 3)).sqrt().clamp(min=1e-6),
        check_dtype=False,
    )


def test_a_uniform_brightness_gives_no_slope():
    z = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 2
    fit = fit_latent_gaussian(z, torch.full((1, 1, 16, 16), 0.3))
    assert float(fit.slope.abs().max()) < 1e-6 and bool(torch.isfinite(fit.std).all())


def test_draw_needs_the_brightness_only_when_the_std_depends_on_it():
    eps = torch.ones(2, 3, 4, 4)
    flat = LatentGaussian(torch.zeros(3), torch.full((3,), 2.0))
    assert torch.equal(flat.draw(eps, None, temperature=0.5), torch.ones(2, 3, 4, 4))
    sloped = LatentGaussian(torch.zeros(2, 3), torch.ones(2, 3), torch.full((2, 3), 2.0))
    bright = torch.full((2, 1, 4, 4), 1.0)
    torch.testing.assert_close(sloped.draw(eps, bright), torch.full((2, 3, 4, 4), float(torch.tensor(1.0).exp())))
    with pytest.raises(ValueError, match="needs the brightness map"):
        sloped.draw(eps, None)
    assert latent_brightness(torch.ones(1, 3, 8, 8) * 0.25, 4).shape == (1, 1, 2, 2)


def test_the_flow_follows_a_reference_whose_noise_is_louder_in_the_shadows():
    flow = small_flow()
    g = torch.Generator().manual_seed(2)
    side = 64
    clean = torch.linspace(0.05, 0.95, side).expand(2, 3, side, side).clone()
    reference = LatentGaussian(flow.means[2], flow.log_stds[2].exp(), torch.full((flow.latent_channels,), -3.0))
    with torch.no_grad():
        noisy = flow._sample_gaussian(clean, reference, g, 1.0)
    fit = flow.fit_latent(noisy, clean, signal_dependent=True)
    assert float(fit.slope.mean()) < -2.0  # the reference's slope, recovered through the flow

    def dark_over_bright(image):
        noise = image - clean
        return float(noise[..., : side // 4].std() / noise[..., -side // 4 :].std())

    real = dark_over_bright(noisy)
    with torch.no_grad():
        sloped = flow.sample_fitted(clean, noisy, clean, torch.Generator().manual_seed(3), signal_dependent=True)
        flat = flow.sample_fitted(clean, noisy, clean, torch.Generator().manual_seed(3))  # the default: constant
    assert abs(dark_over_bright(sloped) / real - 1) < 0.25
    assert abs(dark_over_bright(sloped) / real - 1) < abs(dark_over_bright(flat) / real - 1)


def test_the_transform_keeps_a_zero_slope_by_default_and_the_fitted_one_when_asked():
    flow = small_flow()
    side = 32
    clean = torch.linspace(0.05, 0.95, side).expand(1, 3, side, side).clone()
    reference = LatentGaussian(flow.means[2], flow.log_stds[2].exp(), torch.full((flow.latent_channels,), -3.0))
    with torch.no_grad():
        noisy = flow._sample_gaussian(clean, reference, torch.Generator().manual_seed(0), 1.0)
    kwargs = dict(mode="reference", reference_method="fitted", reference=(noisy, clean))
    constant = NAFlowTransform(flow, **kwargs)
    assert torch.equal(constant.reference_slope, torch.zeros(flow.latent_channels))
    torch.testing.assert_close(constant.reference_std, flow.fit_latent(noisy, clean).std)
    sloped = NAFlowTransform(flow, signal_dependent=True, **kwargs)
    torch.testing.assert_close(sloped.reference_slope, flow.fit_latent(noisy, clean, signal_dependent=True).slope)
    with pytest.raises(TypeError, match="signal_dependent must be a bool, got int"):
        NAFlowTransform(flow, signal_dependent=1, **kwargs)
