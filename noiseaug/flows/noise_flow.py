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

``variant="official"`` is the parameterisation of the authors' own code, which their released SIDD weights
need (:mod:`noiseaug.flows.official`): ISO and camera enter only the S layer, G is one scalar, no act-norm,
and the couplings' sub-networks carry batch norm (stored statistics) and an edge-padding channel. The
converters in :mod:`noiseaug.convert` build it from the official checkpoints.
"""

from __future__ import annotations

import numbers
from dataclasses import replace
from typing import Any, Literal, cast

import torch
from torch import Tensor, nn

from .._validation import check_condition, check_indices, check_int, check_names, require
from ..conditioning import NoiseCondition
from ..errors import NoiseaugInputError, NoiseaugTypeError
from ..hub import PretrainedMixin, register_model
from ..noise.base import LOG_2PI, NoiseModel, standard_normal_like
from .layers import FlowCondition, FlowStep, Gain, SignalDependent, cached_inverses, needed, run_forward, run_inverse
from .official import OfficialConv1x1, OfficialCoupling, OfficialSignalDependent, ScalarGain
from .tiling import DEFAULT_MAX_PIXELS, decode_within_budget

RAW_CHANNELS = 4
#: noiseaug's packed channel order (CFA positions), :mod:`noiseaug.data.bayer`
NOISEAUG_CHANNEL_ORDER = ((0, 0), (0, 1), (1, 0), (1, 1))
#: the packed channel order of the authors' ``pack_raw`` (SIDD Noise Flow, Noise2NoiseFlow)
SIDD_CHANNEL_ORDER = ((0, 0), (0, 1), (1, 1), (1, 0))
#: the official variant's settings and their defaults (the TF Noise Flow checkpoint's conventions)
OFFICIAL_DEFAULTS: dict[str, Any] = {
    "conv_layout": "row",
    "bn_affine": False,
    "bn_eps": 1e-4,
    "channel_order": [list(p) for p in SIDD_CHANNEL_ORDER],
}


@register_model
class NoiseFlow(NoiseModel, PretrainedMixin):
    """Noise Flow over packed raw noise, conditioned on clean signal, ISO and camera.

    Args:
        cameras: camera names; ``cond.camera`` indexes this list.
        iso_levels: the ISO values the model knows; ``cond.iso`` must be one of them.
        hidden: width of the affine-coupling networks (default 5, which keeps the model under 3,000
            parameters: the paper reports fewer than 2,500; 4 for ``"official"``).
        steps: unconditional steps in each of the two A blocks (the paper: 4).
        variant: ``"full"`` (S-Ax4-G-Ax4), ``"nlf"`` (S-G, a heteroscedastic Gaussian) or ``"official"`` (the
            authors' S-(conv, A)x4-G-(conv, A)x4, module docs; ``hidden`` defaults to their 4).
        conv_layout: ``"official"`` only (defaults of this and the next three: the TF checkpoint's): the 1x1
            convolutions act on each pixel's channels as a ``"row"`` vector (TF) or a ``"column"`` vector
            (Noise2NoiseFlow).
        bn_affine: ``"official"`` only: whether the couplings' batch norm is affine (TF: no; Noise2NoiseFlow: yes).
        bn_eps: ``"official"`` only: the couplings' batch-norm epsilon (TF: 1e-4; Noise2NoiseFlow: 1e-5).
        channel_order: ``"official"`` only: the packed CFA positions the weights were trained on (default the
            authors' (0,0), (0,1), (1,1), (1,0)). Inputs and outputs stay in noiseaug's order (0,0), (0,1),
            (1,0), (1,1); the model permutes the channels for its weights (volume preserving: the likelihood is
            unchanged) and back.

    Memory: sampling decodes in tiles when the batch holds more than ``max_pixels`` packed pixels (an
    attribute, default 4 Mpx; :mod:`~noiseaug.flows.tiling`), each with ``tile_overlap`` = 8 packed pixels of
    context: the couplings reach about 6, so tiled and whole-image samples agree up to float32 rounding
    (``benchmarks/tile_overlap.py``, docs/results.md). The S and G layers are pixel-independent.
    The official variant keeps 16 pixels of context, its eight couplings' whole reach (2 pixels each,
    counting the border effects of their padding), so its tiles equal whole-image decoding up to rounding.

    Examples:
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
    iso_table: Tensor

    def __init__(
        self,
        cameras: list[str],
        iso_levels: list[float],
        hidden: int | None = None,
        steps: int = 4,
        variant: Literal["full", "nlf", "official"] = "full",
        *,
        conv_layout: str | None = None,
        bn_affine: bool | None = None,
        bn_eps: float | None = None,
        channel_order: list[list[int]] | None = None,
    ) -> None:
        super().__init__()
        check_names(cameras, "cameras")
        if (
            not isinstance(iso_levels, (list, tuple))
            or not iso_levels
            or not all(isinstance(i, numbers.Real) and not isinstance(i, bool) and i > 0 for i in iso_levels)
        ):
            raise NoiseaugInputError(f"iso_levels must be a non-empty list of positive ISO values, got {iso_levels!r}")
        if variant not in ("full", "nlf", "official"):
            raise NoiseaugInputError(f"variant must be 'full', 'nlf' or 'official', got {variant!r}")
        hidden = (4 if variant == "official" else 5) if hidden is None else hidden
        check_int(hidden, "hidden")
        check_int(steps, "steps", minimum=0)
        self.cameras = list(cameras)
        self.iso_levels = [float(i) for i in iso_levels]
        self.hidden, self.steps, self.variant = hidden, steps, variant
        self.register_buffer("iso_table", torch.tensor(self.iso_levels, dtype=torch.float64), persistent=False)
        official = {
            "conv_layout": conv_layout,
            "bn_affine": bn_affine,
            "bn_eps": bn_eps,
            "channel_order": channel_order,
        }
        if variant == "official":
            self.official: dict[str, Any] | None = _official_settings(official)
            self._build_official()
        else:
            given = sorted(k for k, v in official.items() if v is not None)
            if given:
                raise NoiseaugInputError(f"{', '.join(given)}: only for variant='official', not {variant!r}")
            self.official = None
            block = (
                (lambda offset: [FlowStep(RAW_CHANNELS, hidden, seed=offset + i) for i in range(steps)])
                if variant == "full"
                else (lambda offset: [])
            )
            self.layers = nn.ModuleList(
                [
                    SignalDependent(len(cameras), len(self.iso_levels)),
                    *block(0),
                    Gain(self.iso_levels, len(cameras)),
                    *block(steps),
                ]
            )
        self.max_pixels = DEFAULT_MAX_PIXELS

    def _build_official(self) -> None:
        settings = cast(dict[str, Any], self.official)  # set just before, for the official variant
        row = settings["conv_layout"] == "row"

        def block(offset: int) -> list[nn.Module]:
            return [
                layer
                for i in range(self.steps)
                for layer in (
                    OfficialConv1x1(RAW_CHANNELS, row_vector=row, seed=offset + i),
                    OfficialCoupling(RAW_CHANNELS, self.hidden, settings["bn_affine"], settings["bn_eps"]),
                )
            ]

        self.layers = nn.ModuleList(
            [
                OfficialSignalDependent(len(self.cameras), len(self.iso_levels)),
                *block(0),
                ScalarGain(),
                *block(self.steps),
            ]
        )
        positions = [tuple(p) for p in settings["channel_order"]]
        to_weights = [NOISEAUG_CHANNEL_ORDER.index(p) for p in positions]
        self._to_weights = None if to_weights == [0, 1, 2, 3] else to_weights
        self._from_weights = None if self._to_weights is None else [to_weights.index(k) for k in range(RAW_CHANNELS)]
        self.tile_overlap = 2 * 2 * self.steps

    @property
    def config(self) -> dict[str, Any]:
        """Everything needed to rebuild the architecture (saved as config.json)."""
        config = {
            "model_type": self.model_type,
            "cameras": self.cameras,
            "iso_levels": self.iso_levels,
            "hidden": self.hidden,
            "steps": self.steps,
            "variant": self.variant,
        }
        if self.official is not None:
            config.update({k: (list(map(list, v)) if k == "channel_order" else v) for k, v in self.official.items()})
        return config

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
            raise NoiseaugInputError(
                "NoiseFlow needs cond=NoiseCondition(iso=..., camera=...) with one entry per image"
            )
        iso = cond.iso.to(clean.device, torch.float64)
        match = (iso[:, None] - self.iso_table.to(clean.device)[None]).abs() < 0.5

        def unknown_iso() -> str:
            unknown = sorted({float(v) for v, ok in zip(iso.tolist(), match.any(1).tolist(), strict=True) if not ok})
            return f"unknown ISO {unknown}; this model knows ISO {self.iso_levels}"

        require(
            match.any(1).all(),
            f"cond.iso holds an unknown ISO; this model knows ISO {self.iso_levels}",
            sync_message=unknown_iso,
        )
        given_camera = cond.camera
        camera = given_camera.to(clean.device)
        check_indices(
            camera,
            len(self.cameras),
            f"cond.camera must hold integer indices into {self.cameras}",
            lambda: f", got {given_camera.tolist()}",
        )
        return FlowCondition(
            clean=clean, iso=iso.to(clean.dtype), iso_index=match.long().argmax(1), camera=camera.long()
        )

    def encode(self, noise: Tensor, fc: FlowCondition) -> tuple[Tensor, Tensor]:
        """Noise -> latent ``z`` and per-sample log |det| (noise and ``fc.clean`` in noiseaug's channel order)."""
        if self.official is not None and self._to_weights is not None:
            noise, fc = noise[:, self._to_weights], replace(fc, clean=needed(fc, "clean")[:, self._to_weights])
        return run_forward(self.layers, noise, fc)

    def decode(self, z: Tensor, fc: FlowCondition) -> Tensor:
        """Latent -> noise (in noiseaug's channel order, like ``fc.clean``)."""
        if self.official is not None and self._to_weights is not None:
            fc = replace(fc, clean=needed(fc, "clean")[:, self._to_weights])
            return run_inverse(self.layers, z, fc)[:, self._from_weights]
        return run_inverse(self.layers, z, fc)

    def _log_prob(self, noisy: Tensor, clean: Tensor, cond: NoiseCondition | None) -> Tensor:
        dtype = self.parameter_dtype
        noisy, clean = noisy.to(dtype), clean.to(dtype)
        fc = self.flow_condition(clean, cond)
        z, logdet = self.encode(noisy - clean, fc)
        return -0.5 * (LOG_2PI + z.square()).flatten(1).sum(1) + logdet

    def _sample(
        self, clean: Tensor, cond: NoiseCondition | None, generator: torch.Generator | None, temperature: float = 1.0
    ) -> Tensor:
        x = clean.to(self.parameter_dtype)
        fc = self.flow_condition(x, cond)
        z = temperature * standard_normal_like(x, generator)
        with cached_inverses(self):
            noise = decode_within_budget(
                lambda z_part, clean_part, rows: self.decode(z_part, fc.crop(rows, clean_part)),
                z,
                x,
                max_pixels=self.max_pixels,
                overlap=self.tile_overlap,
            )
        return clean + noise.to(clean.dtype)

    def extra_repr(self) -> str:
        return f"variant={self.variant!r}, cameras={len(self.cameras)}, iso_levels={self.iso_levels}"


def _official_settings(given: dict[str, Any]) -> dict[str, Any]:
    """The official variant's settings: ``given`` (None = default), validated."""
    settings = {k: (OFFICIAL_DEFAULTS[k] if v is None else v) for k, v in given.items()}
    if settings["conv_layout"] not in ("row", "column"):
        raise NoiseaugInputError(f"conv_layout must be 'row' or 'column', got {settings['conv_layout']!r}")
    if not isinstance(settings["bn_affine"], bool):
        raise NoiseaugTypeError(f"bn_affine must be a bool, got {settings['bn_affine']!r}")
    eps = settings["bn_eps"]
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not 0 < float(eps) < 1:
        raise NoiseaugInputError(f"bn_eps must be a number in (0, 1), got {eps!r}")
    order = settings["channel_order"]
    positions = (
        [tuple(p) if isinstance(p, (list, tuple)) else p for p in order] if isinstance(order, (list, tuple)) else None
    )
    if positions is None or sorted(positions) != sorted(NOISEAUG_CHANNEL_ORDER):
        raise NoiseaugInputError(
            f"channel_order must list the four CFA positions {[list(p) for p in NOISEAUG_CHANNEL_ORDER]} "
            f"in some order, got {order!r}"
        )
    settings["bn_eps"] = float(eps)
    settings["channel_order"] = [list(p) for p in positions]
    return settings
