"""Shared test helpers for the host-library adapters: a row-counting flow spy, DataLoader worker runs, checks."""

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from noiseaug.flows.noise_flow import NoiseFlow
from noiseaug.transforms import (
    GaussianNoiseTransform,
    HeteroscedasticNoiseTransform,
    NoiseFlowTransform,
    PoissonGaussianNoiseTransform,
)

CAMERAS, ISOS = ["cam-a", "cam-b"], [100, 800]

#: The parametric transforms every adapter is run with (3-channel sRGB).
PARAMETRIC = {
    "gaussian": lambda: GaussianNoiseTransform(sigma=(0.02, 0.1)),
    "heteroscedastic": HeteroscedasticNoiseTransform,
    "poisson-gaussian": PoissonGaussianNoiseTransform,
}


def clean_batch(b=8, c=3, size=8, seed=0):
    """A seeded clean batch in [0.1, 0.9] (away from the clipping bounds)."""
    return torch.rand(b, c, size, size, generator=torch.Generator().manual_seed(seed)) * 0.8 + 0.1


def run_seeded(augment, sample, seed, **kwargs):
    """``augment(sample)`` right after ``torch.manual_seed(seed)``: how kornia and torchvision are seeded."""
    torch.manual_seed(seed)
    return augment(sample, **kwargs)


class FlowSpy:
    """Replaces a NoiseFlow's ``_sample`` and counts the rows (images) that reach it."""

    def __init__(self, flow):
        self.rows, self.calls, self._inner = 0, 0, flow._sample
        flow._sample = self

    def __call__(self, clean, cond, generator, temperature=1.0):
        self.rows += clean.shape[0]
        self.calls += 1
        return self._inner(clean, cond, generator, temperature)


def spied_flow_transform():
    """A tiny untrained NoiseFlow (packed raw, 4 channels) in a NoiseFlowTransform, plus the spy on its flow."""
    with torch.random.fork_rng():  # conv layers initialise from the global RNG
        torch.manual_seed(0)
        flow = NoiseFlow(cameras=CAMERAS, iso_levels=ISOS, hidden=4, steps=1).eval()
    return NoiseFlowTransform(flow), FlowSpy(flow)


class NoisedConstant(Dataset):
    """``n`` items, each the same clean image passed through ``augment`` (in the worker that loads it)."""

    def __init__(self, augment, clean, n=4):
        self.augment, self.clean, self.n = augment, clean, n

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        return self.augment(self.clean)


def load_with_two_workers(dataset, seed):
    """Every item of ``dataset`` through a 2-worker DataLoader whose base seed comes from ``seed``.

    Items are handed out round-robin, so items 0 and 2 come from worker 0, items 1 and 3 from worker 1.
    """
    loader = DataLoader(dataset, batch_size=None, num_workers=2, generator=torch.Generator().manual_seed(seed))
    return [torch.as_tensor(item) for item in loader]


def check_workers_differ_and_runs_repeat(dataset):
    """Different noise per worker (and per item), identical across runs with the same seed, new with another."""
    first, again, other = (load_with_two_workers(dataset, seed) for seed in (0, 0, 1))
    assert not torch.equal(first[0], first[1]), "the two workers produced the same noise"
    assert not torch.equal(first[0], first[2]), "one worker repeated its noise"
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True)), "same seed, different noise"
    assert not any(torch.equal(a, b) for a, b in zip(first, other, strict=True)), "another seed, same noise"


def check_wrapping_is_validated(adapter, foreign, *, type_error=TypeError, p_message="probability"):
    """``adapter(transform, p=...)`` refuses a wrapped ``p < 1``, a foreign transform and a ``p`` outside [0, 1]."""
    with pytest.raises(ValueError, match="p=1.0"):
        adapter(GaussianNoiseTransform(p=0.5))
    with pytest.raises(type_error, match="NoiseTransform"):
        adapter(foreign)
    with pytest.raises(ValueError, match=p_message):
        adapter(GaussianNoiseTransform(), p=1.5)
