"""The training loop every trainer shares: Adam, deterministic batches, validation, checkpoints, resume, DDP.

A trainer supplies an *objective*: an ``nn.Module`` whose ``forward(batch)`` returns the scalar loss
and which owns every trained network (e.g. noise model + denoiser). Determinism: batch ``k`` is a
pure function of ``(seed, rank, k)`` (see :class:`BatchSource`), so a run resumed from a checkpoint
sees exactly the batches an uninterrupted run would have seen.

Data-parallel training: under ``torchrun`` (``WORLD_SIZE > 1``) the objective is wrapped in
``DistributedDataParallel`` (gloo on CPU, nccl on GPU) after one forward pass that runs any
data-dependent initialisation (ActNorm); DDP's construction broadcasts rank 0's parameters and
buffers, so every rank starts, and stays, identical. Each rank draws its own batches; gradients are
averaged. Rank 0 alone validates and writes checkpoints.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from .._validation import check_int, check_nonnegative
from ..atomic import atomic_write_text
from ..errors import NoiseaugInputError
from .checkpoint import CheckpointError, load_checkpoint, load_training_checkpoint, save_checkpoint

LAST_CHECKPOINT = "last.pt"
BEST_CHECKPOINT = "best.pt"


class TrainingStoppedError(NoiseaugInputError, RuntimeError):
    """Training cannot go on (e.g. a run of non-finite losses): a property of the data and settings, not a bug."""


class BatchSource(Protocol):
    """Produces training batch ``step`` deterministically from the run's seed."""

    def batch(self, step: int) -> Any: ...


@dataclass
class TrainConfig:
    """Optimisation settings (units: steps; ``lr`` for Adam; ``lr_decay_at`` multiplies lr by 0.1).

    No seed: the batches carry their own (:class:`BatchSource`), and the recipes' driver
    (:func:`noiseaug.recipes.run_recipe`) derives every seed of a run from its config's."""

    steps: int = 1000
    lr: float = 1e-3
    lr_decay_at: tuple[int, ...] = ()
    val_every: int = 200
    grad_clip: float | None = None
    max_consecutive_nonfinite: int = 20

    def __post_init__(self) -> None:
        for name in ("steps", "val_every", "max_consecutive_nonfinite"):
            check_int(getattr(self, name), name)
        check_nonnegative(self.lr, "lr", strict=True)


@dataclass
class TrainState:
    step: int = 0
    best: float = math.inf
    best_step: int = -1
    skipped_nonfinite: int = 0
    history: list[dict[str, float | None]] = field(default_factory=list)


ValidateFn = Callable[[], dict[str, float]]


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed torch's RNG inside the block only (the caller's global RNG state is restored after):
    for reproducible weight initialisation without global seeding."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def init_distributed() -> tuple[int, int]:
    """Join the process group that ``torchrun`` describes in the environment (gloo on CPU, nccl on
    GPU); a no-op outside torchrun. Returns ``(rank, world_size)``."""
    import os

    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and dist.is_available() and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return distributed_rank()


