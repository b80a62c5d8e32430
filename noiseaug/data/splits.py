"""Deterministic scene-level train/test splits: all images of a scene land on the same side."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

from torch.utils.data import Dataset, Subset

from ..errors import NoiseaugInputError, NoiseaugTypeError


def scene_key(scene: str, salt: str = "noiseaug") -> int:
    """A stable 64-bit hash of ``salt:scene`` (SHA-256; unlike ``hash()``, the same in every process)."""
    return int.from_bytes(hashlib.sha256(f"{salt}:{scene}".encode()).digest()[:8], "big")


def split_scenes(
    scenes: Sequence[str], test_fraction: float = 0.2, salt: str = "noiseaug"
) -> tuple[list[int], list[int]]:
    """Indices ``(train, test)`` of items whose scene ids are ``scenes``.

    The distinct scenes are ordered by :func:`scene_key`; the first ``ceil(test_fraction * n)`` go
    to test (at least one when ``0 < test_fraction`` and there are two or more scenes, never all).
    Change ``salt`` for a different, equally deterministic split.
    """
    if not 0.0 <= test_fraction < 1.0:
        raise NoiseaugInputError(f"test_fraction must be in [0, 1), got {test_fraction}")
    distinct = sorted(set(scenes), key=lambda s: (scene_key(s, salt), s))
    n_test = min(math.ceil(test_fraction * len(distinct)), len(distinct) - 1) if len(distinct) > 1 else 0
    test_scenes = set(distinct[:n_test])
    train = [i for i, s in enumerate(scenes) if s not in test_scenes]
    test = [i for i, s in enumerate(scenes) if s in test_scenes]
    return train, test


def train_test_split(dataset: Dataset, test_fraction: float = 0.2, salt: str = "noiseaug") -> tuple[Subset, Subset]:
    """Split a dataset with a ``scene_ids()`` method (e.g. :class:`PairedImageFolder`) by scene."""
    if not hasattr(dataset, "scene_ids"):
        raise NoiseaugTypeError(f"dataset must have a scene_ids() method, got {type(dataset).__name__}")
    train, test = split_scenes(dataset.scene_ids(), test_fraction, salt)
    return Subset(dataset, train), Subset(dataset, test)
