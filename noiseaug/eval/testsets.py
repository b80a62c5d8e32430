"""Test sets of the benchmarks: real sRGB pairs, Kodak24 with AWGN, the simulated camera's held-out draws.

A real sRGB set is a list of ``(name, noisy, clean)`` with ``noisy`` and ``clean`` float32 ``(1, 3, H, W)`` in
[0, 1], read whole from the files (8-bit values). The two real sets are the scene-level held-out split of PolyU +
CC15 (the pairs ``noiseaug train naflow`` and ``noiseaug train dncnn --noise real`` leave out) and
``real-srgb/sidd-dev`` (SIDD smartphone crops, a camera family none of the released models was trained on).
``data_root`` is the folder holding ``real-srgb/`` and ``clean/``; ``None`` means the default data root
(``$NOISEAUG_DATA`` or ``../shared/data``, see :func:`noiseaug.data.data_root`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from .._seeds import mix_seeds
from .._sizes import crop_to_multiple
from ..data.camera import CameraDraw, SimulatedCamera
from ..data.paired import ImagePair, PairedImageFolder
from ..data.real_srgb import real_srgb_split
from ..data.root import data_folder
from ..data.shots import simcam_split
from ..errors import NoiseaugFileNotFoundError
from ..imageio import image_files, read_image
from ..noise import GaussianNoise

Pair = tuple[str, Tensor, Tensor]
Pairs = list[Pair]

#: Names of the two real sRGB test sets, in the order :func:`real_srgb_test_sets` returns them.
HELD_OUT = "held-out PolyU + CC15"
SIDD_DEV = "sidd-dev (unseen family)"
#: Batch indices of the simulated camera's held-out draws (disjoint from the recipes' validation batches) and of
#: the balanced training draws the per-(camera, ISO) fits pool.
SIMCAM_TEST_START = 1000
SIMCAM_TRAIN_START = 10**6


def read_pairs(pairs: Iterable[ImagePair]) -> Pairs:
    """``[(name, noisy (1, 3, H, W), clean (1, 3, H, W))]`` read from the pairs' files, in the given order."""
    return [(p.name, read_image(p.noisy_path)[None], read_image(p.clean_path)[None]) for p in pairs]


def held_out_pairs(data_root: str | Path | None = None) -> Pairs:
    """The held-out PolyU + CC15 pairs of ``real_srgb_split`` (the same scenes whatever the training sources)."""
    _, test = real_srgb_split(data_root)
    return read_pairs(test)


def sidd_dev_pairs(data_root: str | Path | None = None) -> Pairs:
    """The ``real-srgb/sidd-dev`` pairs, sorted by name."""
    folder = None if data_root is None else Path(data_root) / "real-srgb" / "sidd-dev"
    return read_pairs(PairedImageFolder.sidd_dev(folder).pairs)


def real_srgb_test_sets(data_root: str | Path | None = None) -> dict[str, Pairs]:
    """``{HELD_OUT: pairs, SIDD_DEV: pairs}``: the two real sRGB test sets."""
    return {HELD_OUT: held_out_pairs(data_root), SIDD_DEV: sidd_dev_pairs(data_root)}


def limit_sets(sets: Mapping[str, Pairs], limit: int | None) -> dict[str, Pairs]:
    """The first ``limit`` pairs of every set (all of them for ``None``)."""
    return {name: pairs[:limit] for name, pairs in sets.items()}


def kodak_awgn_sets(
    sigmas: Iterable[float], data_root: str | Path | None = None, limit: int | None = None
) -> dict[str, Pairs]:
    """``{"Kodak24 AWGN sigma=S": [(name, noisy, clean)]}`` for each ``S`` (0-255 scale): unclipped Gaussian noise
    of std ``S / 255`` on ``clean/kodak24``, drawn once per image from a generator seeded by
    ``int(S * 1000) + image index``; no sigmas: ``{}``, without reading the folder."""
    sigmas = list(sigmas)
    if not sigmas:
        return {}
    folder = data_folder("clean", "kodak24") if data_root is None else Path(data_root) / "clean" / "kodak24"
    images = [(path.name, read_image(path)) for path in image_files(folder)[:limit]]
    sets = {}
    for sigma in sigmas:
        noise = GaussianNoise(sigma / 255)
        sets[f"Kodak24 AWGN sigma={sigma:g}"] = [
            (
                name,
                noise.sample(clean[None], generator=torch.Generator().manual_seed(int(sigma * 1000) + i)),
                clean[None],
            )
            for i, (name, clean) in enumerate(images)
        ]
    return sets


