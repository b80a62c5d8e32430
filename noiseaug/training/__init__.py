"""Trainers: the shared loop (checkpoints, resume, validation) and the model-specific losses."""

from .checkpoint import load_checkpoint, save_checkpoint
from .loop import BatchSource, TrainConfig, Trainer, TrainState
from .supervised_flow import evaluate_noise_model, nll_loss, validation

__all__ = ["BatchSource", "TrainConfig", "TrainState", "Trainer", "evaluate_noise_model", "load_checkpoint",
           "nll_loss", "save_checkpoint", "validation"]