def distributed_rank() -> tuple[int, int]:
    """``(rank, world_size)`` of this process; ``(0, 1)`` when not distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class Trainer:
    """Minimise ``objective(batch)`` with Adam; validate every ``val_every`` steps; keep the best.

    Args:
        objective: module with ``forward(batch) -> scalar loss``; all its parameters are trained
            (unless ``parameters`` gives Adam groups) and its state is checkpointed.
        batches: a :class:`BatchSource`.
        validate: -> metrics dict; ``best_key`` (lower is better) selects the best checkpoint.
        out_dir: where ``last.pt`` and ``best.pt`` go (written atomically).
        config: a :class:`TrainConfig`.
        progress: show a tqdm bar (rank 0 only).
        parameters: optional Adam parameter groups (e.g. a larger ``lr`` for some layers).

    A batch whose loss is NaN/Inf is skipped (no update), counted and logged; more than
    ``max_consecutive_nonfinite`` in a row stops training with a ``RuntimeError``.
    """

    def __init__(
        self,
        objective: nn.Module,
        batches: BatchSource,
        validate: ValidateFn,
        out_dir: str | Path,
        config: TrainConfig,
        best_key: str = "val_nll",
        progress: bool = True,
        parameters: list[dict[str, Any]] | None = None,
    ) -> None:
        self.objective, self.batches, self.validate = objective, batches, validate
        self.out_dir, self.config, self.best_key = Path(out_dir), config, best_key
        self.rank, self.world_size = distributed_rank()
        self.progress = progress and self.rank == 0
        self.optimizer = torch.optim.Adam(
            parameters if parameters is not None else objective.parameters(), lr=config.lr
        )
        self.scheduler = torch.optim.lr_scheduler.MultiStepLR(self.optimizer, list(config.lr_decay_at), gamma=0.1)
        self.state = TrainState()
        self._step_module: nn.Module | None = None

    def resume(self, path: str | Path | None = None) -> bool:
        """Load ``last.pt`` (or ``path``) if it exists; returns whether a checkpoint was loaded."""
        path = Path(path) if path is not None else self.out_dir / LAST_CHECKPOINT
        if not path.is_file():
            return False
        try:
            checkpoint = load_training_checkpoint(path)
            self._load_states(checkpoint, path)
        except CheckpointError as error:
            raise CheckpointError(f"{error}; {self._best_advice(path)}") from error
        if "rng" in checkpoint:  # checkpoints before the RNG state was saved resume without it
            torch.set_rng_state(checkpoint["rng"]["cpu"])
            if torch.cuda.is_available() and checkpoint["rng"].get("cuda"):
                torch.cuda.set_rng_state_all(checkpoint["rng"]["cuda"])
        return True

    def _load_states(self, checkpoint: dict[str, Any], path: Path) -> None:
        """Weights, optimiser, schedule and step from a checkpoint; :class:`CheckpointError` if they do not fit
        this run's objective (another model or architecture)."""
        try:
            self.objective.load_state_dict(checkpoint["model"])
            self.optimizer.load_state_dict(checkpoint["optimizer"])
            self.scheduler.load_state_dict(checkpoint["scheduler"])
            self.state = TrainState(**checkpoint["state"])
        except (RuntimeError, KeyError, TypeError, ValueError) as error:
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise CheckpointError(f"{path} does not fit this run's model ({first_line})") from error

    def _best_advice(self, damaged: Path) -> str:
        """What to do about a damaged checkpoint: resume from a valid ``best.pt`` if there is one, or start over."""
        best = self.out_dir / BEST_CHECKPOINT
        if best.is_file() and best.resolve() != damaged.resolve():
            try:
                step = load_training_checkpoint(best)["state"].get("step", "?")
            except CheckpointError:
                pass
            else:
                return (
                    f"{best} is a valid checkpoint (step {step}): copy it to {damaged} to resume from there, "
                    "or pass --no-resume to start over"
                )
        return "pass --no-resume to start over"

    def _checkpoint(self) -> dict[str, Any]:
        """Everything a resumed run needs: weights, Adam moments, lr schedule, step and history (the data
        sampler's state: batch ``k`` is a function of the seed and ``k``), and torch's global RNG state
        (for any layer that draws from it)."""
        rng = {
            "cpu": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }
        return {
            "model": self.objective.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "state": asdict(self.state),
            "config": asdict(self.config),
            "rng": rng,
        }

    def _prepare(self) -> nn.Module:
        """Run data-dependent initialisation once, then wrap in DDP when distributed."""
        if self._step_module is None:
            if self.state.step == 0:
                self.objective.train()
                with torch.no_grad():
                    self.objective(self.batches.batch(0))
            self._step_module = self.objective if self.world_size == 1 else DistributedDataParallel(self.objective)
        return self._step_module

    def train_step(self, step: int) -> float | None:
        """One optimisation step on batch ``step``; returns the loss, or None if it was not finite.

        Under DDP every rank takes the same decision: a non-finite loss on any rank skips the step.
        """
        module = self._prepare()
        self.objective.train()
        loss = module(self.batches.batch(step))
        finite = torch.isfinite(loss.detach()).float()
        if self.world_size > 1:
            dist.all_reduce(finite, op=dist.ReduceOp.MIN)
        if not bool(finite):
            return None
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.objective.parameters(), self.config.grad_clip)
        self.optimizer.step()
        return float(loss.detach())

    def fit(self) -> TrainState:
        """Train until ``config.steps``, validating and checkpointing every ``val_every`` steps and at the end."""
        consecutive_nonfinite, start = 0, time.perf_counter()
        bar = tqdm(
            total=self.config.steps,
            initial=self.state.step,
            disable=not self.progress,
            desc="train",
            dynamic_ncols=True,
        )
        running = None
        while self.state.step < self.config.steps:
            step = self.state.step
            loss = self.train_step(step)
            if loss is None:
                consecutive_nonfinite += 1
                self.state.skipped_nonfinite += 1
                self._log(bar, f"step {step}: non-finite loss, batch skipped ({self.state.skipped_nonfinite} so far)")
                if consecutive_nonfinite > self.config.max_consecutive_nonfinite:
                    raise TrainingStoppedError(
                        f"training stopped at step {step}: {consecutive_nonfinite} consecutive batches "
                        f"had a non-finite loss (check the learning rate and the data)"
                    )
            else:
                consecutive_nonfinite = 0
                running = loss if running is None else 0.98 * running + 0.02 * loss
            self.scheduler.step()
            self.state.step = step + 1
            bar.update(1)
            if running is not None:
                bar.set_postfix(loss=f"{running:.4f}", refresh=False)
            if self.state.step % self.config.val_every == 0 or self.state.step == self.config.steps:
                self._validate_and_save(time.perf_counter() - start, running, bar)
        bar.close()
        return self.state

    def _log(self, bar: tqdm, message: str) -> None:
        if self.rank == 0:
            bar.write(message)

    def _validate_and_save(self, elapsed: float, running_loss: float | None, bar: tqdm) -> None:
        if self.rank != 0:
            return
        self.objective.eval()
        with torch.no_grad():
            metrics = self.validate()
        record = {"step": self.state.step, "train_loss": running_loss, "elapsed_s": round(elapsed, 1), **metrics}
        self.state.history.append(record)
        self._log(
            bar,
            "  ".join(
                f"{k}={v:.5g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items() if v is not None
            ),
        )
        score = metrics.get(self.best_key, math.inf)
        if score < self.state.best:
            self.state.best, self.state.best_step = float(score), self.state.step
            save_checkpoint(self._checkpoint(), self.out_dir / BEST_CHECKPOINT)
        save_checkpoint(self._checkpoint(), self.out_dir / LAST_CHECKPOINT)

    def run(self, resume: bool = True) -> TrainState:
        """Resume from ``last.pt`` if asked and present, train to the end, then (rank 0) load the best
        weights into the objective and write ``history.json``."""
        if resume and self.resume():
            self._log_plain(f"resumed from {self.out_dir / LAST_CHECKPOINT} at step {self.state.step}")
        state = self.fit()
        if self.rank == 0:
            self.load_best()
            atomic_write_text(self.out_dir / "history.json", json.dumps(state.history, indent=2))
        return state

    def _log_plain(self, message: str) -> None:
        if self.rank == 0:
            print(message)

    def load_best(self) -> None:
        """Put the best checkpoint's weights into the objective."""
        self.objective.load_state_dict(load_checkpoint(self.out_dir / BEST_CHECKPOINT)["model"])
