"""Noise Flow (Abdelhamed, Brubaker, Brown, ICCV 2019): a conditional flow over raw-RGB noise.

The model is a density over the noise ``n = noisy - clean`` of packed raw images ``(B, 4, H, W)``
on the [0, 1] scale, conditioned on the clean image, the ISO and the camera. The paper's best
architecture, S-Ax4-G-Ax4-CAM, read in the data -> latent direction:

* **S**: signal-dependent layer, ``n / sqrt(beta1 * clean + beta2)`` (betas per camera and ISO);
* **Ax4**: four unconditional Glow steps (ActNorm, LU 1x1 conv, affine coupling);
* **G**: gain layer, division by ``gamma = psi[camera] * u[iso] * iso``;
* **Ax4**: four more unconditional steps; then a standard normal base distribution.

``variant="nlf"`` keeps only S and G: the heteroscedastic Gaussian NLF as a flow, with the
camera- and ISO-dependent gain (the ablation baseline of Noise2NoiseFlow).
"""

from __future__ import annotations

import numbers
from typing import Any, Literal

import torch
from torch import Tensor, nn

from .._validation import check_condition, check_indices, check_int, check_names, require
from ..conditioning import NoiseCondition
from ..errors import NoiseaugInputError
from ..hub import PretrainedMixin, register_model
from ..noise.base import LOG_2PI, NoiseModel, standard_normal_like
from .layers import FlowCondition, FlowStep, Gain, SignalDependent, cached_inverses, run_forward, run_inverse
from .tiling import DEFAULT_MAX_PIXELS, decode_within_budget

RAW_CHANNELS = 4