def crop_pair(noisy: Tensor, clean: Tensor, multiple: int) -> tuple[Tensor, Tensor]:
    """Both images cropped (top-left) to a height and width that are multiples of ``multiple``.

    >>> noisy, clean = crop_pair(torch.zeros(1, 3, 10, 13), torch.zeros(1, 3, 10, 13), 8)
    >>> tuple(noisy.shape), tuple(clean.shape)
    ((1, 3, 8, 8), (1, 3, 8, 8))
    """
    return crop_to_multiple(noisy, multiple), crop_to_multiple(clean, multiple)


def seeded_generator(*parts: int) -> torch.Generator:
    """A CPU generator seeded from a tuple of ints (e.g. ``(seed, set index, image index)``), so that each image's
    draws do not depend on which images come before it.

    >>> a, b = seeded_generator(0, 1, 2), seeded_generator(0, 1, 2)
    >>> bool(torch.equal(torch.rand(3, generator=a), torch.rand(3, generator=b)))
    True
    """
    return torch.Generator().manual_seed(mix_seeds(*parts))


@dataclass(frozen=True)
class SimcamDraws:
    """Fixed draws of the simulated camera: ``test`` batches from the held-out images (every camera x ISO equally
    often), ``train`` balanced batches from the training images, and the number of held-out images."""

    test: list[CameraDraw]
    train: list[CameraDraw]
    held_out_images: int


#: The held-out stream's seed that the published simulated-camera tables were measured on.
SIMCAM_TEST_SEED = 10_000


def simcam_draws(
    images: str | Path | None,
    camera: SimulatedCamera,
    test_batches: int,
    train_batches: int = 0,
    patch: int = 32,
    batch: int = 32,
) -> SimcamDraws:
    """``test_batches`` held-out and ``train_batches`` balanced training batches of ``batch`` packed
    ``patch x patch`` patches of ``camera`` on the clean sRGB ``images`` (default ``clean/bsd300-test``), split
    by ``simcam_split(..., seed=0, test_seed=SIMCAM_TEST_SEED)``; batch ``k`` is the same whatever the counts
    asked for."""
    split = simcam_split(
        images or data_folder("clean", "bsd300-test"), camera, patch, batch, seed=0, test_seed=SIMCAM_TEST_SEED
    )
    test = [split.test.batch(k) for k in range(SIMCAM_TEST_START, SIMCAM_TEST_START + test_batches)]
    split.train.balanced = True
    train = [split.train.batch(k) for k in range(SIMCAM_TRAIN_START, SIMCAM_TRAIN_START + train_batches)]
    return SimcamDraws(test, train, len(split.test_names))


def clean_raw_crops(images: str | Path, limit: int | None, size: int, seed: int) -> Tensor:
    """Centre crops (side ``min(size, H, W)``, even, then the smallest side of all) of the first ``limit`` images
    of the folder, unprocessed by ``SimulatedCamera.sidd_phones()`` (random ISP settings from ``seed``) to packed
    clean raw ``(N, 4, side/2, side/2)``."""
    files = image_files(images)[:limit]
    if not files:
        raise NoiseaugFileNotFoundError(f"images: no images in {images}")
    crops = []
    for f in files:
        img = read_image(f)
        h, w = img.shape[-2:]
        s = min(size, h, w) // 2 * 2
        top, left = (h - s) // 2, (w - s) // 2
        crops.append(img[:, top : top + s, left : left + s])
    side = min(c.shape[-1] for c in crops)
    srgb = torch.stack([c[:, :side, :side] for c in crops])
    cam = SimulatedCamera.sidd_phones()
    draw = cam.capture(srgb, cam.condition("sidd-s6", 100, batch=len(srgb)), torch.Generator().manual_seed(seed))
    return draw.clean_raw
