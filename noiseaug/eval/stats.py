"""Noise statistics for comparing synthetic noise with real noise (``noise = noisy - clean``, [0, 1] scale).

* :func:`noise_correlation`: the ``(2r+1, 2r+1)`` map of each pixel's noise correlated with its neighbour's at
  every offset up to ``r``; white noise gives 1 at the centre and about 0 elsewhere.
* :func:`spread`: the lag-1 horizontal correlation (offset (0, +1)) and the std on the 0-255 scale.
* :func:`divergences`: KLD (``noiseaug.metrics.marginal_kl``, NAFlow's sRGB convention) and AKLD (DANet's).
* :func:`std_ratio`: synthetic std over real std (1 is the real strength).
* :func:`gaussian_nll_excess`: the NLL excess of a Gaussian whose variance is too large by a factor.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence

import torch
from torch import Tensor

from ..metrics import akld, marginal_kl

CORRELATION_RADIUS = 4


def noise_correlation(noise: Tensor, radius: int = CORRELATION_RADIUS) -> Tensor:
    """``(2r+1, 2r+1)`` correlation of each pixel's noise with its neighbour's at offset ``(dy, dx)`` (index
    ``[dy + r, dx + r]``), over the pixels at least ``r`` from the border, channels and images pooled; each image
    and channel's mean is removed first. ``noise``: ``(..., H, W)`` with ``H, W > 2r``.

    >>> white = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    >>> corr = noise_correlation(white, radius=1)
    >>> float(corr[1, 1]), abs(float(corr[1, 2])) < 0.05
    (1.0, True)
    """
    n = noise - noise.mean(dim=(-2, -1), keepdim=True)
    h, w = n.shape[-2:]
    centre = n[..., radius : h - radius, radius : w - radius]
    out = torch.zeros(2 * radius + 1, 2 * radius + 1)
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            shifted = n[..., radius + dy : h - radius + dy, radius + dx : w - radius + dx]
            out[dy + radius, dx + radius] = (centre * shifted).mean() / centre.square().mean()
    return out


def lag1_correlation(noise: Tensor) -> float:
    """The correlation of each pixel's noise with its right-hand neighbour's (:func:`noise_correlation` at
    offset (0, +1))."""
    return float(noise_correlation(noise, radius=1)[1, 2])


def spread(noise: Tensor) -> dict[str, float]:
    """``{"corr_h1": lag-1 horizontal correlation, "std_255": std on the 0-255 scale}`` of one noise image."""
    return {"corr_h1": lag1_correlation(noise), "std_255": float(noise.std() * 255)}


def divergences(real: Tensor, noise: Tensor) -> dict[str, float]:
    """``{"kld": marginal_kl(real, noise, "naflow"), "akld": akld(real, noise)}`` (means over the batch)."""
    return {"kld": float(marginal_kl(real, noise, "naflow")), "akld": float(akld(real, noise))}


def std_ratio(noise: Tensor, real: Tensor) -> float:
    """``std(noise) / std(real)`` over all values."""
    return float(noise.std() / real.std())


def gaussian_nll_excess(ratio: float) -> float:
    """NLL excess (nats/dim) of a Gaussian whose variance is ``1 + ratio`` times the data's:
    ``0.5 * log(1 + r) + 0.5 / (1 + r) - 0.5``.

    >>> gaussian_nll_excess(0.0)
    0.0
    """
    return 0.5 * math.log1p(ratio) + 0.5 / (1.0 + ratio) - 0.5


def mean_or_none(values: Iterable[float | None]) -> float | None:
    """The mean of the values that are not ``None`` (``None`` when there are none).

    >>> mean_or_none([1.0, None, 2.0]), mean_or_none([None])
    (1.5, None)
    """
    kept = [v for v in values if v is not None]
    return statistics.mean(kept) if kept else None


def summarise_rows(
    rows: Sequence[dict], by: Sequence[str], metrics: Sequence[str], count_non_finite: bool = False
) -> dict:
    """Rows grouped by the keys ``by`` (nested dicts in order of first appearance), each group
    ``{metric: mean_or_none, ..., "images": row count}`` plus ``"non_finite"`` (rows whose ``"finite"`` is
    false) when ``count_non_finite``.

    >>> summarise_rows([{"model": "a", "kld": 1.0}, {"model": "a", "kld": 3.0}], ["model"], ["kld"])
    {'a': {'kld': 2.0, 'images': 2}}
    """
    groups: dict = {}
    for row in rows:
        node = groups
        for key in by[:-1]:
            node = node.setdefault(row[key], {})
        node.setdefault(row[by[-1]], []).append(row)

    def reduce(node: dict, depth: int) -> dict:
        if depth < len(by) - 1:
            return {k: reduce(v, depth + 1) for k, v in node.items()}
        out = {}
        for k, mine in node.items():
            entry = {m: mean_or_none(r[m] for r in mine) for m in metrics} | {"images": len(mine)}
            if count_non_finite:
                entry["non_finite"] = sum(not r["finite"] for r in mine)
            out[k] = entry
        return out

    return reduce(groups, 0)