@register_model
class NoiseFlow(NoiseModel, PretrainedMixin):
    """Noise Flow over packed raw noise, conditioned on clean signal, ISO and camera.

    Args:
        cameras: camera names; ``cond.camera`` indexes this list.
        iso_levels: the ISO values the gain layer knows; ``cond.iso`` must be one of them.
        hidden: width of the affine-coupling networks (the default keeps the model under 3,000
            parameters: the paper reports fewer than 2,500).
        steps: unconditional steps in each of the two A blocks (the paper: 4).
        variant: ``"full"`` (S-Ax4-G-Ax4) or ``"nlf"`` (S-G, a heteroscedastic Gaussian).

    Memory: sampling decodes in tiles when the batch holds more than ``max_pixels`` packed pixels (an
    attribute, default 4 Mpx; :mod:`~noiseaug.flows.tiling`), each with ``tile_overlap`` = 8 packed pixels of
    context: the couplings reach about 6, so tiled and whole-image samples of the released
    ``noiseflow-simcam`` agree to float32 rounding (2e-5/255; ``benchmarks/tile_overlap.py``). The S and G layers are pixel-independent.

    Example:
        >>> import torch
        >>> from noiseaug import NoiseCondition
        >>> flow = NoiseFlow(cameras=["cam0", "cam1"], iso_levels=[100, 800])
        >>> clean = torch.rand(2, 4, 16, 16)
        >>> cond = NoiseCondition(iso=torch.tensor([100.0, 800.0]), camera=torch.tensor([0, 1]))
        >>> noisy = flow.sample(clean, cond, generator=torch.Generator().manual_seed(0), temperature=0.01)
        >>> flow.nll(noisy, clean, cond).shape
        torch.Size([2])
    """

    model_type = "noiseflow"
    channels = (RAW_CHANNELS,)
    #: context (packed pixels) around each tile's core when sampling is tiled (class docs)
    tile_overlap = 8

    def __init__(self, cameras: list[str], iso_levels: list[float], hidden: int = 5, steps: int = 4,
                 variant: Literal["full", "nlf"] = "full") -> None:
        super().__init__()
        check_names(cameras, "cameras")
        if not isinstance(iso_levels, (list, tuple)) or not iso_levels or not all(
                isinstance(i, numbers.Real) and not isinstance(i, bool) and i > 0 for i in iso_levels):
            raise NoiseaugInputError(f"iso_levels must be a non-empty list of positive ISO values, got {iso_levels!r}")
        if variant not in ("full", "nlf"):
            raise NoiseaugInputError(f"variant must be 'full' or 'nlf', got {variant!r}")
        check_int(hidden, "hidden")
        check_int(steps, "steps", minimum=0)
        self.cameras = list(cameras)
        self.iso_levels = [float(i) for i in iso_levels]
        self.hidden, self.steps, self.variant = hidden, steps, variant
        self.register_buffer("iso_table", torch.tensor(self.iso_levels, dtype=torch.float64), persistent=False)
        block = (lambda offset: [FlowStep(RAW_CHANNELS, hidden, seed=offset + i) for i in range(steps)]) \
            if variant == "full" else (lambda offset: [])
        self.layers = nn.ModuleList([SignalDependent(len(cameras), len(self.iso_levels)), *block(0),
                                     Gain(self.iso_levels, len(cameras)), *block(steps)])
        self.max_pixels = DEFAULT_MAX_PIXELS

    @property
    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild the architecture (saved as config.json)."""
        return {"model_type": self.model_type, "cameras": self.cameras, "iso_levels": self.iso_levels,
                "hidden": self.hidden, "steps": self.steps, "variant": self.variant}

    @property
    def parameter_dtype(self) -> torch.dtype:
        """The dtype the flow runs in (its parameters'); images of other float dtypes are converted for it."""
        return next(self.parameters()).dtype

    def flow_condition(self, clean: Tensor, cond: NoiseCondition | None) -> FlowCondition:
        """Validate ``cond`` (ISO and camera per sample) and map it to the layers' indices.

        The value checks follow the ambient validation mode (:func:`noiseaug._validation.validation`).
        """
        cond = check_condition(cond, clean.shape[0])
        if cond is None or cond.iso is None or cond.camera is None:
            raise NoiseaugInputError("NoiseFlow needs cond=NoiseCondition(iso=..., camera=...) with one entry per image")
        iso = cond.iso.to(clean.device, torch.float64)
        match = (iso[:, None] - self.iso_table.to(clean.device)[None]).abs() < 0.5

        def unknown_iso() -> str:
            unknown = sorted({float(v) for v, ok in zip(iso.tolist(), match.any(1).tolist()) if not ok})
            return f"unknown ISO {unknown}; this model knows ISO {self.iso_levels}"

        require(match.any(1).all(), f"cond.iso holds an unknown ISO; this model knows ISO {self.iso_levels}",
                sync_message=unknown_iso)
        camera = cond.camera.to(clean.device)
        check_indices(camera, len(self.cameras), f"cond.camera must hold integer indices into {self.cameras}",
                      lambda: f", got {cond.camera.tolist()}")
        return FlowCondition(clean=clean, iso=iso.to(clean.dtype), iso_index=match.long().argmax(1), camera=camera.long())

    def encode(self, noise: Tensor, fc: FlowCondition) -> tuple[Tensor, Tensor]:
        """Noise -> latent ``z`` and per-sample log |det|."""
        return run_forward(self.layers, noise, fc)

    def decode(self, z: Tensor, fc: FlowCondition) -> Tensor:
        """Latent -> noise."""
        return run_inverse(self.layers, z, fc)

    def _log_prob(self, noisy: Tensor, clean: Tensor, cond: NoiseCondition | None) -> Tensor:
        dtype = self.parameter_dtype
        noisy, clean = noisy.to(dtype), clean.to(dtype)
        fc = self.flow_condition(clean, cond)
        z, logdet = self.encode(noisy - clean, fc)
        return -0.5 * (LOG_2PI + z.square()).flatten(1).sum(1) + logdet

    def _sample(self, clean: Tensor, cond: NoiseCondition | None, generator: torch.Generator | None,
                temperature: float = 1.0) -> Tensor:
        x = clean.to(self.parameter_dtype)
        fc = self.flow_condition(x, cond)
        z = temperature * standard_normal_like(x, generator)
        with cached_inverses(self):
            noise = decode_within_budget(lambda z_part, clean_part, rows: self.decode(z_part, fc.crop(rows, clean_part)),
                                         z, x, max_pixels=self.max_pixels, overlap=self.tile_overlap)
        return clean + noise.to(clean.dtype)

    def extra_repr(self) -> str:
        return f"variant={self.variant!r}, cameras={len(self.cameras)}, iso_levels={self.iso_levels}"
