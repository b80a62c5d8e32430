"""What the host-library adapters (kornia, albumentations, torchvision) share.

Each adapter wraps any :class:`~noiseaug.transforms.base.NoiseTransform` built with ``p=1``: the host library
decides which images are noised (its own ``p``, drawn from its own random state), and the wrapped transform
noises exactly the rows it is handed. Images that are not floats in [0, 1] are converted here, at the boundary,
and nowhere else.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import get_worker_info

from .._seeds import mix_seeds
from ..errors import NoiseaugInputError, NoiseaugTypeError
from .base import NoiseTransform, check_call_shape


def missing_dependency(extra: str, error: Exception) -> ImportError:
    """The error an adapter module raises when its host library is missing or cannot be imported."""
    return ImportError(
        f"noiseaug.transforms.{extra} needs the optional dependency {extra!r}: "
        f"pip install noiseaug[{extra}] (importing it failed with {type(error).__name__}: {error})"
    )


def check_wrapped(transform: object, adapter: str) -> NoiseTransform:
    """The transform an adapter wraps: a :class:`NoiseTransform` with ``p == 1`` (the adapter owns ``p``)."""
    if not isinstance(transform, NoiseTransform):
        raise NoiseaugTypeError(
            f"{adapter}: transform must be a noiseaug NoiseTransform (e.g. GaussianNoiseTransform()), "
            f"got {type(transform).__name__}"
        )
    if transform.p != 1.0:
        raise NoiseaugInputError(
            f"{adapter}: the adapter applies p itself, so build the wrapped transform with p=1.0 "
            f"(got p={transform.p}) and pass p={transform.p} to {adapter} instead"
        )
    return transform


def transform_device(transform: NoiseTransform) -> torch.device:
    """Where the wrapped transform computes: the device of its first parameter or buffer (CPU if it has none)."""
    for tensor in (*transform.parameters(), *transform.buffers()):
        return tensor.device
    return torch.device("cpu")


def noise_selected(
    transform: NoiseTransform, x: Tensor, selected: Tensor | None, generator: torch.Generator | None
) -> Tensor:
    """Noise the rows of the ``(B, C, H, W)`` batch ``x`` where ``selected`` is set (every row if ``None``).

    The wrapped transform's two steps, with the host library's gate as the mask: a flow
    (``compute_selected_rows_only``) draws and computes only the selected rows, cheap noise is computed for all
    and selected with ``torch.where``.
    """
    check_call_shape(transform, x.shape)
    params = transform.generate_parameters(x.shape, generator=generator, selected=selected, device=x.device)
    return transform(x, generator=generator, params=params)


def to_unit(images: Tensor) -> tuple[Tensor, torch.dtype]:
    """uint8 or float images as floats in [0, 1] (uint8 scaled by 1/255), plus the dtype to convert back to."""
    if images.dtype == torch.uint8:
        return images.to(torch.float32).div_(255.0), images.dtype
    if images.is_floating_point():
        return images, images.dtype
    raise NoiseaugTypeError(f"image must be uint8 (0..255) or floating point in [0, 1], got dtype {images.dtype}")


def from_unit(noisy: Tensor, dtype: torch.dtype, *, in_place: bool = False) -> Tensor:
    """Undo :func:`to_unit`: uint8 is rounded to the nearest level and clamped to 0..255.

    ``in_place``: ``noisy`` (a tensor the caller owns) may be overwritten on the way.
    """
    if dtype == torch.uint8:
        scaled = noisy.mul_(255.0) if in_place else noisy * 255.0
        return scaled.round_().clamp_(0, 255).to(torch.uint8)
    return noisy.to(dtype)


def noise_images(
    transform: NoiseTransform, images: Tensor, selected: Tensor | None, generator: torch.Generator | None
) -> Tensor:
    """:func:`noise_selected` on a ``(B, C, H, W)`` uint8 or float batch; the result has the input's dtype."""
    x, dtype = to_unit(images)
    return from_unit(noise_selected(transform, x, selected, generator), dtype)


def noise_hwc(
    transform: NoiseTransform, images: np.ndarray, selected: Tensor | None, generator: torch.Generator | None
) -> np.ndarray:
    """Noise numpy images ``(N, H, W, C)`` or ``(N, H, W)``, uint8 or float32, on the transform's device.

    The images go through torch as one ``(N, C, H, W)`` batch; the result has the input's shape and dtype.
    ``uint8`` images change layout while still ``uint8`` (a quarter of the bytes of the float batch, and
    torch's strided float copies between these layouts are slow on the CPU).
    """
    if images.dtype not in (np.uint8, np.float32):
        raise NoiseaugTypeError(f"image must be uint8 (0..255) or float32 in [0, 1], got dtype {images.dtype}")
    gray = images.ndim == 3
    array = images[..., None] if gray else images
    if not array.flags.writeable or any(stride < 0 for stride in array.strides):  # torch takes neither
        array = array.copy()
    batch = torch.from_numpy(array).to(transform_device(transform)).permute(0, 3, 1, 2)
    if batch.dtype == torch.uint8:
        x, dtype = to_unit(batch.contiguous())
        noisy = from_unit(noise_selected(transform, x, selected, generator), dtype, in_place=True)
        out = noisy.permute(0, 2, 3, 1).contiguous().cpu().numpy()
    else:
        out = noise_images(transform, batch, selected, generator).permute(0, 2, 3, 1).cpu().numpy()
    return np.ascontiguousarray(out[..., 0] if gray else out)


def seed_from_numpy(rng: np.random.Generator) -> int:
    """A 63-bit ``torch.Generator`` seed drawn from a numpy Generator, made distinct per DataLoader worker.

    A worker process starts with a copy of its parent's numpy state, so the draw alone would repeat across
    workers (and across epochs, for workers that are started anew). Inside a worker, the draw is mixed with the
    worker's seed, which PyTorch derives from the DataLoader's base seed (one per iterator, from the DataLoader's
    ``generator`` or torch's global RNG) plus the worker id: different per worker and per epoch, and reproducible
    when that base seed is.
    """
    draw = int(rng.integers(0, 2**63 - 1))
    worker = get_worker_info()
    if worker is None:
        return draw
    return mix_seeds(draw, worker.seed)


def seeded_generator(seed: int, device: torch.device) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed``."""
    return torch.Generator(device=device).manual_seed(seed)
