"""The shared training loop: resume reproduces an uninterrupted run, checkpoints are atomic, bad batches are skipped."""

import os

import pytest
import torch

from noiseaug.training import TrainConfig, Trainer, load_checkpoint, save_checkpoint


class LinearTask:
    """Batch k: a seeded regression problem y = 3x + 1 + noise (a pure function of (seed, k))."""

    def __init__(self, seed=0, poison=()):
        self.seed, self.poison = seed, set(poison)

    def batch(self, step):
        g = torch.Generator().manual_seed(self.seed * 1000 + step)
        x = torch.randn(16, 1, generator=g)
        y = 3 * x + 1 + 0.1 * torch.randn(16, 1, generator=g)
        if step in self.poison:
            y = y * float("nan")
        return x, y


class LinearObjective(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.model = torch.nn.Linear(1, 1)

    def forward(self, batch):
        return torch.nn.functional.mse_loss(self.model(batch[0]), batch[1])


class NoisyLinearObjective(LinearObjective):
    """Draws from torch's global RNG every step (like dropout): resuming must restore that RNG too."""

    def forward(self, batch):
        return super().forward((batch[0] + 0.1 * torch.randn(batch[0].shape), batch[1]))


def _trainer(tmp_path, steps, poison=(), max_bad=20, lr=0.05, objective_class=LinearObjective):
    objective = objective_class()
    validate = lambda: {"val_nll": float(objective(LinearTask(seed=99).batch(0)))}  # noqa: E731
    config = TrainConfig(steps=steps, lr=lr, lr_decay_at=(30,), val_every=10, max_consecutive_nonfinite=max_bad)
    return Trainer(objective, LinearTask(poison=poison), validate, tmp_path, config, progress=False)


@pytest.mark.parametrize("objective_class", [LinearObjective, NoisyLinearObjective])
def test_resumed_run_matches_uninterrupted_run_exactly(tmp_path, objective_class):
    full = _trainer(tmp_path / "full", steps=40, objective_class=objective_class)
    full.fit()
    first = _trainer(tmp_path / "split", steps=20, objective_class=objective_class)
    first.fit()
    second = _trainer(tmp_path / "split", steps=40, objective_class=objective_class)
    assert second.resume() and second.state.step == 20
    second.fit()
    for a, b in zip(full.objective.parameters(), second.objective.parameters(), strict=True):
        assert torch.equal(a, b)
    assert second.optimizer.param_groups[0]["lr"] == pytest.approx(0.005)  # the step decay survived the resume
    assert [h["step"] for h in second.state.history] == [10, 20, 30, 40]


def test_training_learns_and_keeps_the_best_checkpoint(tmp_path):
    trainer = _trainer(tmp_path, steps=150, lr=0.2)
    state = trainer.fit()
    weight, bias = trainer.objective.model.weight.item(), trainer.objective.model.bias.item()
    assert weight == pytest.approx(3, abs=0.1) and bias == pytest.approx(1, abs=0.1)
    best = load_checkpoint(tmp_path / "best.pt")
    assert best["state"]["best"] == state.best == min(h["val_nll"] for h in state.history)


def test_nonfinite_batches_are_skipped_and_counted(tmp_path):
    trainer = _trainer(tmp_path, steps=20, poison={3, 4, 11})
    state = trainer.fit()
    assert state.skipped_nonfinite == 3
    assert all(torch.isfinite(p).all() for p in trainer.objective.parameters())


def test_a_run_of_nonfinite_batches_stops_training_with_a_clear_message(tmp_path):
    trainer = _trainer(tmp_path, steps=20, poison=set(range(5, 20)), max_bad=4)
    with pytest.raises(RuntimeError, match="5 consecutive batches had a non-finite loss"):
        trainer.fit()


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint({"step": 1}, path)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint({"step": 2}, path)
    assert load_checkpoint(path) == {"step": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temporary file left behind
