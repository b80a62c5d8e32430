"""Objectives: the loss modules the trainer minimises (``forward(batch) -> scalar loss``; they own the trained networks).

Each takes one kind of batch (:mod:`noiseaug.data.batches`, :mod:`noiseaug.data.shots`, :mod:`noiseaug.data.real_srgb`,
:class:`~noiseaug.data.camera.CameraDraw`) and knows nothing of data folders, seeds or run folders.
"""

from .flow_prior import FlowPriorDenoising, GlowNLL
from .naflow import NAFlowNLL
from .neighbor2neighbor import Neighbor2Neighbor
from .noise2clean import Noise2Clean
from .noise2noise_flow import Noise2NoiseFlow, R2RFlow
from .supervised import SupervisedNLL, evaluate_noise_model, validation

__all__ = [
    "FlowPriorDenoising",
    "GlowNLL",
    "NAFlowNLL",
    "Neighbor2Neighbor",
    "Noise2Clean",
    "Noise2NoiseFlow",
    "R2RFlow",
    "SupervisedNLL",
    "evaluate_noise_model",
    "validation",
]
