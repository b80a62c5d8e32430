"""Reading and writing 8-bit RGB images as float tensors in [0, 1] (kornia's IO: PNG and JPEG)."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from kornia.io import ImageLoadType, load_image
from kornia.io import write_image as _kornia_write
from torch import Tensor

from ._validation import as_batch
from .atomic import atomic_write
from .errors import NoiseaugFileError, NoiseaugFileNotFoundError, NoiseaugInputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def image_files(folder: str | Path) -> list[Path]:
    """The PNG/JPEG files directly in ``folder``, sorted by name; errors if none, or if two share a stem."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NoiseaugFileNotFoundError(f"image folder not found: {folder}")
    try:
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    except OSError as error:
        raise NoiseaugFileError(f"cannot list the image folder {folder}: {error.strerror or error}") from error
    if not files:
        raise NoiseaugInputError(f"no {'/'.join(IMAGE_SUFFIXES)} images in {folder}")
    stems: dict[str, Path] = {}
    for path in files:
        if path.stem in stems:
            raise NoiseaugInputError(
                f"{stems[path.stem].name} and {path.name} in {folder} share the name {path.stem!r}; "
                f"outputs and keys go by name, so rename one"
            )
        stems[path.stem] = path
    return files


def read_image_uint8(path: str | Path) -> Tensor:
    """Load an image file as a uint8 ``(3, H, W)`` tensor (8-bit RGB; grey is expanded); errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise NoiseaugFileNotFoundError(f"image file not found: {path}")
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        raise NoiseaugInputError(
            f"unsupported image type {path.suffix!r} for {path}; accepted: {', '.join(IMAGE_SUFFIXES)}"
        )
    if not os.access(path, os.R_OK):
        raise NoiseaugFileError(f"cannot read the image {path}: permission denied")
    try:
        return load_image(path, ImageLoadType.RGB8)
    except (ValueError, RuntimeError, OSError) as error:
        raise NoiseaugInputError(f"{path} is not a readable 8-bit PNG/JPEG image: {error}") from error


def read_image(path: str | Path) -> Tensor:
    """Load an image file as a float32 ``(3, H, W)`` tensor in [0, 1] (8-bit RGB; grey is expanded)."""
    return read_image_uint8(path).to(torch.float32) / 255.0


def to_uint8(image: Tensor) -> Tensor:
    """Quantise a ``(C, H, W)`` float image in [0, 1] to uint8 (values clipped, rounded to nearest)."""
    return (image.detach().float().clamp(0, 1) * 255.0).round().to(torch.uint8).cpu()


def quantize_8bit(image: Tensor) -> Tensor:
    """Clip to [0, 1] and round to the 256 levels of an 8-bit file (float out, same shape and dtype)."""
    return (image.clamp(0, 1) * 255).round() / 255


def write_png(path: str | Path, image: Tensor) -> Path:
    """Write a ``(3, H, W)`` float image in [0, 1] as an 8-bit PNG, atomically (:func:`~noiseaug.atomic.atomic_write`:
    an interrupted write never leaves a truncated file); creates parent folders."""
    x, unbatched = as_batch(image, "image", channels=(1, 3), unit_range=False)
    if not unbatched:
        raise NoiseaugInputError(f"image must have shape (C, H, W), got {tuple(image.shape)}")
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise NoiseaugInputError(f"write_png writes PNG files; got a path ending in {path.suffix!r}")
    pixels = to_uint8(x[0])
    pixels = pixels if pixels.shape[0] == 3 else pixels.expand(3, -1, -1).contiguous()
    return atomic_write(path, lambda tmp: _kornia_write(tmp, pixels))
