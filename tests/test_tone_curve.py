"""The tone curve's second-order term: its formula, the slope estimator that recovers it, and their errors."""

import pytest
import torch

from noiseaug.errors import NoiseaugInputError
from noiseaug.noise.tone_curve import TONE_FLOOR, tone_curve_shift, tone_slope


def _crops(seed=0, n=512):
    g = torch.Generator().manual_seed(seed)
    clean = torch.rand(n, 3, 16, 16, generator=g) * 0.8 + 0.1
    sigma = torch.rand(n, 1, 1, 1, generator=g) * 0.1 + 0.01  # crops of different strengths
    return clean, torch.randn(clean.shape, generator=g) * sigma


def test_the_shift_is_the_second_order_term_of_a_power_law_tone_curve():
    """For s = x ** (1 / 2.2), pushing linear noise through the curve gives s + n - 0.6 n ** 2 / s to second order."""
    gamma, s = 2.2, torch.linspace(0.2, 0.9, 8, dtype=torch.float64)
    x = s**gamma
    delta = 1e-3 * torch.linspace(-1, 1, 8, dtype=torch.float64)  # small linear-domain noise
    n = delta * x ** (1 / gamma - 1) / gamma  # its first-order sRGB noise, f'(x) delta
    through_the_curve = (x + delta) ** (1 / gamma) - s
    first_order_error = float((through_the_curve - n).abs().max())
    second_order_error = float((through_the_curve - tone_curve_shift(s, n, (gamma - 1) / 2)).abs().max())
    assert second_order_error < first_order_error / 20  # what remains is third order


def test_zero_coefficient_returns_the_noise_and_dark_pixels_use_the_floor():
    clean, noise = _crops()
    assert tone_curve_shift(clean, noise, 0.0) is noise
    black = torch.zeros(3)
    shifted = tone_curve_shift(black, torch.full((3,), 0.1), 0.5)
    torch.testing.assert_close(shifted, torch.full((3,), 0.1 - 0.5 * 0.01 / TONE_FLOOR))


def test_tone_slope_recovers_the_coefficient_and_is_zero_for_symmetric_noise():
    clean, noise = _crops()
    assert abs(tone_slope(clean, noise)) < 0.05
    for coefficient in (0.2, 0.6):
        estimate = tone_slope(clean, tone_curve_shift(clean, noise, coefficient))
        assert coefficient * 0.75 < estimate < coefficient * 1.1  # low as the term adds power of its own


def test_tone_slope_refuses_mismatched_shapes():
    clean, noise = _crops()
    with pytest.raises(NoiseaugInputError, match=r"clean and noise must be \(N, C, H, W\) of one shape"):
        tone_slope(clean, noise[:, :1])
    with pytest.raises(NoiseaugInputError, match="clean and noise"):
        tone_slope(clean[0], noise[0])
