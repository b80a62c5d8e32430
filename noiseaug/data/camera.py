"""A simulated camera whose noise distribution is known exactly: unprocess -> sensor noise -> ISP.

Raw images are packed Bayer ``(B, 4, H/2, W/2)`` in normalized units (0 = black level, 1 = white
level; after noise, values may go down to ``-black_level / (white - black)`` and are clipped at 1).
The noise model and its parameters are described in :mod:`noiseaug.data.sensor` and docs/DATA.md.

Examples:
    >>> import torch
    >>> cam = SimulatedCamera()
    >>> srgb = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    >>> cond = cam.condition(["sim-a", "sim-e"], [100, 3200])
    >>> draw = cam.capture(srgb, cond, generator=torch.Generator().manual_seed(1), captures=2)
    >>> clean, noisy = draw.pair()
    >>> tuple(noisy.shape), tuple(draw.noisy_srgb().shape), draw.patterns
    ((2, 4, 16, 16), (2, 3, 32, 32), ('RGGB', 'RGGB'))
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import torch
from torch import Tensor, nn

from .._validation import as_batch, check_condition, check_generator, check_int, check_same_shape, unbatch
from ..conditioning import NoiseCondition
from ..errors import NoiseaugInputError, NoiseaugTypeError
from ..noise.poisson_gaussian import poisson_gaussian_pixel_log_prob
from .isp import ISPParams, process, random_isp_params, unprocess
from .sensor import SIDD_SENSORS, SIM_ISOS, SIM_SENSORS, SensorSpec

#: Side of the periodic fixed-pattern tile, in packed pixels.
FPN_TILE = 128
#: Memory budget of the exact likelihood: pixels x summation terms per chunk.
_EXACT_TERMS_PER_CHUNK = 2_000_000


@dataclass(frozen=True)
class CameraDraw:
    """One simulated capture of a batch: the clean raw, ``captures`` independent noisy raws, metadata.

    ``cond`` holds ``camera`` (index into ``SimulatedCamera.cameras``) and ``iso``; ``isp`` the
    per-sample ISP settings (CCM, gains, CFA pattern) that render raw to sRGB.
    """

    clean_raw: Tensor
    noisy_raw: tuple[Tensor, ...]
    cond: NoiseCondition
    isp: ISPParams
    cameras: tuple[str, ...]

    @property
    def patterns(self) -> tuple[str, ...]:
        return self.isp.patterns

    @property
    def isos(self) -> tuple[int, ...]:
        return tuple(int(v) for v in cast(Tensor, self.cond.iso).tolist())  # a draw always has its ISOs

    def clean_srgb(self) -> Tensor:
        """The clean raw rendered by the ISP, ``(B, 3, H, W)``."""
        return process(self.clean_raw, self.isp)

    def noisy_srgb(self, capture: int = 0) -> Tensor:
        """Noisy capture ``capture`` rendered by the ISP, ``(B, 3, H, W)``."""
        return process(self.noisy_raw[capture], self.isp)

    def pair(self, space: str = "raw") -> tuple[Tensor, Tensor]:
        """``(clean, noisy)`` in ``space`` ``"raw"`` (packed) or ``"srgb"``."""
        if _space(space) == "raw":
            return self.clean_raw, self.noisy_raw[0]
        return self.clean_srgb(), self.noisy_srgb(0)

    def noisy_pair(self, space: str = "raw") -> tuple[Tensor, Tensor]:
        """Two independent noisy captures of the same clean image (needs ``captures >= 2``)."""
        if len(self.noisy_raw) < 2:
            raise NoiseaugInputError(f"noisy_pair needs a draw with captures >= 2, this one has {len(self.noisy_raw)}")
        if _space(space) == "raw":
            return self.noisy_raw[0], self.noisy_raw[1]
        return self.noisy_srgb(0), self.noisy_srgb(1)

    def noisy(self, space: str = "raw") -> Tensor:
        """A single noisy image (capture 0)."""
        return self.noisy_raw[0] if _space(space) == "raw" else self.noisy_srgb(0)


def _space(space: str) -> str:
    if space not in ("raw", "srgb"):
        raise NoiseaugInputError(f"space must be 'raw' or 'srgb', got {space!r}")
    return space


class SimulatedCamera(nn.Module):
    """Physical sensor noise for five simulated cameras at ISO 100/400/800/1600/3200 (or other presets, e.g. the
    five SIDD phones of :meth:`sidd_phones`).

    ``noisy = clip(quantize(beta1 * Poisson(x / beta1) + read + row + fpn))`` in normalized raw
    units, per (camera, ISO) from :data:`~noiseaug.data.sensor.SIM_SENSORS`. Each component can be
    switched off; with ``row_noise``, ``fixed_pattern``, ``clip`` and ``quantize`` all off the model is
    pixel-independent Poisson-Gaussian and :meth:`nll` gives its exact likelihood.

    Conditioning: a :class:`~noiseaug.conditioning.NoiseCondition` with per-sample ``camera``
    (index into :attr:`cameras`) and ``iso``; build one from names with :meth:`condition`.
    Randomness comes only from the ``generator`` arguments (bit-identical for a seed and device).
    """

    beta1_table: Tensor
    read_std_table: Tensor
    row_ratio: Tensor
    fpn_ratio: Tensor
    dn_range: Tensor
    black_floor: Tensor
    iso_values: Tensor
    fpn_tiles: Tensor

    def __init__(
        self,
        sensors: Sequence[SensorSpec] = SIM_SENSORS,
        isos: Sequence[int] = SIM_ISOS,
        *,
        row_noise: bool = True,
        fixed_pattern: bool = True,
        clip: bool = True,
        quantize: bool = True,
    ) -> None:
        super().__init__()
        self.sensors = tuple(sensors)
        self.isos = tuple(int(i) for i in isos)
        self.row_noise, self.fixed_pattern, self.clip, self.quantize = row_noise, fixed_pattern, clip, quantize
        table = lambda f: torch.tensor([[f(s, iso) for iso in self.isos] for s in self.sensors], dtype=torch.float64)  # noqa: E731
        self.register_buffer("beta1_table", table(SensorSpec.beta1).float())
        self.register_buffer("read_std_table", table(lambda s, iso: math.sqrt(s.read_variance(iso))).float())
        per_cam = lambda f: torch.tensor([f(s) for s in self.sensors], dtype=torch.float32)  # noqa: E731
        self.register_buffer("row_ratio", per_cam(lambda s: s.row_ratio))
        self.register_buffer("fpn_ratio", per_cam(lambda s: s.fpn_ratio))
        self.register_buffer("dn_range", per_cam(lambda s: s.dn_range))
        self.register_buffer("black_floor", per_cam(lambda s: -s.black_level / s.dn_range))
        self.register_buffer("iso_values", torch.tensor(self.isos, dtype=torch.float32))
        self.register_buffer(
            "fpn_tiles", torch.stack([_fpn_tile(k) for k in range(len(self.sensors))]), persistent=False
        )

    @classmethod
    def pixel_independent(
        cls, sensors: Sequence[SensorSpec] = SIM_SENSORS, isos: Sequence[int] = SIM_ISOS
    ) -> SimulatedCamera:
        """The Poisson-Gaussian core only (no row noise, FPN, clipping or quantization): exact :meth:`nll`."""
        return cls(sensors, isos, row_noise=False, fixed_pattern=False, clip=False, quantize=False)

    @classmethod
    def sidd_phones(cls, **kwargs: bool) -> SimulatedCamera:
        """The five SIDD phones (``sidd-ip``, ``sidd-gp``, ``sidd-s6``, ``sidd-n6``, ``sidd-g4``), calibrated to
        SIDD's noise level functions (:data:`~noiseaug.data.sensor.SIDD_SENSORS`); ``kwargs`` as the constructor's.
        ``SimulatedCamera(SIM_SENSORS + SIDD_SENSORS)`` has all ten, the simulated cameras first."""
        return cls(SIDD_SENSORS, SIM_ISOS, **kwargs)

    @property
    def cameras(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.sensors)

    @property
    def is_pixel_independent(self) -> bool:
        return not (self.row_noise or self.fixed_pattern or self.clip or self.quantize)

    # ----------------------------------------------------------------- conditioning
    def condition(
        self, cameras: str | Sequence[str], isos: float | Sequence[float], batch: int | None = None
    ) -> NoiseCondition:
        """Names and ISOs -> ``NoiseCondition(camera=..., iso=...)``; a single value is repeated to ``batch``."""
        names = [cameras] if isinstance(cameras, str) else list(cameras)
        values = [isos] if isinstance(isos, (int, float)) else list(isos)
        n = batch if batch is not None else max(len(names), len(values))
        names, values = (names * n if len(names) == 1 else names), (values * n if len(values) == 1 else values)
        if len(names) != n or len(values) != n:
            raise NoiseaugInputError(f"cameras and isos must have one entry or {n}, got {len(names)} and {len(values)}")
        unknown = [c for c in names if c not in self.cameras]
        if unknown:
            raise NoiseaugInputError(f"unknown camera(s) {unknown}; known cameras: {', '.join(self.cameras)}")
        index = torch.tensor([self.cameras.index(c) for c in names])
        cond = NoiseCondition(iso=torch.tensor(values, dtype=torch.float32), camera=index)
        self._lookup(cond, n)
        return cond

    def random_condition(self, batch: int, generator: torch.Generator | None = None) -> NoiseCondition:
        """A uniformly random camera and ISO per sample (drawn on the generator's device, returned on CPU)."""
        device = generator.device if generator is not None else torch.device("cpu")
        cam = torch.randint(len(self.sensors), (batch,), generator=generator, device=device).cpu()
        iso = torch.randint(len(self.isos), (batch,), generator=generator, device=device).cpu()
        return NoiseCondition(iso=torch.tensor(self.isos, dtype=torch.float32)[iso], camera=cam)

    def _lookup(self, cond: object, batch: int) -> tuple[Tensor, Tensor]:
        """Validate ``cond`` -> (camera index, ISO index), long tensors ``(B,)`` on this module's device."""
        if not isinstance(cond, NoiseCondition) or cond.camera is None or cond.iso is None:
            raise NoiseaugTypeError(
                "cond must be a NoiseCondition with per-sample camera and iso "
                f"(use SimulatedCamera.condition(names, isos)), got {cond!r}"
            )
        check_condition(cond, batch)
        device = self.iso_values.device
        cam = cond.camera.to(device).long()
        if bool(((cam < 0) | (cam >= len(self.sensors))).any()):
            raise NoiseaugInputError(
                f"cond.camera must index the known cameras {list(enumerate(self.cameras))}, got {cond.camera.tolist()}"
            )
        match = cond.iso.to(device=device, dtype=torch.float32)[:, None] == self.iso_values[None, :]
        if not bool(match.any(1).all()):
            raise NoiseaugInputError(
                f"cond.iso must be one of the known ISOs {list(self.isos)}, got {cond.iso.tolist()}"
            )
        return cam, match.float().argmax(1)

    # ----------------------------------------------------------------- analytic noise level
    def nlf(self, cond: NoiseCondition) -> tuple[Tensor, Tensor]:
        """Analytic NLF ``Var[noisy | x] = beta1 * x + beta2`` per sample, ``(B,)`` each, normalized units.

        ``beta2`` sums the enabled signal-independent parts: read, row and fixed-pattern variance and
        the ADC's ``1/12 DN^2`` (a Sheppard approximation, accurate when the noise exceeds about
        0.5 DN). It describes pixels away from the clipping bounds; the FPN part is its spatial
        variance over a whole tile.
        """
        cam, iso = self._lookup(cond, len(cond))
        read_var = self.read_std_table[cam, iso].square()
        beta2 = read_var.clone()
        if self.row_noise:
            beta2 = beta2 + read_var * self.row_ratio[cam].square()
        if self.fixed_pattern:
            beta2 = beta2 + read_var * self.fpn_ratio[cam].square()
        if self.quantize:
            beta2 = beta2 + 1.0 / (12.0 * self.dn_range[cam].square())
        return self.beta1_table[cam, iso], beta2

    # ----------------------------------------------------------------- sampling
    def add_noise(self, clean_raw: Tensor, cond: NoiseCondition, generator: torch.Generator | None = None) -> Tensor:
        """Packed clean raw ``(B, 4, h, w)`` in [0, 1] -> one noisy capture (same shape and dtype)."""
        x, unbatched = as_batch(clean_raw, "clean_raw", channels=4)
        check_generator(generator, x.device)
        cam, iso = self._lookup(cond, x.shape[0])
        return unbatch(self._add_noise(x, cam, iso, generator), unbatched)

    def _add_noise(self, x: Tensor, cam: Tensor, iso: Tensor, generator: torch.Generator | None) -> Tensor:
        """``cam``/``iso``: indices on this module's device; parameters are moved to ``x``'s device."""
        work = torch.promote_types(x.dtype, torch.float32)
        clean = x.to(work).clamp(min=0)
        b, _, h, w = clean.shape
        view = lambda t: t.to(device=clean.device, dtype=work).view(-1, 1, 1, 1)  # noqa: E731
        beta1, read_std = view(self.beta1_table[cam, iso]), view(self.read_std_table[cam, iso])
        y = beta1 * torch.poisson(clean / beta1, generator=generator)
        y = y + read_std * torch.randn(clean.shape, generator=generator, device=clean.device, dtype=work)
        if self.row_noise:
            rows = torch.randn((b, 2, h, 1), generator=generator, device=clean.device, dtype=work)
            y = y + view(self.row_ratio[cam]) * read_std * rows.repeat_interleave(2, dim=1)
        if self.fixed_pattern:
            tiles = self.fpn_tiles[cam].to(device=clean.device, dtype=work)
            reps = (1, 1, -(-h // FPN_TILE), -(-w // FPN_TILE))
            y = y + view(self.fpn_ratio[cam]) * read_std * tiles.repeat(*reps)[:, :, :h, :w]
        dn = view(self.dn_range[cam])
        if self.quantize:
            y = torch.round(y * dn) / dn
        if self.clip:
            y = torch.maximum(y, view(self.black_floor[cam])).clamp(max=1.0)
        return y.to(x.dtype)

    def capture(
        self,
        srgb: Tensor,
        cond: NoiseCondition | None = None,
        generator: torch.Generator | None = None,
        *,
        captures: int = 1,
        highlight_preserving: bool = True,
    ) -> CameraDraw:
        """Unprocess sRGB ``(B, 3, H, W)`` (H, W even) to clean raw and take ``captures`` independent noisy shots.

        ``cond`` None draws a random camera and ISO per sample. The ISP settings (CCM, gains) are
        drawn per sample; the CFA pattern is the camera's. Randomness order: condition (if drawn),
        ISP settings, then each capture's noise.
        """
        x, _ = as_batch(srgb, "srgb", channels=3)
        check_generator(generator, x.device)
        check_int(captures, "captures")
        cond = self.random_condition(x.shape[0], generator) if cond is None else cond
        cam, iso = self._lookup(cond, x.shape[0])
        patterns = [self.sensors[k].pattern for k in cam.tolist()]
        isp = random_isp_params(x.shape[0], patterns, generator, device=x.device)
        clean_raw = unprocess(x, isp, highlight_preserving=highlight_preserving)
        noisy = tuple(self._add_noise(clean_raw, cam, iso, generator) for _ in range(captures))
        cond = NoiseCondition(iso=self.iso_values[iso].cpu(), camera=cam.cpu())
        return CameraDraw(clean_raw, noisy, cond, isp, tuple(self.cameras[k] for k in cam.tolist()))

    # ----------------------------------------------------------------- exact likelihood
    def log_prob(self, noisy_raw: Tensor, clean_raw: Tensor, cond: NoiseCondition) -> Tensor:
        """Exact ``log p(noisy | clean)`` ``(B,)`` in nats, summed over ``4*h*w`` (pixel-independent model only)."""
        if not self.is_pixel_independent:
            raise NoiseaugInputError(
                "the exact likelihood needs the pixel-independent model (row_noise, fixed_pattern, clip and "
                "quantize all False); use SimulatedCamera.pixel_independent()"
            )
        x, unbatched = as_batch(clean_raw, "clean_raw", channels=4)
        y, _ = as_batch(noisy_raw, "noisy_raw", channels=4, unit_range=False)
        check_same_shape(y, x, "noisy_raw", "clean_raw")
        cam, iso = self._lookup(cond, x.shape[0])
        gain = self.beta1_table[cam, iso].to(x.device).double().view(-1, 1, 1, 1).expand_as(x)
        read = self.read_std_table[cam, iso].to(x.device).double().view(-1, 1, 1, 1).expand_as(x)
        clean = x.double().clamp(min=0)
        terms = 16 * math.sqrt(float((clean / gain).max())) + 16 * float((read / gain).max()) + 2
        chunk = max(64, int(_EXACT_TERMS_PER_CHUNK / terms))
        lp = poisson_gaussian_pixel_log_prob(y.double(), clean, gain, read, chunk=chunk)
        return unbatch(lp.flatten(1).sum(1), unbatched)

    def nll(self, noisy_raw: Tensor, clean_raw: Tensor, cond: NoiseCondition) -> Tensor:
        """Exact NLL per dimension ``(B,)``, nats: ``-log_prob / (4*h*w)`` (the library's NoiseModel convention)."""
        lp = self.log_prob(noisy_raw, clean_raw, cond)
        return -lp / clean_raw[0].numel() if clean_raw.ndim == 4 else -lp / clean_raw.numel()

    def render(self, raw: Tensor, isp: ISPParams) -> Tensor:
        """Packed raw -> sRGB with the draw's ISP settings (see :func:`noiseaug.data.isp.process`)."""
        return process(raw, isp)

    def extra_repr(self) -> str:
        return (
            f"cameras={self.cameras}, isos={self.isos}, row_noise={self.row_noise}, "
            f"fixed_pattern={self.fixed_pattern}, clip={self.clip}, quantize={self.quantize}"
        )


def _fpn_tile(camera_index: int) -> Tensor:
    """The camera's fixed pattern: ``(4, FPN_TILE, FPN_TILE)`` standard normal, standardized to mean 0, std 1.

    Drawn from a fixed seed per camera index, so it is the same in every process and on every device.
    """
    tile = torch.randn(
        (4, FPN_TILE, FPN_TILE), generator=torch.Generator().manual_seed(20_240 + camera_index), dtype=torch.float64
    )
    return ((tile - tile.mean()) / tile.std(unbiased=False)).float()
