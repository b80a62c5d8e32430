import pytest
import torch


@pytest.fixture
def gen():
    """A fresh seeded CPU generator per test."""
    return torch.Generator().manual_seed(1234)


# Scripts run by tests in subprocesses (torchrun workers), not test modules: keep --doctest-modules from importing them.
collect_ignore = ["ddp_worker.py", "ddp_recipe_worker.py"]
