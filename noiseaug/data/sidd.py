"""The SIDD layout as users download it (SIDD_Medium_Raw / SIDD_Medium_Srgb / SIDD Full).

``<root>/Data/<instance>_<scene>_<camera>_<ISO>_<shutter>_<illuminant>_<brightness>/`` holds
``<instance>_GT_RAW_010.MAT`` / ``<instance>_NOISY_RAW_010.MAT`` (MATLAB v7.3 = HDF5, array ``x``,
normalized raw Bayer) or ``..._GT_SRGB_010.PNG`` / ``..._NOISY_SRGB_010.PNG``; the last number is
the capture. SIDD Full has many noisy captures of each scene instance (consecutive numbers).

Raw items are packed ``(4, H/2, W/2)`` by CFA position (odd sizes lose the last row/column); the
values are used as stored. SIDD records the CFA of each image in its METADATA file, which is not
parsed here: pass ``cfa`` (one pattern, or a dict camera code -> pattern) to carry it in the items'
``pattern`` entry; otherwise it is ``"unknown"``. Reading .MAT files needs ``h5py`` (extra ``sidd``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from ..errors import NoiseaugFileNotFoundError, NoiseaugInputError
from ..imageio import read_image
from .bayer import check_pattern, pack_bayer

#: SIDD smartphone codes (from the dataset's read-me).
SIDD_CAMERAS = {
    "GP": "Google Pixel",
    "IP": "iPhone 7",
    "S6": "Samsung Galaxy S6 Edge",
    "N6": "Motorola Nexus 6",
    "G4": "LG G4",
}

_FOLDER = re.compile(
    r"^(?P<instance>\d+)_(?P<scene>\d+)_(?P<camera>[A-Z0-9]+)_(?P<iso>\d+)_(?P<shutter>\d+)_"
    r"(?P<illuminant>\d+)_(?P<brightness>[A-Z])$"
)
_FILE = re.compile(
    r"^(?P<instance>\d+)_(?P<kind>GT|NOISY)_(?P<space>RAW|SRGB)_(?P<capture>\d+)\.(?P<ext>MAT|PNG)$", re.IGNORECASE
)


@dataclass(frozen=True)
class SIDDScene:
    """Metadata of one scene-instance folder, e.g. ``0052_002_S6_01600_01000_5500_N``.

    ``shutter`` is the exposure denominator (1000 means 1/1000 s); ``illuminant`` a colour
    temperature in kelvin; ``brightness`` L (low light), N (normal) or H (high exposure).
    """

    folder: str
    instance: int
    scene: int
    camera: str
    iso: int
    shutter: int
    illuminant: int
    brightness: str


def parse_sidd_folder(name: str) -> SIDDScene:
    """Parse a SIDD scene-instance folder name; ``ValueError`` if it does not follow the layout."""
    m = _FOLDER.match(name)
    if m is None:
        raise NoiseaugInputError(
            f"not a SIDD scene-instance folder name: {name!r}; expected "
            "<instance>_<scene>_<camera>_<ISO>_<shutter>_<illuminant>_<L|N|H>, e.g. 0052_002_S6_01600_01000_5500_N"
        )
    return SIDDScene(
        name,
        int(m["instance"]),
        int(m["scene"]),
        m["camera"],
        int(m["iso"]),
        int(m["shutter"]),
        int(m["illuminant"]),
        m["brightness"],
    )


def read_sidd_mat(path: str | Path, key: str = "x") -> Tensor:
    """A MATLAB v7.3 raw image as float32 ``(1, H, W)`` (HDF5 stores MATLAB arrays transposed)."""
    try:
        import h5py  # noqa: PLC0415 (optional dependency)
    except ImportError as err:
        raise ImportError("reading SIDD .MAT files needs h5py: pip install 'noiseaug[sidd]'") from err
    with h5py.File(path, "r") as f:
        if key not in f:
            raise KeyError(f"{path} has no array {key!r}; it has {sorted(f.keys())}")
        array = np.asarray(f[key], dtype=np.float32).T
    if array.ndim != 2:
        raise NoiseaugInputError(f"{path}:{key} must be a 2-D Bayer mosaic, got shape {array.shape}")
    return torch.from_numpy(np.ascontiguousarray(array))[None]


def _data_dir(root: Path) -> Path:
    data = root / "Data"
    if data.is_dir():
        return data
    if root.is_dir():
        return root
    raise NoiseaugFileNotFoundError(f"SIDD root {root} does not exist (expected <root>/Data/<scene-instance folders>)")


class _SIDDBase(Dataset):
    """Indexes the scene folders and their captures: ``{(folder, kind): {capture: path}}``."""

    def __init__(self, root: str | Path, space: str = "raw", cfa: str | Mapping[str, str] | None = None) -> None:
        if space not in ("raw", "srgb"):
            raise NoiseaugInputError(f"space must be 'raw' or 'srgb', got {space!r}")
        self.root, self.space = Path(root), space
        self.cfa = (
            check_pattern(cfa, "cfa")
            if isinstance(cfa, str)
            else ({k: check_pattern(v, f"cfa[{k!r}]") for k, v in cfa.items()} if cfa is not None else None)
        )
        self.scenes: list[SIDDScene] = []
        self.files: list[dict[str, dict[int, Path]]] = []
        for folder in sorted(p for p in _data_dir(self.root).iterdir() if p.is_dir()):
            try:
                scene = parse_sidd_folder(folder.name)
            except ValueError:
                continue
            found: dict[str, dict[int, Path]] = {"GT": {}, "NOISY": {}}
            for path in folder.iterdir():
                m = _FILE.match(path.name)
                if m and m["space"].upper() == ("RAW" if space == "raw" else "SRGB"):
                    found[m["kind"].upper()][int(m["capture"])] = path
            self.scenes.append(scene)
            self.files.append(found)

    def pattern(self, camera: str) -> str:
        if isinstance(self.cfa, str):
            return self.cfa
        return (self.cfa or {}).get(camera, "unknown")

    def _load(self, path: Path) -> Tensor:
        if self.space == "srgb":
            return read_image(path)
        mosaic = read_sidd_mat(path)
        h, w = mosaic.shape[-2] // 2 * 2, mosaic.shape[-1] // 2 * 2
        return pack_bayer(mosaic[:, :h, :w], "RGGB")  # packing is by CFA position; the pattern is metadata

    def _meta(self, scene: SIDDScene) -> dict[str, Any]:
        return {
            "camera": scene.camera,
            "iso": float(scene.iso),
            "scene": f"{scene.scene:03d}",
            "folder": scene.folder,
            "shutter": scene.shutter,
            "illuminant": scene.illuminant,
            "brightness": scene.brightness,
            "pattern": self.pattern(scene.camera) if self.space == "raw" else "sRGB",
        }

    items: list[tuple[int, int]]  # (scene folder index, capture number)

    def __len__(self) -> int:
        return len(self.items)

    def scene_ids(self) -> list[str]:
        return [f"{self.scenes[k].scene:03d}" for k, _ in self.items]

    def _check_nonempty(self, what: str) -> None:
        if not self.items:
            raise NoiseaugInputError(f"no {what} ({self.space}) found under {self.root}")


class SIDDPairs(_SIDDBase):
    """(noisy, clean) pairs: each NOISY capture with the GT of the same capture number.

    Items: ``noisy``, ``clean`` (raw ``(4, H/2, W/2)`` or sRGB ``(3, H, W)``), ``camera`` (SIDD code),
    ``iso``, ``scene`` (SIDD scene number: instances of one scene share it, use it for splits),
    ``folder``, ``capture``, ``shutter``, ``illuminant``, ``brightness``, ``pattern``.
    """

    def __init__(self, root: str | Path, space: str = "raw", cfa: str | Mapping[str, str] | None = None) -> None:
        super().__init__(root, space, cfa)
        self.items = [(k, c) for k, found in enumerate(self.files) for c in sorted(found["NOISY"]) if c in found["GT"]]
        self._check_nonempty("GT/NOISY pairs")

    def __getitem__(self, index: int) -> dict[str, Any]:
        k, capture = self.items[index]
        scene, found = self.scenes[k], self.files[k]
        return {
            "noisy": self._load(found["NOISY"][capture]),
            "clean": self._load(found["GT"][capture]),
            "capture": capture,
            **self._meta(scene),
        }


class SIDDNoisyPairs(_SIDDBase):
    """Pairs of noisy captures of one scene instance (consecutive capture numbers), for Noise2NoiseFlow.

    Every noisy capture ``c`` whose successor ``c + 1`` exists gives one item: ``noisy1`` (capture c),
    ``noisy2`` (c + 1), ``clean`` (the GT with number c or, failing that, any GT of the instance; absent
    when there is none), and the metadata of :class:`SIDDPairs`.
    """

    def __init__(self, root: str | Path, space: str = "raw", cfa: str | Mapping[str, str] | None = None) -> None:
        super().__init__(root, space, cfa)
        self.items = [
            (k, c) for k, found in enumerate(self.files) for c in sorted(found["NOISY"]) if c + 1 in found["NOISY"]
        ]
        self._check_nonempty("consecutive noisy captures")

    def __getitem__(self, index: int) -> dict[str, Any]:
        k, capture = self.items[index]
        scene, found = self.scenes[k], self.files[k]
        item = {
            "noisy1": self._load(found["NOISY"][capture]),
            "noisy2": self._load(found["NOISY"][capture + 1]),
            "capture": capture,
            **self._meta(scene),
        }
        gt = found["GT"].get(capture) or (found["GT"][min(found["GT"])] if found["GT"] else None)
        if gt is not None:
            item["clean"] = self._load(gt)
        return item
