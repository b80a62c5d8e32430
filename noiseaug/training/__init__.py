"""The generic training loop (Adam, deterministic batches, validation, checkpoints, resume, DDP) and ``run.json``.

The losses live in :mod:`noiseaug.objectives`, the batch sources in :mod:`noiseaug.data`, the ``noiseaug train``
recipes and their driver in :mod:`noiseaug.recipes`. ``SupervisedNLL``, ``evaluate_noise_model`` and
``validation`` are re-exported here from :mod:`noiseaug.objectives.supervised`, where they now live.
"""

from ..objectives.supervised import SupervisedNLL, evaluate_noise_model, validation
from .checkpoint import load_checkpoint, save_checkpoint
from .loop import BatchSource, TrainConfig, Trainer, TrainState, distributed_rank, init_distributed, seeded

__all__ = [
    "BatchSource",
    "TrainConfig",
    "TrainState",
    "Trainer",
    "evaluate_noise_model",
    "load_checkpoint",
    "SupervisedNLL",
    "save_checkpoint",
    "validation",
    "distributed_rank",
    "init_distributed",
    "seeded",
]
