"""Metadata parsed from the file names of the real-pair folders (camera, ISO, scene).

Each parser takes a pair's *stem* (the file name without the noisy/clean suffix and extension)
and returns :class:`PairMeta`. ``camera``/``iso`` are ``None`` when the name does not say.
``scene`` groups crops of one captured scene, so that splits never separate them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class PairMeta:
    camera: str | None
    iso: int | None
    scene: str


_CC15 = re.compile(r"^(?P<camera>[^_]+)_iso(?P<iso>\d+)_(?P<index>\d+)$", re.IGNORECASE)
_POLYU = re.compile(
    r"^(?P<camera>[A-Za-z0-9]+)_(?P<aperture>[0-9-]+)_(?P<shutter>\d+)_(?P<iso>\d+)_(?P<scene>.+?)_+(?P<index>\d+)$"
)
_POLYU_NO_ISO = re.compile(r"^(?P<camera>[A-Za-z0-9]+)_(?:[0-9-]+_)*?(?P<scene>[A-Za-z][^_]*?)_+(?P<index>\d+)$")

#: SIDD sRGB development crops whose camera and ISO are known (data README); codes as in SIDD.
SIDD_DEV_LABELS: dict[str, tuple[str, int]] = {"naflow-0032-0023": ("S6", 3200), "naflow-0018-0017": ("GP", 6400)}


def parse_cc15(stem: str) -> PairMeta:
    """Nam et al. CC15: ``d800_iso3200_1`` -> camera ``d800``, ISO 3200; each pair is its own scene."""
    m = _CC15.match(stem)
    if m is None:
        return PairMeta(None, None, stem)
    return PairMeta(m["camera"], int(m["iso"]), stem)


def parse_polyu(stem: str) -> PairMeta:
    """PolyU: ``Canon5D2_5_160_3200_chair_11`` = camera_aperture_shutter_ISO_scene_crop.

    Scene id ``camera/scene`` (e.g. ``Canon5D2/chair``): crops, and captures at other settings, of
    one scene by one camera stay together. Names without the numeric fields give ``iso=None``.
    """
    m = _POLYU.match(stem)
    if m is not None:
        return PairMeta(m["camera"], int(m["iso"]), f"{m['camera']}/{m['scene'].lower()}")
    m = _POLYU_NO_ISO.match(stem)
    if m is not None:
        return PairMeta(m["camera"], None, f"{m['camera']}/{m['scene'].lower()}")
    return PairMeta(None, None, stem)


_SIDD_TRAIN = re.compile(r"^(?P<camera>[A-Za-z0-9]+)_iso(?P<iso>\d+)_(?P<scene>\d+_\d+)_")
_POLYU_FULL = re.compile(r"^(?P<camera>[A-Za-z0-9]+(?:_\d+)?)_(?P<scene>[A-Za-z]+)$")
#: camera names of the full-resolution PolyU photos -> the camera names of their crops
POLYU_FULL_CAMERAS = {"Canon5D2": "Canon5D2", "Canon80D": "Canon80D", "Nikon800": "NikonD800", "Nikon_800": "NikonD800"}


def parse_sidd_train(stem: str) -> PairMeta:
    """SIDD training crops: ``S6_iso00800_0009_001_0000-0000`` -> camera ``S6``, ISO 800, scene ``sidd/0009_001``."""
    m = _SIDD_TRAIN.match(stem)
    if m is None:
        return PairMeta(None, None, stem)
    return PairMeta(m["camera"], int(m["iso"]), f"sidd/{m['scene']}")


def parse_polyu_full(stem: str) -> PairMeta:
    """Full-resolution PolyU photos: ``Canon5D2_bicyc`` -> camera ``Canon5D2`` (the crops' camera names), scene
    ``Canon5D2/bicyc``: the first letters of the crops' scene word (``Canon5D2/bicycle``); no ISO in the name.
    :func:`~noiseaug.data.real_srgb.attach_full_photos` maps each photo onto its crops' scene and ISO."""
    m = _POLYU_FULL.match(stem)
    if m is None:
        return PairMeta(None, None, stem)
    camera = POLYU_FULL_CAMERAS.get(m["camera"], m["camera"])
    return PairMeta(camera, None, f"{camera}/{m['scene'].lower()}")


def parse_sidd_dev(stem: str) -> PairMeta:
    """SIDD development crops: labelled ones per :data:`SIDD_DEV_LABELS`, the others unknown."""
    camera, iso = SIDD_DEV_LABELS.get(stem, (None, None))
    return PairMeta(camera, iso, stem)


def parse_stem_only(stem: str) -> PairMeta:
    """No metadata in the names: every pair is its own scene."""
    return PairMeta(None, None, stem)
