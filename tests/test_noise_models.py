"""Parametric noise models: likelihoods against independent formulas, sample statistics, fits, determinism."""

import math

import pytest
import torch
from torch.distributions import Normal

from noiseaug.noise import GaussianNoise, HeteroscedasticGaussianNoise, PoissonGaussianNoise

SHAPE = (2, 3, 24, 20)


def _pair(gen, model, shape=SHAPE):
    clean = torch.rand(shape, generator=gen, dtype=torch.float64)
    return model.sample(clean, generator=gen), clean


def test_awgn_nll_matches_normal_density(gen):
    sigma = torch.tensor([0.05, 0.2], dtype=torch.float64)
    noisy, clean = _pair(gen, GaussianNoise(sigma))
    expected = -Normal(0.0, sigma.view(-1, 1, 1, 1)).log_prob(noisy - clean).flatten(1).mean(1)
    torch.testing.assert_close(GaussianNoise(sigma).nll(noisy, clean), expected)
    # closed form by hand for one pixel-free check: NLL/dim of AWGN at its own variance ~ 0.5*log(2*pi*e*sigma^2)
    big_noisy, big_clean = _pair(gen, GaussianNoise(0.1), shape=(1, 3, 256, 256))
    assert GaussianNoise(0.1).nll(big_noisy, big_clean).item() == pytest.approx(
        0.5 * math.log(2 * math.pi * math.e * 0.01), abs=0.01
    )


def test_nlf_nll_matches_normal_density(gen):
    model = HeteroscedasticGaussianNoise(beta1=torch.tensor([1e-2, 2e-3]), beta2=torch.tensor([1e-4, 5e-4]))
    noisy, clean = _pair(gen, model)
    std = (model.beta1.double().view(-1, 1, 1, 1) * clean + model.beta2.double().view(-1, 1, 1, 1)).sqrt()
    expected = -Normal(0.0, std).log_prob(noisy - clean).flatten(1).mean(1)
    torch.testing.assert_close(model.nll(noisy, clean), expected)


def test_poisson_gaussian_approximate_nll_is_the_nlf_with_mapped_parameters(gen):
    pg = PoissonGaussianNoise(gain=0.01, read_sigma=0.02)
    noisy, clean = _pair(gen, pg)
    nlf = HeteroscedasticGaussianNoise(beta1=0.01, beta2=0.02**2)
    torch.testing.assert_close(pg.nll(noisy, clean), nlf.nll(noisy, clean))


def _brute_force_poisson_gaussian_log_prob(y, x, gain, read):
    """log sum_{k=0}^{2000} Pois(k; x/gain) N(y; gain*k, read^2), term by term in Python floats."""
    lam = x / gain
    terms = []
    for k in range(2000):
        log_pois = (k * math.log(lam) if lam > 0 else (0.0 if k == 0 else -math.inf)) - lam - math.lgamma(k + 1)
        log_norm = -0.5 * math.log(2 * math.pi * read**2) - (y - gain * k) ** 2 / (2 * read**2)
        terms.append(log_pois + log_norm)
    top = max(terms)
    return top + math.log(sum(math.exp(t - top) for t in terms))


@pytest.mark.parametrize("gain, read", [(0.01, 0.002), (0.002, 0.01), (0.05, 0.05)])
def test_poisson_gaussian_exact_nll_matches_brute_force_sum(gen, gain, read):
    clean = torch.tensor([0.0, 0.003, 0.2, 0.5, 0.97], dtype=torch.float64).view(1, 1, 1, 5)
    model = PoissonGaussianNoise(gain, read, exact_likelihood=True)
    noisy = model.sample(clean, generator=gen)
    noisy[0, 0, 0, 4] += 0.1  # an outlier well away from the mean
    expected = sum(
        _brute_force_poisson_gaussian_log_prob(float(y), float(x), gain, read)
        for y, x in zip(noisy.flatten(), clean.flatten(), strict=True)
    )
    assert model.log_prob(noisy, clean).item() == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_exact_and_approximate_poisson_gaussian_agree_when_counts_are_large(gen):
    clean = 0.3 + 0.4 * torch.rand(1, 1, 32, 32, generator=gen, dtype=torch.float64)
    approx = PoissonGaussianNoise(1e-3, 5e-3)
    exact = PoissonGaussianNoise(1e-3, 5e-3, exact_likelihood=True)
    noisy = approx.sample(clean, generator=gen)
    assert (approx.nll(noisy, clean) - exact.nll(noisy, clean)).abs().item() < 2e-3


