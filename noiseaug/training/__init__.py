"""Trainers: the shared loop (checkpoints, resume, validation) and the model-specific losses."""

from .checkpoint import load_checkpoint, save_checkpoint
from .loop import BatchSource, TrainConfig, Trainer, TrainState, distributed_rank, init_distributed, seeded
from .supervised_flow import SupervisedNLL, evaluate_noise_model, validation

__all__ = ["BatchSource", "TrainConfig", "TrainState", "Trainer", "evaluate_noise_model", "load_checkpoint",
           "SupervisedNLL", "save_checkpoint", "validation", "distributed_rank", "init_distributed", "seeded"]
