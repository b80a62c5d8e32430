"""Sensor specifications of the five simulated cameras and their noise parameters per ISO.

Units: everything is in **normalized raw units** (0 = black level, 1 = white level) unless the name
says DN (digital numbers of the ADC). Per (camera, ISO):

* shot noise: ``beta1 * Poisson(x / beta1)``, so ``Var = beta1 * x``; ``beta1 = K / (white - black)``
  with the system gain ``K`` (DN per electron) proportional to ISO;
* read noise: Gaussian, variance ``exp(2.18 * ln(beta1) + 1.2 + read_offset)`` (the shot/read
  relation Brooks et al. 2019 fitted to real cameras; ``read_offset`` places each camera within
  its +-1 sigma scatter of 0.26);
* row noise: one Gaussian offset per sensor row, std ``row_ratio * read_std`` (ELD, Wei et al. 2020);
* fixed pattern (DSNU): a per-pixel offset fixed per camera, std ``fpn_ratio * read_std``;
* black level, white clipping at ``white_level`` DN and rounding to integer DN (ADC quantization).

The five SIDD phones (:data:`SIDD_SENSORS`, ``sidd-ip`` ... ``sidd-g4``) replace the shot slope and the
read-noise relation by SIDD's calibrated noise level functions (:data:`SIDD_NLF`): per (phone, ISO) the model's
analytic ``beta1`` and ``beta2`` equal SIDD's where SIDD calibrated that pair, and follow a per-phone power law in
ISO fitted to SIDD's values elsewhere (:func:`sidd_nlf`).

Sources and the reasoning behind each number: docs/DATA.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..errors import NoiseaugInputError

#: The ISO settings every simulated camera supports.
SIM_ISOS: tuple[int, ...] = (100, 400, 800, 1600, 3200)

#: Brooks et al. (2019): ln(read variance) = 2.18 ln(shot) + 1.2 (+ N(0, 0.26)).
READ_SLOPE = 2.18
READ_INTERCEPT = 1.2


@dataclass(frozen=True)
class SensorSpec:
    """One simulated sensor. ``beta1_base`` is the shot-noise slope at ISO 100 (normalized units).

    ``nlf``: a calibrated noise level function, ``((iso, beta1, beta2), ...)``. When given it sets, per ISO,
    the shot slope ``beta1`` and the read variance, chosen so that the whole signal-independent variance
    (read, row, fixed pattern and quantization; ``SimulatedCamera.nlf``) is ``beta2``; ``beta1_base`` and
    ``read_offset`` are then unused.
    """

    name: str
    pattern: str
    bit_depth: int
    black_level: int
    beta1_base: float
    read_offset: float
    row_ratio: float
    fpn_ratio: float
    nlf: tuple[tuple[int, float, float], ...] | None = None

    @property
    def white_level(self) -> int:
        return 2**self.bit_depth - 1

    @property
    def dn_range(self) -> int:
        """``white_level - black_level``: DN per unit of normalized raw."""
        return self.white_level - self.black_level

    def _calibrated(self, iso: float) -> tuple[float, float]:
        for level, beta1, beta2 in self.nlf or ():
            if abs(level - iso) < 0.5:
                return beta1, beta2
        raise NoiseaugInputError(
            f"{self.name}: no calibrated noise level at ISO {iso}; it has ISO {[r[0] for r in self.nlf or ()]}"
        )

    def beta1(self, iso: float) -> float:
        """Shot-noise variance slope at ``iso`` (gain proportional to ISO, or the calibrated ``nlf``)."""
        if self.nlf is not None:
            return self._calibrated(iso)[0]
        return self.beta1_base * iso / 100.0

    def gain_dn_per_electron(self, iso: float) -> float:
        return self.beta1(iso) * self.dn_range

    def read_variance(self, iso: float) -> float:
        if self.nlf is not None:
            beta2 = self._calibrated(iso)[1]
            quantization = 1.0 / (12.0 * self.dn_range**2)
            return (beta2 - quantization) / (1.0 + self.row_ratio**2 + self.fpn_ratio**2)
        return math.exp(READ_SLOPE * math.log(self.beta1(iso)) + READ_INTERCEPT + self.read_offset)


#: Five simulated smartphone-like sensors. At ISO 100 ... 3200 their ``beta1`` spans 1e-4 ... 1.1e-2,
#: the range of Brooks et al.'s shot-noise prior [1e-4, 1.2e-2] chosen to cover real raw data.
SIM_SENSORS: tuple[SensorSpec, ...] = (
    SensorSpec("sim-a", "RGGB", 10, 64, 1.0e-4, +0.26, 0.10, 0.05),
    SensorSpec("sim-b", "BGGR", 10, 64, 1.6e-4, 0.00, 0.15, 0.08),
    SensorSpec("sim-c", "GRBG", 10, 64, 2.2e-4, -0.26, 0.20, 0.10),
    SensorSpec("sim-d", "GBRG", 12, 256, 2.8e-4, +0.13, 0.25, 0.06),
    SensorSpec("sim-e", "RGGB", 10, 64, 3.5e-4, -0.13, 0.30, 0.12),
)


#: SIDD's calibrated noise level functions, ``(phone, ISO) -> (beta1, beta2)`` with ``Var = beta1 * x + beta2`` on
#: normalized raw: the 15 rows of ``sidd_cam_iso_nlf.csv``, published by the SIDD / Noise Flow authors
#: (Abdelhamed, Lin, Brown, CVPR 2018; Abdelhamed, Brubaker, Brown, ICCV 2019) in github.com/BorealisAI/noise_flow,
#: copied as printed there (6 decimals). Phones: IP Apple iPhone 7, GP Google Pixel, S6 Samsung Galaxy S6 Edge,
#: N6 Motorola Nexus 6, G4 LG G4.
SIDD_NLF: dict[tuple[str, int], tuple[float, float]] = {
    ("IP", 100): (0.000702, 0.000003),
    ("IP", 400): (0.000735, 0.000003),
    ("IP", 800): (0.000723, 0.000003),
    ("IP", 1600): (0.000687, 0.000002),
    ("GP", 100): (0.000228, 0.000002),
    ("GP", 800): (0.001764, 0.000012),
    ("S6", 100): (0.000479, 0.000002),
    ("S6", 400): (0.001774, 0.000002),
    ("S6", 800): (0.003696, 0.000002),
    ("S6", 1600): (0.008211, 0.000002),
    ("S6", 3200): (0.019930, 0.000002),
    ("N6", 100): (0.000473, 0.000003),
    ("N6", 800): (0.003476, 0.000052),
    ("G4", 100): (0.000739, 0.000002),
    ("G4", 800): (0.003356, 0.000063),
}
SIDD_PHONES: tuple[str, ...] = ("IP", "GP", "S6", "N6", "G4")


def _power_law(points: list[tuple[float, float]], iso: float) -> float:
    """Least squares of ``ln v = a + k ln(iso)`` through ``points`` (iso, v), evaluated at ``iso``."""
    xs, ys = [math.log(i) for i, _ in points], [math.log(v) for _, v in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    k = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    return math.exp(my + k * (math.log(iso) - mx))


def sidd_nlf(phone: str, iso: int) -> tuple[float, float, bool]:
    """``(beta1, beta2, calibrated)`` of a SIDD phone at ``iso``: SIDD's values where it calibrated that pair
    (``calibrated`` True), else a power law in ISO fitted to the phone's calibrated ISOs (beta1 and beta2 each)."""
    if (phone, iso) in SIDD_NLF:
        return (*SIDD_NLF[(phone, iso)], True)
    rows = [(i, b) for (p, i), b in SIDD_NLF.items() if p == phone]
    if len(rows) < 2:
        raise NoiseaugInputError(f"no SIDD calibration for phone {phone!r}; known phones: {SIDD_PHONES}")
    return (_power_law([(i, b[0]) for i, b in rows], iso), _power_law([(i, b[1]) for i, b in rows], iso), False)


def _sidd_sensor(phone: str) -> SensorSpec:
    table = tuple((iso, *sidd_nlf(phone, iso)[:2]) for iso in SIM_ISOS)
    # assumed (not in SIDD's calibration): CFA RGGB, 10-bit raw with black level 64, and sim-a's row / fixed-pattern
    # shares of the signal-independent variance (0.10, 0.05); beta1_base is the ISO-100 slope, for reference only
    return SensorSpec(f"sidd-{phone.lower()}", "RGGB", 10, 64, table[0][1], 0.0, 0.10, 0.05, nlf=table)


#: The five SIDD phones as simulated cameras calibrated to SIDD's noise levels (module docs; docs/DATA.md).
#: Use them with ``SimulatedCamera(SIDD_SENSORS)`` or ``SimulatedCamera(SIM_SENSORS + SIDD_SENSORS)`` (the
#: simulated cameras keep indices 0-4).
SIDD_SENSORS: tuple[SensorSpec, ...] = tuple(_sidd_sensor(p) for p in SIDD_PHONES)
