"""The real sRGB noisy/clean pairs the recipes train on (``noiseaug train naflow``, ``dncnn --noise real``, ...).

Data (:func:`real_srgb_split`): the real noisy/clean pairs of ``real-srgb/polyu`` and
``real-srgb/nam-cc15``, split by scene (:func:`~noiseaug.data.splits.split_scenes`, 20 % of scenes held
out), plus, for training only, the full-resolution PolyU photos of the training scenes
(``real-srgb/polyu-full``) and the SIDD smartphone pairs (``real-srgb/sidd-train``). Classes ("camera
configurations") are ``<camera>-iso<ISO>`` parsed from the file names (``<camera>-iso?`` when a
name has no ISO), taken from the training split only. Every step draws ``batch`` random crops
(pair uniformly, position uniformly, random horizontal/vertical flip applied to both images) and
dequantises the 8-bit noisy crop with uniform noise inside its quantisation bin. Recipes select checkpoints on
:func:`validation_split`'s scenes, carved out of the training split, never on the held-out test scenes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import Tensor

from ..errors import NoiseaugInputError
from ..imageio import read_image
from .batches import CropBatch
from .paired import ImagePair, PairedImageFolder
from .simulated_pairs import batch_generator
from .splits import split_scenes

QUANTIZATION_STEP = 1.0 / 255.0


def configuration_name(pair: ImagePair) -> str:
    """``"<camera>-iso<ISO>"`` (``"<camera>-iso?"`` without an ISO in the name), lower-case camera."""
    camera = (pair.camera or "unknown").lower()
    return f"{camera}-iso{pair.iso if pair.iso is not None else '?'}"


@dataclass
class RealPairs:
    """Real pairs held in memory as uint8 ``(N, 3, H, W)`` tensors, with their configuration names."""

    pairs: list[ImagePair]
    noisy: list[Tensor]
    clean: list[Tensor]

    @classmethod
    def load(cls, pairs: list[ImagePair]) -> RealPairs:
        def to_uint8(path: Path) -> Tensor:
            return (read_image(path) * 255).round().to(torch.uint8)

        return cls(pairs, [to_uint8(p.noisy_path) for p in pairs], [to_uint8(p.clean_path) for p in pairs])

    def configurations(self) -> list[str]:
        return sorted({configuration_name(p) for p in self.pairs})


#: the real-pair folders NAFlow can train on (``noiseaug train naflow --sources``)
SOURCES = ("polyu", "cc15", "polyu-full", "sidd-train")


def attach_full_photos(photos: Sequence[ImagePair], crops: Sequence[ImagePair]) -> list[ImagePair]:
    """Each full-resolution PolyU photo with the scene id of the crops cut from it (same camera, scene word
    starting with the photo's), so that a scene split keeps them together, and their ISO when the crops
    agree on one (``None`` otherwise). A photo without crops keeps its own scene id."""
    out = []
    for photo in photos:
        camera, word = photo.scene.split("/", 1)
        matches = [c for c in crops if c.camera == camera and c.scene.split("/", 1)[-1].startswith(word)]
        scenes, isos = {c.scene for c in matches}, {c.iso for c in matches}
        out.append(
            replace(
                photo,
                scene=scenes.pop() if len(scenes) == 1 else photo.scene,
                iso=isos.pop() if len(isos) == 1 else None,
            )
        )
    return out


def real_srgb_split(
    data_root: str | Path | None = None, test_fraction: float = 0.2, sources: Sequence[str] = ("polyu", "cc15")
) -> tuple[list[ImagePair], list[ImagePair]]:
    """Train and held-out pairs (deterministic). The held-out pairs are always the same: the PolyU + CC15
    pairs of 20 % of their scenes. The training pairs are those of ``sources`` (:data:`SOURCES`):
    PolyU / CC15 pairs of the other scenes, full PolyU photos whose crops' scene is not held out
    (:func:`attach_full_photos`), and every ``sidd-train`` pair (smartphones are tested on ``sidd-dev``)."""
    unknown = [s for s in sources if s not in SOURCES]
    if unknown or not sources:
        raise NoiseaugInputError(f"sources must be a non-empty selection of {list(SOURCES)}, got {list(sources)}")

    def folder(name: str) -> Path | None:
        return None if data_root is None else Path(data_root) / "real-srgb" / name

    polyu = PairedImageFolder.polyu(folder("polyu")).pairs
    pairs = polyu + PairedImageFolder.nam_cc15(folder("nam-cc15")).pairs
    train, test = split_scenes([p.scene for p in pairs], test_fraction)
    held_out = [pairs[i] for i in test]
    held_out_scenes, from_polyu = {p.scene for p in held_out}, set(polyu)
    chosen = [pairs[i] for i in train if ("polyu" if pairs[i] in from_polyu else "cc15") in sources]
    if "polyu-full" in sources:
        photos = attach_full_photos(PairedImageFolder.polyu_full(folder("polyu-full")).pairs, polyu)
        chosen += [p for p in photos if p.scene not in held_out_scenes]
    if "sidd-train" in sources:
        chosen += PairedImageFolder.sidd_train(folder("sidd-train")).pairs
    return chosen, held_out


#: Share of a training split's DSLR scenes that :func:`validation_split` holds out for checkpoint selection.
VALIDATION_FRACTION = 0.1


def is_phone_pair(pair: ImagePair) -> bool:
    """Whether ``pair`` is one of ``real-srgb/sidd-train``'s smartphone pairs."""
    return pair.noisy_path.parent.name == "sidd-train"


def validation_split(
    train: Sequence[ImagePair], fraction: float = VALIDATION_FRACTION
) -> tuple[list[ImagePair], list[ImagePair]]:
    """``(train, validation)`` of a :func:`real_srgb_split` training split: the pairs of ``fraction`` of its DSLR
    scenes (PolyU / CC15 crops with their full photos, kept together by scene) go to validation, so checkpoint
    selection never sees the test scenes. A drawn scene stays in training when it holds the only pairs of a
    configuration (:func:`configuration_name`), and the smartphone pairs always do (two of them are the only
    Nexus 6 shots), so no configuration is lost. :class:`~noiseaug.errors.NoiseaugInputError` when there are
    fewer than two DSLR scenes to split, or when every drawn scene holds a configuration's only pairs."""
    dslr = [i for i, p in enumerate(train) if not is_phone_pair(p)]
    scenes = [train[i].scene for i in dslr]
    if len(set(scenes)) < 2:
        raise NoiseaugInputError(
            f"validation needs DSLR pairs of at least two scenes (sources polyu and/or cc15), got {len(set(scenes))}"
        )
    drawn = {dslr[k] for k in split_scenes(scenes, fraction, salt="validation")[1]}
    trained = {configuration_name(p) for i, p in enumerate(train) if i not in drawn}
    lone = {train[i].scene for i in drawn if configuration_name(train[i]) not in trained}
    held = {i for i in drawn if train[i].scene not in lone}
    if not held:
        raise NoiseaugInputError(
            "no DSLR scene can be held out for validation without losing its camera configuration: the training "
            "split needs a configuration with pairs of two or more scenes"
        )
    return [p for i, p in enumerate(train) if i not in held], [train[i] for i in sorted(held)]


class RealCrops:
    """Deterministic batches of random crops: ``batch(step)`` depends only on ``(seed, step)``; drawn on the CPU
    and put on ``device``, so identical on every device."""

    def __init__(
        self,
        data: RealPairs,
        configurations: list[str],
        patch: int,
        batch_size: int,
        seed: int,
        dequantize: bool = True,
        device: str | torch.device = "cpu",
    ) -> None:
        self.data, self.patch, self.batch_size, self.seed, self.dequantize = data, patch, batch_size, seed, dequantize
        self.device = torch.device(device)
        index = {name: i for i, name in enumerate(configurations)}
        self.config = torch.tensor([index.get(configuration_name(p), -1) for p in data.pairs])

    def batch(self, step: int) -> dict[str, Tensor]:
        g = batch_generator(self.seed, step)
        picks = torch.randint(len(self.data.pairs), (self.batch_size,), generator=g).tolist()
        noisy, clean = [], []
        for k in picks:
            h, w = self.data.clean[k].shape[-2:]
            top = int(torch.randint(h - self.patch + 1, (1,), generator=g))
            left = int(torch.randint(w - self.patch + 1, (1,), generator=g))
            flips = torch.rand(2, generator=g) < 0.5
            dims = [d for d, f in zip((-1, -2), flips.tolist(), strict=True) if f]
            crop = slice(top, top + self.patch), slice(left, left + self.patch)
            pair = [img[:, crop[0], crop[1]] for img in (self.data.noisy[k], self.data.clean[k])]
            noisy.append(pair[0].flip(dims) if dims else pair[0])
            clean.append(pair[1].flip(dims) if dims else pair[1])
        noisy_t = torch.stack(noisy).float() / 255.0
        if self.dequantize:
            noisy_t = noisy_t + (torch.rand(noisy_t.shape, generator=g) - 0.5) * QUANTIZATION_STEP
        batch = {"noisy": noisy_t, "clean": torch.stack(clean).float() / 255.0, "config": self.config[picks]}
        return {key: value.to(self.device) for key, value in batch.items()}


class RealPairBatches:
    """:class:`RealCrops` (real noisy/clean crops, flips) as :class:`~noiseaug.data.batches.CropBatch` objects
    (seed 0: the supervised objectives draw nothing of their own)."""

    def __init__(self, crops: RealCrops) -> None:
        self.crops = crops

    def batch(self, step: int) -> CropBatch:
        crops = self.crops.batch(step)
        return CropBatch(crops["noisy"], crops["clean"], step, seed=0)