@pytest.mark.parametrize(
    "model, expected_var",
    [
        (GaussianNoise(0.08), lambda x: torch.full_like(x, 0.08**2)),
        (HeteroscedasticGaussianNoise(0.01, 4e-4), lambda x: 0.01 * x + 4e-4),
        (PoissonGaussianNoise(0.01, 0.02), lambda x: 0.01 * x + 0.02**2),
    ],
)
def test_sample_mean_and_variance_per_intensity(gen, model, expected_var):
    levels = torch.tensor([0.05, 0.3, 0.8], dtype=torch.float64)
    clean = levels.view(3, 1, 1, 1).expand(3, 1, 200, 200).contiguous()
    residual = (model.sample(clean, generator=gen) - clean).flatten(1)
    n = residual.shape[1]
    var = expected_var(levels)
    assert (residual.mean(1).abs() < 5 * (var / n).sqrt()).all()
    torch.testing.assert_close(residual.var(1), var, rtol=0.03, atol=0)


def test_poisson_gaussian_sample_is_discrete_photon_counts_without_read_noise(gen):
    clean = torch.full((1, 1, 64, 64), 0.25, dtype=torch.float64)
    noisy = PoissonGaussianNoise(gain=0.01, read_sigma=0.0).sample(clean, generator=gen)
    counts = noisy / 0.01
    torch.testing.assert_close(counts, counts.round())
    assert counts.mean().item() == pytest.approx(25, rel=0.03)


def test_per_sample_parameters_apply_to_their_own_images(gen):
    clean = torch.full((3, 3, 128, 128), 0.5)
    sigma = torch.tensor([0.01, 0.05, 0.1])
    std = (GaussianNoise(sigma).sample(clean, generator=gen) - clean).flatten(1).std(1)
    torch.testing.assert_close(std, sigma, rtol=0.02, atol=0)


def test_parameter_batch_must_match_images(gen):
    with pytest.raises(ValueError, match="sigma has 2 per-sample values but the batch has 3"):
        GaussianNoise(torch.tensor([0.1, 0.2])).sample(torch.rand(3, 3, 8, 8), generator=gen)


def _fit_data(gen, model, shape=(2, 3, 256, 256)):
    clean = torch.rand(shape, generator=gen, dtype=torch.float64)
    return model.sample(clean, generator=gen), clean


def test_awgn_fit_recovers_sigma(gen):
    sigma = torch.tensor([0.02, 0.1], dtype=torch.float64)
    fitted = GaussianNoise.fit(*_fit_data(gen, GaussianNoise(sigma)))
    torch.testing.assert_close(fitted.sigma, sigma, rtol=0.02, atol=0)
    pooled = GaussianNoise.fit(*_fit_data(gen, GaussianNoise(0.05)), per_sample=False)
    assert pooled.sigma.shape == () and pooled.sigma.item() == pytest.approx(0.05, rel=0.02)


def test_nlf_fit_recovers_both_coefficients(gen):
    # beta2 is identified by the darker pixels only: its standard error here is about 0.7 %
    beta1, beta2 = torch.tensor([4e-3, 1e-2], dtype=torch.float64), torch.tensor([5e-4, 1e-3], dtype=torch.float64)
    data = _fit_data(gen, HeteroscedasticGaussianNoise(beta1, beta2), shape=(2, 3, 512, 512))
    fitted = HeteroscedasticGaussianNoise.fit(*data)
    torch.testing.assert_close(fitted.beta1, beta1, rtol=0.02, atol=0)
    torch.testing.assert_close(fitted.beta2, beta2, rtol=0.02, atol=0)


def test_nlf_fit_of_homoscedastic_noise_gives_zero_slope_and_awgn_variance(gen):
    noisy, clean = _fit_data(gen, GaussianNoise(0.03), shape=(1, 3, 128, 128))
    fitted = HeteroscedasticGaussianNoise.fit(noisy, clean)
    assert fitted.beta1.item() < 1e-4
    assert fitted.beta2.item() == pytest.approx(0.03**2, rel=0.03)
    assert fitted.nll(noisy, clean).item() <= GaussianNoise.fit(noisy, clean).nll(noisy, clean).item() + 1e-9


def test_nlf_fit_never_worse_than_awgn_fit_on_clipped_dark_data(gen):
    # dark, clipped data (values pile up at 0) is where unguarded reweighting oscillates
    clean = 0.1 * torch.rand(1, 3, 96, 96, generator=gen, dtype=torch.float64) ** 3
    noisy = PoissonGaussianNoise(0.002, 0.003).sample(clean, generator=gen, clip=True)
    nlf = HeteroscedasticGaussianNoise.fit(noisy, clean)
    assert nlf.nll(noisy, clean).item() < GaussianNoise.fit(noisy, clean).nll(noisy, clean).item()


