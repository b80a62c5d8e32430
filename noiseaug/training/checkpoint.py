"""Training checkpoints: written atomically (temporary file + fsync + rename), loaded without arbitrary pickle."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import torch

from ..atomic import atomic_write
from ..errors import NoiseaugFileError, NoiseaugFileNotFoundError

#: What every checkpoint the :class:`~noiseaug.training.loop.Trainer` writes holds.
CHECKPOINT_KEYS = ("model", "optimizer", "scheduler", "state")


class CheckpointError(NoiseaugFileError):
    """A checkpoint file that cannot be used: truncated, corrupted, unsafe to unpickle, or not a noiseaug one."""


class UnsafeCheckpointError(CheckpointError, pickle.UnpicklingError):
    """A checkpoint holding objects other than tensors and plain containers (refused unread: it could run code)."""


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Write ``state`` to ``path`` atomically: a crash mid-write leaves the previous file intact."""
    return atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True`` (tensors and plain containers only, no code).

    ``FileNotFoundError`` if there is none; :class:`CheckpointError` naming the file if it is truncated, corrupted,
    holds objects other than tensors and plain containers, or is not a dict.
    """
    path = Path(path)
    if not path.is_file():
        raise NoiseaugFileNotFoundError(f"checkpoint not found: {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise UnsafeCheckpointError(
            f"{path} was not loaded: it holds objects other than tensors and plain "
            f"containers, and loading them could run code: {error}"
        ) from error
    except Exception as error:  # torch reports a damaged archive as RuntimeError, EOFError, ... depending on where
        detail = str(error).strip().split(". ")[0]  # torch's first sentence; its advice does not apply here
        raise CheckpointError(f"{path} is truncated or corrupted ({type(error).__name__}: {detail})") from error
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{path} holds a {type(checkpoint).__name__}, not a noiseaug training checkpoint")
    return checkpoint


def load_training_checkpoint(path: str | Path) -> dict[str, Any]:
    """:func:`load_checkpoint` plus a check that it holds what the trainer writes (:data:`CHECKPOINT_KEYS`)."""
    checkpoint = load_checkpoint(path)
    missing = [key for key in CHECKPOINT_KEYS if key not in checkpoint]
    if missing:
        raise CheckpointError(f"{path} is not a noiseaug training checkpoint: it lacks {missing}")
    return checkpoint
