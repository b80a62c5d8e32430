"""Noise Flow as a batched augmentation for raw images: packed ``(B, 4, H, W)`` or mosaics ``(B, 1, 2H, 2W)``."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .._validation import check_known_names, check_temperature
from ..conditioning import NoiseCondition
from ..data.bayer import check_pattern, pack_bayer, unpack_bayer
from ..errors import NoiseaugInputError, NoiseaugTypeError
from ..flows.noise_flow import NoiseFlow
from .base import NoiseTransform, Shape
from .flow_precision import flow_dtype, sample_in_flow_precision
from .noise_params import NoiseParams, ParameterSpec


class NoiseFlowTransform(NoiseTransform):
    """Add Noise Flow samples to clean raw images, with per-sample ISO and camera.

    Input: packed raw ``(B, 4, H, W)`` (channels in CFA-position order (0,0), (0,1), (1,0), (1,1))
    or a Bayer mosaic ``(B, 1, 2H, 2W)``, normalised to [0, 1]; ``(C, H, W)`` works too. A mosaic is
    packed with :func:`~noiseaug.data.bayer.pack_bayer`, noised, and unpacked with
    :func:`~noiseaug.data.bayer.unpack_bayer`; both are exact permutations of pixels, so the noise
    of packed channel ``k`` lands on exactly the mosaic sites of CFA position ``k``, and a mosaic
    call equals ``unpack(transform(pack(mosaic)))`` bit for bit with the same generator seed.
    ``pattern`` (``"RGGB"``, ``"BGGR"``, ``"GRBG"``, ``"GBRG"``) is validated and kept as metadata;
    packing does not depend on it, so use a model trained on data of the same pattern.

    Conditioning: if the call passes ``cond`` (a :class:`~noiseaug.NoiseCondition` with ``iso`` and
    ``camera`` camera indices into ``model.cameras``), it is used as given; otherwise each sample
    draws an ISO from ``isos`` and a camera from ``cameras`` independently and uniformly (a field
    missing from ``cond`` is drawn the same way). Draw order: ``p`` mask, ISOs, cameras, noise.

    Parameters (``params.draws``): ``iso``, ``(B,)`` float, the ISO speed of each image (a level of
    ``model.iso_levels``, or ``cond.iso`` as given), and ``camera``, ``(B,)`` long, its index into
    ``model.cameras``; with ``p < 1`` only the selected rows are drawn (the others hold zeros).

    Precision: the flow runs in its parameters' dtype (float32 unless ``.double()`` was called) with
    autocast disabled; float16 / bfloat16 images are upcast for it and the result cast back, and
    float64 images get the flow's noise added to their exact values. The output has the input's
    shape, dtype and device, and no autograd graph (sampling runs under ``torch.no_grad()``: this is
    an augmentation, not a layer to train through). With ``p < 1`` only selected rows reach the flow.

    Large images: a call holding more than ``model.max_pixels`` packed pixels (default 4 Mpx) is decoded a
    few images at a time or in tiles; see :class:`~noiseaug.flows.noise_flow.NoiseFlow`.

    Args:
        model: the :class:`~noiseaug.flows.noise_flow.NoiseFlow` to sample (becomes a sub-module).
        isos: ISO values to draw from (default: every level the model knows).
        cameras: camera *names* to draw from (default: every camera the model knows).
        temperature: latent standard deviation (>= 0): 1 samples the model, 0 decodes the zero latent
            (deterministic; the mean for the Gaussian-family layers, not in general for a flow).
        p: probability that each image is noised. clip: clamp the output to [0, 1].
        pattern: the CFA pattern of the images (metadata; see above).
        validate: how values are checked (``"sync"``, ``"async"``, ``"off"``; see
            :class:`~noiseaug.transforms.base.NoiseTransform`): the images, and a given ``cond``'s ISO and
            camera indices.

    Examples:
        >>> import torch
        >>> from noiseaug.flows.noise_flow import NoiseFlow
        >>> flow = NoiseFlow(cameras=["cam0", "cam1"], iso_levels=[100, 800, 3200])
        >>> transform = NoiseFlowTransform(flow, isos=[800, 3200], cameras=["cam1"], p=0.5)
        >>> clean = torch.rand(8, 4, 16, 16, generator=torch.Generator().manual_seed(0))
        >>> noisy = transform(clean, generator=torch.Generator().manual_seed(1))
        >>> noisy.shape, noisy.dtype, bool(noisy.min() >= 0 and noisy.max() <= 1)
        (torch.Size([8, 4, 16, 16]), torch.float32, True)
        >>> transform(torch.rand(2, 1, 32, 32)).shape  # a Bayer mosaic
        torch.Size([2, 1, 32, 32])
    """

    channels = (1, 4)
    compute_selected_rows_only = True
    nested_checks = True
    iso_choices: Tensor
    camera_choices: Tensor

    def __init__(
        self,
        model: NoiseFlow,
        isos: Sequence[float] | None = None,
        cameras: Sequence[str] | None = None,
        temperature: float = 1.0,
        p: float = 1.0,
        clip: bool = True,
        pattern: str = "RGGB",
        validate: str = "sync",
    ) -> None:
        super().__init__(p=p, clip=clip, validate=validate)
        if not isinstance(model, NoiseFlow):
            raise NoiseaugTypeError(f"model must be a NoiseFlow, got {type(model).__name__}")
        self.model = model
        self.temperature = check_temperature(temperature)
        self.pattern = check_pattern(pattern)
        self.isos = _known_isos(model, isos)
        self.cameras = check_known_names(cameras, model.cameras, "cameras")
        iso_rows = [model.iso_levels.index(i) for i in self.isos]
        camera_rows = [model.cameras.index(c) for c in self.cameras]
        # Integer buffers: they follow .to(device) but not .half()/.double().
        self.register_buffer("iso_choices", torch.tensor(iso_rows, dtype=torch.long), persistent=False)
        self.register_buffer("camera_choices", torch.tensor(camera_rows, dtype=torch.long), persistent=False)

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path,
        *,
        revision: str | None = None,
        cache_dir: str | Path | None = None,
        map_location: str | torch.device = "cpu",
        **transform_kwargs: Any,
    ) -> NoiseFlowTransform:
        """Load a :class:`NoiseFlow` (folder, released name or Hub repo id) and wrap it.

        ``transform_kwargs`` are this class's constructor arguments (``isos``, ``cameras``, ``p``, ...).
        """
        model = NoiseFlow.from_pretrained(
            name_or_path, revision=revision, cache_dir=cache_dir, map_location=map_location
        )
        return cls(model, **transform_kwargs)

    def forward(
        self,
        images: Tensor,
        cond: NoiseCondition | None = None,
        generator: torch.Generator | None = None,
        *,
        params: NoiseParams | None = None,
    ) -> Tensor:
        """Return ``images`` with Noise Flow noise added (a new tensor; see the class docs)."""
        flow_dtype(self.model, type(self).__name__)
        if isinstance(images, Tensor) and images.ndim in (3, 4):
            self._check_call(images.shape, None, "images")
        return super().forward(images, cond, generator, params=params)

    def _check_call(self, shape: tuple[int, ...], cond: NoiseCondition | None, name: str) -> None:
        if shape[-3] == 1 and (shape[-1] % 2 or shape[-2] % 2):
            raise NoiseaugInputError(
                f"{name}: a Bayer mosaic (B, 1, H, W) needs even H and W, got shape {tuple(shape)}"
            )

    def draw_condition(
        self, n: int, generator: torch.Generator | None, device: torch.device, cond: NoiseCondition | None = None
    ) -> NoiseCondition:
        """ISO and camera index per sample: ``cond``'s fields where given, else uniform draws from the sets."""
        iso = None if cond is None else cond.iso
        camera = None if cond is None else cond.camera
        if iso is None:
            pick = torch.randint(len(self.isos), (n,), generator=generator, device=device)
            iso = self.model.get_buffer("iso_table").to(device)[self.iso_choices.to(device)[pick]]
        if camera is None:
            pick = torch.randint(len(self.cameras), (n,), generator=generator, device=device)
            camera = self.camera_choices.to(device)[pick]
        return NoiseCondition(iso=iso, camera=camera)

    def parameter_spec(self) -> ParameterSpec:
        return {"iso": (self.model.get_buffer("iso_table").dtype, ()), "camera": (torch.long, ())}

    def describe_parameters(self, params: NoiseParams, row: int = 0) -> dict[str, Any]:
        camera = int(params.draws["camera"][row])
        return {
            "iso": float(params.draws["iso"][row]),
            "camera": self.model.cameras[camera] if 0 <= camera < len(self.model.cameras) else camera,
        }

    def draw_parameters(
        self, shape: Shape, cond: NoiseCondition | None, generator: torch.Generator | None, device: torch.device
    ) -> dict[str, Tensor]:
        drawn = self.draw_condition(shape[0], generator, device, cond)
        assert drawn.iso is not None and drawn.camera is not None
        return {"iso": drawn.iso.to(device), "camera": drawn.camera.to(device)}

    def add_noise(self, clean: Tensor, params: NoiseParams, generator: torch.Generator | None) -> Tensor:
        mosaic = clean.shape[1] == 1
        x = pack_bayer(clean, self.pattern) if mosaic else clean
        flow_cond = NoiseCondition(iso=params.draws["iso"], camera=params.draws["camera"])
        noisy = sample_in_flow_precision(
            x,
            flow_dtype(self.model, type(self).__name__),
            lambda x_flow: self.model._sample(x_flow, flow_cond, generator, self.temperature),
        )
        return unpack_bayer(noisy, self.pattern) if mosaic else noisy

    def extra_repr(self) -> str:
        return (
            f"isos={self.isos}, cameras={self.cameras}, temperature={self.temperature}, "
            f"pattern={self.pattern!r}, {super().extra_repr()}"
        )


def _known_isos(model: NoiseFlow, isos: Sequence[float] | None) -> list[float]:
    """``isos`` mapped onto the model's levels (within 0.5, as the model matches ISO); errors list the known ones."""
    if isos is None:
        return list(model.iso_levels)
    if (
        isinstance(isos, (str, bytes))
        or not isinstance(isos, Sequence)
        or not all(isinstance(i, numbers.Real) and not isinstance(i, bool) for i in isos)
    ):
        raise NoiseaugTypeError(f"isos must be a sequence of ISO numbers (or None for all), got {isos!r}")
    if not isos:
        raise NoiseaugInputError(f"isos must not be empty; the model knows ISO {model.iso_levels}")
    matched = [next((level for level in model.iso_levels if abs(level - float(i)) < 0.5), None) for i in isos]
    unknown = [i for i, m in zip(isos, matched, strict=True) if m is None]
    if unknown:
        raise NoiseaugInputError(f"isos: unknown ISO {unknown}; the model knows ISO {model.iso_levels}")
    if len(set(matched)) != len(matched):
        raise NoiseaugInputError(f"isos must be distinct, got {list(isos)}")
    return [m for m in matched if m is not None]
