"""Noisy shots of the simulated camera for the clean-free recipes, and the scene split they are drawn from.

:func:`simcam_split` splits a clean folder by image (scene) and wraps each side in a
:class:`~noiseaug.data.simulated_pairs.SimulatedRawPairs` stream (the held-out one balanced over
cameras and ISOs). :class:`ShotPairs` turns a stream's draws into :class:`NoisyPair` batches (two
captures, one capture twice, or the Neighbor2Neighbor halves of one capture);
:class:`HeteroscedasticShots` swaps a stream's captures for pure heteroscedastic Gaussian noise with the
camera's analytic NLF. Every source is a :class:`~noiseaug.training.loop.BatchSource`: batch ``k`` is a
pure function of its seeds and ``k``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import Tensor

from ..conditioning import NoiseCondition
from ..errors import NoiseaugInputError
from ..noise import HeteroscedasticGaussianNoise
from .camera import CameraDraw, SimulatedCamera
from .neighbour import neighbour_subsample
from .simulated_pairs import SimulatedRawPairs, batch_generator, read_image_folder
from .splits import split_scenes


@dataclass
class SimCamSplit:
    """The training and held-out streams of :func:`simcam_split`, and the held-out image names."""

    train: SimulatedRawPairs
    test: SimulatedRawPairs
    test_names: list[str]


def simcam_split(
    image_folder: str | Path,
    camera: SimulatedCamera,
    patch_size: int,
    batch_size: int,
    seed: int,
    test_seed: int,
    test_fraction: float = 0.2,
    captures: int = 1,
) -> SimCamSplit:
    """Training stream (``seed``) from the train images; balanced held-out stream (``test_seed``) from the others."""
    images = read_image_folder(image_folder)
    names = list(images)
    train_idx, test_idx = split_scenes(names, test_fraction)
    train = SimulatedRawPairs([images[names[i]] for i in train_idx], camera, patch_size, batch_size, seed, captures)
    test = SimulatedRawPairs(
        [images[names[i]] for i in test_idx], camera, patch_size, batch_size, test_seed, captures, balanced=True
    )
    return SimCamSplit(train, test, [names[i] for i in test_idx])


@dataclass
class NoisyPair:
    """Two noisy images of the same clean scene, ``(B, C, H, W)`` each, their condition, and the
    generator for any randomness the objective needs (seeded per step by the source)."""

    first: Tensor
    second: Tensor
    cond: NoiseCondition
    generator: torch.Generator | None = None


class HeteroscedasticShots:
    """Replace a source's noisy captures by pure heteroscedastic Gaussian noise with the camera's analytic NLF;
    the noise of batch ``k`` is drawn from ``batch_generator(seed, k)``."""

    def __init__(self, source: SimulatedRawPairs | HeteroscedasticShots, camera: SimulatedCamera, seed: int) -> None:
        self.source, self.camera, self.seed = source, camera, seed
        self.captures: int = source.captures

    def batch(self, step: int) -> CameraDraw:
        draw = self.source.batch(step)
        model = HeteroscedasticGaussianNoise(*self.camera.nlf(draw.cond))
        generator = batch_generator(self.seed, step)
        noisy = tuple(model.sample(draw.clean_raw, generator=generator) for _ in draw.noisy_raw)
        return replace(draw, noisy_raw=noisy)


class ShotPairs:
    """BatchSource of :class:`NoisyPair` from a simulated source: two captures (``"pairs"``), one
    capture twice (``"single"``, for R2RFlow), or Neighbor2Neighbor halves of one capture (``"neighbour"``).
    The pair's generator (sub-sampler, recorruption) of batch ``k`` is ``batch_generator(seed, k)``."""

    def __init__(self, source: SimulatedRawPairs | HeteroscedasticShots, mode: str = "pairs", *, seed: int) -> None:
        if mode not in ("pairs", "single", "neighbour"):
            raise NoiseaugInputError(f"mode must be 'pairs', 'single' or 'neighbour', got {mode!r}")
        if mode == "pairs" and source.captures < 2:
            raise NoiseaugInputError("mode 'pairs' needs a source with captures >= 2")
        self.source, self.mode, self.seed = source, mode, seed

    def batch(self, step: int) -> NoisyPair:
        draw: CameraDraw = self.source.batch(step)
        generator = batch_generator(self.seed, step)
        if self.mode == "pairs":
            return NoisyPair(draw.noisy_raw[0], draw.noisy_raw[1], draw.cond, generator)
        if self.mode == "single":
            return NoisyPair(draw.noisy_raw[0], draw.noisy_raw[0], draw.cond, generator)
        first, second = neighbour_subsample(draw.noisy_raw[0], generator)
        return NoisyPair(first, second, draw.cond, generator)
