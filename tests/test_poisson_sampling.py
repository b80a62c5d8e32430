"""The chunked CPU Poisson sampler: exact counts, reproducible, independent of the thread count."""

import math

import pytest
import torch

from noiseaug.noise.poisson_gaussian import PoissonGaussianNoise
from noiseaug.noise.poisson_sampling import CHUNK, sample_poisson


def _with_threads(threads: int, rate: torch.Tensor, seed: int) -> torch.Tensor:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return sample_poisson(rate, torch.Generator().manual_seed(seed))
    finally:
        torch.set_num_threads(before)


def test_small_tensors_are_exactly_torch_poisson():
    rate = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0)) * 50
    assert rate.numel() <= CHUNK
    expected = torch.poisson(rate, generator=torch.Generator().manual_seed(1))
    assert torch.equal(sample_poisson(rate, torch.Generator().manual_seed(1)), expected)


def test_large_tensors_do_not_depend_on_the_thread_count_and_follow_the_seed():
    rate = torch.rand(3, 3, 160, 150, generator=torch.Generator().manual_seed(0)) * 200
    assert rate.numel() > 3 * CHUNK and rate.numel() % CHUNK  # several chunks, the last one partial
    one, two = _with_threads(1, rate, 5), _with_threads(2, rate, 5)
    assert torch.equal(one, two)
    assert not torch.equal(one, _with_threads(2, rate, 6))
    assert one.dtype == rate.dtype and one.shape == rate.shape
    assert bool((one == one.round()).all()) and bool((one >= 0).all())


def test_chunks_are_drawn_independently():
    """Each chunk has its own seed: neighbouring chunks of a constant rate are not copies of each other."""
    draws = sample_poisson(torch.full((4 * CHUNK,), 7.0), torch.Generator().manual_seed(0)).view(4, CHUNK)
    assert all(not torch.equal(draws[i], draws[j]) for i in range(4) for j in range(i))
    correlation = torch.corrcoef(draws)[0, 1:]
    assert bool((correlation.abs() < 0.02).all())


@pytest.mark.parametrize("rate", [0.3, 4.0, 9.9, 10.0, 75.0, 3000.0])
def test_counts_have_the_poisson_mean_variance_and_zero_probability(rate):
    draws = sample_poisson(torch.full((8 * CHUNK,), rate), torch.Generator().manual_seed(int(rate * 10))).double()
    n = draws.numel()
    assert float(draws.mean()) == pytest.approx(rate, abs=5 * math.sqrt(rate / n))
    assert float(draws.var()) == pytest.approx(rate, rel=0.03)
    if rate < 5:
        assert float((draws == 0).double().mean()) == pytest.approx(math.exp(-rate), abs=0.005)


def test_poisson_gaussian_noise_uses_it_and_stays_exact_in_distribution():
    clean = torch.full((2, 3, 256, 256), 0.5)
    model = PoissonGaussianNoise(gain=0.01, read_sigma=0.0)
    noisy = model.sample(clean, generator=torch.Generator().manual_seed(0))
    photons = noisy / 0.01
    assert torch.allclose(photons, photons.round(), atol=1e-3)  # whole photon counts times the gain
    assert float(photons.mean()) == pytest.approx(50.0, abs=0.05)
    assert float(photons.var()) == pytest.approx(50.0, rel=0.02)
    counts = sample_poisson(clean / 0.01, torch.Generator().manual_seed(0))  # the draws the model makes first
    assert torch.equal(noisy, 0.01 * counts)