def test_poisson_gaussian_fit_recovers_gain_and_read_noise(gen):
    gain, read = torch.tensor([0.01, 0.003], dtype=torch.float64), torch.tensor([0.01, 0.02], dtype=torch.float64)
    fitted = PoissonGaussianNoise.fit(*_fit_data(gen, PoissonGaussianNoise(gain, read)))
    torch.testing.assert_close(fitted.gain, gain, rtol=0.02, atol=0)
    torch.testing.assert_close(fitted.read_sigma, read, rtol=0.02, atol=0)


@pytest.mark.parametrize(
    "model", [GaussianNoise(0.1), HeteroscedasticGaussianNoise(0.01, 1e-4), PoissonGaussianNoise(0.01, 0.01)]
)
def test_seeded_sampling_is_bit_identical_and_seed_dependent(model):
    clean = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    a = model.sample(clean, generator=torch.Generator().manual_seed(7))
    b = model.sample(clean, generator=torch.Generator().manual_seed(7))
    c = model.sample(clean, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize(
    "model", [GaussianNoise(0.1), HeteroscedasticGaussianNoise(0.01, 1e-4), PoissonGaussianNoise(0.01, 0.01)]
)
def test_dtype_and_unbatched_shape_are_kept(gen, model, dtype):
    clean = torch.rand(3, 16, 16, generator=gen).to(dtype)
    noisy = model.sample(clean, generator=gen, clip=True)
    assert noisy.shape == clean.shape and noisy.dtype == dtype
    assert 0 <= noisy.min() and noisy.max() <= 1
    nll = model.nll(noisy, clean)
    assert nll.shape == () and torch.isfinite(nll)


def test_parameters_are_buffers_that_save_load_and_move_with_the_model():
    model = HeteroscedasticGaussianNoise(torch.tensor([1e-3, 2e-3]), torch.tensor([1e-4, 3e-4]))
    copy = HeteroscedasticGaussianNoise(torch.zeros(2), torch.zeros(2))
    copy.load_state_dict(model.state_dict())
    assert set(model.state_dict()) == {"beta1", "beta2"}
    assert torch.equal(copy.beta2, model.beta2)
    assert model.to(torch.float64).beta1.dtype == torch.float64


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: GaussianNoise(-0.1), ValueError, "sigma must be >= 0"),
        (lambda: GaussianNoise(float("nan")), ValueError, "sigma must be finite"),
        (lambda: GaussianNoise("0.1"), TypeError, "sigma must be a float"),
        (lambda: GaussianNoise(torch.ones(2, 2)), ValueError, r"shape \(B,\)"),
        (lambda: PoissonGaussianNoise(0.0, 0.1), ValueError, "gain must be > 0"),
        (lambda: HeteroscedasticGaussianNoise(0.1, -1e-3), ValueError, "beta2 must be >= 0"),
    ],
)
def test_invalid_parameters_raise_named_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize(
    "clean, error, match",
    [
        (torch.zeros(2, 3, 8, 8, dtype=torch.uint8), TypeError, r"x.float\(\) / 255"),
        (torch.zeros(8, 8), ValueError, r"\(B, C, H, W\) or \(C, H, W\)"),
        (torch.full((1, 3, 8, 8), 1.5), ValueError, r"must lie in \[0, 1\]"),
        (torch.full((1, 3, 8, 8), float("nan")), ValueError, "NaN or Inf"),
        ([[0.5]], TypeError, "must be a torch.Tensor"),
    ],
)
def test_invalid_images_raise_named_errors(clean, error, match):
    with pytest.raises(error, match=match):
        GaussianNoise(0.1).sample(clean)


def test_noisy_and_clean_shapes_must_match():
    with pytest.raises(ValueError, match="noisy and clean must have the same shape"):
        GaussianNoise(0.1).nll(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))


def test_generator_on_another_device_type_is_rejected():
    meta_like = torch.Generator(device="cpu")
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        GaussianNoise(0.1).sample(torch.rand(1, 3, 4, 4), generator=meta_like.manual_seed)


@pytest.mark.parametrize(
    "temperature, error",
    [(-0.5, ValueError), (float("inf"), ValueError), (float("nan"), ValueError), (True, TypeError), ("1", TypeError)],
)
def test_invalid_temperature_is_a_named_error(temperature, error):
    with pytest.raises(error, match="temperature must be a finite number >= 0"):
        GaussianNoise(0.1).sample(torch.rand(1, 3, 4, 4), temperature=temperature)


def test_temperature_zero_gives_the_mean_and_scales_the_deviation():
    clean = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    assert torch.equal(GaussianNoise(0.1).sample(clean, temperature=0.0), clean)
    full = GaussianNoise(0.1).sample(clean, generator=torch.Generator().manual_seed(1)) - clean
    half = GaussianNoise(0.1).sample(clean, generator=torch.Generator().manual_seed(1), temperature=0.5) - clean
    torch.testing.assert_close(half, 0.5 * full)
