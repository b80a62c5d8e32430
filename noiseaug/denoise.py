"""Denoise image files with a pretrained denoiser (``noiseaug denoise``)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from ._validation import check_device
from .denoisers import DnCNN, UNet
from .errors import NoiseaugFileNotFoundError, NoiseaugInputError, NoiseaugTypeError
from .hub import load_pretrained
from .imageio import image_files, read_image, write_png
from .outputs import plan_outputs


def load_denoiser(name_or_path: str | Path, device: str | torch.device = "cpu") -> nn.Module:
    """A pretrained :class:`~noiseaug.DnCNN` or :class:`~noiseaug.UNet` (folder, released name or Hub id), in eval mode.

    ``TypeError`` if the weights are another kind of model (e.g. a noise flow).
    """
    model = load_pretrained(name_or_path, map_location="cpu")
    if not isinstance(model, (DnCNN, UNet)):
        raise NoiseaugTypeError(f"{name_or_path} is a {type(model).__name__}, not a denoiser (DnCNN or UNet)")
    if model.channels != 3:
        raise NoiseaugInputError(
            f"{name_or_path} denoises {model.channels}-channel images; noiseaug denoise takes sRGB files"
        )
    return model.to(check_device(device)).eval()


@torch.no_grad()
def denoise_files(
    model: nn.Module,
    source: str | Path,
    out: str | Path,
    *,
    device: str | torch.device = "cpu",
    progress: bool = True,
    overwrite: bool = False,
    resume: bool = False,
) -> list[Path]:
    """Denoise one image file or every PNG/JPEG of a folder; write 8-bit PNGs; return their paths.

    ``source`` a file: ``out`` is the output file (``.png``), or a folder to write ``<stem>.png`` into.
    ``source`` a folder: ``out`` is a folder, written as ``out/<stem>.png`` per input. Whole images are
    denoised in one pass (the networks are fully convolutional; the U-Net pads to its multiple).
    Every output is checked first (:func:`~noiseaug.outputs.plan_outputs`: never an input; an existing one only
    with ``overwrite``, or kept with ``resume``) and written atomically.
    """
    if not isinstance(model, nn.Module):
        raise NoiseaugTypeError(
            f"model must be a denoiser module (e.g. load_denoiser('dncnn-naflow')), got {type(model).__name__}"
        )
    device = check_device(device)
    source, out = Path(source), Path(out)
    if source.is_file():
        files = [source]
        targets = [out if out.suffix.lower() == ".png" and not out.is_dir() else out / f"{source.stem}.png"]
    elif source.is_dir():
        if out.exists() and not out.is_dir():
            raise NoiseaugInputError(f"out must be a folder for the folder {source}, but {out} is a file")
        files = image_files(source)
        targets = [out / f"{p.stem}.png" for p in files]
    else:
        raise NoiseaugFileNotFoundError(f"source not found: {source}")
    todo = plan_outputs(files, targets, overwrite=overwrite, resume=resume)
    pending = [(path, target) for path, target, write in zip(files, targets, todo, strict=True) if write]
    for path, target in tqdm(pending, desc="denoise", unit="image", disable=not progress):
        noisy = read_image(path).to(device)[None]
        write_png(target, model(noisy).clamp(0, 1)[0].cpu())
    return targets
