"""Every metric against hand-computed values and its stated convention."""

import math

import pytest
import torch

from noiseaug.metrics import akld, histogram_kl, marginal_kl, nll_per_dim, noise_histogram, psnr, ssim
from noiseaug.noise import GaussianNoise


def test_histogram_kl_of_two_known_histograms():
    p = torch.tensor([[2.0, 1.0, 1.0, 0.0]])
    q = torch.tensor([[1.0, 2.0, 0.0, 1.0]])
    # normalised p = [.5, .25, .25, 0], q = [.25, .5, 0, .25]; bins where both > 0: the first two
    expected = 0.5 * math.log(0.5 / 0.25) + 0.25 * math.log(0.25 / 0.5)
    assert histogram_kl(p, q).item() == pytest.approx(expected)
    assert histogram_kl(p, p).item() == 0


def test_noiseflow_convention_bins_and_overflow():
    # range [-0.1, 0.1], 64 bins of width 0.2/64, plus an underflow and an overflow bin
    width = 0.2 / 64
    values = torch.tensor([[-0.5, -0.1, -0.1 + 0.5 * width, 0.0, 0.1, 0.3]], dtype=torch.float64)
    counts = noise_histogram(values, (-0.1, 0.1), 64, overflow_bins=True)[0]
    assert counts.shape == (66,)
    assert counts[0] == 1 and counts[-1] == 1  # under- and overflow
    assert counts[1] == 2  # -0.1 and the value inside the first bin
    assert counts[33] == 1  # 0.0 opens the 33rd bin
    assert counts[64] == 1  # the right edge 0.1 belongs to the last bin
    assert noise_histogram(values, (-0.1, 0.1), 64, overflow_bins=False).sum() == 4


def test_overflow_bins_count_in_noiseflow_convention_but_not_in_naflow():
    real = torch.tensor([[0.0, 0.0, 0.5, 0.5]])  # half of the mass outside [-0.1, 0.1]
    model = torch.tensor([[0.0, 0.0, 0.0, 0.5]])
    kl_raw = marginal_kl(real, model, "noiseflow")
    assert kl_raw.item() == pytest.approx(0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25))
    # NAFlow convention: [-1, 1] with 256 bins; 0.0 and 0.5 fall in separate bins
    assert marginal_kl(real, model, "naflow").item() == pytest.approx(kl_raw.item())
    # dropping overflow, the model's in-range mass equals the real one
    assert marginal_kl(real, model, value_range=(-0.1, 0.1), bins=64, overflow_bins=False).item() == 0


def test_marginal_kl_reductions_and_gaussian_scale():
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(3, 1, 64, 64, generator=gen) * 0.02
    same = torch.randn(3, 1, 64, 64, generator=gen) * 0.02
    wider = torch.randn(3, 1, 64, 64, generator=gen) * 0.04
    per_image = marginal_kl(real, wider, reduction="none")
    assert per_image.shape == (3,)
    assert marginal_kl(real, wider).item() == pytest.approx(per_image.mean().item())
    # KL(N(0, s) || N(0, 2s)) = log 2 + 1/8 - 1/2 = 0.318; histograms approximate it
    assert marginal_kl(real, wider, reduction="pooled").item() == pytest.approx(math.log(2) + 1 / 8 - 0.5, abs=0.03)
    assert marginal_kl(real, same, reduction="pooled").item() < 0.01


def test_marginal_kl_rejects_bad_arguments():
    with pytest.raises(ValueError, match="convention must be one of"):
        marginal_kl(torch.zeros(1, 4), torch.zeros(1, 4), "sidd")
    with pytest.raises(ValueError, match="same batch size"):
        marginal_kl(torch.zeros(2, 4), torch.zeros(1, 4))
    with pytest.raises(TypeError, match="floating-point"):
        marginal_kl(torch.zeros(1, 4, dtype=torch.long), torch.zeros(1, 4))


def test_akld_is_zero_for_identical_noise_and_exact_for_scaled_noise():
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(2, 3, 32, 32, generator=gen) * 0.05
    assert akld(real, real).item() == 0
    # model = 1.5 * real: every local variance ratio is exactly 2.25
    r = 2.25
    assert akld(real, 1.5 * real).item() == pytest.approx(0.5 * (r - 1 - math.log(r)), rel=1e-5)
    # ratios are clamped to [0.1, 10]: 100x the variance counts as 10x
    assert akld(real, 10 * real).item() == pytest.approx(0.5 * (10 - 1 - math.log(10)), rel=1e-5)


def test_akld_window_is_local():
    # noise differing only in the left half: pixels more than 3 columns right of the edge have ratio 1
    gen = torch.Generator().manual_seed(1)
    real = torch.randn(1, 1, 16, 32, generator=gen)
    model = real.clone()
    model[..., :16] *= 2
    per_pixel_right = akld(real[..., 20:], model[..., 20:])
    assert per_pixel_right.item() == 0
    assert akld(real, model).item() > 0


def test_nll_per_dim_is_awgn_closed_form():
    gen = torch.Generator().manual_seed(0)
    clean = torch.rand(2, 3, 8, 8, generator=gen, dtype=torch.float64)
    noisy = clean + 0.1 * torch.randn(clean.shape, generator=gen, dtype=torch.float64)
    r2 = (noisy - clean).square().flatten(1).mean(1)
    expected = 0.5 * math.log(2 * math.pi * 0.01) + r2 / (2 * 0.01)
    torch.testing.assert_close(nll_per_dim(GaussianNoise(0.1), noisy, clean), expected)


def test_psnr_and_ssim_per_image():
    clean = torch.full((2, 3, 32, 32), 0.5)
    shifted = clean + torch.tensor([0.1, 0.01]).view(2, 1, 1, 1)
    torch.testing.assert_close(psnr(shifted, clean), torch.tensor([20.0, 40.0]), rtol=1e-4, atol=1e-3)
    assert ssim(clean, clean).tolist() == pytest.approx([1.0, 1.0])
    noisy = (clean + 0.2 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    assert (ssim(noisy, clean) < 0.5).all()
