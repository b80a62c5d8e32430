"""Noisy/clean image pairs in one folder, matched by file-name suffix (PolyU, CC15, SIDD crops, yours)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch.utils.data import Dataset

from ..errors import NoiseaugFileNotFoundError, NoiseaugInputError
from ..imageio import IMAGE_SUFFIXES, read_image
from .names import (
    PairMeta,
    parse_cc15,
    parse_polyu,
    parse_polyu_full,
    parse_sidd_dev,
    parse_sidd_train,
    parse_stem_only,
)
from .root import data_folder


@dataclass(frozen=True)
class ImagePair:
    """One pair's files and metadata (``camera``/``iso`` None when unknown)."""

    name: str
    noisy_path: Path
    clean_path: Path
    camera: str | None
    iso: int | None
    scene: str


class PairedImageFolder(Dataset):
    """Pairs ``<stem><noisy_suffix>.<ext>`` / ``<stem><clean_suffix>.<ext>`` in ``root`` (PNG or JPEG).

    Items are dicts: ``noisy`` and ``clean`` float32 ``(3, H, W)`` in [0, 1]; ``camera`` (str,
    ``"unknown"`` when the name does not say), ``iso`` (float, ``nan`` when unknown), ``scene``,
    ``name`` and ``index``: all collate with PyTorch's default ``collate_fn``. ``pairs`` keeps the
    metadata with ``None`` for unknowns. Pairs are sorted by name; a noisy file without its clean
    partner is an error.

    Examples:
        >>> ds = PairedImageFolder.nam_cc15()  # doctest: +SKIP
        >>> len(ds), ds.pairs[0].camera, ds.pairs[0].iso  # doctest: +SKIP
        (15, '5dmark3', 3200)
    """

    def __init__(
        self,
        root: str | Path,
        noisy_suffix: str = "_real",
        clean_suffix: str = "_mean",
        parser: Callable[[str], PairMeta] = parse_stem_only,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise NoiseaugFileNotFoundError(f"root folder {self.root} does not exist")
        self.pairs: list[ImagePair] = []
        for path in sorted(self.root.iterdir()):
            if path.suffix.lower() not in IMAGE_SUFFIXES or not path.stem.endswith(noisy_suffix):
                continue
            stem = path.stem[: -len(noisy_suffix)]
            clean = path.with_name(f"{stem}{clean_suffix}{path.suffix}")
            if not clean.is_file():
                raise NoiseaugFileNotFoundError(
                    f"noisy image {path.name} has no clean partner {clean.name} in {self.root}"
                )
            meta = parser(stem)
            self.pairs.append(ImagePair(stem, path, clean, meta.camera, meta.iso, meta.scene))
        if not self.pairs:
            raise NoiseaugInputError(
                f"no '*{noisy_suffix}.<png|jpg>' files with '*{clean_suffix}' partners in {self.root}"
            )

    @classmethod
    def polyu(cls, root: str | Path | None = None) -> PairedImageFolder:
        """PolyU crops (``*_real.JPG`` / ``*_mean.JPG``), default ``<data root>/real-srgb/polyu``."""
        return cls(root or data_folder("real-srgb", "polyu"), "_real", "_mean", parse_polyu)

    @classmethod
    def nam_cc15(cls, root: str | Path | None = None) -> PairedImageFolder:
        """Nam et al. CC15 (``*_real.png`` / ``*_mean.png``), default ``<data root>/real-srgb/nam-cc15``."""
        return cls(root or data_folder("real-srgb", "nam-cc15"), "_real", "_mean", parse_cc15)

    @classmethod
    def polyu_full(cls, root: str | Path | None = None) -> PairedImageFolder:
        """Full-resolution PolyU photos (``*_real.JPG`` / ``*_mean.JPG``), default ``<data root>/real-srgb/polyu-full``."""
        return cls(root or data_folder("real-srgb", "polyu-full"), "_real", "_mean", parse_polyu_full)

    @classmethod
    def sidd_train(cls, root: str | Path | None = None) -> PairedImageFolder:
        """SIDD smartphone training crops (``*_noisy.png`` / ``*_clean.png``), default ``<data root>/real-srgb/sidd-train``."""
        return cls(root or data_folder("real-srgb", "sidd-train"), "_noisy", "_clean", parse_sidd_train)

    @classmethod
    def sidd_dev(cls, root: str | Path | None = None) -> PairedImageFolder:
        """SIDD sRGB development crops (``*_noisy.png`` / ``*_clean.png``), default ``<data root>/real-srgb/sidd-dev``."""
        return cls(root or data_folder("real-srgb", "sidd-dev"), "_noisy", "_clean", parse_sidd_dev)

    def __len__(self) -> int:
        return len(self.pairs)

    def scene_ids(self) -> list[str]:
        return [p.scene for p in self.pairs]

    def __getitem__(self, index: int) -> dict[str, Any]:
        pair = self.pairs[index]
        return {
            "noisy": read_image(pair.noisy_path),
            "clean": read_image(pair.clean_path),
            "camera": pair.camera or "unknown",
            "iso": float(pair.iso) if pair.iso is not None else math.nan,
            "scene": pair.scene,
            "name": pair.name,
            "index": index,
        }
