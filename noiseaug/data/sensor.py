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

Sources and the reasoning behind each number: docs/DATA.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: The ISO settings every simulated camera supports.
SIM_ISOS: tuple[int, ...] = (100, 400, 800, 1600, 3200)

#: Brooks et al. (2019): ln(read variance) = 2.18 ln(shot) + 1.2 (+ N(0, 0.26)).
READ_SLOPE = 2.18
READ_INTERCEPT = 1.2


@dataclass(frozen=True)
class SensorSpec:
    """One simulated sensor. ``beta1_base`` is the shot-noise slope at ISO 100 (normalized units)."""

    name: str
    pattern: str
    bit_depth: int
    black_level: int
    beta1_base: float
    read_offset: float
    row_ratio: float
    fpn_ratio: float

    @property
    def white_level(self) -> int:
        return 2 ** self.bit_depth - 1

    @property
    def dn_range(self) -> int:
        """``white_level - black_level``: DN per unit of normalized raw."""
        return self.white_level - self.black_level

    def beta1(self, iso: float) -> float:
        """Shot-noise variance slope at ``iso`` (gain proportional to ISO)."""
        return self.beta1_base * iso / 100.0

    def gain_dn_per_electron(self, iso: float) -> float:
        return self.beta1(iso) * self.dn_range

    def read_variance(self, iso: float) -> float:
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
